//! Deciding, per pair, what a run does with the provider — skip, download, resume, reconcile or
//! create — and doing it without ever paying twice.
//!
//! Each decision is made under the ledger's lock on a freshly re-read ledger, and the lock is held
//! until the task id (or the refusal) is recorded, so concurrent runs sharing a ledger see each
//! other's intents and tasks. A create that may have reached the provider (a 5xx, a timeout, a lost
//! reply) is never resent blindly: the provider is asked whether the task exists, and when it cannot
//! tell, the run stops for that pair and prints exactly what to run next. `--dry-run` walks the same
//! decisions, budget included, against the ledger as it is, without sending or writing anything.

use std::collections::HashSet;

use anyhow::Result;

use super::ledger::{Entry, Ledger, Phase, Record};
use super::run::{Ready, Settings, Summary};
use super::{Provider, Reconciled, SubmitError};

/// What a pair needs, from its ledger entry alone.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Downloaded and the file is still there.
    Done(String),
    /// Finished (or downloaded but the file is gone): fetch the outputs.
    Fetch(Vec<String>, String),
    /// Created, not finished: poll it.
    Poll(String),
    /// The provider failed it; not re-sent unless forced.
    Failed(String),
    /// An intent without a task id: ask the provider before anything else.
    Reconcile(u32),
    /// Nothing exists (or a re-send was forced): create this attempt.
    Create(u32),
}

pub fn plan(entry: Option<&Entry>, force: bool) -> Plan {
    let Some(e) = entry else {
        return Plan::Create(1);
    };
    let id = e.task_id.clone().unwrap_or_default();
    match e.phase {
        Phase::Downloaded
            if e.path
                .as_ref()
                .is_some_and(|p| std::path::Path::new(p).exists()) =>
        {
            Plan::Done(e.path.clone().unwrap_or_default())
        }
        Phase::Downloaded | Phase::Completed => Plan::Fetch(e.urls.clone(), id),
        Phase::Created => Plan::Poll(id),
        Phase::Failed if force => Plan::Create(e.attempt + 1),
        Phase::Failed => Plan::Failed(e.reason.clone().unwrap_or_default()),
        Phase::Intent => Plan::Reconcile(e.attempt),
    }
}

pub fn external_id(key: &str, attempt: u32) -> String {
    if attempt <= 1 {
        key.to_string()
    } else {
        format!("{key}-{attempt}")
    }
}

/// What the run collects while dispatching: counts, tasks to poll and outputs to fetch.
#[derive(Default)]
pub struct Outcome {
    pub sum: Summary,
    pub poll: Vec<(usize, String)>,
    pub fetch: Vec<(usize, Vec<String>)>,
    pub budget_hit: bool,
    pub problems: bool,
}

impl Outcome {
    /// True when the budget leaves no room for `estimate` (and says so once).
    fn over_budget(&mut self, s: &Settings, r: &Ready) -> bool {
        let over = self.budget_hit
            || s.max_spend
                .is_some_and(|m| self.sum.spent_usd + r.estimate > m + 1e-9);
        if over && !self.budget_hit {
            println!(
                "{}: not sent: its estimate ${:.2} would take the spend to ${:.2}, past --max-spend ${:.2}; stopping here",
                r.pair.label(),
                r.estimate,
                self.sum.spent_usd + r.estimate,
                s.max_spend.unwrap_or(0.0)
            );
        }
        if over {
            self.budget_hit = true;
            self.sum.over_budget += 1;
        }
        over
    }
}

/// How to settle a pair whose task may or may not exist.
fn settle_hint(s: &Settings, r: &Ready) -> String {
    format!(
        "look for it in {}'s dashboard (image {}, video {}); if it is there, run `{} --adopt {}=TASK_ID`; if it is not, run `{} --force-resend`",
        s.provider,
        r.job.image_url.as_deref().unwrap_or("(inline image)"),
        r.job.video_url,
        s.command_line,
        r.key,
        s.command_line
    )
}

/// Record a task id; when the ledger cannot be written, say which task was paid for and how to adopt
/// it before failing the run.
fn record_created(
    ledger: &mut Ledger,
    s: &Settings,
    r: &Ready,
    attempt: u32,
    id: &str,
    via: &str,
) -> Result<()> {
    let mut rec = Record::new("created", &r.key, attempt);
    rec.task_id = Some(id.to_string());
    rec.via = Some(via.into());
    if let Err(e) = ledger.append(rec) {
        let msg = format!(
            "{}: task {id} exists at {} (and may be billed) but the ledger could not record it: {e:#}. Fix the ledger, then run `{} --adopt {}={id}` to resume it without a second task",
            r.pair.label(),
            s.provider,
            s.command_line,
            r.key
        );
        println!("{msg}");
        eprintln!("kling-preflight: {msg}");
        return Err(e);
    }
    Ok(())
}

