//! Settings resolution: the judging flags over the project's `kling-preflight.toml` over the built-in
//! defaults, recording where each value came from (for `config --show`). `options()` in the parent
//! module is the one entry point commands use.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use super::Judging;
use crate::analyze::AnalyzeOptions;
use crate::cache::Cache;
use crate::config::Config;
use crate::engine::CheckOptions;
use crate::model::Severity;
use crate::profile::{self, DEFAULT_PROFILE, Orientation};
use crate::rules::{self, RuleSettings};

fn parse_rule_overrides(specs: &[String]) -> Result<Vec<(String, Option<Severity>)>> {
    let mut out = Vec::new();
    for spec in specs {
        let Some((key, sev)) = spec.split_once('=') else {
            bail!("--rule {spec}: expected CODE=SEVERITY, e.g. --rule V012=error");
        };
        out.push(
            rules::parse_override(key, sev).map_err(|m| anyhow::anyhow!("--rule {spec}: {m}"))?,
        );
    }
    Ok(out)
}

/// The config file for a run: `--config`, else the nearest one, unless `--isolated`.
pub(crate) fn load_config(explicit: Option<&Path>, isolated: bool) -> Result<Config> {
    let cwd = std::env::current_dir().context("cannot read the working folder")?;
    if isolated {
        return Ok(Config::none(&cwd));
    }
    Ok(Config::find(&cwd, explicit)?)
}

/// Options plus the config they came from and, for `config --show`, where each setting came from.
pub(crate) struct Resolved {
    pub opts: CheckOptions,
    pub config: Config,
    /// (setting, value, origin): origin is a flag, `FILE:LINE`, or "default".
    pub sources: Vec<(String, String, String)>,
}

/// Judging flags over the config file over defaults.
pub(crate) fn resolve(j: &Judging) -> Result<Resolved> {
    if let Some(n) = j.jobs {
        // Ignore the error when a pool already exists (library callers, tests).
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    let cfg = load_config(j.config.as_deref(), j.isolated)?;
    let mut sources = Vec::new();
    let mut note = |key: &str, value: String, origin: String| {
        sources.push((key.to_string(), value, origin));
    };
    let from = |line: usize| cfg.origin(line);

    let (profile_name, origin) = match (&j.profile, &cfg.profile) {
        (Some(p), _) => (p.clone(), "--profile".to_string()),
        (None, Some(at)) => (at.value.clone(), from(at.line)),
        (None, None) => (DEFAULT_PROFILE.to_string(), "default".to_string()),
    };
    let profile = profile::lookup(&profile_name, &cfg.profiles)?;
    note("profile", profile_name, origin);

    let (orientation, origin) = match (j.orientation, &cfg.orientation) {
        (Some(o), _) => (o, "--orientation".to_string()),
        (None, Some(at)) => (at.value, from(at.line)),
        (None, None) => (Orientation::default(), "default".to_string()),
    };
    note("orientation", orientation.to_string(), origin);

    let (analyze, origin) = match (j.no_analyze, &cfg.analyze) {
        (true, _) => (false, "--no-analyze".to_string()),
        (false, Some(at)) => (at.value, from(at.line)),
        (false, None) => (true, "default".to_string()),
    };
    note("analyze", analyze.to_string(), origin);

    // Flags win over the config: a --rule key replaces config entries it covers (same or longer key).
    let cli_rules = parse_rule_overrides(&j.rule)?;
    let covered = |config_key: &str| {
        cli_rules.iter().any(|(k, _)| {
            config_key.starts_with(k.as_str())
                || config_key.eq_ignore_ascii_case(k)
                || matches!((rules::find(k), rules::find(config_key)), (Some(a), Some(b)) if std::ptr::eq(a, b))
        })
    };
    let mut settings = RuleSettings::default();
    for at in &cfg.rules {
        if !covered(&at.value.0) {
            settings.overrides.push(at.value.clone());
            note(
                &format!("rules.{}", at.value.0),
                severity_name(at.value.1),
                from(at.line),
            );
        }
    }
    for r in cli_rules {
        note(
            &format!("rules.{}", r.0),
            severity_name(r.1),
            "--rule".into(),
        );
        settings.overrides.push(r);
    }

    let (use_cache, origin) = match (j.no_cache, &cfg.cache) {
        (true, _) => (false, "--no-cache".to_string()),
        (false, Some(at)) => (at.value, from(at.line)),
        (false, None) => (true, "default".to_string()),
    };
    let cache = use_cache.then(|| Cache::in_folder(&cfg.root));
    note(
        "cache",
        match &cache {
            Some(c) => c.dir().display().to_string(),
            None => "off".into(),
        },
        origin,
    );
    if !cfg.ignore.is_empty() {
        note(
            "ignore",
            format!("{:?}", cfg.ignore.patterns),
            format!("{} (relative to {})", cfg.display, cfg.root.display()),
        );
    }
    for (name, p) in &cfg.profiles {
        note(
            &format!("profiles.{name}"),
            p.description.clone(),
            cfg.display.clone(),
        );
    }
    if analyze {
        pose_runtime_note();
    }
    let opts = CheckOptions {
        profile,
        orientation,
        rules: settings,
        analyze,
        analyze_opts: AnalyzeOptions::from_env(),
        cache,
        ignore: cfg.ignore.clone(),
    };
    Ok(Resolved {
        opts,
        config: cfg,
        sources,
    })
}

/// The variable that once named a custom face cascade: faces now come from the pose model, and a
/// user who still sets it is told it has no effect (once), not left believing it is used.
const RETIRED_CASCADE_ENV: &str = "KLING_PREFLIGHT_FACE_CASCADE";

/// Environment variable naming the ONNX Runtime library (`libonnxruntime.so`) to load first.
pub const ORT_LIBRARY_ENV: &str = "KLING_PREFLIGHT_ONNXRUNTIME";

/// Tell the person detector where ONNX Runtime may be, and say once on stderr when it is missing
/// (here, from a stat: the model itself is loaded only when a picture needs it, so a cached run
/// never pays for it) or cannot be loaded (when first needed): the run goes on without the people
/// rules.
pub(crate) fn pose_runtime_note() {
    let explicit = std::env::var_os(ORT_LIBRARY_ENV)
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from);
    crate::detect::pose::configure(
        crate::detect::pose::default_candidates(explicit),
        pose_off_note,
    );
    if std::env::var_os(RETIRED_CASCADE_ENV).is_some_and(|v| !v.is_empty()) {
        static CASCADE: std::sync::Once = std::sync::Once::new();
        CASCADE.call_once(|| {
            eprintln!(
                "kling-preflight: note: {RETIRED_CASCADE_ENV} is no longer read: faces come from the \
                 person/pose model's head keypoints"
            )
        });
    }
    if let Err(e) = crate::detect::pose::library() {
        pose_off_note(&e);
    }
}

fn pose_off_note(e: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "kling-preflight: note: the person detector is off: {e} (or set {ORT_LIBRARY_ENV}); \
             faces come from it too, so I010, I011, I016, V015, V017, V018, V020 and P001's \
             framing are skipped, and I012, I013 judge the whole picture"
        )
    });
}

fn severity_name(s: Option<Severity>) -> String {
    s.map(|s| s.name()).unwrap_or("off").to_string()
}
