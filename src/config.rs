//! The project config file, `kling-preflight.toml`: the settings a team wants every run to share
//! (profile, orientation, rule severities, ignored paths, its own profiles) without repeating flags.
//!
//! It is found by walking up from the working folder (the nearest one wins), or named with `--config`;
//! `--isolated` ignores it. Command-line flags override it. Unknown keys and bad values are errors that
//! name the file and line (`kling-preflight.toml:7: unknown key 'profle'`), because a silently ignored
//! typo in a CI gate is a gate that does not gate. The folder that holds the file is the project root:
//! ignore globs are relative to it and the result cache lives there.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::model::Severity;
use crate::profile::{self, Orientation, Profile};
use crate::rules;

/// The config file's name.
pub const FILE_NAME: &str = "kling-preflight.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the config file: {reason} ({hint})")]
    Read {
        path: String,
        reason: io::Error,
        hint: &'static str,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
}

/// The file as written. `Spanned` keeps each value's position, so errors can name the line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    profile: Option<Spanned<String>>,
    orientation: Option<Spanned<Orientation>>,
    analyze: Option<Spanned<bool>>,
    cache: Option<Spanned<bool>>,
    fail_on_empty: Option<Spanned<bool>>,
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    #[serde(default)]
    rules: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    profiles: BTreeMap<String, Spanned<RawProfile>>,
}

/// One section of a profile as written: each limit's key and value with their positions.
type RawLimits = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// A `[profiles.NAME]` table as written: every limit keeps its key's position, so a misspelt or bad
/// limit is reported at its own line, and a bare value can cite that line as its source.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    extends: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    #[serde(default)]
    image: RawLimits,
    #[serde(default)]
    video: RawLimits,
    #[serde(default)]
    request: RawLimits,
    #[serde(default)]
    subject: RawLimits,
}

impl RawProfile {
    fn sections(&self) -> [(&'static str, &RawLimits); 4] {
        [
            ("image", &self.image),
            ("video", &self.video),
            ("request", &self.request),
            ("subject", &self.subject),
        ]
    }

    /// The profile as a plain table for `Profile::from_table`, each limit checked at its line; bare
    /// values become limits whose source is `FILE:LINE`.
    fn to_table(
        &self,
        name: &str,
        text: &str,
        display: &str,
    ) -> Result<toml::Table, (usize, String)> {
        let mut table = toml::Table::new();
        if let Some(e) = &self.extends {
            table.insert("extends".into(), e.get_ref().clone().into());
        }
        if let Some(d) = &self.description {
            table.insert("description".into(), d.get_ref().clone().into());
        }
        for (section, limits) in self.sections() {
            let mut out = toml::Table::new();
            for (key, value) in limits {
                let at = key.span().start;
                let limit = match value.get_ref() {
                    toml::Value::Table(t) => toml::Value::Table(t.clone()),
                    bare => {
                        let mut l = toml::Table::new();
                        l.insert("value".into(), bare.clone());
                        let cited = format!("{display}:{}", line_of(text, at));
                        l.insert("source".into(), cited.into());
                        l.insert("read".into(), String::new().into());
                        toml::Value::Table(l)
                    }
                };
                profile::check_limit(section, key.get_ref(), &limit)
                    .map_err(|m| (at, format!("profiles.{name}: {m}")))?;
                out.insert(key.get_ref().clone(), limit);
            }
            if !out.is_empty() {
                table.insert(section.into(), toml::Value::Table(out));
            }
        }
        Ok(table)
    }
}

/// A setting and the config-file line that set it (for `config --show`).
#[derive(Debug, Clone, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub line: usize,
}

/// The resolved config: what the file says, validated. Every field is optional; `Config::default()`
/// is "no config file".
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file, when one was found or given.
    pub path: Option<PathBuf>,
    /// The file as named in messages (relative to the working folder when it is below it).
    pub display: String,
    /// The project root: the config file's folder, else the working folder. The cache lives here.
    pub root: PathBuf,
    pub profile: Option<At<String>>,
    pub orientation: Option<At<Orientation>>,
    pub analyze: Option<At<bool>>,
    pub cache: Option<At<bool>>,
    /// `check` exits 1 when it finds no file to judge (`--fail-on-empty`).
    pub fail_on_empty: Option<At<bool>>,
    /// Severity overrides by code, prefix or name, in file order.
    pub rules: Vec<At<(String, Option<Severity>)>>,
    pub ignore: Ignore,
    /// The `[profiles.NAME]` tables, resolved against the built-ins and each other.
    pub profiles: BTreeMap<String, Profile>,
}

