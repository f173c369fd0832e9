//! The check pipeline: find the files, then for each one sniff → probe → analyse → rules, in parallel.
//!
//! A broken file is a diagnostic (`file-unreadable`), never an abort: every file gets a `FileReport`
//! and the run goes on. The engine is what `check`, `fix` and `submit` share; it never prints.
//!
//! Between "stat the file" and "sniff/probe/analyse" sits the result cache (`cache`): an unchanged file
//! gets its facts back from disk and skips the expensive steps. Rules always run fresh.
//!
//! For the visual report (`check_all_visual`) the engine also hands back, beside each `FileReport`,
//! the pictures and signals the page shows (`report::html::Artefacts`): video thumbnails come from the
//! analysis decode pass itself (`sample_spec`), image thumbnails from one decode of the picture. A
//! plain check asks for none of it and pays nothing.

use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analyze::{AnalyzeOptions, SampleSpec, picture, subject};
use crate::cache::Cache;
use crate::config::Ignore;
use crate::model::{
    Diagnostic, Facts, FileReport, ImageFacts, Kind, Verdict, VideoAnalysis, VideoFacts,
};
use crate::probe::{ProbeError, probe_image, probe_video};
use crate::profile::{Orientation, Profile};
use crate::report::html::{Artefacts, artefacts};
use crate::rules::{self, Context, RuleSettings, Sink};
use crate::shard::Shard;
use crate::sniff::{Sniffed, sniff_path};

/// Everything that changes what `check` concludes about a file.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub profile: Profile,
    pub orientation: Orientation,
    pub rules: RuleSettings,
    /// Decode videos for cuts, motion and freezes (V010–V012). Off = header facts only.
    pub analyze: bool,
    pub analyze_opts: AnalyzeOptions,
    /// Where to keep and find facts of unchanged files; `None` = always probe.
    pub cache: Option<Cache>,
    /// Globs (from the config file) of files and folders to skip while walking folders.
    pub ignore: Ignore,
}

impl CheckOptions {
    /// Defaults for library callers: `profile` in video orientation, default rules, analysis on, no
    /// cache, nothing ignored.
    pub fn new(profile: Profile) -> Self {
        CheckOptions {
            profile,
            orientation: Orientation::default(),
            rules: RuleSettings::default(),
            analyze: true,
            analyze_opts: AnalyzeOptions::default(),
            cache: None,
            ignore: Ignore::default(),
        }
    }
}

/// How to walk the given paths.
#[derive(Debug, Clone, Copy, Default)]
pub struct Walk<'a> {
    /// Skip found files and folders that these globs match (named files are always taken).
    pub ignore: Option<&'a Ignore>,
    /// Keep only this shard's part of the inputs.
    pub shard: Option<Shard>,
}

/// One file to judge.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    /// The path as the user gave it, or as found under a folder they gave.
    pub display: String,
    /// Named on the command line (always judged) rather than found in a folder.
    pub explicit: bool,
}

/// The files found under the given paths.
#[derive(Debug, Default)]
pub struct Collected {
    pub inputs: Vec<Input>,
    /// Paths that do not exist or cannot be listed, with the reason.
    pub errors: Vec<(String, io::Error)>,
    /// Entries found in folders that are not judged, with why: never dropped silently.
    pub skipped: Vec<Skipped>,
    /// Inputs left out because they are the same file as an earlier one (named twice, named and
    /// inside a named folder, `./x` and `x`, a symlink to a file also found).
    pub duplicates: usize,
}

/// An entry found in a folder that is not judged.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub display: String,
    pub reason: String,
    /// Worth a warning on every run (a symlink loop, a dangling link), not only with `-v`.
    pub warn: bool,
}

/// Expand the given paths: files are taken as they are, folders are walked (hidden entries skipped,
/// symlinks followed with loop protection, entries sorted by name so reports are stable), and a file
/// reached twice is kept once.
pub fn collect(paths: &[PathBuf]) -> Collected {
    collect_with(paths, &Walk::default())
}

