//! Rules: facts + profile → diagnostics. Rules never read files or decode: everything they judge has
//! been measured already by `probe` and `analyze`, so they are pure, cheap and unit-testable.
//!
//! The catalogue (`CATALOGUE`) is the contract: codes and kebab-case names are stable and never reused;
//! each rule has a default severity (overridable in config by code or prefix), a documentation text
//! with fixed headings that `explain CODE` prints, and the fix that resolves it, if one exists.

mod catalogue;
pub mod file;
pub mod image;
pub mod request;
pub mod subject;
pub mod video;

use std::path::Path;

pub use catalogue::CATALOGUE;

use crate::model::{Diagnostic, Facts, Severity};
use crate::profile::{Orientation, Profile};

/// How a fix treats the asset: lossless (remux, metadata, rename) or lossy (re-encode, resize).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixSafety {
    Safe,
    Unsafe,
}

impl FixSafety {
    pub fn name(self) -> &'static str {
        match self {
            Self::Safe => "safe",
            Self::Unsafe => "unsafe",
        }
    }
}

/// A rule's identity and documentation.
#[derive(Debug)]
pub struct RuleInfo {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// One line: what the rule catches.
    pub summary: &'static str,
    pub what: &'static str,
    pub why: &'static str,
    pub how: &'static str,
    /// The fix that resolves it ("trim", "remux", ...) and its tier, when one exists.
    pub fix: Option<(&'static str, FixSafety)>,
}

impl RuleInfo {
    /// The full documentation, as `explain` prints it.
    pub fn explain(&self) -> String {
        let fix = match self.fix {
            Some((name, safety)) => format!(
                "`{name}` ({} fix), for the findings `check` marks `[fixable: …]`; the mark says when it needs `--unsafe-fixes`",
                safety.name()
            ),
            None => "none: the asset must be replaced".into(),
        };
        format!(
            "{code} {name} ({sev})\n\n{summary}\n\n## What it checks\n{what}\n\n## Why it matters\n{why}\n\n## How to fix\n{how}\n\nAutomatic fix: {fix}\n",
            code = self.code,
            name = self.name,
            sev = self.severity.name(),
            summary = self.summary,
            what = self.what,
            why = self.why,
            how = self.how,
        )
    }
}

/// Find a rule by code ("V005") or name ("video-too-long"), case-insensitively.
pub fn find(code_or_name: &str) -> Option<&'static RuleInfo> {
    CATALOGUE.iter().find(|r| {
        r.code.eq_ignore_ascii_case(code_or_name) || r.name.eq_ignore_ascii_case(code_or_name)
    })
}

/// What a user changed about rule severities: by code ("V012"), prefix ("I", "V01") or name.
/// `None` turns a rule off. The longest matching key wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSettings {
    pub overrides: Vec<(String, Option<Severity>)>,
}

impl RuleSettings {
    /// The severity to use for a rule, or `None` when it is turned off.
    pub fn severity(&self, rule: &RuleInfo) -> Option<Severity> {
        let mut best: Option<(usize, Option<Severity>)> = None;
        for (key, sev) in &self.overrides {
            let hit = rule.code.starts_with(key.as_str()) || rule.name.eq_ignore_ascii_case(key);
            let len = if rule.name.eq_ignore_ascii_case(key) {
                usize::MAX
            } else {
                key.len()
            };
            if hit && best.is_none_or(|(l, _)| len >= l) {
                best = Some((len, *sev));
            }
        }
        match best {
            Some((_, sev)) => sev,
            None => Some(rule.severity),
        }
    }
}

/// Parse one severity override (`key` = a code, prefix or name; `severity` = error, warning, info or
/// off), as `--rule` and the config's `[rules]` table give them. The error says what is wrong.
pub fn parse_override(key: &str, severity: &str) -> Result<(String, Option<Severity>), String> {
    let key = key.trim();
    if key.is_empty()
        || !CATALOGUE
            .iter()
            .any(|r| r.code.starts_with(key) || r.name.eq_ignore_ascii_case(key))
    {
        return Err(format!(
            "no rule code, prefix or name matches '{key}' (see `kling-preflight explain --all`)"
        ));
    }
    let sev = match severity.trim().to_ascii_lowercase().as_str() {
        "off" | "ignore" => None,
        s => Some(Severity::parse(s).ok_or_else(|| {
            format!("{key} = '{severity}': severity must be error, warning, info or off")
        })?),
    };
    Ok((key.to_string(), sev))
}

/// What every rule is judged against.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub profile: &'a Profile,
    pub orientation: Orientation,
    pub settings: &'a RuleSettings,
}

impl Context<'_> {
    /// "(strict)" — the tail of every limit message.
    pub fn tag(&self) -> String {
        format!("({})", self.profile.name)
    }

    /// "(strict, orientation=video)" — for limits that depend on the orientation.
    pub fn tag_orientation(&self) -> String {
        format!("({}, orientation={})", self.profile.name, self.orientation)
    }
}

