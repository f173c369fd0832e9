//! The human report: one line per finding, in the shape
//! `clip.mov: error[V005] video-too-long: 41.2 s > 30 s (strict, orientation=video) [fixable: trim]`,
//! then a footer that counts files, errors and what `fix` could resolve. File names are escaped
//! (`escape`), so a name cannot fake a line or send terminal escapes.
//!
//! The severity is spelt out in every line (`error[...]`, `warning[...]`, `info[...]`, as ruff and
//! rustc do), so the output keeps its meaning without colour: in CI logs, in a chat, through `grep`.
//! The line shape is stable; colour only wraps parts of it.

use std::io::{self, Write};

use super::escape;
use crate::model::{Kind, Report, Severity, Verdict};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// ANSI colour (`--color`; by default only when stdout is a terminal and NO_COLOR is unset).
    pub color: bool,
    /// Also list files that pass, with their key facts.
    pub verbose: bool,
    /// Why videos were not decoded (`--no-analyze`, or the config line `analyze = false`), when they
    /// were not: the footer says which rules did not run.
    pub analysis_skipped: Option<String>,
    /// The `fix` command the footer suggests (inputs, judging flags, a free `--out-dir`), without
    /// `--unsafe-fixes`; None: one is made from the fixable files' paths.
    pub fix_command: Option<String>,
}

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn sev(&self, sev: Severity, s: &str) -> String {
        match sev {
            Severity::Error => self.wrap("1;31", s),
            Severity::Warning => self.wrap("1;33", s),
            Severity::Info => self.wrap("1;36", s),
        }
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
}

pub fn write(out: &mut dyn Write, report: &Report, opts: &Options) -> io::Result<()> {
    let p = Paint(opts.color);
    for f in &report.files {
        if f.diagnostics.is_empty() {
            if opts.verbose {
                writeln!(
                    out,
                    "{}: {}",
                    p.bold(&escape::report_path(f)),
                    p.green("pass")
                )?;
            }
            continue;
        }
        for d in &f.diagnostics {
            let fix = match (&d.fix, d.severity) {
                (Some(fix), Severity::Error | Severity::Warning) => {
                    let tier = if d.fix_safety.as_deref() == Some("unsafe") {
                        ", unsafe"
                    } else {
                        ""
                    };
                    format!(" {}", p.dim(&format!("[fixable: {fix}{tier}]")))
                }
                _ => String::new(),
            };
            writeln!(
                out,
                "{}: {} {}: {}{fix}",
                p.bold(&escape::report_path(f)),
                p.sev(d.severity, &format!("{}[{}]", d.severity.name(), d.code)),
                d.name,
                d.message
            )?;
        }
    }
    let s = &report.summary;
    let ctx = format!("{}, orientation={}", report.profile, report.orientation);
    if !report.files.is_empty() && report.files.iter().any(|f| !f.diagnostics.is_empty()) {
        writeln!(out)?;
    }
    let skipped = if s.skipped > 0 {
        format!(
            ", {} other {} skipped",
            s.skipped,
            plural(s.skipped, "file", "files")
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "Checked {} {} ({ctx}{skipped}): {} passed, {} with warnings, {} failed.",
        s.files,
        plural(s.files, "file", "files"),
        p.green(&s.pass.to_string()),
        s.warn,
        if s.fail > 0 {
            p.sev(Severity::Error, &s.fail.to_string())
        } else {
            "0".into()
        },
    )?;
    if s.errors + s.warnings > 0 {
        let files_with = report
            .files
            .iter()
            .filter(|f| f.verdict != Verdict::Pass)
            .count();
        writeln!(
            out,
            "Found {} {} and {} {} in {} {}.",
            s.errors,
            plural(s.errors, "error", "errors"),
            s.warnings,
            plural(s.warnings, "warning", "warnings"),
            files_with,
            plural(files_with, "file", "files"),
        )?;
        if let Some(hint) = fix_hint(report, opts) {
            writeln!(out, "{hint}")?;
        }
    }
    if let Some(why) = &opts.analysis_skipped
        && !report.files.is_empty()
    {
        let what = if report.files.iter().any(|f| f.kind == Kind::Video) {
            "no video was decoded, so shot cuts, continuous motion, frozen stretches, truncation and the subject checks (V010-V016, I010-I013) did not run"
        } else {
            "the subject checks (I010-I013) did not run"
        };
        writeln!(out, "Analysis was skipped ({why}): {what}.")?;
    }
    Ok(())
}

/// The footer's promise, ruff's way: how many findings `fix` removes as printed, and how many more
/// with `--unsafe-fixes`. Every count is of findings marked `[fixable]` above.
fn fix_hint(report: &Report, opts: &Options) -> Option<String> {
    let (safe, more) = (report.summary.fixable_safe, report.summary.fixable_unsafe);
    if safe + more == 0 {
        return None;
    }
    let cmd = opts
        .fix_command
        .clone()
        .unwrap_or_else(|| command_for_files(report));
    Some(if safe == 0 {
        format!("{more} fixable with `{cmd} --unsafe-fixes`.")
    } else if more == 0 {
        format!("{safe} fixable with `{cmd}`.")
    } else {
        format!("{safe} fixable with `{cmd}`, {more} more with `--unsafe-fixes`.")
    })
}

/// A runnable `fix` command naming the files that have a fixable finding (when the inputs as typed
/// are not known, as after `merge`).
fn command_for_files(report: &Report) -> String {
    let mut cmd = String::from("kling-preflight fix");
    for f in &report.files {
        if f.diagnostics.iter().any(|d| d.fix.is_some()) {
            cmd.push(' ');
            cmd.push_str(&shell_quote(&f.path));
        }
    }
    cmd.push_str(&format!(
        " --profile {} --orientation {} --out-dir fixed",
        shell_quote(&report.profile),
        shell_quote(&report.orientation)
    ));
    cmd
}

/// Quote a word for a POSIX shell when it needs it (`it's` → `'it'\''s'`).
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