/// `collect`, skipping ignored entries found in folders and keeping only one shard. A file's shard is
/// decided by its path relative to the folder it was found in (a named file: its path as given).
pub fn collect_with(paths: &[PathBuf], walk: &Walk<'_>) -> Collected {
    let mut out = Collected::default();
    let in_shard = |rel: &Path| {
        walk.shard.is_none_or(|s| {
            let key: Vec<String> = rel
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            s.contains(&key.join("/"))
        })
    };
    for p in paths {
        let display = p.to_string_lossy().into_owned();
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk_folder(p, walk, &in_shard, &mut out),
            // Named on the command line: judged whatever it is (a FIFO or a device becomes F001
            // without being read).
            Ok(_) => {
                if in_shard(p) {
                    out.inputs.push(Input {
                        path: p.clone(),
                        display,
                        explicit: true,
                    })
                }
            }
            Err(e) => out.errors.push((display, e)),
        }
    }
    dedup(&mut out);
    out
}

/// Walk one named folder into `out`, following symlinks (walkdir reports a loop as an error naming
/// the link, which becomes a skipped entry with a warning).
fn walk_folder(
    root: &Path,
    walk: &Walk<'_>,
    in_shard: &dyn Fn(&Path) -> bool,
    out: &mut Collected,
) {
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(is_hidden(e.file_name())
                    || walk.ignore.is_some_and(|i| i.is_ignored(e.path())))
        });
    for entry in walker {
        let e = match entry {
            Ok(e) => e,
            Err(err) => {
                match walk_problem(root, &err, in_shard) {
                    Problem::Judge(input) => out.inputs.push(input),
                    Problem::Skip(skip) => out.skipped.push(skip),
                    Problem::OtherShard => {}
                    Problem::Error => {
                        let at = err
                            .path()
                            .map(|p| p.to_string_lossy().into_owned())
                            .unwrap_or_else(|| root.to_string_lossy().into_owned());
                        out.errors.push((at, err.into()));
                    }
                }
                continue;
            }
        };
        let t = e.file_type();
        if t.is_dir() {
            continue;
        }
        if !in_shard(e.path().strip_prefix(root).unwrap_or(e.path())) {
            continue;
        }
        let display = e.path().to_string_lossy().into_owned();
        if t.is_file() {
            out.inputs.push(Input {
                display,
                path: e.into_path(),
                explicit: false,
            });
        } else {
            let reason = crate::open::not_regular(&t).to_string();
            out.skipped.push(Skipped {
                display,
                reason,
                warn: false,
            });
        }
    }
}

/// What becomes of a walk error.
enum Problem {
    /// A dangling symlink with a media extension: judged, so it fails (F001) instead of passing unseen.
    Judge(Input),
    /// A symlink loop, or a dangling symlink without a media extension: named, not judged.
    Skip(Skipped),
    /// A dangling symlink that belongs to another shard.
    OtherShard,
    /// Anything else (an unreadable folder): stays an error.
    Error,
}

fn walk_problem(root: &Path, err: &walkdir::Error, in_shard: &dyn Fn(&Path) -> bool) -> Problem {
    let Some(path) = err.path() else {
        return Problem::Error;
    };
    let display = path.to_string_lossy().into_owned();
    if let Some(ancestor) = err.loop_ancestor() {
        return Problem::Skip(Skipped {
            display,
            reason: format!(
                "symlink loop back to {} (not followed)",
                crate::report::escape::path(ancestor)
            ),
            warn: true,
        });
    }
    let dangling = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::metadata(path).is_err();
    if !dangling {
        return Problem::Error;
    }
    if !in_shard(path.strip_prefix(root).unwrap_or(path)) {
        return Problem::OtherShard;
    }
    if has_media_extension(path) {
        return Problem::Judge(Input {
            path: path.to_path_buf(),
            display,
            explicit: true,
        });
    }
    let target = std::fs::read_link(path)
        .map(|t| crate::report::escape::path(&t))
        .unwrap_or_default();
    Problem::Skip(Skipped {
        display,
        reason: format!("dangling symlink to {target}"),
        warn: true,
    })
}

