//! The command-line interface: argument parsing and one function per command. Commands return an
//! exit status; `main` only maps errors to exit code 2. Diagnostics go to stdout, progress and errors
//! to stderr.
//!
//! `options()` turns the shared judging flags plus the project's config file into `CheckOptions`; every
//! command that judges files (check, fix, submit) goes through it, so they all agree on a verdict.

mod config;
mod merge;
mod meta;
mod settings;

pub use meta::command;

pub mod submit;

pub mod fix;

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::engine::{self, CheckOptions};
use crate::model::{Report, Summary};
use crate::profile::{self, DEFAULT_PROFILE, Orientation};
use crate::report::{self, Format, escape, html, human};
use crate::rules;
use crate::shard::Shard;

/// Exit statuses: 0 clean (warnings allowed), 1 error-level findings, 2 usage/internal error.
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
    long_version = crate::version::version_long(),
    about = "Check and fix Kling 3.0 Motion Control inputs (character image + reference video) before spending credits.",
    after_help = "Exit status: 0 clean (warnings allowed), 1 error-level findings, 2 usage or internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour in human output: `auto` = only when stdout is a terminal and NO_COLOR is unset.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    fn enabled(self) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

/// `--fail-on`: the lowest severity that makes the exit status 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    /// Exit 1 when any finding is an error (warnings pass).
    #[default]
    Error,
    /// Exit 1 on errors and on warnings.
    Warning,
}

