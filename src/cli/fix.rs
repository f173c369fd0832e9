//! `kling-preflight fix`: check the inputs, plan the fixes, write passing outputs into `--out-dir`
//! (mirroring the inputs' relative paths), and report per file what was done or why not.
//!
//! The safety checks that need the whole command line live here: the output folder may not contain
//! an input, two inputs may not map to one output, and existing outputs are refused up front (before
//! anything is written) unless `--force`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use rayon::prelude::*;

use super::{Judging, Status, emit, options};
use crate::engine::{self, Input};
use crate::fix::plan::{AspectMode, PlanOptions, Tier};
use crate::fix::{self, FileOutcome, FixOptions, atomic, video::X264};
use crate::report::{escape, html};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FixFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// Files and folders to fix (folders are walked; outputs mirror their relative paths).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Folder for the fixed copies (must not contain any input).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub judging: Judging,
    /// Also apply lossy fixes: re-encode, resize, pad/crop, format and colour conversion.
    #[arg(long)]
    pub unsafe_fixes: bool,
    /// Print the plan for each file; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = FixFormat::Human)]
    pub format: FixFormat,
    /// Overwrite outputs that already exist.
    #[arg(long)]
    pub force: bool,
    /// How to bring an image into the aspect range: add bars (pad) or cut the long side (crop).
    #[arg(long, value_enum, default_value_t = AspectMode::Pad)]
    pub aspect: AspectMode,
    /// Colour for flattened transparency and pad bars: a name (white, black, gray) or #rrggbb.
    #[arg(long, default_value = "white")]
    pub background: String,
    /// libx264 preset for re-encodes (ultrafast … veryslow).
    #[arg(long, default_value = "medium", hide = true)]
    pub x264_preset: String,
    /// libx264 CRF for re-encodes that are not bound by the byte cap.
    #[arg(long, default_value_t = 19, hide = true)]
    pub crf: u8,
    /// Also write a self-contained visual report: each file before and after (trim window, pictures).
    #[arg(long, value_name = "PATH.html")]
    pub report: Option<PathBuf>,
    /// No progress display (it is shown on stderr only when stderr is a terminal).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// A bar on `mp` counting files: "{what} 3/10 files".
