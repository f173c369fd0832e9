//! Reporters: turn a `Report` into what a person or a program reads. They never probe or judge;
//! everything they print is already in the report.
//!
//! Machine formats (`json`, `json-lines`, `sarif`, `junit`, `github`) are a contract (SPEC.md): stable,
//! sorted as the inputs were given (folder contents by name), no footer. The human format has colour
//! only on a terminal and ends with a summary. `merge` combines the JSON reports of several shards.
//! `html` is the visual report (`--report PATH.html`), written beside whichever format goes to stdout.

pub mod escape;
pub mod github;
pub mod html;
pub mod human;
pub mod junit;
pub mod merge;
pub mod sarif;

use std::io::{self, Write};
use std::path::Path;

use crate::model::Report;

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    #[value(name = "json-lines")]
    JsonLines,
    /// SARIF 2.1.0 (GitHub code scanning, GitLab, Azure DevOps).
    Sarif,
    /// JUnit XML: one test case per file.
    Junit,
    /// GitHub Actions annotations (`::error file=...::...`).
    Github,
}

/// Write `report` in `format`.
pub fn write(
    out: &mut dyn Write,
    report: &Report,
    format: Format,
    opts: &human::Options,
) -> io::Result<()> {
    match format {
        Format::Human => human::write(out, report, opts),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::JsonLines => {
            for f in &report.files {
                serde_json::to_writer(&mut *out, f)?;
                writeln!(out)?;
            }
            serde_json::to_writer(&mut *out, &serde_json::json!({ "summary": report.summary }))?;
            writeln!(out)
        }
        Format::Sarif => sarif::write(out, report),
        Format::Junit => junit::write(out, report),
        Format::Github => github::write(out, report),
    }
}

/// A report path as CI tools want it: relative to the working folder (the repository root in CI) when
/// it lies below it, with `/` separators and no leading `./`.
pub(crate) fn artifact_path(path: &str) -> String {
    let p = Path::new(path);
    let rel = if p.is_absolute() {
        std::env::current_dir()
            .ok()
            .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
            .unwrap_or_else(|| p.to_path_buf())
    } else {
        p.to_path_buf()
    };
    let s = rel.to_string_lossy();
    let s = if cfg!(windows) {
        s.replace('\\', "/")
    } else {
        s.into_owned()
    };
    let mut t = s.as_str();
    while let Some(rest) = t.strip_prefix("./") {
        t = rest;
    }
    t.to_string()
}

/// Escape text for XML (and XHTML) content and attribute values: markup characters, line breaks and
/// tabs as references (so attributes keep them), and characters XML 1.0 cannot carry replaced.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Keep line breaks and tabs in attributes as character references.
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            // Not allowed in XML 1.0 at all, even as references.
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_xml as escape;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            escape(r#"a<b>&"c" 'd'"#),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;"
        );
        assert_eq!(escape("x\u{1}y\nz"), "x\u{FFFD}y&#10;z");
    }
}