impl Config {
    /// No config file: everything default, the project root is `cwd`.
    pub fn none(cwd: &Path) -> Config {
        Config {
            root: cwd.to_path_buf(),
            ignore: Ignore::empty(cwd),
            ..Config::default()
        }
    }

    /// The nearest `kling-preflight.toml` in `start` or a folder above it.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .map(|d| d.join(FILE_NAME))
            .find(|p| p.is_file())
    }

    /// Find the config for a run in `cwd`: `explicit` (from `--config`) if given, else the nearest one,
    /// else none.
    pub fn find(cwd: &Path, explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => normalize(&cwd.join(p)),
            None => match Config::discover(cwd) {
                Some(p) => p,
                None => return Ok(Config::none(cwd)),
            },
        };
        let display = match path.strip_prefix(cwd) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => path.display().to_string(),
        };
        let text = std::fs::read_to_string(&path).map_err(|reason| ConfigError::Read {
            path: display.clone(),
            hint: if reason.kind() == io::ErrorKind::NotFound {
                "check the --config path"
            } else {
                "fix its permissions, or pass --isolated to ignore it"
            },
            reason,
        })?;
        let root = path.parent().unwrap_or(cwd).to_path_buf();
        let mut cfg = Config::parse(&text, &display, &root)?;
        cfg.path = Some(path);
        Ok(cfg)
    }

    /// Parse and validate config text. `display` names the file in errors; `root` anchors the ignore
    /// globs.
    pub fn parse(text: &str, display: &str, root: &Path) -> Result<Config, ConfigError> {
        let invalid = |offset: usize, message: String| ConfigError::Invalid {
            path: display.to_string(),
            line: line_of(text, offset),
            message,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            invalid(offset, describe_toml_error(e.message()))
        })?;

        let mut rules_out = Vec::new();
        for (key, sev) in &raw.rules {
            let parsed = rules::parse_override(key, sev.get_ref())
                .map_err(|m| invalid(sev.span().start, format!("[rules] {m}")))?;
            rules_out.push(At {
                value: parsed,
                line: line_of(text, sev.span().start),
            });
        }

        let mut patterns = Vec::new();
        for g in &raw.ignore {
            patterns.push((g.get_ref().clone(), g.span().start));
        }
        let ignore =
            Ignore::new(root, patterns.iter().map(|(p, _)| p.as_str())).map_err(|(i, e)| {
                invalid(
                    patterns[i].1,
                    format!("ignore: bad glob '{}': {e}", patterns[i].0),
                )
            })?;

        let profiles = resolve_profiles(&raw.profiles, text, display)
            .map_err(|(offset, m)| invalid(offset, m))?;

        let at = |s: &Spanned<String>| At {
            value: s.get_ref().clone(),
            line: line_of(text, s.span().start),
        };
        if let Some(p) = &raw.profile {
            profile::lookup(p.get_ref(), &profiles)
                .map_err(|e| invalid(p.span().start, format!("profile: {e}")))?;
        }
        Ok(Config {
            path: None,
            display: display.to_string(),
            root: root.to_path_buf(),
            profile: raw.profile.as_ref().map(at),
            orientation: raw.orientation.map(|o| At {
                line: line_of(text, o.span().start),
                value: o.into_inner(),
            }),
            analyze: raw.analyze.map(|o| At {
                line: line_of(text, o.span().start),
                value: o.into_inner(),
            }),
            cache: raw.cache.map(|o| At {
                line: line_of(text, o.span().start),
                value: o.into_inner(),
            }),
            fail_on_empty: raw.fail_on_empty.map(|o| At {
                line: line_of(text, o.span().start),
                value: o.into_inner(),
            }),
            rules: rules_out,
            ignore,
            profiles,
        })
    }

    /// Where a setting came from, for `config --show`: `kling-preflight.toml:3`.
    pub fn origin(&self, line: usize) -> String {
        format!("{}:{line}", self.display)
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// toml's "unknown field `x`, expected one of `a`, `b`" → "unknown key 'x' (expected one of ...)".
fn describe_toml_error(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, tail)) = rest.split_once('`')
    {
        let expected = tail.trim_start_matches(',').trim();
        return if expected.is_empty() {
            format!("unknown key '{name}'")
        } else {
            format!("unknown key '{name}' ({expected})")
        };
    }
    message.to_string()
}