/// What makes two inputs the same file: the resolved path, or (when it cannot be resolved, a
/// dangling link) its resolved folder plus its name, else the absolute path as given.
pub fn identity(path: &Path) -> PathBuf {
    if let Ok(c) = path.canonicalize() {
        return c;
    }
    if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(p) = parent.canonicalize() {
            return p.join(name);
        }
    }
    std::env::current_dir()
        .unwrap_or_default()
        .join(path)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Keep the first of inputs that are the same file; a copy that was named makes the kept one named.
fn dedup(out: &mut Collected) {
    let mut seen: std::collections::HashMap<PathBuf, usize> = std::collections::HashMap::new();
    let mut kept: Vec<Input> = Vec::with_capacity(out.inputs.len());
    for input in out.inputs.drain(..) {
        match seen.entry(identity(&input.path)) {
            std::collections::hash_map::Entry::Occupied(o) => {
                kept[*o.get()].explicit |= input.explicit;
                out.duplicates += 1;
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(kept.len());
                kept.push(input);
            }
        }
    }
    out.inputs = kept;
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|s| s.starts_with('.'))
}

/// Extensions that mark a file as meant to be media, so it is judged even when its content is not
/// recognisable (an empty or broken `clip.mp4` in a folder must be reported, not skipped).
fn has_media_extension(path: &Path) -> bool {
    let Some(ext) = rules::file::extension(path) else {
        return false;
    };
    crate::model::ImageFormat::ALL
        .iter()
        .any(|f| f.extensions().contains(&ext.as_str()))
        || crate::model::Container::ALL
            .iter()
            .any(|c| c.extensions().contains(&ext.as_str()))
}

/// The outcome for every input, in input order; `None` where a file found in a folder was skipped
/// because it is neither an image nor a video.
pub fn check_all(
    inputs: &[Input],
    opts: &CheckOptions,
    progress: Option<&indicatif::ProgressBar>,
) -> Vec<Option<FileReport>> {
    run_all(inputs, opts, progress, false)
        .into_iter()
        .map(|r| r.map(|(f, _)| f))
        .collect()
}

/// `check_all` that also keeps, per file, what the visual report shows (thumbnails, the motion
/// signal). Kept out of `FileReport` so the JSON contract does not change.
pub fn check_all_visual(
    inputs: &[Input],
    opts: &CheckOptions,
    progress: Option<&indicatif::ProgressBar>,
) -> Vec<Option<(FileReport, Artefacts)>> {
    run_all(inputs, opts, progress, true)
        .into_iter()
        .map(|r| r.map(|(f, a)| (f, a.unwrap_or_default())))
        .collect()
}

fn run_all(
    inputs: &[Input],
    opts: &CheckOptions,
    progress: Option<&indicatif::ProgressBar>,
    visual: bool,
) -> Vec<Option<(FileReport, Option<Artefacts>)>> {
    inputs
        .par_iter()
        .map(|input| {
            let r = judge(input, opts, visual);
            if let Some(pb) = progress {
                pb.inc(1);
            }
            r
        })
        .collect()
}

/// Judge one file. Returns `None` when a folder-found file is not media and is skipped.
pub fn check_file(input: &Input, opts: &CheckOptions) -> Option<FileReport> {
    judge(input, opts, false).map(|(f, _)| f)
}

/// `check_file` plus the visual report's artefacts for this file.
pub fn check_file_visual(input: &Input, opts: &CheckOptions) -> Option<(FileReport, Artefacts)> {
    judge(input, opts, true).map(|(f, a)| (f, a.unwrap_or_default()))
}

