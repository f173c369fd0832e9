//! `fix`: diagnostics → a plan per file (`plan`) → outputs in another folder (`image`, `video`),
//! written atomically (`atomic`) and re-checked against the same profile before they get their name.
//!
//! The contract: an input is only ever opened for reading; an output exists under its name only if
//! it was completely written, fsynced and passed the re-check; a plan that cannot make the file pass
//! writes nothing and says why. Ctrl-C sets a flag that every long loop checks, so work stops
//! between packets and the temp-file guards clean up on the normal error path.

pub mod atomic;
pub mod guard;
pub mod image;
pub mod plan;
pub mod promise;
pub mod trim;
pub mod video;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::engine::{CheckOptions, Input, check_file};
use crate::model::{Diagnostic, Facts, FileReport, ImageFacts, Severity, Verdict};
use crate::rules::{self, Context};
use atomic::TempOutput;
use plan::{Action, FixPlan, ImageRecipe, Recipe, Transcode, Unresolved, VideoRecipe};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ask running fixes to stop (the Ctrl-C handler calls this).
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// An error when the user interrupted: checked between steps and packets.
pub fn check_interrupt() -> Result<(), FixError> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(FixError::Interrupted)
    } else {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("interrupted")]
    Interrupted,
    #[error("{0}")]
    Video(String),
    #[error(transparent)]
    Image(#[from] image::ImageFixError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// Everything `fix` needs besides the files.
#[derive(Debug, Clone)]
pub struct FixOptions {
    pub check: CheckOptions,
    pub plan: plan::PlanOptions,
    pub force: bool,
    pub dry_run: bool,
    pub x264: video::X264,
    /// Where a re-encode shows its frames done of total (stderr on a terminal); None: silent.
    pub progress: Option<indicatif::MultiProgress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// An output was written and passes (warnings allowed).
    Fixed,
    /// Dry run: this is what would be written.
    Planned,
    /// Nothing to do: the input passes.
    AlreadyPasses,
    /// Only warnings without an applicable fix remain; nothing written.
    NothingToFix,
    /// No output: the fixes cannot make it pass (or need `--unsafe-fixes`), or applying failed.
    CannotFix,
}

/// The outcome for one file, as printed by `fix --format json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FileOutcome {
    pub path: String,
    pub output: Option<String>,
    pub status: Status,
    pub verdict_before: Verdict,
    pub verdict_after: Verdict,
    pub actions: Vec<Action>,
    /// Unsafe fixes that would help, not applied without `--unsafe-fixes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<Action>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<Unresolved>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The re-check of the output (or the input's findings when nothing was written).
    pub diagnostics_after: Vec<Diagnostic>,
    /// The concrete parameters of the plan (sizes, trim window, formats), for `--dry-run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipe: Option<Recipe>,
    /// The trim window written (start, end seconds of the input); with `--dry-run`, the planned one
    /// (a stream copy may start at a later keyframe).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trim_s: Option<[f64; 2]>,
}

impl FileOutcome {
    /// Whether this file ends up acceptable (its output, or the input itself when untouched).
    pub fn passes(&self) -> bool {
        self.verdict_after != Verdict::Fail && self.status != Status::CannotFix
    }
}

/// The output path for an input: `out_dir/relative`, with the extension the plan asks for.
pub fn output_path(out_dir: &Path, relative: &Path, ext: Option<&str>) -> PathBuf {
    let mut p = out_dir.join(relative);
    if let Some(ext) = ext {
        let keep = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| same_ext(e, ext));
        if !keep {
            p.set_extension(ext);
        }
    }
    p
}

fn same_ext(have: &str, want: &str) -> bool {
    let have = have.to_ascii_lowercase();
    have == want || (want == "jpg" && matches!(have.as_str(), "jpeg" | "jpe" | "jfif"))
}

/// Plan a checked file. The plan options carry the profile and tiers.
pub fn plan_for(report: &FileReport, opts: &FixOptions) -> FixPlan {
    plan::plan(report, &opts.plan)
}