/// Resolve `[profiles.NAME]` tables: each extends a built-in or another of these (no cycles).
/// Limits may be given as bare values (`video.max_duration_s_video = 12.0`); they are cited as coming
/// from the config file's line (`kling-preflight.toml:9`).
fn resolve_profiles(
    tables: &BTreeMap<String, Spanned<RawProfile>>,
    text: &str,
    display: &str,
) -> Result<BTreeMap<String, Profile>, (usize, String)> {
    let mut done: BTreeMap<String, Profile> = BTreeMap::new();
    fn resolve(
        name: &str,
        tables: &BTreeMap<String, Spanned<RawProfile>>,
        (text, display): (&str, &str),
        done: &mut BTreeMap<String, Profile>,
        stack: &mut Vec<String>,
    ) -> Result<(), (usize, String)> {
        if done.contains_key(name) {
            return Ok(());
        }
        let spanned = &tables[name];
        let at = spanned.span().start;
        if stack.iter().any(|s| s == name) {
            return Err((
                at,
                format!(
                    "profiles.{name}: `extends` forms a cycle ({} → {name})",
                    stack.join(" → ")
                ),
            ));
        }
        let raw = spanned.get_ref();
        let Some(base) = raw.extends.as_ref().map(|e| e.get_ref().clone()) else {
            return Err((
                at,
                format!(
                    "profiles.{name}: needs `extends = \"kling\"` (or another profile) to inherit the limits it does not set"
                ),
            ));
        };
        if profile::BUILTIN.iter().any(|(n, _)| *n == name) {
            return Err((
                at,
                format!("profiles.{name}: a built-in profile has that name; pick another"),
            ));
        }
        if tables.contains_key(&base) {
            stack.push(name.to_string());
            resolve(&base, tables, (text, display), done, stack)?;
            stack.pop();
        }
        let mut table = raw.to_table(name, text, display)?;
        table.insert("name".into(), toml::Value::String(name.into()));
        if !table.contains_key("description") {
            table.insert(
                "description".into(),
                toml::Value::String(format!("{base} with overrides from {display}")),
            );
        }
        let p = Profile::from_table(name, table, done)
            .map_err(|e| (at, format!("profiles.{name}: {e}")))?;
        done.insert(name.to_string(), p);
        Ok(())
    }
    for name in tables.keys() {
        resolve(name, tables, (text, display), &mut done, &mut Vec::new())?;
    }
    Ok(done)
}

/// Ignore globs, relative to the project root, matched against files and folders found while walking.
/// Gitignore-like: a pattern without `/` matches at any depth (`*.tmp.mp4`), one with `/` is anchored at
/// the root (`drafts/**`, `/raw`), and a matched folder is not entered.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    root: PathBuf,
    set: Option<GlobSet>,
    pub patterns: Vec<String>,
}

impl Ignore {
    pub fn empty(root: &Path) -> Ignore {
        Ignore {
            root: root.to_path_buf(),
            ..Ignore::default()
        }
    }