fn judge(
    input: &Input,
    opts: &CheckOptions,
    visual: bool,
) -> Option<(FileReport, Option<Artefacts>)> {
    let ctx = Context {
        profile: &opts.profile,
        orientation: opts.orientation,
        settings: &opts.rules,
    };
    let (gathered, mut art) = gather(input, opts, visual);
    let (kind, format, facts) = match gathered {
        Gathered::Skip => return None,
        Gathered::Image(f) => {
            // Images: the header path never decodes pixels; a picture not made while measuring (the
            // facts came from the cache) is one decode here.
            if visual && art.is_none() {
                art = Some(artefacts::from_image(&input.path));
            }
            (Kind::Image, Some(f.format.name().into()), Facts::Image(f))
        }
        Gathered::Video(f) => (
            Kind::Video,
            Some(f.container.name().into()),
            Facts::Video(f),
        ),
        Gathered::Unreadable {
            kind,
            format,
            bytes,
            reason,
        } => {
            let mut sink = Sink::new(&ctx);
            rules::file::unreadable(&mut sink, &reason);
            let r = report(
                input,
                kind,
                format,
                Facts::Other { bytes },
                sink.diagnostics,
            );
            return Some((r, art));
        }
    };
    let diags = rules::evaluate(&ctx, &input.path, &facts);
    Some((report(input, kind, format, facts, diags), art))
}

/// The frames the analysis decode pass keeps: for the subject detectors (V014–V016, P001 framing)
/// a grey frame about every second, at most 12, long edge 640 px (scaled to ~400×400 for the
/// detectors); for the visual report colour thumbnails of the same evenly spaced frames and of every
/// cut candidate (so each shot's first frame is there). Nothing is kept, and nothing paid, when
/// neither wants frames. The subject facts read only the evenly spaced frames, which do not depend
/// on `visual`, so a run with `--report` measures the same facts (and shares the cache entry).
fn sample_spec(opts: &CheckOptions, visual: bool) -> SampleSpec {
    let mut spec = SampleSpec::default();
    let subject = opts.analyze && subject_wanted(opts, VIDEO_SUBJECT_RULES);
    if subject || visual {
        spec.every_s = 1.0;
        spec.max_even = 12.max(artefacts::EVEN_FRAMES);
    }
    if subject {
        spec.luma_edge = 640;
        spec.pose_edge = crate::detect::pose::INPUT;
        spec.pose_min = crate::detect::pose::VIDEO_FRAMES_MIN;
        spec.pose_every_s = crate::detect::pose::VIDEO_EVERY_S;
    }
    if visual {
        spec.candidates = true;
        spec.thumb_edge = artefacts::THUMB_EDGE;
    }
    spec
}

fn report(
    input: &Input,
    kind: Kind,
    format: Option<String>,
    facts: Facts,
    diagnostics: Vec<Diagnostic>,
) -> FileReport {
    FileReport {
        path: input.display.clone(),
        path_base64: crate::report::escape::lossless(&input.path),
        kind,
        format,
        verdict: Verdict::of(&diagnostics),
        facts,
        diagnostics,
    }
}

/// What sniffing, probing and analysing found: the unit the cache stores (explicitly tagged, so it
/// reads back exactly as written).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)]
enum Gathered {
    /// A file found in a folder that is neither image nor video.
    Skip,
    Image(ImageFacts),
    Video(VideoFacts),
    Unreadable {
        kind: Kind,
        format: Option<String>,
        bytes: u64,
        reason: String,
    },
}

/// The settings that change facts (not verdicts): part of every cache key. The detectors' version
/// and face detector are in it, so cached facts go stale when either changes (facts cached when
/// faces came from the Haar cascade, detector version 1, are measured again).
fn facts_settings(opts: &CheckOptions, judged: bool) -> String {
    format!(
        "judged={judged}|analyze={}|{:?}|{:?}|images={}|detect=v{}:{}|pose={}",
        opts.analyze,
        opts.analyze_opts,
        sample_spec(opts, false),
        subject_wanted(opts, IMAGE_SUBJECT_RULES),
        crate::detect::DETECTOR_VERSION,
        crate::detect::detector_name(),
        crate::detect::pose::cache_tag()
    )
}

/// The video rules that read the subject facts (faces, people, quality of the sampled frames).
const VIDEO_SUBJECT_RULES: &[&str] = &["V014", "V015", "V016", "V017", "V018", "V020"];
/// The image rules that read the subject facts.
const IMAGE_SUBJECT_RULES: &[&str] = &["I010", "I011", "I012", "I013", "I016"];

