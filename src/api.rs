//! The library's front door: [`check`] and [`fix`] over files and folders with explicit
//! [`Settings`], and the profile loaders. The command-line tool adds what belongs to a program (the
//! config file, flags, environment variables, progress bars, exit codes) on top of the same engine;
//! a Rust caller gets the same verdicts without any of that being read behind its back.
//!
//! The report types ([`Report`], [`FixReport`]) are the JSON the tool prints, and their JSON Schema
//! is `docs/report.schema.json` / `docs/fix-report.schema.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::cache::Cache;
use crate::engine::{self, CheckOptions, Input};
use crate::fix::{self as fixing, FileOutcome, FixOptions};
use crate::host::{self, Host};
use crate::model::{Report, Severity};
use crate::profile::{self, Orientation, Profile, ProfileError};
use crate::rules::{self, RuleSettings};

pub use crate::fix::plan::AspectMode;
pub use crate::fix::video::X264;

/// Why a run could not start: nothing was judged or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A named path does not exist or a folder cannot be listed.
    #[error("{path}: {source}")]
    Path {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A rule override that names no rule or no severity.
    #[error("rule override {0}")]
    Rule(String),
    /// The fix run was refused before writing anything (outputs would collide, exist, or overwrite
    /// an input); the message says which files and what to do.
    #[error("{0}")]
    Fix(String),
    /// The face detector cannot load (a custom cascade in [`Host::face_cascade`]).
    #[error("cannot load the face detector: {0}")]
    Detector(String),
}

/// Everything that decides a verdict, plus the process-wide [`Host`] choices.
#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: Profile,
    /// Kling's `character_orientation`: `image` caps videos at 10 s, `video` at 30 s.
    pub orientation: Orientation,
    /// Severity overrides by rule code, prefix or name (`V`, `V012`, `video-too-long`).
    pub rules: RuleSettings,
    /// Decode videos for cuts, motion, freezes and the subject; `false` = header facts only.
    pub analyze: bool,
    /// Decode every frame instead of reference frames only (the same cuts, slower).
    pub full_decode: bool,
    /// Keep facts of unchanged files in `<folder>/.kling-preflight-cache`; `None` = no cache.
    pub cache_folder: Option<PathBuf>,
    /// FFmpeg's log level, the face cascade, decoder threads: applied with [`host::set`] when a
    /// run starts. The default leaves FFmpeg's log level alone.
    pub host: Host,
}

impl Settings {
    /// `profile` in video orientation, default rules, analysis on, no cache, host defaults.
    pub fn new(profile: Profile) -> Settings {
        Settings {
            profile,
            orientation: Orientation::default(),
            rules: RuleSettings::default(),
            analyze: true,
            full_decode: false,
            cache_folder: None,
            host: Host::default(),
        }
    }

    /// Change a rule's severity: `severity` is `error`, `warning`, `info` or `off`.
    pub fn rule(mut self, code: &str, severity: &str) -> Result<Settings, Error> {
        let o = rules::parse_override(code, severity)
            .map_err(|m| Error::Rule(format!("{code}={severity}: {m}")))?;
        self.rules.overrides.push(o);
        Ok(self)
    }

    fn check_options(&self) -> CheckOptions {
        let mut o = CheckOptions::new(self.profile.clone());
        o.orientation = self.orientation;
        o.rules = self.rules.clone();
        o.analyze = self.analyze;
        o.analyze_opts.skip_nonref = !self.full_decode;
        o.cache = self.cache_folder.as_deref().map(Cache::in_folder);
        o
    }

    /// Apply the host choices and make sure the detector loads before any file is judged.
    fn start(&self) -> Result<CheckOptions, Error> {
        host::set(self.host.clone());
        if self.analyze {
            crate::detect::face_cascade().map_err(Error::Detector)?;
        }
        Ok(self.check_options())
    }
}

/// A built-in provider profile by name (`strict`, `freepik`, ...; [`profiles`] lists them).
pub fn load_profile(name: &str) -> Result<Profile, ProfileError> {
    profile::lookup(name, &BTreeMap::new())
}

/// A profile written in TOML (the format of `[profiles.NAME]` in `kling-preflight.toml`; `extends`
/// names a built-in).
pub fn parse_profile(name: &str, toml: &str) -> Result<Profile, ProfileError> {
    Profile::from_toml(name, toml, &BTreeMap::new())
}

/// The built-in profiles.
pub fn profiles() -> Vec<Profile> {
    profile::builtins()
}

/// The files under `paths`: files as given, folders walked (hidden entries skipped, sorted).
fn inputs<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<Input>, Error> {
    let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
    let collected = engine::collect(&paths);
    match collected.errors.into_iter().next() {
        Some((path, source)) => Err(Error::Path { path, source }),
        None => Ok(collected.inputs),
    }
}

/// Check images and videos (files, or folders walked for them) against `settings.profile`.
///
/// A broken or unsupported file is a finding in the report (`file-unreadable`), not an error; an
/// `Err` means a named path does not exist or the detector cannot load. Files are judged in
/// parallel on rayon's global pool (run inside your own `ThreadPool::install` to bound it).
pub fn check<P: AsRef<Path>>(paths: &[P], settings: &Settings) -> Result<Report, Error> {
    let opts = settings.start()?;
    let inputs = inputs(paths)?;
    let results = engine::check_all(&inputs, &opts, None);
    let skipped = results.iter().filter(|r| r.is_none()).count();
    let files = results.into_iter().flatten().collect();
    Ok(Report::new(
        &opts.profile.name,
        opts.orientation.name(),
        files,
        skipped,
    ))
}

