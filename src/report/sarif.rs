//! SARIF 2.1.0, the static-analysis interchange format that GitHub code scanning, GitLab and Azure
//! DevOps ingest: findings show up as alerts on the asset, with each rule's documentation attached.
//!
//! One run; `tool.driver.rules` is the whole catalogue (so `ruleIndex` is stable across reports), each
//! result points at the file by a URI relative to the working folder (the repository root in CI).

use std::io::{self, Write};

use serde_json::{Value, json};

use super::artifact_path;
use crate::model::{Report, Severity};
use crate::rules::CATALOGUE;

/// SARIF level for a severity.
fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Percent-encode a relative path for a URI reference: keep unreserved characters and `/`.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The SARIF document for `report`.
pub fn document(report: &Report) -> Value {
    let rules: Vec<Value> = CATALOGUE
        .iter()
        .map(|r| {
            let help = r.explain();
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.what },
                "help": { "text": help, "markdown": help },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": {
                    "fix": r.fix.map(|(n, s)| format!("{n} ({})", s.name())),
                },
            })
        })
        .collect();
    let mut results = Vec::new();
    for f in &report.files {
        let location = json!([{
            "physicalLocation": {
                "artifactLocation": { "uri": uri(&artifact_path(&f.path)), "uriBaseId": "%SRCROOT%" }
            }
        }]);
        for d in &f.diagnostics {
            let index = CATALOGUE.iter().position(|r| r.code == d.code);
            let mut result = json!({
                "ruleId": d.code,
                "level": level(d.severity),
                "message": { "text": format!("{} {}: {}", d.code, d.name, d.message) },
                "locations": location,
                "properties": { "fix": d.fix, "fixSafety": d.fix_safety },
            });
            if let Some(i) = index {
                result["ruleIndex"] = json!(i);
            }
            results.push(result);
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "kling-preflight",
                "version": report.version,
                "rules": rules,
            }},
            "originalUriBaseIds": { "%SRCROOT%": { "description": { "text": "The working folder of the run." } } },
            "results": results,
            "properties": {
                "profile": report.profile,
                "orientation": report.orientation,
                "summary": report.summary,
            },
        }],
    })
}

pub fn write(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &document(report))?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(uri("clips/my take #1.mp4"), "clips/my%20take%20%231.mp4");
        assert_eq!(uri("a/é.png"), "a/%C3%A9.png");
    }
}