/// Whether any of these subject rules is on: with all of them turned off (config `[rules]` or
/// `--rule`), the detectors are skipped and cost nothing.
fn subject_wanted(opts: &CheckOptions, codes: &[&str]) -> bool {
    codes
        .iter()
        .any(|c| rules::find(c).is_some_and(|r| opts.rules.severity(r).is_some()))
}

/// Images smaller than this (short edge, pixels) are not decoded for the subject detectors.
const SUBJECT_MIN_EDGE: u32 = 64;

/// Stat the file, then take its facts from the cache or measure (and cache) them. With `visual`, a
/// cached analysed video is measured again: the cache holds facts only, and the report's thumbnails
/// and signal must come from a decode pass anyway (storing them would bloat every entry for the few
/// runs that want a report). The fresh facts are identical, so the entry is simply rewritten.
fn gather(input: &Input, opts: &CheckOptions, visual: bool) -> (Gathered, Option<Artefacts>) {
    let path = &input.path;
    let unreadable = |reason| Gathered::Unreadable {
        kind: Kind::Unknown,
        format: None,
        bytes: 0,
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            let reason = match std::fs::read_link(path) {
                Ok(target) => format!(
                    "dangling symlink to {}: {e}",
                    crate::report::escape::path(&target)
                ),
                Err(_) => format!("cannot read the file: {e}"),
            };
            return (unreadable(reason), None);
        }
    };
    // A FIFO, socket or device is refused by what it is, before anything opens it (opening a FIFO
    // for reading waits for a writer); the open itself re-checks the descriptor (`crate::open`).
    if !meta.is_file() {
        let reason = crate::open::not_regular(&meta.file_type()).to_string();
        return (unreadable(reason), None);
    }
    let judged = input.explicit || has_media_extension(path);
    let cached = opts.cache.as_ref().and_then(|c| {
        let key = Cache::file_key(path, &meta, &facts_settings(opts, judged))?;
        Some((c, key))
    });
    if let Some((cache, key)) = &cached
        && let Some(hit) = cache.get::<Gathered>(key)
    {
        let needs_pass = visual && matches!(&hit, Gathered::Video(v) if v.analysis.is_some());
        if !needs_pass {
            return (hit, None);
        }
    }
    let mut art = None;
    let (gathered, lasting) = measure(path, meta.len(), judged, opts, visual, &mut art);
    if lasting && let Some((cache, key)) = &cached {
        cache.put(key, &gathered);
    }
    (gathered, art)
}