impl FailOn {
    /// The exit status for a run's summary.
    pub(crate) fn status(self, s: &Summary) -> Status {
        let failing = match self {
            Self::Error => s.fail > 0,
            Self::Warning => s.fail + s.warn > 0,
        };
        if failing {
            Status::Findings
        } else {
            Status::Clean
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check images and videos (files or folders) against a provider profile.
    Check(CheckArgs),
    /// Write fixed copies of failing files into --out-dir (trim, remux, resize, re-encode), re-checked.
    Fix(fix::FixArgs),
    /// Print the raw facts measured about files, as JSON.
    Probe(ProbeArgs),
    /// List the built-in provider profiles, or show one with every limit's source.
    Profiles(ProfilesArgs),
    /// Print a rule's documentation (by code or name), or all of them.
    Explain(ExplainArgs),
    /// Write a commented starter kling-preflight.toml in the working folder.
    Init(config::InitArgs),
    /// Show the resolved settings (config file + flags) and where each came from.
    Config(config::ConfigArgs),
    /// Remove the result cache (.kling-preflight-cache).
    Clean(config::CleanArgs),
    /// Combine the JSON reports of `check --shard K/N` runs into one report.
    Merge(merge::MergeArgs),
    /// Preflight pairs, then submit those that pass to Freepik, GPTProto or Kling (once each).
    Submit(Box<submit::SubmitArgs>),
    /// Receive provider callbacks and record completions in the ledger.
    ServeWebhook(submit::ServeWebhookArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions(meta::CompletionsArgs),
    /// Print the man page (roff) to stdout: `kling-preflight man | man -l -`.
    Man,
}

/// The flags that decide how files are judged, shared by every command that judges (check, fix,
/// submit). Each overrides the config file's setting; `options()` resolves them.
#[derive(Debug, Args, Default)]
pub struct Judging {
    /// Provider profile whose limits apply [default: the config's `profile`, else strict].
    #[arg(long, short = 'p')]
    pub profile: Option<String>,
    /// Kling's character_orientation: `image` caps videos at 10 s, `video` at 30 s [default: video].
    #[arg(long, short = 'o', value_enum)]
    pub orientation: Option<Orientation>,
    /// Change rule severities: CODE=error|warning|info|off (a code, a prefix such as `V`, or a name).
    #[arg(long = "rule", value_name = "CODE=SEVERITY")]
    pub rule: Vec<String>,
    /// Skip decoding videos (no cuts, motion or freeze checks): header facts only.
    #[arg(long)]
    pub no_analyze: bool,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Use this config file instead of the nearest kling-preflight.toml.
    #[arg(long, value_name = "PATH", conflicts_with = "isolated")]
    pub config: Option<PathBuf>,
    /// Ignore config files: built-in defaults and flags only.
    #[arg(long)]
    pub isolated: bool,
    /// Neither read nor write the result cache (.kling-preflight-cache).
    #[arg(long)]
    pub no_cache: bool,
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
    /// Also list passing files (human format), and name skipped files and why on stderr.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Exit 1 on error-level findings only (default), or on warnings too.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Check only part K of N of the inputs (stable split by relative path), or `auto` to read
    /// it from Kubernetes (JOB_COMPLETION_INDEX/JOB_COMPLETIONS), GitLab (CI_NODE_INDEX/CI_NODE_TOTAL)
    /// or Slurm (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT). Combine the reports with `merge`.
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<String>,
    /// Also write a self-contained visual report (filmstrips, timelines, pictures with the limits);
    /// an existing folder gets `report.html` in it.
    #[arg(long, value_name = "PATH.html")]
    pub report: Option<PathBuf>,
    /// Exit 1 when no image or video is found to judge (config: `fail_on_empty = true`).
    #[arg(long)]
    pub fail_on_empty: bool,
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
    /// Use this config file (its profiles and default) instead of the nearest kling-preflight.toml.
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "isolated")]
    pub config: Option<PathBuf>,
    /// Ignore config files: the built-in profiles only.
    #[arg(long, global = true)]
    pub isolated: bool,
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
    // The environment is read here, by the program, never by the library behind its caller's back.
    crate::host::set(crate::host::Host::from_env());
    let color = cli.color.enabled();
    match cli.command {
        Command::Check(a) => check(a, color),
        Command::Fix(a) => fix::run(a),
        Command::Probe(a) => probe(a),
        Command::Profiles(a) => profiles(a),
        Command::Explain(a) => explain(a),
        Command::Init(a) => config::init(a),
        Command::Config(a) => config::show(a),
        Command::Clean(a) => config::clean(a),
        Command::Merge(a) => merge::run(a, color),
        Command::Submit(a) => submit::run(*a),
        Command::ServeWebhook(a) => submit::serve_webhook(a),
        Command::Completions(a) => meta::completions(a),
        Command::Man => meta::man(),
    }
}

pub(crate) use settings::resolve;

/// `CheckOptions` for the judging flags, the config file and the defaults, in that order of precedence.
pub(crate) fn options(j: &Judging) -> Result<CheckOptions> {
    Ok(resolve(j)?.opts)
}

/// Collect inputs (skipping the config's ignore globs in folders, keeping one shard); a path that does
/// not exist is a usage error (exit 2), named in the message. Symlink loops and dangling links found
/// in folders are named on stderr.
fn collect(
    paths: &[PathBuf],
    opts: &CheckOptions,
    shard: Option<Shard>,
) -> Result<engine::Collected> {
    let walk = engine::Walk {
        ignore: Some(&opts.ignore),
        shard,
    };
    let collected = engine::collect_with(paths, &walk);
    if let Some((path, err)) = collected.errors.first() {
        bail!("{}: {err}", escape::text(path));
    }
    warn_skipped(&collected);
    Ok(collected)
}

/// Name on stderr the entries found in folders that deserve a warning (loops, dangling links).
pub(crate) fn warn_skipped(c: &engine::Collected) {
    for s in c.skipped.iter().filter(|s| s.warn) {
        eprintln!(
            "kling-preflight: warning: {}: skipped: {}",
            escape::text(&s.display),
            s.reason
        );
    }
}

/// With `-v`: name every skipped entry and why, and say how many duplicates were judged once.
fn list_skipped(c: &engine::Collected, skipped: &[&engine::Input]) {
    for s in c.skipped.iter().filter(|s| !s.warn) {
        eprintln!(
            "kling-preflight: skipped {}: {}",
            escape::text(&s.display),
            s.reason
        );
    }
    for i in skipped {
        eprintln!(
            "kling-preflight: skipped {}: {}",
            escape::path(&i.path),
            engine::skip_reason(i)
        );
    }
    if c.duplicates > 0 {
        eprintln!(
            "kling-preflight: {} {} the same file as an earlier input, judged once",
            c.duplicates,
            if c.duplicates == 1 {
                "path is"
            } else {
                "paths are"
            }
        );
    }
}

/// Human-format options for stdout (`color` from `--color`).
fn human_options(verbose: bool, color: bool) -> human::Options {
    human::Options {
        color,
        verbose,
        analysis_skipped: None,
        fix_command: None,
    }
}

fn check(a: CheckArgs, color: bool) -> Result<Status> {
    check_report_path(a.report.as_deref())?;
    let resolved = resolve(&a.judging)?;
    let fail_on_empty = a.fail_on_empty
        || resolved
            .config
            .fail_on_empty
            .as_ref()
            .is_some_and(|at| at.value);
    let analysis_skipped = (!resolved.opts.analyze).then(|| {
        let origin = resolved
            .sources
            .iter()
            .find(|(k, _, _)| k == "analyze")
            .map(|(_, _, o)| o.clone())
            .unwrap_or_default();
        if origin.starts_with("--") {
            origin
        } else {
            format!("analyze = false at {origin}")
        }
    });
    let opts = resolved.opts;
    let shard = match &a.shard {
        Some(s) => Some(Shard::from_arg(s).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let collected = collect(&a.paths, &opts, shard)?;
    let inputs = &collected.inputs;
    if let Some(s) = shard
        && !a.quiet
    {
        eprintln!("kling-preflight: shard {s}: {} of the inputs", inputs.len());
    }
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
    // The fix promises below ask whether each re-encoded picture decodes: the check's own decode
    // answers, instead of a second one.
    crate::pixels::keep_verdicts();
    let (results, artefacts) = if a.report.is_some() {
        let (r, art): (Vec<_>, Vec<_>) = engine::check_all_visual(inputs, &opts, progress.as_ref())
            .into_iter()
            .map(|r| match r {
                Some((f, a)) => (Some(f), Some(a)),
                None => (None, None),
            })
            .unzip();
        (r, art.into_iter().flatten().collect())
    } else {
        (
            engine::check_all(inputs, &opts, progress.as_ref()),
            Vec::new(),
        )
    };
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let not_media: Vec<&engine::Input> = inputs
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_none())
        .map(|(i, _)| i)
        .collect();
    if a.verbose {
        list_skipped(&collected, &not_media);
    }
    let skipped = not_media.len() + collected.skipped.len();
    let files = fix::promise_fixes(inputs, results, &opts);
    if files.is_empty() {
        warn_empty(&a.paths, skipped, fail_on_empty);
    }
    let mut report = Report::new(&opts.profile.name, opts.orientation.name(), files, skipped);
    report.shard = shard;
    if let Some(path) = &a.report {
        let entries = report
            .files
            .iter()
            .zip(&artefacts)
            .map(|(f, art)| html::Entry {
                report: f,
                artefacts: Some(art),
                after: None,
            })
            .collect();
        let page = html::Page {
            command: "check",
            profile: &opts.profile,
            orientation: opts.orientation,
            entries,
        };
        write_report(path, &page, a.quiet)?;
    }
    let mut hopts = human_options(a.verbose, color);
    hopts.analysis_skipped = analysis_skipped;
    hopts.fix_command = Some(fix::suggestion(&a.paths, &a.judging));
    emit(|out| report::write(out, &report, a.format, &hopts))?;
    if fail_on_empty && report.files.is_empty() {
        return Ok(Status::Findings);
    }
    Ok(a.fail_on.status(&report.summary))
}

/// Nothing to judge: say so on stderr, since "Checked 0 files" would pass a mistyped folder.
fn warn_empty(paths: &[PathBuf], skipped: usize, fail: bool) {
    let named: Vec<String> = paths.iter().map(|p| escape::path(p)).collect();
    let others = match skipped {
        0 => String::new(),
        1 => " (1 other file skipped; -v names it)".into(),
        n => format!(" ({n} other files skipped; -v names them)"),
    };
    let then = if fail {
        "; failing (--fail-on-empty)"
    } else {
        "; pass --fail-on-empty to fail"
    };
    eprintln!(
        "kling-preflight: warning: no image or video found in {}{others}{then}",
        named.join(", ")
    );
}

fn probe(a: ProbeArgs) -> Result<Status> {
    let mut opts = CheckOptions::new(profile::lookup(DEFAULT_PROFILE, &BTreeMap::new())?);
    opts.analyze = a.analyze;
    if a.analyze {
        // Where ONNX Runtime is (KLING_PREFLIGHT_ONNXRUNTIME), and a note when it is missing.
        settings::pose_runtime_note();
    }
    let inputs = collect(&a.paths, &opts, None)?.inputs;
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
    let cfg = settings::load_config(a.config.as_deref(), a.isolated)?;
    match a.action {
        None => {
            let mut all = profile::builtins();
            all.extend(cfg.profiles.values().cloned());
            let (default, why) = match &cfg.profile {
                Some(at) => (at.value.as_str(), cfg.origin(at.line)),
                None => (DEFAULT_PROFILE, "built-in".to_string()),
            };
            emit(|out| {
                if a.json {
                    serde_json::to_writer_pretty(&mut *out, &all)?;
                    return writeln!(out);
                }
                let width = all.iter().map(|p| p.name.len()).max().unwrap_or(0).max(10);
                for p in &all {
                    let mut notes = Vec::new();
                    if cfg.profiles.contains_key(&p.name) {
                        notes.push(format!("from {}", cfg.display));
                    }
                    if p.name == default {
                        notes.push(format!("default: {why}"));
                    }
                    let notes = if notes.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", notes.join("; "))
                    };
                    writeln!(out, "{:<width$} {}{notes}", p.name, p.description)?;
                }
                Ok(())
            })?;
        }
        Some(ProfilesAction::Show { name }) => {
            let p = profile::lookup(&name, &cfg.profiles)?;
            emit(|out| {
                if a.json {
                    serde_json::to_writer_pretty(&mut *out, &p)?;
                    return writeln!(out);
                }
                writeln!(out, "{}: {}\n", p.name, p.description)?;
                for (key, value, source, read) in p.rows() {
                    let read = if read.is_empty() {
                        String::new()
                    } else {
                        format!(" (read {read})")
                    };
                    writeln!(out, "  {key:<28} {value:<24} {source}{read}")?;
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

/// The file `--report PATH` writes: PATH, or `PATH/report.html` when PATH is an existing folder.
pub(crate) fn report_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("report.html")
    } else {
        path.to_path_buf()
    }
}

/// Check, before any work, that `--report` can be written: its folder exists and takes a new file
/// (tried with a probe file, removed at once), and the name is not a folder. A run that analyses for
/// minutes must not end in "cannot write the report" with its findings lost.
pub(crate) fn check_report_path(path: Option<&Path>) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let file = report_file(path);
    let shown = path.display();
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        let what = if dir.exists() {
            "is not a folder"
        } else {
            "does not exist (create it first)"
        };
        bail!(
            "--report {shown}: cannot write the report: {} {what}",
            dir.display()
        );
    }
    if file.is_dir() {
        bail!(
            "--report {shown}: cannot write the report: {} is a folder",
            file.display()
        );
    }
    probe_writable(dir).map_err(|e| {
        anyhow::anyhow!(
            "--report {shown}: cannot write the report in {}: {e}",
            dir.display()
        )
    })
}

/// Whether a new file can be made in `dir`: a probe file is created and removed at once.
fn probe_writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".kp-write-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// Check, before any work, that an output folder (`submit --out-dir`) exists as a folder or can be
/// created, and takes files: a download must not fail after the generation it fetches was paid for.
pub(crate) fn check_output_dir(flag: &str, dir: &Path) -> Result<()> {
    let shown = dir.display();
    let existing = dir
        .ancestors()
        .find(|a| a.as_os_str().is_empty() || a.exists())
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .unwrap_or(Path::new("."));
    if !existing.is_dir() {
        bail!(
            "{flag} {shown}: cannot write there: {} is not a folder",
            existing.display()
        );
    }
    probe_writable(existing).map_err(|e| {
        anyhow::anyhow!(
            "{flag} {shown}: cannot write in {}: {e}",
            existing.display()
        )
    })
}

/// Write the visual report; a path that cannot be written is an error (exit 2) that names it.
pub(crate) fn write_report(path: &Path, page: &html::Page<'_>, quiet: bool) -> Result<()> {
    use anyhow::Context as _;
    let path = &report_file(path);
    html::write_file(path, page)
        .with_context(|| format!("--report {}: cannot write the report", path.display()))?;
    if !quiet {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "kling-preflight: wrote the visual report {} ({} files, {:.1} MB)",
            path.display(),
            page.entries.len(),
            size as f64 / 1e6
        );
    }
    Ok(())
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
