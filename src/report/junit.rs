//! JUnit XML, the test-report format every CI system renders (GitLab merge-request widgets, Jenkins,
//! Azure, CircleCI): each checked file is a test case that fails when the file has errors.
//!
//! One `<testcase>` per file, one `<failure>` per error-level finding, warnings and notes in
//! `<system-out>`. Everything from the report is escaped, and characters XML 1.0 cannot carry (control
//! characters in a file name) are replaced, so the document is always well-formed.

use std::io::{self, Write};

use crate::model::{Report, Severity};

/// Escape text for XML content and attribute values.
pub fn escape(s: &str) -> String {
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

pub fn write(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let s = &report.summary;
    let suite = format!(
        "kling-preflight ({}, orientation={})",
        report.profile, report.orientation
    );
    let classname = format!("kling-preflight.{}", report.profile);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="kling-preflight" tests="{}" failures="{}" errors="0" skipped="0">"#,
        s.files, s.fail
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{}" errors="0" skipped="0">"#,
        escape(&suite),
        s.files,
        s.fail
    )?;
    for f in &report.files {
        let path = escape(&super::artifact_path(&f.path));
        let head = format!(
            r#"    <testcase classname="{}" name="{path}" file="{path}""#,
            escape(&classname)
        );
        if f.diagnostics.is_empty() {
            writeln!(out, "{head}/>")?;
            continue;
        }
        writeln!(out, "{head}>")?;
        let mut other = String::new();
        for d in &f.diagnostics {
            let line = format!(
                "{} {} ({}): {}",
                d.code,
                d.name,
                d.severity.name(),
                d.message
            );
            if d.severity == Severity::Error {
                let fix = d
                    .fix
                    .as_ref()
                    .map(|x| format!("\nfixable: {x}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    r#"      <failure type="{}" message="{}">{}{}</failure>"#,
                    escape(&d.code),
                    escape(&format!("{} {}: {}", d.code, d.name, d.message)),
                    escape(&format!("{}: {line}", f.path)),
                    escape(&fix),
                )?;
            } else {
                other.push_str(&line);
                other.push('\n');
            }
        }
        if !other.is_empty() {
            writeln!(out, "      <system-out>{}</system-out>", escape(&other))?;
        }
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            escape(r#"a<b>&"c" 'd'"#),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;"
        );
        assert_eq!(escape("x\u{1}y\nz"), "x\u{FFFD}y&#10;z");
    }
}