/// Plan and (unless dry-run) apply the fixes for one file whose check is `report`.
pub fn fix_file(
    input: &Input,
    report: &FileReport,
    dest_base: &Path,
    relative: &Path,
    opts: &FixOptions,
) -> FileOutcome {
    let plan = plan_for(report, opts);
    let mut out = FileOutcome {
        path: input.display.clone(),
        output: None,
        status: Status::CannotFix,
        verdict_before: report.verdict,
        verdict_after: report.verdict,
        actions: plan.actions.clone(),
        blocked: plan.blocked.clone(),
        unresolved: plan.unresolved.clone(),
        reason: None,
        diagnostics_after: report.diagnostics.clone(),
        recipe: (plan.recipe != Recipe::Nothing).then(|| plan.recipe.clone()),
        trim_s: None,
    };
    if plan.is_empty() {
        (out.status, out.reason) = match report.verdict {
            Verdict::Pass => (Status::AlreadyPasses, Some("already passes".into())),
            Verdict::Warn => (
                Status::NothingToFix,
                Some(if plan.blocked.is_empty() {
                    "passes with warnings that no automatic fix resolves".into()
                } else {
                    format!(
                        "passes with warnings; --unsafe-fixes would apply: {}",
                        names(&plan.blocked)
                    )
                }),
            ),
            Verdict::Fail => (
                Status::CannotFix,
                Some(
                    plan.failure_reason()
                        .unwrap_or_else(|| "no fix applies".into()),
                ),
            ),
        };
        return out;
    }
    if !plan.can_pass() {
        out.reason = plan.failure_reason();
        if !plan.blocked.is_empty() {
            out.reason = Some(format!(
                "{}; with --unsafe-fixes: {}",
                out.reason.unwrap_or_default(),
                names(&plan.blocked)
            ));
        }
        return out;
    }
    let dest = output_path(dest_base, relative, plan.output_ext.as_deref());
    out.output = Some(dest.display().to_string());
    if opts.dry_run {
        if let Recipe::Video(VideoRecipe {
            window: Some(w), ..
        }) = &plan.recipe
        {
            let (a, b) = w.exact();
            out.trim_s = Some([a, b]);
        }
        out.status = Status::Planned;
        out.verdict_after = Verdict::Pass;
        out.diagnostics_after.clear();
        return out;
    }
    if !opts.force && std::fs::symlink_metadata(&dest).is_ok() {
        out.output = None;
        out.reason = Some(format!(
            "{} already exists; pass --force to overwrite it",
            dest.display()
        ));
        return out;
    }
    let applied = match &plan.recipe {
        Recipe::Image(r) => apply_image(input, report, r, &dest, opts),
        Recipe::Video(r) => apply_video(input, r, &dest, opts),
        Recipe::Nothing => Err(FixError::Other("nothing to apply".into()).into()),
    };
    match applied {
        Ok((verdict, diags, notes, trim)) => {
            out.status = Status::Fixed;
            out.trim_s = trim.map(|(a, b)| [a, b]);
            out.verdict_after = verdict;
            out.diagnostics_after = diags;
            if !notes.is_empty() {
                out.reason = Some(notes.join("; "));
            }
        }
        Err(Failure { reason, diags }) => {
            out.output = None;
            out.reason = Some(reason);
            if let Some(d) = diags {
                out.verdict_after = Verdict::of(&d);
                out.diagnostics_after = d;
            }
        }
    }
    out
}

fn names(actions: &[Action]) -> String {
    let mut v: Vec<&str> = actions.iter().map(|a| a.fix.as_str()).collect();
    v.dedup();
    v.join(", ")
}

/// Why applying failed; `diags` when the output was written but its re-check failed.
struct Failure {
    reason: String,
    diags: Option<Vec<Diagnostic>>,
}

impl From<FixError> for Failure {
    fn from(e: FixError) -> Self {
        Failure {
            reason: e.to_string(),
            diags: None,
        }
    }
}

/// The re-check's verdict and findings, notes for the user, and the trim window written (videos).
type Applied = Result<(Verdict, Vec<Diagnostic>, Vec<String>, Option<(f64, f64)>), Failure>;

/// Check the temp output as if it already had its final name.
fn recheck(tmp: &TempOutput, dest: &Path, opts: &FixOptions) -> (Verdict, Vec<Diagnostic>) {
    let input = Input {
        path: tmp.path(),
        display: dest.display().to_string(),
        explicit: true,
    };
    let Some(report) = check_file(&input, &opts.check) else {
        return (Verdict::Fail, Vec::new());
    };
    let diags = match &report.facts {
        Facts::Other { .. } => report.diagnostics,
        facts => {
            let ctx = Context {
                profile: &opts.check.profile,
                orientation: opts.check.orientation,
                settings: &opts.check.rules,
            };
            rules::evaluate(&ctx, dest, facts)
        }
    };
    (Verdict::of(&diags), diags)
}

/// Persist when the re-check passes; otherwise drop the temp file and explain.
fn finish(tmp: TempOutput, dest: &Path, opts: &FixOptions, notes: Vec<String>) -> Applied {
    check_interrupt()?;
    let (verdict, diags) = recheck(&tmp, dest, opts);
    if verdict == Verdict::Fail {
        let errs: Vec<String> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{} {}: {}", d.code, d.name, d.message))
            .collect();
        return Err(Failure {
            reason: format!(
                "the fixed output would still fail ({}); nothing written",
                errs.join("; ")
            ),
            diags: Some(diags),
        });
    }
    tmp.persist(opts.force).map_err(|e| Failure {
        reason: format!("cannot write {}: {e}", dest.display()),
        diags: None,
    })?;
    Ok((verdict, diags, notes, None))
}