/// Collects the diagnostics of one file, applying severity overrides.
pub struct Sink<'a> {
    ctx: &'a Context<'a>,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub fn new(ctx: &'a Context<'a>) -> Self {
        Sink {
            ctx,
            diagnostics: Vec::new(),
        }
    }

    /// Report `code` with `message`; ignored when the user turned the rule off.
    pub fn emit(&mut self, code: &str, message: impl Into<String>) {
        self.emit_with_fix(code, message, None);
    }

    /// Report `code`, choosing the fix for this case (`Some(None)` = no fix applies here).
    pub fn emit_with_fix(
        &mut self,
        code: &str,
        message: impl Into<String>,
        fix: Option<Option<(&'static str, FixSafety)>>,
    ) {
        let rule = find(code).unwrap_or_else(|| panic!("rule {code} is not in the catalogue"));
        let Some(severity) = self.ctx.settings.severity(rule) else {
            return;
        };
        let fix = fix.unwrap_or(rule.fix);
        self.diagnostics.push(Diagnostic {
            code: rule.code.into(),
            name: rule.name.into(),
            severity,
            message: message.into(),
            fix: fix.map(|(n, _)| n.to_string()),
            fix_safety: fix.map(|(_, s)| s.name().to_string()),
        });
    }
}

/// Judge one probed file. `path` is used only for its extension (F002).
pub fn evaluate(ctx: &Context<'_>, path: &Path, facts: &Facts) -> Vec<Diagnostic> {
    let mut sink = Sink::new(ctx);
    file::check_extension(&mut sink, path, facts);
    match facts {
        Facts::Image(f) => {
            image::check(&mut sink, ctx, f);
            subject::check_image(&mut sink, ctx, f);
            subject::check_image_people(&mut sink, ctx, f);
        }
        Facts::Video(f) => {
            video::check(&mut sink, ctx, f, path);
            subject::check_video(&mut sink, ctx, f);
        }
        Facts::Other { .. } => {}
    }
    let mut d = sink.diagnostics;
    sort(&mut d);
    d
}

/// Diagnostics in a stable order: errors first, then by code.
pub fn sort(d: &mut [Diagnostic]) {
    d.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.code.cmp(&b.code))
    });
}

/// Format seconds for messages: "41.2 s", "0.167 s".
pub(crate) fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.1} s")
    }
}

/// Format a byte count for messages: "12.4 MB (12,400,000 bytes)".
pub(crate) fn bytes(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{:.1} MB ({grouped} bytes)", n as f64 / 1e6)
}

/// The codes `run` emits under `profile` and `orientation` with default rule settings (the rule
/// modules' unit tests share it).
#[cfg(test)]
pub(crate) fn codes_with(
    profile: &str,
    orientation: crate::profile::Orientation,
    run: impl FnOnce(&mut Sink<'_>, &Context<'_>),
) -> Vec<String> {
    let p = crate::profile::lookup(profile, &Default::default()).unwrap();
    let settings = RuleSettings::default();
    let ctx = Context {
        profile: &p,
        orientation,
        settings: &settings,
    };
    let mut sink = Sink::new(&ctx);
    run(&mut sink, &ctx);
    sink.diagnostics.into_iter().map(|d| d.code).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_codes_and_names_are_unique_and_documented() {
        let mut codes = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for r in CATALOGUE {
            assert!(codes.insert(r.code), "duplicate code {}", r.code);
            assert!(names.insert(r.name), "duplicate name {}", r.name);
            assert!(
                r.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.name
            );
            assert!(
                !r.what.is_empty() && !r.why.is_empty() && !r.how.is_empty(),
                "{}",
                r.code
            );
            assert!(r.explain().contains("## Why it matters"));
        }
    }

    #[test]
    fn severity_overrides_by_prefix_code_and_name() {
        let rule = find("V012").unwrap();
        let s = RuleSettings {
            overrides: vec![
                ("V".into(), Some(Severity::Info)),
                ("V012".into(), Some(Severity::Error)),
            ],
        };
        assert_eq!(s.severity(rule), Some(Severity::Error));
        let s = RuleSettings {
            overrides: vec![
                ("V012".into(), Some(Severity::Error)),
                ("V".into(), Some(Severity::Info)),
            ],
        };
        assert_eq!(
            s.severity(rule),
            Some(Severity::Error),
            "longest key wins, not the last"
        );
        let s = RuleSettings {
            overrides: vec![("video-frozen-segments".into(), None)],
        };
        assert_eq!(s.severity(rule), None);
        assert_eq!(RuleSettings::default().severity(rule), Some(rule.severity));
        assert!(
            find("video-too-long").is_some() && find("v005").is_some() && find("X999").is_none()
        );
    }

    #[test]
    fn number_formatting() {
        assert_eq!(secs(41.23), "41.2 s");
        assert_eq!(secs(0.1666), "0.167 s");
        assert_eq!(bytes(12_400_000), "12.4 MB (12,400,000 bytes)");
        assert_eq!(bytes(999), "0.0 MB (999 bytes)");
    }
}
