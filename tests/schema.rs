//! The JSON contract: what `check`, `fix` and `merge` print validates against the schemas shipped in
//! `docs/`, those schemas are the ones generated from the report types (`make schema` rewrites them),
//! and no output field is missing from them.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use common::*;
use serde_json::Value;

const REGENERATE: &str = "make schema";

fn docs(name: &str) -> PathBuf {
    root().join("docs").join(name)
}

fn committed(name: &str) -> Value {
    let path = docs(name);
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `{REGENERATE}`", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every property name a schema declares anywhere (its own and its definitions').
fn declared(schema: &Value, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = m.get("properties") {
                out.extend(props.keys().cloned());
            }
            m.values().for_each(|v| declared(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| declared(v, out)),
        _ => {}
    }
}

/// Object keys in an output that no schema property names (a field added without the schema).
fn undeclared(value: &Value, known: &BTreeSet<String>, at: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                if !known.contains(k) {
                    out.push(format!("{at}.{k}"));
                }
                undeclared(v, known, &format!("{at}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                undeclared(v, known, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn assert_valid(schema_name: &str, what: &str, output: &Value) {
    let schema = committed(schema_name);
    let validator = jsonschema::validator_for(&schema).expect("the shipped schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(output)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(10)
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not validate against docs/{schema_name}:\n{}",
        errors.join("\n")
    );
    let mut known = BTreeSet::new();
    declared(&schema, &mut known);
    let mut extra = Vec::new();
    undeclared(output, &known, "$", &mut extra);
    assert!(
        extra.is_empty(),
        "{what} has fields docs/{schema_name} does not declare (add them to the types, then \
         `{REGENERATE}`): {extra:?}"
    );
}

fn stdout_json(args: &[&str]) -> Value {
    let out = run_in(&root(), args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}"))
}

#[test]
fn committed_schemas_match_the_report_types() {
    let update = std::env::var_os("KLING_PREFLIGHT_UPDATE_SCHEMA").is_some();
    for (name, schema) in kling_preflight::report_schemas() {
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            fs::create_dir_all(root().join("docs")).unwrap();
            fs::write(docs(name), text).unwrap();
            continue;
        }
        let have = fs::read_to_string(docs(name)).unwrap_or_default();
        assert!(
            have == text,
            "docs/{name} is stale: the report types changed. Regenerate it with `{REGENERATE}`"
        );
    }
}

#[test]
fn check_output_validates_with_and_without_analysis() {
    let headers = stdout_json(&[
        "check",
        "-f",
        "json",
        "--isolated",
        "--no-analyze",
        "fixtures",
    ]);
    assert!(headers["files"].as_array().unwrap().len() > 20);
    assert_valid(
        "report.schema.json",
        "check --no-analyze fixtures",
        &headers,
    );
    // Decoded-frame facts (cuts, motion, subject) and the image detector's facts.
    let analyzed = stdout_json(&["check", "-f", "json", "--isolated", "fixtures/pairs"]);
    let videos = analyzed["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "video")
        .count();
    assert_eq!(videos, 2);
    assert_valid("report.schema.json", "check fixtures/pairs", &analyzed);
}

#[test]
fn merge_output_validates() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for shard in ["1/2", "2/2"] {
        let r = stdout_json(&[
            "check",
            "-f",
            "json",
            "--isolated",
            "--no-analyze",
            "--shard",
            shard,
            "fixtures",
        ]);
        assert_valid("report.schema.json", "check --shard", &r);
        let f = dir.path().join(shard.replace('/', "-") + ".json");
        fs::write(&f, serde_json::to_vec(&r).unwrap()).unwrap();
        files.push(f.to_str().unwrap().to_string());
    }
    let merged = stdout_json(&["merge", "-f", "json", &files[0], &files[1]]);
    assert_valid("report.schema.json", "merge", &merged);
}

#[test]
fn fix_output_validates_planned_and_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let planned = stdout_json(&[
        "fix",
        "-f",
        "json",
        "--isolated",
        "--no-analyze",
        "--unsafe-fixes",
        "--dry-run",
        "--out-dir",
        out,
        "fixtures/rejects/images",
    ]);
    assert_valid("fix-report.schema.json", "fix --dry-run", &planned);
    let written = stdout_json(&[
        "fix",
        "-f",
        "json",
        "--isolated",
        "--no-analyze",
        "--unsafe-fixes",
        "--out-dir",
        out,
        "fixtures/rejects/images/panorama_3000x1000.jpg",
    ]);
    assert_eq!(written["files"][0]["status"], "fixed", "{written}");
    assert_valid("fix-report.schema.json", "fix", &written);
}