    /// Compile `patterns`; on a bad glob, its index and the reason.
    pub fn new<'a>(
        root: &Path,
        patterns: impl IntoIterator<Item = &'a str>,
    ) -> Result<Ignore, (usize, globset::Error)> {
        let mut builder = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for (i, p) in patterns.into_iter().enumerate() {
            kept.push(p.to_string());
            let mut g = p.trim().trim_start_matches("./").to_string();
            let anchored = g.trim_end_matches('/').contains('/');
            g = g.trim_start_matches('/').trim_end_matches('/').to_string();
            if !anchored {
                g = format!("**/{g}");
            }
            for pat in [g.clone(), format!("{g}/**")] {
                let glob = GlobBuilder::new(&pat)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| (i, e))?;
                builder.add(glob);
            }
        }
        let set = if kept.is_empty() {
            None
        } else {
            Some(builder.build().map_err(|e| (0, e))?)
        };
        Ok(Ignore {
            root: root.to_path_buf(),
            set,
            patterns: kept,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_none()
    }

    /// Whether `path` (absolute, or relative to the working folder) is ignored. Paths outside the
    /// project root are never ignored.
    pub fn is_ignored(&self, path: &Path) -> bool {
        let Some(set) = &self.set else {
            return false;
        };
        let abs = if path.is_absolute() {
            normalize(path)
        } else {
            match std::env::current_dir() {
                Ok(cwd) => normalize(&cwd.join(path)),
                Err(_) => return false,
            }
        };
        match abs.strip_prefix(&self.root) {
            Ok(rel) if !rel.as_os_str().is_empty() => set.is_match(rel),
            _ => false,
        }
    }
}

/// Resolve `.` and `..` without touching the file system (symlinks are left alone).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// The commented starter file that `init` writes. It must parse (a unit test checks).
pub const STARTER: &str = r#"# kling-preflight.toml: shared settings for every `kling-preflight` run in this folder and below.
# Command-line flags override what is set here; `kling-preflight config --show` prints the result.
# `kling-preflight --isolated` ignores this file.

# Provider profile whose limits apply: strict (passes everywhere), kling, freepik, gptproto, fal,
# replicate, wavespeed, kie, or one defined under [profiles] below.
profile = "strict"

# Kling's character_orientation: "video" caps reference videos at 30 s, "image" at 10 s.
orientation = "video"

# Decode videos for shot cuts, continuous motion and frozen stretches (slower, cached).
# analyze = true

# Keep probe and analysis results in .kling-preflight-cache/ next to this file.
# cache = true

# `check` exits 1 when it finds no image or video to judge (a mistyped or empty folder).
# fail_on_empty = false

# Files and folders to skip when walking folders, relative to this file's folder.
# A pattern without "/" matches at any depth.
ignore = [
    # "drafts/**",
    # "*.tmp.mp4",
]

# Rule severities by code ("V012"), prefix ("I") or name: "error", "warning", "info" or "off".
# The longest matching key wins. `kling-preflight explain --all` lists the rules.
[rules]
# V012 = "error"      # frozen stretches fail the gate
# I006 = "off"        # we bake EXIF rotation in upstream

