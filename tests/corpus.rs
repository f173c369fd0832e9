//! Every file of the shared corpus through `check`: each gets a verdict, nothing crashes or hangs,
//! broken files get `file-unreadable`, and verdicts and rule names match `corpus/expect.json` (the
//! same scoring as `../shared/tools/corpus-check`, minus cut timing, which `tests/analyze*.rs` scores).

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

#[test]
fn corpus_verdicts_and_rule_names() {
    let Some(corpus) = corpus() else { return };
    let expect: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("expect.json")).unwrap())
            .unwrap();
    let cases = expect["cases"].as_array().unwrap();
    let paths: Vec<&str> = cases.iter().map(|c| c["path"].as_str().unwrap()).collect();
    let mut args = vec!["--profile", "strict", "--orientation", "video"];
    args.extend(paths.iter().copied());
    let (_, report) = check_json(&corpus, &args);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), cases.len(), "every named file is judged");
    let mut bad = Vec::new();
    for c in cases {
        let path = c["path"].as_str().unwrap();
        let f = files
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} missing"));
        let names: BTreeSet<&str> = f["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        let verdict = f["verdict"].as_str().unwrap();
        if let Some(v) = c["verdict"].as_str()
            && v != verdict
        {
            bad.push(format!(
                "{path}: verdict {verdict}, expected {v} ({names:?})"
            ));
        }
        if let Some(vs) = c["verdict_in"].as_array()
            && !vs.iter().any(|v| v == verdict)
        {
            bad.push(format!(
                "{path}: verdict {verdict}, expected one of {vs:?} ({names:?})"
            ));
        }
        for n in c["names"].as_array().into_iter().flatten() {
            if !names.contains(n.as_str().unwrap()) {
                bad.push(format!("{path}: expected {n} ({names:?})"));
            }
        }
        if let Some(any) = c["names_any"].as_array()
            && !any.iter().any(|n| names.contains(n.as_str().unwrap()))
        {
            bad.push(format!("{path}: expected one of {any:?} ({names:?})"));
        }
        if path.contains("/corrupt/") && path.starts_with("images/") {
            assert!(names.contains("file-unreadable"), "{path}: {names:?}");
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} corpus files off:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}

#[test]
fn whole_corpus_folder_is_walked_without_crashing() {
    let Some(corpus) = corpus() else { return };
    let (_, report) = check_json(&corpus, &["."]);
    let s = &report["summary"];
    assert_eq!(
        s["files"].as_u64().unwrap(),
        s["pass"].as_u64().unwrap() + s["warn"].as_u64().unwrap() + s["fail"].as_u64().unwrap()
    );
    assert!(s["files"].as_u64().unwrap() >= 55, "{s}");
}