/// Sniff, probe and (for videos) analyse one file. The flag says whether the outcome is a property of
/// the file's content (cacheable) rather than of this moment (an I/O error). With `visual`, an
/// analysed video also puts its filmstrip and motion signal, from the same decode pass, in `art`.
fn measure(
    path: &Path,
    bytes: u64,
    judged: bool,
    opts: &CheckOptions,
    visual: bool,
    art: &mut Option<Artefacts>,
) -> (Gathered, bool) {
    let unreadable = |kind, format: Option<String>, bytes, reason: String| Gathered::Unreadable {
        kind,
        format,
        bytes,
        reason,
    };
    let sniffed = match sniff_path(path) {
        Ok(s) => s,
        Err(e) => {
            let reason = format!("cannot read the file: {e}");
            return (unreadable(Kind::Unknown, None, bytes, reason), false);
        }
    };
    let g = match sniffed {
        Sniffed::Empty if judged => {
            unreadable(Kind::Unknown, None, 0, "empty file (0 bytes)".into())
        }
        Sniffed::Unknown if judged => unreadable(
            Kind::Unknown,
            None,
            bytes,
            format!(
                "not an image or video: unrecognised content ({})",
                head_hex(path)
            ),
        ),
        Sniffed::Empty | Sniffed::Unknown => Gathered::Skip,
        Sniffed::Audio if !judged => Gathered::Skip,
        Sniffed::Image(format) => match probe_image(path, format, bytes) {
            Ok(mut f) => {
                let (w, h) = f.display_size();
                let detect = opts.analyze
                    && w.min(h) >= SUBJECT_MIN_EDGE
                    && subject_wanted(opts, IMAGE_SUBJECT_RULES);
                // One decode serves the detectors, the report's picture and the check that the
                // pixels decode at all: a picture the decoder rejects is unreadable (F001), whatever
                // its header says. Without analysis only the report's picture is decoded.
                if opts.analyze || visual {
                    let decoded = crate::pixels::decode_for_analysis(path);
                    // I014 already names a JPEG coding that decoders cannot read: F001 would say
                    // the same thing twice.
                    let i014 = f.undecodable_jpeg_coding().is_some();
                    if opts.analyze
                        && !i014
                        && let Err(e) = &decoded
                    {
                        let reason = format!("the pixels do not decode: {e}");
                        let format = Some(format.name().into());
                        return (unreadable(Kind::Image, format, bytes, reason), true);
                    }
                    if detect && let Ok(d) = &decoded {
                        f.subject = picture::analyze_decoded(&d.img, &f).ok();
                    }
                    if visual {
                        *art = Some(artefacts::from_decoded(decoded));
                    }
                }
                Gathered::Image(f)
            }
            Err(ProbeError::Io(e)) => {
                let reason = format!("cannot read the file: {e}");
                return (
                    unreadable(Kind::Image, Some(format.name().into()), bytes, reason),
                    false,
                );
            }
            Err(e) => unreadable(
                Kind::Image,
                Some(format.name().into()),
                bytes,
                probe_reason(e),
            ),
        },
        Sniffed::Video | Sniffed::Audio => match probe_video(path, bytes) {
            Ok(mut f) => {
                if opts.analyze
                    && let Some(v) = &f.video
                {
                    let rotation = v.rotation_deg;
                    let spec = sample_spec(opts, visual);
                    // A decoder holds a dozen or more pictures of the frame size (references,
                    // threads): large videos share the pixel budget with the other workers, so a
                    // folder of 4K clips does not decode six at once.
                    let _lease = crate::pixels::Lease::take(v.width as u64 * v.height as u64 * 24);
                    match subject::analyze_with_subject(path, &opts.analyze_opts, &spec, rotation) {
                        Ok((d, people)) => {
                            if visual {
                                *art = Some(artefacts::from_video(&d, &f));
                            }
                            f.analysis = Some(VideoAnalysis {
                                subject: people,
                                ..d.analysis
                            });
                        }
                        Err(e) => {
                            return (
                                unreadable(
                                    Kind::Video,
                                    Some(f.container.name().into()),
                                    bytes,
                                    format!("cannot decode the video frames: {e}"),
                                ),
                                true,
                            );
                        }
                    }
                }
                Gathered::Video(f)
            }
            Err(ProbeError::Io(e)) => {
                let reason = format!("cannot read the file: {e}");
                return (unreadable(Kind::Video, None, bytes, reason), false);
            }
            Err(e) => unreadable(Kind::Video, None, bytes, probe_reason(e)),
        },
    };
    (g, true)
}

/// Why a file that `check_all` returned `None` for was skipped (for `-v`): it is looked at again,
/// which is cheap (the first bytes) and only asked for when the user wants the list.
pub fn skip_reason(input: &Input) -> String {
    match sniff_path(&input.path) {
        Ok(Sniffed::Empty) => "empty, and its name is not an image's or a video's".into(),
        Ok(Sniffed::Audio) => "audio only (no picture to judge)".into(),
        Ok(Sniffed::Unknown) => format!(
            "not an image or video by its content ({}) nor by its name",
            head_hex(&input.path)
        ),
        Ok(_) => "not judged".into(),
        Err(e) => format!("cannot read the file: {e}"),
    }
}

fn probe_reason(e: ProbeError) -> String {
    match e {
        ProbeError::Unreadable(r) => r,
        ProbeError::Io(e) => format!("cannot read the file: {e}"),
    }
}