fn files_bar(mp: &indicatif::MultiProgress, what: &str, n: usize) -> indicatif::ProgressBar {
    let pb = mp.add(indicatif::ProgressBar::new(n as u64));
    pb.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {what} {{pos}}/{{len}} files {{wide_bar}} {{eta}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb
}

/// Mark each finding fixable exactly when `fix` would remove it (`fix::promise`), in parallel;
/// returns the judged files (skipped inputs dropped) in input order. The plan uses `fix`'s defaults
/// (`--aspect pad`, white background), as the command `suggestion` prints.
pub(super) fn promise_fixes(
    inputs: &[Input],
    results: Vec<Option<crate::model::FileReport>>,
    opts: &engine::CheckOptions,
) -> Vec<crate::model::FileReport> {
    let base = PlanOptions {
        profile: opts.profile.clone(),
        orientation: opts.orientation,
        unsafe_fixes: false,
        aspect: AspectMode::Pad,
        background: [255, 255, 255],
    };
    inputs
        .par_iter()
        .zip(results)
        .filter_map(|(input, r)| {
            r.map(|mut r| {
                fix::promise::annotate(&input.path, &mut r, &base);
                r
            })
        })
        .collect()
}

/// The `fix` command for what `check` was given: the same inputs and judging flags, and an
/// `--out-dir` that does not exist yet (`fixed`, else `fixed-2`, ...), so it runs as printed.
pub(super) fn suggestion(paths: &[PathBuf], j: &Judging) -> String {
    use crate::report::human::shell_quote;
    let q = |p: &Path| shell_quote(&p.to_string_lossy());
    let mut cmd = String::from("kling-preflight fix");
    for p in paths {
        cmd += &format!(" {}", q(p));
    }
    if let Some(p) = &j.profile {
        cmd += &format!(" --profile {}", shell_quote(p));
    }
    if let Some(o) = j.orientation {
        cmd += &format!(" --orientation {}", o.name());
    }
    for r in &j.rule {
        cmd += &format!(" --rule {}", shell_quote(r));
    }
    if j.no_analyze {
        cmd += " --no-analyze";
    }
    if let Some(c) = &j.config {
        cmd += &format!(" --config {}", q(c));
    }
    if j.isolated {
        cmd += " --isolated";
    }
    let out = (1..)
        .map(|i| match i {
            1 => "fixed".to_string(),
            i => format!("fixed-{i}"),
        })
        .find(|d| std::fs::symlink_metadata(d).is_err())
        .unwrap_or_default();
    cmd + " --out-dir " + &out
}

/// Parse `--background`: a few names or a hex colour.
pub fn parse_color(s: &str) -> Result<[u8; 3]> {
    let named = match s.to_ascii_lowercase().as_str() {
        "white" => Some([255, 255, 255]),
        "black" => Some([0, 0, 0]),
        "gray" | "grey" => Some([128, 128, 128]),
        _ => None,
    };
    if let Some(c) = named {
        return Ok(c);
    }
    let hex = s.trim_start_matches('#');
    if hex.len() == 6
        && let Ok(v) = u32::from_str_radix(hex, 16)
    {
        return Ok([(v >> 16) as u8, (v >> 8) as u8, v as u8]);
    }
    bail!("--background {s}: expected white, black, gray or a colour like #ffffff")
}

/// Canonical form of a path that may not exist yet: the nearest existing ancestor, canonicalized,
/// plus the rest.
fn canonical_lenient(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Where outputs must never land: the named input folders and every input file, resolved (symlinks
/// followed), plus the folders that inputs were found in (a walked folder may be a symlink elsewhere).
struct InputGuard {
    trees: Vec<PathBuf>,
    files: std::collections::HashSet<PathBuf>,
}

impl InputGuard {
    fn new(named: &[PathBuf], inputs: &[(Input, PathBuf)]) -> Result<InputGuard> {
        let mut trees = Vec::new();
        for p in named.iter().filter(|p| p.is_dir()) {
            trees.push(
                p.canonicalize()
                    .with_context(|| format!("{}: cannot resolve the path", escape::path(p)))?,
            );
        }
        let mut files = std::collections::HashSet::new();
        for (i, _) in inputs {
            // A dangling link cannot be resolved; it is reported as F001 and never written.
            let Ok(c) = i.path.canonicalize() else {
                continue;
            };
            if !i.explicit
                && let Some(parent) = c.parent()
                && !trees.iter().any(|t| parent.starts_with(t))
            {
                trees.push(parent.to_path_buf());
            }
            files.insert(c);
        }
        Ok(InputGuard { trees, files })
    }

    /// The input folder that holds `p` (already resolved), if any.
    fn tree_holding(&self, p: &Path) -> Option<&Path> {
        self.trees
            .iter()
            .find(|t| p.starts_with(t))
            .map(PathBuf::as_path)
    }

    /// Refuse a destination that, resolved, is an input file or lies in an input folder.
    fn check(&self, dest: &Path, input: &str) -> Result<()> {
        let resolved = canonical_lenient(dest);
        let why = if self.files.contains(&resolved) {
            "is an input file".to_string()
        } else if let Some(tree) = self.tree_holding(&resolved) {
            format!("lies inside the input folder {}", escape::path(tree))
        } else {
            return Ok(());
        };
        bail!(
            "the output for {} would be {}, which resolves to {} and {why} (a symlink in --out-dir points into the inputs?): nothing was written; remove the link or choose another --out-dir",
            escape::text(input),
            escape::path(dest),
            escape::path(&resolved)
        )
    }
}

pub fn run(a: FixArgs) -> Result<Status> {
    super::check_report_path(a.report.as_deref())?;
    let check = options(&a.judging)?;
    let background = parse_color(&a.background)?;
    let opts = FixOptions {
        plan: PlanOptions {
            profile: check.profile.clone(),
            orientation: check.orientation,
            unsafe_fixes: a.unsafe_fixes,
            aspect: a.aspect,
            background,
        },
        check,
        force: a.force,
        dry_run: a.dry_run,
        x264: X264 {
            preset: a.x264_preset.clone(),
            crf: a.crf,
        },
        // Progress like `check`'s: on stderr, only on a terminal, never with -q.
        progress: (!a.quiet && std::io::stderr().is_terminal()).then(indicatif::MultiProgress::new),
    };
    // Ctrl-C: stop between steps/packets; the temp-file guards then clean up on the error path.
    let _ = ctrlc::set_handler(fix::interrupt);

    // Inputs with their paths relative to what was named on the command line; a file reached twice
    // (named twice, named and inside a named folder, `./x` and `x`) is fixed once.
    let mut inputs: Vec<(Input, PathBuf)> = Vec::new();
    let mut seen_inputs = std::collections::HashSet::new();
    for p in &a.paths {
        let walk = engine::Walk {
            ignore: Some(&opts.check.ignore),
            shard: None,
        };
        let collected = engine::collect_with(std::slice::from_ref(p), &walk);
        if let Some((path, err)) = collected.errors.first() {
            bail!("{}: {err}", escape::text(path));
        }
        super::warn_skipped(&collected);
        let is_dir = p.is_dir();
        for i in collected.inputs {
            if !seen_inputs.insert(engine::identity(&i.path)) {
                continue;
            }
            let rel = if is_dir {
                i.path
                    .strip_prefix(p)
                    .map(Path::to_path_buf)
                    .unwrap_or_default()
            } else {
                PathBuf::from(i.path.file_name().unwrap_or_default())
            };
            inputs.push((i, rel));
        }
    }
    let out_dir = canonical_lenient(&a.out_dir);
    let guard = InputGuard::new(&a.paths, &inputs)?;
    for (i, _) in &inputs {
        // A dangling link cannot be resolved (nor overwritten): it is judged F001, never written.
        let Ok(c) = i.path.canonicalize() else {
            continue;
        };
        if c.starts_with(&out_dir) {
            bail!(
                "--out-dir {} contains the input {}: choose a folder outside the inputs, so an input can never be overwritten",
                escape::path(&a.out_dir),
                escape::text(&i.display)
            );
        }
    }
    if let Some(tree) = guard.tree_holding(&out_dir) {
        bail!(
            "--out-dir {} is inside the input folder {}: its outputs would be inputs of the next run; choose a folder outside the inputs",
            escape::path(&a.out_dir),
            escape::path(tree)
        );
    }
    // Every destination folder, resolved through any symlink in it, before anything is analysed.
    for (i, rel) in &inputs {
        let dest = fix::output_path(&a.out_dir, rel, None);
        guard.check(&dest, &i.display)?;
    }
    if out_dir.is_dir() && !a.dry_run {
        for e in walkdir::WalkDir::new(&out_dir).into_iter().flatten() {
            if e.file_type().is_dir() {
                atomic::sweep_stale(e.path());
            }
        }
    }

    let plain: Vec<Input> = inputs.iter().map(|(i, _)| i.clone()).collect();
    let checking = opts
        .progress
        .as_ref()
        .map(|mp| files_bar(mp, "checking", plain.len()));
    let (reports, mut artefacts) = if a.report.is_some() {
        engine::check_all_visual(&plain, &opts.check, checking.as_ref())
            .into_iter()
            .map(|r| match r {
                Some((f, art)) => (Some(f), Some(art)),
                None => (None, None),
            })
            .unzip()
    } else {
        (
            engine::check_all(&plain, &opts.check, checking.as_ref()),
            Vec::new(),
        )
    };
    if let Some(pb) = checking {
        pb.finish_and_clear();
    }
    // Plan everything first: refuse collisions and existing outputs before writing anything.
    let mut seen: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut existing = Vec::new();
    for ((input, rel), report) in inputs.iter().zip(&reports) {
        let Some(report) = report else { continue };
        let plan = fix::plan_for(report, &opts);
        if plan.is_empty() || !plan.can_pass() {
            continue;
        }
        let dest = fix::output_path(&a.out_dir, rel, plan.output_ext.as_deref());
        guard.check(&dest, &input.display)?;
        if let Some(other) = seen.insert(dest.clone(), input.display.clone()) {
            bail!(
                "{other} and {} would both be written to {}: fix them in separate runs or rename one",
                input.display,
                dest.display()
            );
        }
        if !a.force && !a.dry_run && std::fs::symlink_metadata(&dest).is_ok() {
            existing.push(dest.display().to_string());
        }
    }
    if !existing.is_empty() {
        bail!(
            "{} output(s) already exist: {}; pass --force to overwrite them (nothing was written)",
            existing.len(),
            existing.join(", ")
        );
    }

    artefacts.retain(Option::is_some);
    let work: Vec<_> = inputs
        .iter()
        .zip(reports)
        .filter_map(|((i, rel), r)| r.map(|r| (i, rel, r)))
        .collect();
    let fixing = opts.progress.as_ref().map(|mp| {
        let verb = if a.dry_run { "planning" } else { "fixing" };
        files_bar(mp, verb, work.len())
    });
    let outcomes: Vec<FileOutcome> = work
        .par_iter()
        .map(|(input, rel, report)| {
            let o = fix::fix_file(input, report, &a.out_dir, rel, &opts);
            if let Some(pb) = &fixing {
                pb.inc(1);
            }
            o
        })
        .collect();
    if let Some(pb) = fixing {
        pb.finish_and_clear();
    }
    if fix::check_interrupt().is_err() {
        bail!(
            "interrupted: no partial output was left in {}",
            a.out_dir.display()
        );
    }
    if let Some(path) = &a.report {
        let after: Vec<html::AfterFix> = work
            .par_iter()
            .zip(&outcomes)
            .map(|((_, _, r), o)| after_fix(r, o))
            .collect();
        let entries = work
            .iter()
            .zip(&artefacts)
            .zip(&after)
            .map(|(((_, _, r), art), after)| html::Entry {
                report: r,
                artefacts: art.as_ref(),
                after: Some(after),
            })
            .collect();
        let page = html::Page {
            command: if a.dry_run { "fix --dry-run" } else { "fix" },
            profile: &opts.check.profile,
            orientation: opts.check.orientation,
            entries,
        };
        super::write_report(path, &page, a.quiet)?;
    }
    match a.format {
        FixFormat::Json => emit(|out| {
            serde_json::to_writer_pretty(
                &mut *out,
                &serde_json::json!({
                    "tool": "kling-preflight",
                    "version": env!("CARGO_PKG_VERSION"),
                    "profile": opts.check.profile.name,
                    "orientation": opts.check.orientation.name(),
                    "dry_run": a.dry_run,
                    "unsafe_fixes": a.unsafe_fixes,
                    "files": outcomes,
                }),
            )?;
            writeln!(out)
        })?,
        FixFormat::Human => emit(|out| human(out, &outcomes, a.dry_run))?,
    }
    Ok(if outcomes.iter().all(FileOutcome::passes) {
        Status::Clean
    } else {
        Status::Findings
    })
}

/// What the visual report shows of one file's fix; an image output is decoded for its picture.
fn after_fix(report: &crate::model::FileReport, o: &FileOutcome) -> html::AfterFix {
    let tier = |t: Tier| match t {
        Tier::Safe => "safe",
        Tier::Unsafe => "unsafe",
    };
    let status = serde_json::to_value(o.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let picture = match (&o.output, o.status, report.kind) {
        (Some(out), crate::fix::Status::Fixed, crate::model::Kind::Image) => {
            let art = html::artefacts::from_image(Path::new(out));
            art.thumbs.into_iter().next().zip(art.size)
        }
        _ => None,
    };
    html::AfterFix {
        status,
        output: o.output.clone(),
        verdict_after: Some(o.verdict_after),
        actions: o
            .actions
            .iter()
            .map(|x| (x.fix.clone(), tier(x.tier).into(), x.detail.clone()))
            .collect(),
        blocked: o
            .blocked
            .iter()
            .map(|x| (x.fix.clone(), x.detail.clone()))
            .collect(),
        reason: o.reason.clone(),
        diagnostics_after: o.diagnostics_after.clone(),
        trim: o.trim_s.map(|[x, y]| (x, y)),
        trim_planned: o.status == crate::fix::Status::Planned,
        picture,
    }
}

fn human(out: &mut dyn Write, outcomes: &[FileOutcome], dry_run: bool) -> std::io::Result<()> {
    use crate::fix::Status as S;
    let tier = |t: Tier| match t {
        Tier::Safe => "safe",
        Tier::Unsafe => "unsafe",
    };
    let (mut fixed, mut passing, mut failed) = (0, 0, 0);
    for o in outcomes {
        match o.status {
            S::Fixed | S::Planned => {
                fixed += 1;
                let verb = if dry_run { "would write" } else { "wrote" };
                writeln!(
                    out,
                    "{}: {verb} {} ({})",
                    escape::text(&o.path),
                    escape::text(o.output.as_deref().unwrap_or("?")),
                    if dry_run {
                        "plan"
                    } else {
                        o.verdict_after.name()
                    }
                )?;
                for act in &o.actions {
                    let codes = if act.codes.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", act.codes.join(", "))
                    };
                    writeln!(
                        out,
                        "  {} ({}): {}{codes}",
                        act.fix,
                        tier(act.tier),
                        act.detail
                    )?;
                }
                if let Some(r) = &o.reason {
                    writeln!(out, "  note: {r}")?;
                }
                for d in o
                    .diagnostics_after
                    .iter()
                    .filter(|d| d.severity > crate::model::Severity::Info)
                {
                    writeln!(
                        out,
                        "  remaining {} {} {}: {}",
                        d.severity.name(),
                        d.code,
                        d.name,
                        d.message
                    )?;
                }
            }
            S::AlreadyPasses | S::NothingToFix => {
                passing += 1;
                writeln!(
                    out,
                    "{}: {}",
                    escape::text(&o.path),
                    o.reason.as_deref().unwrap_or("already passes")
                )?;
            }
            S::CannotFix => {
                failed += 1;
                writeln!(
                    out,
                    "{}: cannot fix, nothing written: {}",
                    escape::text(&o.path),
                    o.reason.as_deref().unwrap_or("no fix applies")
                )?;
                for act in &o.blocked {
                    writeln!(
                        out,
                        "  --unsafe-fixes would apply {}: {} [{}]",
                        act.fix,
                        act.detail,
                        act.codes.join(", ")
                    )?;
                }
            }
        }
    }
    let verb = if dry_run { "would fix" } else { "fixed" };
    writeln!(
        out,
        "\n{} {}: {fixed} {verb}, {passing} already acceptable, {failed} cannot be fixed.",
        outcomes.len(),
        if outcomes.len() == 1 { "file" } else { "files" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_parse() {
        assert_eq!(parse_color("white").unwrap(), [255, 255, 255]);
        assert_eq!(parse_color("#ff8000").unwrap(), [255, 128, 0]);
        assert_eq!(parse_color("00ff00").unwrap(), [0, 255, 0]);
        assert!(parse_color("#12").is_err());
    }

    #[test]
    fn lenient_canonical_handles_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let c = canonical_lenient(&dir.path().join("a/b"));
        assert!(c.ends_with("a/b") && c.starts_with(dir.path().canonicalize().unwrap()));
    }
}