/// `--adopt KEY=TASK_ID`: record a task the user found (after a ledger failure or a lost reply).
fn adopt(ledger: &mut Ledger, s: &Settings, r: &Ready) -> Result<()> {
    let Some((_, id)) = s.adopt.iter().find(|(k, _)| *k == r.key) else {
        return Ok(());
    };
    let entry = ledger.entry(&r.key).cloned();
    match entry.as_ref().map(|e| (e.phase, e.task_id.clone())) {
        None | Some((Phase::Intent, _)) => {
            let attempt = entry.map(|e| e.attempt).unwrap_or(1);
            record_created(ledger, s, r, attempt, id, "adopt")?;
            println!("{}: adopted task {id}", r.pair.label());
        }
        Some((_, Some(t))) if t == *id => {}
        Some((phase, t)) => println!(
            "{}: --adopt ignored: the ledger already has task {} ({phase:?})",
            r.pair.label(),
            t.unwrap_or_default()
        ),
    }
    Ok(())
}

/// Decide and act for one pair, holding the ledger's lock throughout.
pub fn dispatch(
    out: &mut Outcome,
    ledger: &mut Ledger,
    provider: &dyn Provider,
    s: &Settings,
    i: usize,
    r: &mut Ready,
) -> Result<()> {
    let _lock = ledger.lock()?;
    ledger.refresh()?;
    adopt(ledger, s, r)?;
    let label = r.pair.label();
    match plan(ledger.entry(&r.key), s.force_resend) {
        Plan::Done(path) => {
            println!("{label}: already done ({path}), skipped");
            out.sum.skipped_done += 1;
        }
        Plan::Fetch(urls, id) => {
            println!("{label}: task {id} finished earlier; downloading");
            out.sum.resumed += 1;
            out.fetch.push((i, urls));
        }
        Plan::Poll(id) => {
            println!(
                "{label}: task {id} is in flight (an earlier or concurrent run created it); polling it"
            );
            out.sum.resumed += 1;
            out.poll.push((i, id));
        }
        Plan::Failed(reason) => {
            println!(
                "{label}: the provider failed this task earlier: {reason}; not re-sent (pass --force-resend to pay for a new task)"
            );
            out.sum.failed += 1;
        }
        Plan::Reconcile(attempt) => reconcile(out, ledger, provider, s, i, r, attempt)?,
        Plan::Create(attempt) => create(out, ledger, provider, s, i, r, attempt, true)?,
    }
    Ok(())
}

/// An intent without a task id: a run died (or stopped) around the create call.
fn reconcile(
    out: &mut Outcome,
    ledger: &mut Ledger,
    provider: &dyn Provider,
    s: &Settings,
    i: usize,
    r: &mut Ready,
    attempt: u32,
) -> Result<()> {
    let label = r.pair.label();
    r.job.external_id = external_id(&r.key, attempt);
    println!(
        "{label}: an earlier run sent (or was about to send) this task without recording a task id; asking {} whether it exists",
        s.provider
    );
    match provider.find(&r.job, &ledger.task_ids()) {
        Ok(Reconciled::Found(id)) => {
            record_created(ledger, s, r, attempt, &id, "reconcile")?;
            println!("{label}: found task {id}; resuming it (no second create)");
            out.sum.resumed += 1;
            out.poll.push((i, id));
        }
        Ok(Reconciled::NotFound) => {
            println!("{label}: {} has no such task; sending it", s.provider);
            create(out, ledger, provider, s, i, r, attempt, false)?;
        }
        Ok(Reconciled::Unknown(why)) if s.force_resend => {
            println!("{label}: cannot reconcile ({why}); --force-resend: sending a new task");
            create(out, ledger, provider, s, i, r, attempt + 1, true)?;
        }
        Ok(Reconciled::Unknown(why)) => {
            println!(
                "{label}: not re-sent: a task may already exist and be billed, and {why}. To settle it, {}",
                settle_hint(s, r)
            );
            out.problems = true;
            out.sum.unfinished += 1;
        }
        Err(e) => {
            println!(
                "{label}: not re-sent: cannot ask {} whether the task exists ({e}); re-run later, or {}",
                s.provider,
                settle_hint(s, r)
            );
            out.problems = true;
            out.sum.unfinished += 1;
        }
    }
    Ok(())
}