fn apply_image(
    input: &Input,
    report: &FileReport,
    r: &ImageRecipe,
    dest: &Path,
    opts: &FixOptions,
) -> Applied {
    let facts: Option<&ImageFacts> = match &report.facts {
        Facts::Image(f) => Some(f),
        _ => None,
    };
    let bytes = match r {
        ImageRecipe::LosslessCopy { format } => {
            let data = std::fs::read(&input.path).map_err(FixError::from)?;
            match format {
                plan::ImageOut::Jpeg => {
                    image::strip_jpeg(&data, facts.and_then(|f| f.exif_orientation))
                        .map_err(FixError::from)?
                }
                plan::ImageOut::Png => image::strip_png(&data).map_err(FixError::from)?,
            }
        }
        ImageRecipe::Reencode(re) => image::reencode(&input.path, re).map_err(FixError::from)?,
    };
    check_interrupt()?;
    let mut tmp = TempOutput::create(dest).map_err(FixError::from)?;
    tmp.file().write_all(&bytes).map_err(FixError::from)?;
    finish(tmp, dest, opts, Vec::new())
}

/// A bar for one re-encode: "re-encoding NAME 120/300 frames".
fn frames_bar(mp: &indicatif::MultiProgress, input: &Input) -> indicatif::ProgressBar {
    let name = input
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| input.display.clone());
    let pb = mp.add(indicatif::ProgressBar::new(0));
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} re-encoding {prefix} {pos}/{len} frames {wide_bar} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb.set_prefix(name);
    pb
}

/// The fallback when a stream-copy trim is not possible: re-encode at the stored size.
fn plain_transcode(r: &VideoRecipe) -> Transcode {
    Transcode {
        size: r.reencode_size,
        rotate: 0,
        cfr: None,
        video_bitrate: None,
    }
}

fn apply_video(input: &Input, r: &VideoRecipe, dest: &Path, opts: &FixOptions) -> Applied {
    let mut notes = Vec::new();
    // Decide between stream copy and re-encode for the trim.
    let mut transcode = r.transcode.clone();
    let mut window = None;
    if let Some(w) = &r.window {
        if transcode.is_none() {
            let kfs = video::keyframes(&input.path)?;
            match plan::choose_copy_window(w, &kfs, r.reencode_if_keyframes_bad) {
                Some(win) => {
                    notes.push(format!(
                        "stream-copy trim {:.2}–{:.2} s (keyframe at {:.2} s)",
                        win.0, win.1, win.0
                    ));
                    window = Some(win);
                }
                None if r.reencode_if_keyframes_bad => {
                    let win = w.exact();
                    notes.push(format!(
                        "no keyframe near {:.2} s: re-encoding the trim {:.2}–{:.2} s",
                        w.lo_s, win.0, win.1
                    ));
                    transcode = Some(plain_transcode(r));
                    window = Some(win);
                }
                None => {
                    return Err(Failure {
                        reason: format!(
                            "no keyframe in {:.2}–{:.2} s allows a lossless trim of at least {:.1} s; rerun with --unsafe-fixes to re-encode the trim",
                            w.lo_s, w.hi_s, w.min_s
                        ),
                        diags: None,
                    });
                }
            }
        } else {
            window = Some(w.exact());
        }
    }
    let mut attempt = 0;
    loop {
        check_interrupt()?;
        let mut tmp = TempOutput::create(dest).map_err(FixError::from)?;
        let path = tmp.path();
        let written = match &transcode {
            None => video::remux(&input.path, &path, window, r.keep_audio)?,
            Some(t) => {
                let bar = opts.progress.as_ref().map(|mp| frames_bar(mp, input));
                let w = video::transcode(
                    &input.path,
                    &path,
                    window,
                    t,
                    r.keep_audio,
                    &opts.x264,
                    bar.as_ref(),
                );
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
                w?
            }
        };
        tmp.file().flush().map_err(FixError::from)?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        // Too big after a re-encode: one retry at a bitrate scaled by how far off we were.
        if let (Some(cap), Some(t)) = (r.max_bytes, transcode.as_mut())
            && size > cap
            && attempt == 0
            && opts.plan.unsafe_fixes
        {
            attempt += 1;
            let d = written.duration_s.max(0.1);
            let current = t.video_bitrate.unwrap_or((size as f64 * 8.0 / d) as u64);
            let br = (current as f64 * cap as f64 / size as f64 * 0.9) as u64;
            notes.push(format!(
                "first encode was {size} bytes > {cap}: retried at {:.2} Mbit/s",
                br as f64 / 1e6
            ));
            t.video_bitrate = Some(br.max(50_000));
            drop(tmp);
            continue;
        }
        return finish(tmp, dest, opts, notes).map(|(v, d, n, _)| (v, d, n, window));
    }
}