/// The first bytes of a file as text for messages: `starts with "<!DOCTYPE"` or hex.
fn head_hex(path: &Path) -> String {
    let mut buf = [0u8; 8];
    let n = crate::open::regular(path)
        .and_then(|mut f| io::Read::read(&mut f, &mut buf))
        .unwrap_or(0);
    let head = &buf[..n];
    if !head.is_empty() && head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("starts with \"{}\"", String::from_utf8_lossy(head))
    } else {
        let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
        format!("starts with bytes {}", hex.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Facts cached while faces came from the Haar cascade (detector version 1), or while the pose
    /// model saw a padded square (version 2), must be measured again: the detector's version and
    /// name are in every cache key.
    #[test]
    fn facts_cached_by_the_face_cascade_are_not_reused() {
        let strict = crate::profile::lookup("strict", &Default::default()).unwrap();
        let key = facts_settings(&CheckOptions::new(strict), true);
        assert!(
            key.contains("detect=v3:movenet-multipose-256 head keypoints"),
            "{key}"
        );
        assert!(
            !key.contains("detect=v1")
                && !key.contains("detect=v2")
                && !key.contains("haarcascade"),
            "{key}"
        );
    }

    #[test]
    fn media_extensions() {
        assert!(has_media_extension(Path::new("a/b.MP4")));
        assert!(has_media_extension(Path::new("x.jpeg")));
        assert!(!has_media_extension(Path::new("notes.txt")));
        assert!(!has_media_extension(Path::new("Makefile")));
    }

    #[test]
    fn collect_walks_sorted_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/.git")).unwrap();
        std::fs::write(dir.path().join("b/2.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("b/.git/x.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("a.png"), b"x").unwrap();
        std::fs::write(dir.path().join(".hidden.png"), b"x").unwrap();
        let c = collect(&[dir.path().to_path_buf(), dir.path().join("missing.mp4")]);
        let names: Vec<_> = c
            .inputs
            .iter()
            .map(|i| {
                i.path
                    .strip_prefix(dir.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["a.png", "b/2.jpg"]);
        assert!(c.inputs.iter().all(|i| !i.explicit));
        assert_eq!(c.errors.len(), 1);
    }

    #[test]
    fn collect_judges_a_file_reached_twice_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("x.jpg"), b"x").unwrap();
        std::os::unix::fs::symlink("x.jpg", d.join("y.jpg")).unwrap();
        let c = collect(&[d.clone(), d.join("x.jpg"), d.join("./x.jpg")]);
        assert_eq!(c.inputs.len(), 1);
        assert_eq!(c.duplicates, 3);
        // Named as well as found: judged as a named file.
        assert!(c.inputs[0].explicit);
    }

    #[test]
    fn collect_follows_symlinks_and_names_loops_and_dangling_links() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("clip.mp4"), b"x").unwrap();
        let d = dir.path();
        std::os::unix::fs::symlink(other.path().join("clip.mp4"), d.join("a.mp4")).unwrap();
        std::os::unix::fs::symlink(other.path(), d.join("linked")).unwrap();
        std::os::unix::fs::symlink(".", d.join("loop")).unwrap();
        std::os::unix::fs::symlink("missing", d.join("gone.mov")).unwrap();
        std::os::unix::fs::symlink("missing", d.join("gone.txt")).unwrap();
        let c = collect(&[d.to_path_buf()]);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let found: Vec<_> = c.inputs.iter().map(|i| i.path.clone()).collect();
        // a.mp4 and linked/clip.mp4 are one file; the dangling .mov is judged (F001 later).
        assert_eq!(found, [d.join("a.mp4"), d.join("gone.mov")]);
        assert_eq!(c.duplicates, 1);
        let skipped: Vec<_> = c.skipped.iter().map(|s| s.reason.clone()).collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(
            skipped
                .iter()
                .any(|r| r.starts_with("dangling symlink to missing"))
        );
        assert!(
            skipped
                .iter()
                .any(|r| r.starts_with("symlink loop back to"))
        );
        assert!(c.skipped.iter().all(|s| s.warn));
    }
}
