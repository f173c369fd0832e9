//! The submit run: preflight every pair, then for each pair that passed either skip it (done before),
//! resume it (in flight), reconcile it (a crash left an intent without a task id) or create it within
//! the budget; then poll everything in flight and download the results.
//!
//! The order of writes is the safety argument: the ledger's `intent` is fsynced before the create call
//! and the task id right after it, so no sequence of crashes can lead to a second create for a key
//! without first asking the provider whether the first one exists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use super::ledger::{Ledger, Phase, Record};
use super::manifest::PairSpec;
use super::{
    Http, Job, ProviderName, RetryPolicy, SubmitError, TaskState, Tier, assets, download, price,
};
use crate::analyze::AnalyzeOptions;
use crate::engine::{CheckOptions, Input, check_file};
use crate::model::{Diagnostic, Facts, FileReport, Severity, Verdict};
use crate::profile::{self, Orientation};
use crate::rules::{self, Context, RuleSettings, Sink};

/// Everything about a run that is not a pair.
#[derive(Debug, Clone)]
pub struct Settings {
    pub provider: ProviderName,
    pub api_base: Option<String>,
    pub out_dir: PathBuf,
    pub ledger: PathBuf,
    pub poll_interval: Duration,
    /// Stop polling (the tasks stay in the ledger; a re-run resumes them) after this long.
    pub poll_timeout: Duration,
    pub dry_run: bool,
    pub force_resend: bool,
    pub max_spend: Option<f64>,
    pub price_per_second: Option<f64>,
    pub asset_base_url: Option<String>,
    pub inline_image: bool,
    pub webhook_url: Option<String>,
    pub analyze: bool,
    pub retry: RetryPolicy,
    /// The folder asset paths are made relative to for `--asset-base-url`.
    pub workdir: PathBuf,
    /// `--adopt KEY=TASK_ID`: tasks the user found at the provider, recorded before anything else.
    pub adopt: Vec<(String, String)>,
    /// This invocation, for the commands printed after a failure (keys never appear in it).
    pub command_line: String,
}

/// One pair with every default filled in.
#[derive(Debug, Clone)]
pub struct Pair {
    pub image: PathBuf,
    pub video: PathBuf,
    pub prompt: Option<String>,
    pub orientation: Orientation,
    pub tier: Tier,
    pub cfg_scale: Option<f64>,
    pub keep_sound: Option<bool>,
    pub image_url: Option<String>,
    pub video_url: Option<String>,
    pub origin: String,
}

impl Pair {
    pub fn from_spec(s: PairSpec, defaults: &Pair) -> Pair {
        Pair {
            image: s.image,
            video: s.video,
            prompt: s.prompt.or_else(|| defaults.prompt.clone()),
            orientation: s.orientation.unwrap_or(defaults.orientation),
            tier: s.tier.unwrap_or(defaults.tier),
            cfg_scale: s.cfg_scale.or(defaults.cfg_scale),
            keep_sound: s.keep_sound.or(defaults.keep_sound),
            image_url: s.image_url,
            video_url: s.video_url,
            origin: s.origin,
        }
    }

    pub fn label(&self) -> String {
        format!("{} + {}", self.image.display(), self.video.display())
    }
}

/// The outcome counts a run ends with.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub pairs: usize,
    pub refused: usize,
    pub created: usize,
    pub resumed: usize,
    pub skipped_done: usize,
    pub downloaded: usize,
    pub failed: usize,
    pub unfinished: usize,
    pub over_budget: usize,
    pub spent_usd: f64,
    pub saved_usd: f64,
}

/// A pair that passed preflight, ready to send.
pub struct Ready {
    pub pair: Pair,
    pub key: String,
    pub estimate: f64,
    /// Where the estimate's price comes from, in the user's terms.
    pub basis: String,
    /// The output's expected length: the reference video's, within the orientation's cap.
    pub duration_s: f64,
    pub job: Job,
    pub params: serde_json::Value,
}

fn diag_line(scope: &str, d: &Diagnostic) -> String {
    format!(
        "  {} {} {} {scope}: {}",
        d.severity.name(),
        d.code,
        d.name,
        d.message
    )
}

