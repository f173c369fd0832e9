//! The CI formats parse and carry every finding: SARIF (as JSON, against the parts of the 2.1.0 schema
//! that GitHub reads), JUnit (with a real XML parser, file names full of markup included) and GitHub
//! annotations (line shape and escaping).

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::Value;

/// Findings whose verdict does not depend on the probers or analysis: unreadable files, one with a
/// name full of characters each format must escape, plus real fixtures.
fn assets() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    fs::create_dir_all(&a).unwrap();
    fs::write(
        a.join("<&\"quote's\">, 50%: x.png"),
        b"<html>not an image</html>",
    )
    .unwrap();
    fs::write(a.join("empty.mp4"), b"").unwrap();
    for f in [
        "rejects/images/camera_6000x4000.jpg",
        "rejects/images/png_named.jpg",
        "rejects/videos/readme_named.mp4",
        "pairs/hopper/character.jpg",
    ] {
        let src = root().join("fixtures").join(f);
        fs::copy(&src, a.join(src.file_name().unwrap())).unwrap();
    }
    dir
}

fn run(dir: &Path, format: &str) -> (i32, String, Value) {
    let (_, json) = check_json(dir, &["a"]);
    let out = run_in(dir, &["check", "-f", format, "a"]);
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        json,
    )
}

fn count(json: &Value, severity: &str) -> usize {
    json["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["diagnostics"].as_array().unwrap())
        .filter(|d| d["severity"] == severity)
        .count()
}

#[test]
fn sarif_is_2_1_0_with_rules_and_relative_locations() {
    let dir = assets();
    let (code, out, json) = run(dir.path(), "sarif");
    assert_eq!(code, 1);
    let s: Value = serde_json::from_str(&out).expect("SARIF is JSON");
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "kling-preflight");
    let rules = driver["rules"].as_array().unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r["id"] == "V010" && r["name"] == "video-has-shot-cuts")
    );
    for r in rules {
        let help = r["help"]["text"].as_str().unwrap();
        assert!(help.contains("## Why it matters"), "{help}");
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        count(&json, "error") + count(&json, "warning") + count(&json, "info")
    );
    let errors = results.iter().filter(|r| r["level"] == "error").count();
    assert_eq!(errors, count(&json, "error"));
    assert!(errors >= 3);
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], id);
        assert!(r["message"]["text"].as_str().unwrap().starts_with(id));
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            uri.starts_with("a/") && !uri.contains(' ') && !uri.contains('<'),
            "{uri}"
        );
    }
    assert!(results.iter().any(
        |r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            == "a/%3C%26%22quote%27s%22%3E%2C%2050%25%3A%20x.png"
    ));
}

#[test]
fn junit_is_well_formed_with_one_case_per_file_and_a_failure_per_error() {
    let dir = assets();
    let (code, out, json) = run(dir.path(), "junit");
    assert_eq!(code, 1);
    let mut reader = quick_xml::Reader::from_str(&out);
    let (mut cases, mut failures, mut depth, mut names) = (0, 0, 0i32, Vec::new());
    loop {
        match reader.read_event() {
            Err(e) => panic!(
                "not well-formed at {}: {e}\n{out}",
                reader.buffer_position()
            ),
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e)) => {
                depth += 1;
                match e.name().as_ref() {
                    b"testcase" => {
                        cases += 1;
                        let name = e.try_get_attribute("name").unwrap().unwrap();
                        names.push(name.unescape_value().unwrap().into_owned());
                    }
                    b"failure" => failures += 1,
                    _ => {}
                }
            }
            Ok(quick_xml::events::Event::Empty(e)) => {
                if e.name().as_ref() == b"testcase" {
                    cases += 1;
                    let name = e.try_get_attribute("name").unwrap().unwrap();
                    names.push(name.unescape_value().unwrap().into_owned());
                }
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(_) => {}
        }
    }
    assert_eq!(depth, 0, "every element closed");
    assert_eq!(cases, json["files"].as_array().unwrap().len());
    assert_eq!(failures, count(&json, "error"));
    assert!(
        names.contains(&"a/<&\"quote's\">, 50%: x.png".to_string()),
        "{names:?}"
    );
    if count(&json, "warning") > 0 {
        assert!(out.contains("<system-out>"));
    }
}

#[test]
fn github_annotations_escape_properties_and_data() {
    let dir = assets();
    let (code, out, json) = run(dir.path(), "github");
    assert_eq!(code, 1);
    let shape = regex::Regex::new(
        r"^::(error|warning|notice) file=[^,:\n]+,title=[A-Z]\d{3} [a-z-]+::[^\r\n]*$",
    )
    .unwrap();
    for line in out.lines() {
        assert!(shape.is_match(line), "{line}");
    }
    assert_eq!(
        out.lines().filter(|l| l.starts_with("::error ")).count(),
        count(&json, "error")
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("::warning ")).count(),
        count(&json, "warning")
    );
    assert!(
        out.contains(
            "::error file=a/<&\"quote's\">%2C 50%25%3A x.png,title=F001 file-unreadable::"
        ),
        "{out}"
    );
}
