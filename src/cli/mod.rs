//! The command-line interface: argument parsing and one function per command. Commands return an
//! exit status; `main` only maps errors to exit code 2. Diagnostics go to stdout, progress and errors
//! to stderr.

pub mod submit;

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::analyze::AnalyzeOptions;
use crate::engine::{self, CheckOptions};
use crate::model::Report;
use crate::profile::{self, DEFAULT_PROFILE, Orientation};
use crate::report::{self, Format, human};
use crate::rules::{self, RuleSettings};

/// Exit statuses (SPEC.md): 0 clean (warnings allowed), 1 error-level findings, 2 usage/internal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Clean = 0,
    Findings = 1,
    Error = 2,
}

#[derive(Debug, Parser)]
#[command(
    name = "kling-preflight",
    version,
    about = "Check and fix Kling 3.0 Motion Control inputs (character image + reference video) before spending credits.",
    after_help = "Exit status: 0 clean (warnings allowed), 1 error-level findings, 2 usage or internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check images and videos (files or folders) against a provider profile.
    Check(CheckArgs),
    /// Print the raw facts measured about files, as JSON.
    Probe(ProbeArgs),
    /// List the built-in provider profiles, or show one with every limit's source.
    Profiles(ProfilesArgs),
    /// Print a rule's documentation (by code or name), or all of them.
    Explain(ExplainArgs),
    /// Preflight pairs, then submit those that pass to Freepik, GPTProto or Kling (once each).
    Submit(Box<submit::SubmitArgs>),
    /// Receive provider callbacks and record completions in the ledger.
    ServeWebhook(submit::ServeWebhookArgs),
}

#[derive(Debug, Args)]
pub struct Judging {
    /// Provider profile whose limits apply.
    #[arg(long, short = 'p', default_value = DEFAULT_PROFILE)]
    pub profile: String,
    /// Kling's character_orientation: `image` caps videos at 10 s, `video` at 30 s.
    #[arg(long, short = 'o', value_enum, default_value_t = Orientation::Video)]
    pub orientation: Orientation,
    /// Change rule severities: CODE=error|warning|info|off (a code, a prefix such as `V`, or a name).
    #[arg(long = "rule", value_name = "CODE=SEVERITY")]
    pub rule: Vec<String>,
    /// Skip decoding videos (no cuts, motion or freeze checks): header facts only.
    #[arg(long)]
    pub no_analyze: bool,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files and folders to check (folders are walked; non-media files in them are skipped).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub judging: Judging,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also list passing files (human format).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Also decode videos for cuts, shots, motion and freezes.
    #[arg(long)]
    pub analyze: bool,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub action: Option<ProfilesAction>,
    /// Print as JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProfilesAction {
    /// Show one profile with every limit, its source URL and the date it was read.
    Show { name: String },
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Rule code (V005) or name (video-too-long).
    #[arg(required_unless_present = "all")]
    pub code: Option<String>,
    /// Every rule.
    #[arg(long)]
    pub all: bool,
    /// With --all: a Markdown table (the README's rule table).
    #[arg(long, requires = "all")]
    pub markdown: bool,
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<Status> {
    match cli.command {
        Command::Check(a) => check(a),
        Command::Probe(a) => probe(a),
        Command::Profiles(a) => profiles(a),
        Command::Explain(a) => explain(a),
        Command::Submit(a) => submit::run(*a),
        Command::ServeWebhook(a) => submit::serve_webhook(a),
    }
}

fn parse_rule_overrides(specs: &[String]) -> Result<RuleSettings> {
    let mut settings = RuleSettings::default();
    for spec in specs {
        let Some((key, sev)) = spec.split_once('=') else {
            bail!("--rule {spec}: expected CODE=SEVERITY, e.g. --rule V012=error");
        };
        let key = key.trim();
        if !rules::CATALOGUE
            .iter()
            .any(|r| r.code.starts_with(key) || r.name.eq_ignore_ascii_case(key))
        {
            bail!(
                "--rule {spec}: no rule code, prefix or name matches '{key}' (see `kling-preflight explain --all`)"
            );
        }
        let sev = match sev.trim() {
            "off" | "ignore" => None,
            s => Some(crate::model::Severity::parse(s).with_context(|| {
                format!("--rule {spec}: severity must be error, warning, info or off")
            })?),
        };
        settings.overrides.push((key.to_string(), sev));
    }
    Ok(settings)
}

fn options(j: &Judging) -> Result<CheckOptions> {
    if let Some(n) = j.jobs {
        // Ignore the error when a pool already exists (library callers, tests).
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    Ok(CheckOptions {
        profile: profile::lookup(&j.profile, &BTreeMap::new())?,
        orientation: j.orientation,
        rules: parse_rule_overrides(&j.rule)?,
        analyze: !j.no_analyze,
        analyze_opts: AnalyzeOptions::default(),
    })
}

/// Collect inputs; a path that does not exist is a usage error (exit 2), named in the message.
fn collect(paths: &[PathBuf]) -> Result<Vec<engine::Input>> {
    let collected = engine::collect(paths);
    if let Some((path, err)) = collected.errors.first() {
        bail!("{path}: {err}");
    }
    Ok(collected.inputs)
}

fn check(a: CheckArgs) -> Result<Status> {
    let opts = options(&a.judging)?;
    let inputs = collect(&a.paths)?;
    let progress = if !a.quiet && io::stderr().is_terminal() && inputs.len() > 1 {
        let pb = indicatif::ProgressBar::new(inputs.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} checking {pos}/{len} files {wide_bar} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };
    let results = engine::check_all(&inputs, &opts, progress.as_ref());
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let skipped = results.iter().filter(|r| r.is_none()).count();
    let files: Vec<_> = results.into_iter().flatten().collect();
    let report = Report::new(&opts.profile.name, opts.orientation.name(), files, skipped);
    let hopts = human::Options {
        color: io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        verbose: a.verbose,
    };
    emit(|out| report::write(out, &report, a.format, &hopts))?;
    Ok(if report.summary.fail > 0 {
        Status::Findings
    } else {
        Status::Clean
    })
}

fn probe(a: ProbeArgs) -> Result<Status> {
    let inputs = collect(&a.paths)?;
    let opts = CheckOptions {
        profile: profile::lookup(DEFAULT_PROFILE, &BTreeMap::new())?,
        orientation: Orientation::Video,
        rules: RuleSettings::default(),
        analyze: a.analyze,
        analyze_opts: AnalyzeOptions::default(),
    };
    let results = engine::check_all(&inputs, &opts, None);
    let files: Vec<serde_json::Value> = results
        .into_iter()
        .flatten()
        .map(|r| {
            let error = r
                .diagnostics
                .iter()
                .find(|d| d.code == "F001")
                .map(|d| d.message.clone());
            serde_json::json!({
                "path": r.path,
                "kind": r.kind,
                "format": r.format,
                "facts": r.facts,
                "error": error,
            })
        })
        .collect();
    emit(|out| {
        serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "files": files }))?;
        writeln!(out)
    })?;
    Ok(Status::Clean)
}