/// Preflight one pair: both files through the engine with the provider's profile, then the request
/// and pair rules. Returns the diagnostics as printable lines, whether the pair may be sent, and the
/// video's duration.
fn preflight(
    pair: &Pair,
    provider: ProviderName,
    analyze: bool,
) -> Result<(Vec<String>, bool, Option<f64>)> {
    let profile = profile::lookup(provider.profile(), &BTreeMap::new())?;
    let opts = CheckOptions {
        profile,
        orientation: pair.orientation,
        rules: RuleSettings::default(),
        analyze,
        analyze_opts: AnalyzeOptions::from_env(),
        cache: None,
        ignore: Default::default(),
    };
    let input = |p: &Path| Input {
        path: p.to_path_buf(),
        display: p.display().to_string(),
        explicit: true,
    };
    let image = check_file(&input(&pair.image), &opts);
    let video = check_file(&input(&pair.video), &opts);
    let mut lines = Vec::new();
    let mut ok = true;
    let mut duration = None;
    for (role, r) in [("image", &image), ("video", &video)] {
        let Some(r) = r else { continue };
        for d in &r.diagnostics {
            lines.push(diag_line(&r.path, d));
        }
        ok &= r.verdict != Verdict::Fail;
        let want = if role == "image" {
            crate::model::Kind::Image
        } else {
            crate::model::Kind::Video
        };
        if r.verdict != Verdict::Fail && r.kind != want {
            lines.push(format!(
                "  error {}: is a {} file, not the {role} of the pair (swapped columns?)",
                r.path,
                format!("{:?}", r.kind).to_lowercase()
            ));
            ok = false;
        }
    }
    let ctx_profile = profile::lookup(provider.profile(), &BTreeMap::new())?;
    let settings = RuleSettings::default();
    let ctx = Context {
        profile: &ctx_profile,
        orientation: pair.orientation,
        settings: &settings,
    };
    let mut sink = Sink::new(&ctx);
    rules::request::check_request(&mut sink, &ctx, pair.prompt.as_deref(), pair.cfg_scale);
    if let (
        Some(FileReport {
            facts: Facts::Image(i),
            ..
        }),
        Some(FileReport {
            facts: Facts::Video(v),
            ..
        }),
    ) = (&image, &video)
    {
        rules::request::check_pair(&mut sink, i, v);
        duration = v.duration_s;
    }
    let mut pair_diags = sink.diagnostics;
    rules::sort(&mut pair_diags);
    for d in &pair_diags {
        lines.push(diag_line("request", d));
        ok &= d.severity != Severity::Error;
    }
    Ok((lines, ok, duration))
}