# Your own profiles: extend a built-in one and override some limits.
# [profiles.studio]
# extends = "kling"
# description = "Kling, but our edit rules cap reference clips at 12 s"
# video.max_duration_s_video = 12.0
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, FILE_NAME, Path::new("/project"))
    }

    #[test]
    fn starter_parses() {
        let c = parse(STARTER).unwrap();
        assert_eq!(c.profile.unwrap().value, "strict");
        assert_eq!(c.orientation.unwrap().value, Orientation::Video);
        assert!(c.ignore.is_empty() && c.rules.is_empty() && c.profiles.is_empty());
        let uncommented = STARTER
            .replace("# [profiles", "[profiles")
            .replace("# extends", "extends")
            .replace("# description", "description")
            .replace("# video.", "video.")
            .replace("# V012", "V012")
            .replace("# \"drafts", "\"drafts");
        let c = parse(&uncommented).unwrap();
        assert_eq!(
            c.profiles["studio"]
                .video
                .max_duration_s_video
                .as_ref()
                .unwrap()
                .value,
            12.0
        );
        assert_eq!(
            c.rules[0].value,
            ("V012".to_string(), Some(Severity::Error))
        );
    }

    #[test]
    fn unknown_keys_name_the_line() {
        let e = parse("profile = \"kling\"\n\nprofle = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("kling-preflight.toml:3: unknown key 'profle'"),
            "{e}"
        );
        let e = parse("[rules]\nV012 = \"loud\"\n").unwrap_err().to_string();
        assert!(e.starts_with("kling-preflight.toml:2: [rules]"), "{e}");
        let e = parse("\norientation = \"sideways\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("kling-preflight.toml:2:"), "{e}");
        let e = parse("profile = \"nope\"").unwrap_err().to_string();
        assert!(e.contains(":1: profile: unknown profile 'nope'"), "{e}");
        let e = parse("[rules]\nZ9 = \"off\"\n").unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("Z9"), "{e}");
        let e = parse("ignore = [\"ok\", \"bad[\"]")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad glob 'bad['"), "{e}");
        let e = parse("x = [").unwrap_err().to_string();
        assert!(e.starts_with("kling-preflight.toml:1:"), "{e}");
    }

    #[test]
    fn profiles_extend_builtins_and_each_other() {
        let c = parse(
            "profile = \"tiny\"\n[profiles.studio]\nextends = \"kling\"\nvideo.max_duration_s_video = 12.0\n\
             [profiles.tiny]\nextends = \"studio\"\nimage.max_edge = 2000\n",
        )
        .unwrap();
        let tiny = &c.profiles["tiny"];
        assert_eq!(tiny.name, "tiny");
        assert_eq!(tiny.image.max_edge.as_ref().unwrap().value, 2000);
        assert_eq!(
            tiny.video.max_duration_s_video.as_ref().unwrap().value,
            12.0
        );
        assert_eq!(
            tiny.image.min_edge.as_ref().unwrap().value,
            300,
            "from kling"
        );
        let e = parse("[profiles.a]\nextends = \"b\"\n[profiles.b]\nextends = \"a\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cycle"), "{e}");
        let e = parse("[profiles.x]\nextends = \"kling\"\nvideo.colour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("profiles.x") && e.contains("colour"), "{e}");
        let e = parse("[profiles.strict]\nextends = \"kling\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("built-in"), "{e}");
    }

    #[test]
    fn profile_errors_name_the_limit_line() {
        // A misspelt limit, a negative one, a bad type, an unknown profile key: each at its own line.
        let head = "profile = \"studio\"\n\n[profiles.studio]\nextends = \"kling\"\n";
        for (body, line, needle) in [
            (
                "description = \"x\"\nvideo.max_duraton_s_video = 12.0\n",
                6,
                "max_duraton_s_video",
            ),
            (
                "\nvideo.max_duration_s_video = -5\n",
                6,
                "-5: must be greater than 0",
            ),
            ("image.max_edge = -1\n", 5, "image.max_edge"),
            (
                "image.min_aspect = 0.4\nimage.max_aspect = 1e6\n",
                6,
                "aspect ratio above 100",
            ),
            ("\n\nextnds = \"strict\"\n", 7, "extnds"),
        ] {
            let e = parse(&format!("{head}{body}")).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("kling-preflight.toml:{line}: ")) && e.contains(needle),
                "{body:?}: {e}"
            );
        }
    }

    #[test]
    fn bare_limits_cite_their_line() {
        let c =
            parse("[profiles.studio]\nextends = \"kling\"\n\nvideo.max_duration_s_video = 12.0\n")
                .unwrap();
        let l = c.profiles["studio"]
            .video
            .max_duration_s_video
            .clone()
            .unwrap();
        assert_eq!(
            (l.value, l.source.as_str()),
            (12.0, "kling-preflight.toml:4")
        );
        let kling = c.profiles["studio"].video.min_edge.clone().unwrap();
        assert!(
            kling.source.starts_with("https://"),
            "inherited limits keep theirs"
        );
    }

    #[test]
    fn ignore_globs_are_relative_to_the_root() {
        let ig = Ignore::new(Path::new("/p"), ["drafts/**", "*.tmp.mp4", "raw/"]).unwrap();
        assert!(ig.is_ignored(Path::new("/p/drafts/a.mp4")));
        assert!(ig.is_ignored(Path::new("/p/drafts/deep/a.mp4")));
        assert!(
            !ig.is_ignored(Path::new("/p/clips/drafts/a.mp4")),
            "anchored"
        );
        assert!(ig.is_ignored(Path::new("/p/clips/x.tmp.mp4")), "any depth");
        assert!(!ig.is_ignored(Path::new("/p/clips/x.mp4")));
        assert!(ig.is_ignored(Path::new("/p/raw")) && ig.is_ignored(Path::new("/p/raw/a.png")));
        assert!(!ig.is_ignored(Path::new("/elsewhere/drafts/a.mp4")));
        assert!(ig.is_ignored(Path::new("/p/clips/../drafts/a.mp4")));
    }

    #[test]
    fn line_numbers() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
