//! JUnit XML, the test-report format every CI system renders (GitLab merge-request widgets, Jenkins,
//! Azure, CircleCI): each checked file is a test case that fails when the file has errors.
//!
//! One `<testcase>` per file, one `<failure>` per error-level finding, warnings and notes in
//! `<system-out>`. Everything from the report is escaped, and characters XML 1.0 cannot carry (control
//! characters in a file name) are replaced, so the document is always well-formed.

use std::io::{self, Write};

use super::escape_xml as escape;
use crate::model::{Report, Severity};

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