/// Run the whole submission; prints progress and a summary on stdout.
pub fn run(
    s: &Settings,
    pairs: Vec<Pair>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Summary, bool)> {
    let mut sum = Summary {
        pairs: pairs.len(),
        ..Summary::default()
    };
    if s.inline_image && s.provider != ProviderName::Kling {
        bail!(
            "--inline-image: only Kling accepts the image inline (raw base64); {} needs a public URL",
            s.provider
        );
    }
    let base = s
        .api_base
        .clone()
        .unwrap_or_else(|| s.provider.default_base().to_string());
    super::check_base_url(&base)?;
    super::http::check_url(&base).map_err(|e| anyhow::anyhow!("--api-base: {e}"))?;
    let n = pairs.len();
    let mut ready: Vec<Ready> = Vec::new();
    let mut problems = false;

    // 1. Preflight, keys and URLs: nothing is sent for a pair that fails here.
    for (i, pair) in pairs.into_iter().enumerate() {
        let head = format!("pair {}/{n} {}", i + 1, pair.label());
        let rate = price::rate(s.provider, pair.tier, s.price_per_second);
        let (lines, ok, duration) = preflight(&pair, s.provider, s.analyze)?;
        let cap = match pair.orientation {
            Orientation::Image => 10.0,
            Orientation::Video => 30.0,
        };
        let estimate = price::estimate(&rate, duration.unwrap_or(cap).min(cap));
        if !ok {
            println!(
                "{head}: refused by preflight ({}, orientation={}); nothing sent",
                s.provider.profile(),
                pair.orientation
            );
            for l in &lines {
                println!("{l}");
            }
            sum.refused += 1;
            sum.saved_usd += estimate;
            continue;
        }
        let urls = (|| -> Result<(Option<String>, Option<String>, String)> {
            let video_url = match (&pair.video_url, &s.asset_base_url) {
                (Some(u), _) => u.clone(),
                (None, Some(b)) => assets::asset_url(b, &s.workdir, &pair.video)?,
                (None, None) => bail!(
                    "{}: no public URL for the video: the provider downloads inputs by URL; pass --asset-base-url or --video-url",
                    pair.video.display()
                ),
            };
            let (image_url, image_b64) = match (&pair.image_url, &s.asset_base_url, s.inline_image)
            {
                (_, _, true) => (None, Some(assets::inline_base64(&pair.image)?)),
                (Some(u), _, _) => (Some(u.clone()), None),
                (None, Some(b), _) => (Some(assets::asset_url(b, &s.workdir, &pair.image)?), None),
                (None, None, false) => bail!(
                    "{}: no public URL for the image: pass --asset-base-url or --image-url{}",
                    pair.image.display(),
                    if s.provider == ProviderName::Kling {
                        ", or --inline-image"
                    } else {
                        ""
                    }
                ),
            };
            Ok((image_url, image_b64, video_url))
        })();
        let (image_url, image_base64, video_url) = match urls {
            Ok(u) => u,
            Err(e) => {
                println!("{head}: not sent: {e:#}");
                problems = true;
                sum.unfinished += 1;
                continue;
            }
        };
        for u in image_url
            .iter()
            .chain([&video_url])
            .chain(s.webhook_url.iter())
        {
            if u.to_ascii_lowercase().starts_with("http://") {
                eprintln!(
                    "kling-preflight: warning: {u} is plain http://; providers may refuse it"
                );
            }
        }
        if !lines.is_empty() {
            println!("{head}: passed preflight with warnings");
            for l in &lines {
                println!("{l}");
            }
        }
        if s.provider == ProviderName::Freepik && pair.keep_sound.is_some() {
            eprintln!(
                "kling-preflight: note: Freepik has no keep_original_sound field; --keep-sound is ignored"
            );
        }
        let params = json!({
            "prompt": pair.prompt,
            "orientation": pair.orientation.name(),
            "cfg_scale": pair.cfg_scale,
            "keep_sound": pair.keep_sound,
            "inline_image": image_base64.is_some(),
        });
        let key = super::ledger::job_key(
            &super::ledger::hash_file(&pair.image)?,
            &super::ledger::hash_file(&pair.video)?,
            &params,
            s.provider.name(),
            pair.tier.name(),
        );
        let job = Job {
            image_url,
            image_base64,
            video_url,
            prompt: pair.prompt.clone(),
            orientation: pair.orientation,
            tier: pair.tier,
            cfg_scale: if s.provider == ProviderName::Freepik {
                pair.cfg_scale
            } else {
                None
            },
            keep_sound: pair.keep_sound,
            webhook_url: s.webhook_url.clone(),
            external_id: key.clone(),
        };
        ready.push(Ready {
            pair,
            key,
            estimate,
            basis: rate.basis.clone(),
            duration_s: duration.unwrap_or(cap).min(cap),
            job,
            params,
        });
    }

    let http = Http::new(s.retry);
    let mut out = super::dispatch::Outcome {
        sum,
        problems,
        ..Default::default()
    };
    if s.dry_run {
        let placeholder = |_: &str| Some("dry-run-placeholder".to_string());
        let provider = super::provider_for(s.provider, &base, http, &placeholder)?;
        let ledger = Ledger::peek(&s.ledger)?;
        super::dispatch::dry_run(&mut out, &ledger, provider.as_ref(), s, &mut ready)?;
        print_summary(&out.sum, s, true);
        let clean = out.sum.refused == 0
            && out.sum.failed == 0
            && out.sum.over_budget == 0
            && !out.problems;
        return Ok((out.sum, clean));
    }
    if ready.is_empty() {
        print_summary(&out.sum, s, false);
        return Ok((out.sum, false));
    }

    let provider = super::provider_for(s.provider, &base, http.clone(), env)?;
    let mut ledger = Ledger::open(&s.ledger)?;
    if ledger.skipped_lines > 0 {
        eprintln!(
            "kling-preflight: {}: skipped {} unreadable line(s) (a write cut short by a crash)",
            s.ledger.display(),
            ledger.skipped_lines
        );
    }

    // 2. Decide per pair, under the ledger's lock: skip, resume, reconcile or create.
    for (i, r) in ready.iter_mut().enumerate() {
        super::dispatch::dispatch(&mut out, &mut ledger, provider.as_ref(), s, i, r)?;
    }
    for (k, _) in &s.adopt {
        if !ready.iter().any(|r| r.key == *k) {
            println!("--adopt {k}: no pair of this run has that key; ignored");
        }
    }
    let super::dispatch::Outcome {
        mut sum,
        poll,
        fetch,
        mut problems,
        ..
    } = out;
    let mut poll = poll;
    let mut fetch = fetch;

    // 3. Poll until everything in flight finishes (or the poll time limit passes).
    let start = Instant::now();
    let mut errors: BTreeMap<usize, u32> = BTreeMap::new();
    while !poll.is_empty() {
        if s.webhook_url.is_some() {
            ledger.refresh()?;
        }
        let mut still = Vec::new();
        for (i, id) in poll {
            let r = &ready[i];
            let label = r.pair.label();
            let attempt = ledger.entry(&r.key).map(|e| e.attempt).unwrap_or(1);
            // A webhook receiver may have recorded the outcome already.
            let known = ledger
                .entry(&r.key)
                .filter(|e| e.phase >= Phase::Completed)
                .cloned();
            let state = match known {
                Some(e) if e.phase == Phase::Failed => Ok(TaskState::Failed {
                    reason: e.reason.unwrap_or_default(),
                }),
                Some(e) => Ok(TaskState::Succeeded { urls: e.urls }),
                None => provider.get(&r.job, &id),
            };
            match state {
                Ok(TaskState::Running { .. }) => still.push((i, id)),
                Ok(TaskState::Succeeded { urls }) => {
                    let mut rec = Record::new("completed", &r.key, attempt);
                    rec.task_id = Some(id.clone());
                    rec.urls = Some(urls.clone());
                    rec.via = Some("poll".into());
                    ledger.append(rec)?;
                    println!("{label}: task {id} completed");
                    fetch.push((i, urls));
                }
                Ok(TaskState::Failed { reason }) => {
                    let mut rec = Record::new("failed", &r.key, attempt);
                    rec.task_id = Some(id.clone());
                    rec.reason = Some(reason.clone());
                    ledger.append(rec)?;
                    println!("{label}: task {id} FAILED: {reason}");
                    sum.failed += 1;
                }
                Err(SubmitError::Rejected(m)) => {
                    println!("{label}: polling task {id} refused: {m}; re-run to resume");
                    problems = true;
                    sum.unfinished += 1;
                }
                Err(e) => {
                    let n = errors.entry(i).or_insert(0);
                    *n += 1;
                    if *n >= s.retry.max_attempts {
                        println!(
                            "{label}: polling task {id} keeps failing ({e}); it stays in the ledger, re-run to resume"
                        );
                        problems = true;
                        sum.unfinished += 1;
                    } else {
                        eprintln!(
                            "kling-preflight: {label}: polling task {id}: {e}; will try again"
                        );
                        still.push((i, id));
                    }
                }
            }
        }
        poll = still;
        if poll.is_empty() {
            break;
        }
        if start.elapsed() > s.poll_timeout {
            for (i, id) in &poll {
                println!(
                    "{}: task {id} still running after {:.0} s; it stays in the ledger, re-run to resume",
                    ready[*i].pair.label(),
                    s.poll_timeout.as_secs_f64()
                );
                sum.unfinished += 1;
            }
            problems = true;
            break;
        }
        std::thread::sleep(s.poll_interval);
    }

    // 4. Download the results.
    for (i, urls) in fetch {
        let r = &ready[i];
        let label = r.pair.label();
        let attempt = ledger.entry(&r.key).map(|e| e.attempt).unwrap_or(1);
        if urls.is_empty() {
            println!("{label}: the task completed without an output URL; nothing to download");
            problems = true;
            sum.unfinished += 1;
            continue;
        }
        let mut ok = true;
        for (k, url) in urls.iter().enumerate() {
            let name = download::output_name(&r.pair.image, &r.pair.video, &r.key, k);
            match download::download(&http, url, &s.out_dir, &name, r.duration_s) {
                Ok((path, bytes)) => {
                    let mut rec = Record::new("downloaded", &r.key, attempt);
                    rec.path = Some(path.display().to_string());
                    rec.bytes = Some(bytes);
                    ledger.append(rec)?;
                    println!("{label}: saved {} ({bytes} bytes)", path.display());
                }
                Err(e) => {
                    println!("{label}: download failed: {e:#}");
                    ok = false;
                }
            }
        }
        if ok {
            sum.downloaded += 1;
        } else {
            problems = true;
            sum.unfinished += 1;
        }
    }
    print_summary(&sum, s, false);
    let clean = sum.refused == 0 && sum.failed == 0 && sum.over_budget == 0 && !problems;
    Ok((sum, clean))
}

fn print_summary(sum: &Summary, s: &Settings, dry: bool) {
    let spent = if dry { "would spend" } else { "spent" };
    let created = if dry { "to create" } else { "created" };
    println!(
        "summary ({}): {} pair(s): {} {created}, {} resumed, {} already done, {} downloaded, {} failed, {} refused by preflight, {} over budget, {} unfinished",
        s.provider,
        sum.pairs,
        sum.created,
        sum.resumed,
        sum.skipped_done,
        sum.downloaded,
        sum.failed,
        sum.refused,
        sum.over_budget,
        sum.unfinished
    );
    let budget = s
        .max_spend
        .map(|m| format!(" of a ${m:.2} budget"))
        .unwrap_or_default();
    println!(
        "cost: {spent} ~${:.2}{budget} (estimate); saved ~${:.2} by refusing {} pair(s) before sending",
        sum.spent_usd, sum.saved_usd, sum.refused
    );
}