/// Create one task: budget, intent, create; an ambiguous failure is reconciled, never resent blindly.
#[allow(clippy::too_many_arguments)]
fn create(
    out: &mut Outcome,
    ledger: &mut Ledger,
    provider: &dyn Provider,
    s: &Settings,
    i: usize,
    r: &mut Ready,
    attempt: u32,
    write_intent: bool,
) -> Result<()> {
    let label = r.pair.label();
    if out.over_budget(s, r) {
        return Ok(());
    }
    r.job.external_id = external_id(&r.key, attempt);
    if write_intent {
        let mut intent = Record::new("intent", &r.key, attempt);
        intent.provider = Some(s.provider.name().into());
        intent.tier = Some(r.pair.tier.name().into());
        intent.image = Some(r.pair.image.display().to_string());
        intent.video = Some(r.pair.video.display().to_string());
        intent.params = Some(r.params.clone());
        intent.estimate_usd = Some(r.estimate);
        ledger.append(intent)?;
    }
    let mut tries = 1;
    loop {
        let (id, via, note) = match provider.create(&r.job) {
            Ok(id) => (id, "create", String::new()),
            Err(SubmitError::Ambiguous(m)) => match provider.find(&r.job, &ledger.task_ids()) {
                Ok(Reconciled::Found(id)) => (id, "reconcile", format!(" ({m}; found it)")),
                Ok(Reconciled::NotFound) if tries < s.retry.max_attempts => {
                    let wait = s.retry.backoff(tries);
                    eprintln!(
                        "kling-preflight: {label}: {m}; {} has no such task, so nothing was created; sending again in {:.2} s",
                        s.provider,
                        wait.as_secs_f64()
                    );
                    std::thread::sleep(wait);
                    tries += 1;
                    continue;
                }
                found => {
                    let why = match found {
                        Ok(Reconciled::Unknown(w)) => w,
                        Ok(_) => {
                            format!("{} still has no such task after {tries} tries", s.provider)
                        }
                        Err(e) => format!("{} cannot be asked ({e})", s.provider),
                    };
                    println!(
                        "{label}: {m}. Not re-sent: {why}. A re-run asks again before sending; to settle it now, {}",
                        settle_hint(s, r)
                    );
                    out.problems = true;
                    out.sum.unfinished += 1;
                    return Ok(());
                }
            },
            Err(e) => {
                // Refused, rate-limited to the end, or never sent: no task exists.
                let mut rec = Record::new("rejected", &r.key, attempt);
                rec.reason = Some(e.to_string());
                ledger.append(rec)?;
                println!("{label}: not created: {e}");
                out.problems = true;
                out.sum.unfinished += 1;
                return Ok(());
            }
        };
        record_created(ledger, s, r, attempt, &id, via)?;
        println!(
            "{label}: created task {id}{note} (estimate ${:.2})",
            r.estimate
        );
        out.sum.created += 1;
        out.sum.spent_usd += r.estimate;
        out.poll.push((i, id));
        return Ok(());
    }
}

/// `--dry-run`: the same decisions and budget as a real run, printed; nothing sent or written.
pub fn dry_run(
    out: &mut Outcome,
    ledger: &Ledger,
    provider: &dyn Provider,
    s: &Settings,
    ready: &mut [Ready],
) -> Result<()> {
    for r in ready.iter_mut() {
        let label = r.pair.label();
        match plan(ledger.entry(&r.key), s.force_resend) {
            Plan::Done(path) => {
                println!("dry run {label}: already done ({path}); would be skipped");
                out.sum.skipped_done += 1;
            }
            Plan::Fetch(_, id) | Plan::Poll(id) => {
                println!("dry run {label}: task {id} exists; would be resumed, not created");
                out.sum.resumed += 1;
            }
            Plan::Failed(reason) => {
                println!(
                    "dry run {label}: failed earlier ({reason}); would not be re-sent without --force-resend"
                );
                out.sum.failed += 1;
            }
            Plan::Reconcile(_) => {
                println!(
                    "dry run {label}: an earlier run may have created it; {} would be asked first",
                    s.provider
                );
                out.sum.resumed += 1;
            }
            Plan::Create(attempt) => {
                if out.over_budget(s, r) {
                    continue;
                }
                r.job.external_id = external_id(&r.key, attempt);
                let req = provider.create_request(&r.job);
                println!("dry run {label}: key {}", r.key);
                println!("  {} {}", req.method, req.url);
                for (k, v) in &req.headers {
                    println!("  {k}: {v}");
                }
                println!(
                    "  {}",
                    serde_json::to_string_pretty(&req.body)?.replace('\n', "\n  ")
                );
                println!("  estimated cost: ${:.2} ({})", r.estimate, r.basis);
                out.sum.created += 1;
                out.sum.spent_usd += r.estimate;
            }
        }
    }
    Ok(())
}

/// Task ids the ledger knows, for `Provider::find`.
pub type Known = HashSet<String>;