fn profiles(a: ProfilesArgs) -> Result<Status> {
    match a.action {
        None => {
            let all = profile::builtins();
            emit(|out| {
                if a.json {
                    serde_json::to_writer_pretty(&mut *out, &all)?;
                    return writeln!(out);
                }
                for p in &all {
                    let default = if p.name == DEFAULT_PROFILE {
                        " (default)"
                    } else {
                        ""
                    };
                    writeln!(out, "{:<10} {}{default}", p.name, p.description)?;
                }
                Ok(())
            })?;
        }
        Some(ProfilesAction::Show { name }) => {
            let p = profile::lookup(&name, &BTreeMap::new())?;
            emit(|out| {
                if a.json {
                    serde_json::to_writer_pretty(&mut *out, &p)?;
                    return writeln!(out);
                }
                writeln!(out, "{}: {}\n", p.name, p.description)?;
                for (key, value, source, read) in p.rows() {
                    writeln!(out, "  {key:<28} {value:<24} {source} (read {read})")?;
                }
                Ok(())
            })?;
        }
    }
    Ok(Status::Clean)
}

fn explain(a: ExplainArgs) -> Result<Status> {
    if a.all {
        emit(|out| {
            if a.markdown {
                writeln!(out, "| code | name | severity | fix | what it catches |")?;
                writeln!(out, "|---|---|---|---|---|")?;
                for r in rules::CATALOGUE {
                    let fix = r
                        .fix
                        .map(|(n, s)| format!("{n} ({})", s.name()))
                        .unwrap_or_else(|| "—".into());
                    writeln!(
                        out,
                        "| {} | `{}` | {} | {fix} | {} |",
                        r.code,
                        r.name,
                        r.severity.name(),
                        r.summary
                    )?;
                }
            } else {
                for r in rules::CATALOGUE {
                    writeln!(out, "{}\n", r.explain())?;
                }
            }
            Ok(())
        })?;
        return Ok(Status::Clean);
    }
    let code = a.code.unwrap_or_default();
    let Some(rule) = rules::find(&code) else {
        bail!("no rule '{code}'; `kling-preflight explain --all` lists them");
    };
    emit(|out| write!(out, "{}", rule.explain()))?;
    Ok(Status::Clean)
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
fn emit(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match f(&mut out).and_then(|_| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