/// How [`fix`] may change files.
#[derive(Debug, Clone, Default)]
pub struct FixSettings {
    /// Allow lossy fixes (re-encode, upscale, crop, pad); without it only lossless ones apply.
    pub unsafe_fixes: bool,
    /// How an image is brought into the aspect range.
    pub aspect: AspectMode,
    /// Background for flattening alpha and for padding, RGB.
    pub background: [u8; 3],
    /// Plan only: nothing is written.
    pub dry_run: bool,
    /// Overwrite outputs that already exist.
    pub force: bool,
    pub x264: X264,
}

/// What `fix --format json` prints: one outcome per file.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FixReport {
    pub tool: String,
    pub version: String,
    pub profile: String,
    pub orientation: String,
    pub dry_run: bool,
    pub unsafe_fixes: bool,
    pub files: Vec<FileOutcome>,
}

/// Check `paths`, then write a fixed, re-checked copy of each failing file under `out_dir` (same
/// relative path; the input is only read). Refused before anything is written when `out_dir` holds
/// an input, two outputs would collide, or an output exists (unless `force`).
pub fn fix<P: AsRef<Path>>(
    paths: &[P],
    out_dir: &Path,
    settings: &Settings,
    how: &FixSettings,
) -> Result<FixReport, Error> {
    let check = settings.start()?;
    let opts = FixOptions {
        plan: fixing::plan::PlanOptions {
            profile: check.profile.clone(),
            orientation: check.orientation,
            unsafe_fixes: how.unsafe_fixes,
            aspect: how.aspect,
            background: how.background,
        },
        check,
        force: how.force,
        dry_run: how.dry_run,
        x264: how.x264.clone(),
        progress: None,
    };
    let work = fix_inputs(paths, out_dir)?;
    let plain: Vec<Input> = work.iter().map(|(i, _)| i.clone()).collect();
    let reports = engine::check_all(&plain, &opts.check, None);
    let work: Vec<_> = work
        .iter()
        .zip(reports)
        .filter_map(|((i, rel), r)| r.map(|r| (i, rel, r)))
        .collect();
    refuse_clobbering(&work, out_dir, &opts)?;
    let files = work
        .par_iter()
        .map(|(input, rel, report)| fixing::fix_file(input, report, out_dir, rel, &opts))
        .collect();
    Ok(FixReport {
        tool: "kling-preflight".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        profile: opts.check.profile.name.clone(),
        orientation: opts.check.orientation.name().into(),
        dry_run: how.dry_run,
        unsafe_fixes: how.unsafe_fixes,
        files,
    })
}

/// Inputs with their output paths relative to `out_dir`; an input inside `out_dir` is refused.
fn fix_inputs<P: AsRef<Path>>(paths: &[P], out_dir: &Path) -> Result<Vec<(Input, PathBuf)>, Error> {
    let out_abs = std::path::absolute(out_dir).unwrap_or_else(|_| out_dir.to_path_buf());
    let out_real = out_abs.canonicalize().unwrap_or(out_abs);
    let mut out = Vec::new();
    for p in paths {
        let p = p.as_ref();
        for i in inputs(std::slice::from_ref(&p))? {
            let rel = match i.path.strip_prefix(p) {
                Ok(r) if p.is_dir() => r.to_path_buf(),
                _ => PathBuf::from(i.path.file_name().unwrap_or_default()),
            };
            let abs = i.path.canonicalize().map_err(|source| Error::Path {
                path: i.display.clone(),
                source,
            })?;
            if abs.starts_with(&out_real) {
                return Err(Error::Fix(format!(
                    "{} is inside the output folder {}: choose a folder outside the inputs",
                    i.display,
                    out_dir.display()
                )));
            }
            out.push((i, rel));
        }
    }
    Ok(out)
}

/// Refuse outputs that would collide or (without `force`) already exist, before writing anything.
fn refuse_clobbering(
    work: &[(&Input, &PathBuf, crate::model::FileReport)],
    out_dir: &Path,
    opts: &FixOptions,
) -> Result<(), Error> {
    let mut seen: BTreeMap<PathBuf, &str> = BTreeMap::new();
    for (input, rel, report) in work {
        let plan = fixing::plan_for(report, opts);
        if plan.is_empty() || !plan.can_pass() {
            continue;
        }
        let dest = fixing::output_path(out_dir, rel, plan.output_ext.as_deref());
        if let Some(other) = seen.insert(dest.clone(), &input.display) {
            return Err(Error::Fix(format!(
                "{other} and {} would both be written to {}",
                input.display,
                dest.display()
            )));
        }
        if !opts.force && !opts.dry_run && std::fs::symlink_metadata(&dest).is_ok() {
            return Err(Error::Fix(format!(
                "{} already exists; set `force` to overwrite it (nothing was written)",
                dest.display()
            )));
        }
    }
    Ok(())
}

/// A severity by name, for callers building [`RuleSettings`] by hand.
pub fn severity(name: &str) -> Option<Severity> {
    Severity::parse(name)
}

/// The JSON Schemas of the reports, as committed in `docs/` (`make schema` rewrites those files).
/// They describe the JSON as written (a field skipped when empty is optional).
pub fn report_schemas() -> [(&'static str, serde_json::Value); 2] {
    let settings = schemars::generate::SchemaSettings::draft2020_12().for_serialize();
    let report = settings
        .clone()
        .into_generator()
        .into_root_schema_for::<Report>();
    let fix = settings
        .into_generator()
        .into_root_schema_for::<FixReport>();
    [
        (
            "report.schema.json",
            serde_json::to_value(report).unwrap_or_default(),
        ),
        (
            "fix-report.schema.json",
            serde_json::to_value(fix).unwrap_or_default(),
        ),
    ]
}
