//! Sharding and merging end to end: shards are disjoint and cover the inputs, `--shard auto` reads the
//! schedulers' variables, and `merge` reproduces the unsharded report (files, summary, exit status).

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::*;
use serde_json::Value;

/// `--no-analyze`: sharding is about which files, not about what analysis finds (and stays fast).
fn shard_report(shard: &str) -> (i32, Value) {
    check_json(
        &root(),
        &["--no-analyze", "--isolated", "--shard", shard, "fixtures"],
    )
}

fn paths(r: &Value) -> Vec<String> {
    r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn shards_are_disjoint_cover_the_folder_and_merge_back() {
    let (code, whole) = check_json(&root(), &["--no-analyze", "--isolated", "fixtures"]);
    let (_, one) = shard_report("1/2");
    let (_, two) = shard_report("2/2");
    assert_eq!(one["shard"], serde_json::json!({"index": 1, "count": 2}));
    let a: BTreeSet<String> = paths(&one).into_iter().collect();
    let b: BTreeSet<String> = paths(&two).into_iter().collect();
    assert!(a.is_disjoint(&b));
    assert!(!a.is_empty() && !b.is_empty(), "both shards get work");
    let all: BTreeSet<String> = paths(&whole).into_iter().collect();
    assert_eq!(a.union(&b).cloned().collect::<BTreeSet<_>>(), all);

    let dir = tempfile::tempdir().unwrap();
    let (f1, f2) = (dir.path().join("1.json"), dir.path().join("2.json"));
    fs::write(&f1, serde_json::to_vec(&one).unwrap()).unwrap();
    fs::write(&f2, serde_json::to_vec(&two).unwrap()).unwrap();
    let (f1, f2) = (f1.to_str().unwrap(), f2.to_str().unwrap());
    let out = run_in(&root(), &["merge", "-f", "json", f2, f1]);
    assert_eq!(out.status.code(), Some(code), "merge exits as check did");
    let merged: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        merged["files"], whole["files"],
        "same files, same order, same facts"
    );
    assert_eq!(merged["summary"], whole["summary"]);
    assert_eq!(merged["profile"], whole["profile"]);
    assert!(merged.get("shard").is_none());

    // A missing shard is an error unless asked for; the same shard twice is an error.
    let out = run_in(&root(), &["merge", f1]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shard(s) 2 of 2 are missing"));
    let out = run_in(&root(), &["merge", "--allow-partial", "-f", "json", f1]);
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let out = run_in(&root(), &["merge", f1, f1]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn merge_refuses_reports_of_different_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let (_, one) = shard_report("1/2");
    let (_, two) = check_json(
        &root(),
        &[
            "--no-analyze",
            "--isolated",
            "--profile",
            "kling",
            "--shard",
            "2/2",
            "fixtures",
        ],
    );
    fs::write(dir.path().join("1.json"), serde_json::to_vec(&one).unwrap()).unwrap();
    fs::write(dir.path().join("2.json"), serde_json::to_vec(&two).unwrap()).unwrap();
    let out = run_in(dir.path(), &["merge", "1.json", "2.json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2.json") && err.contains("profile 'kling'"),
        "{err}"
    );
    fs::write(dir.path().join("junk.json"), b"{\"files\": 3}").unwrap();
    let out = run_in(dir.path(), &["merge", "junk.json"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("junk.json: not a kling-preflight JSON report")
    );
}

#[test]
fn shard_auto_reads_the_scheduler_environment() {
    let run = |env: &[(&str, &str)]| {
        let mut cmd = bin();
        cmd.current_dir(root()).args([
            "check",
            "-f",
            "json",
            "--no-analyze",
            "--isolated",
            "--shard",
            "auto",
            "fixtures",
        ]);
        for v in [
            "JOB_COMPLETION_INDEX",
            "JOB_COMPLETIONS",
            "CI_NODE_INDEX",
            "CI_NODE_TOTAL",
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
        ] {
            cmd.env_remove(v);
        }
        cmd.envs(env.iter().copied());
        cmd.output().unwrap()
    };
    let (_, expected) = shard_report("2/3");
    for env in [
        &[("JOB_COMPLETION_INDEX", "1"), ("JOB_COMPLETIONS", "3")][..],
        &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")][..],
        &[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ][..],
    ] {
        let out = run(env);
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            r["shard"],
            serde_json::json!({"index": 2, "count": 3}),
            "{env:?}"
        );
        assert_eq!(paths(&r), paths(&expected), "{env:?}");
    }
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no scheduler variables are set"));
    let out = run(&[("JOB_COMPLETION_INDEX", "0")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JOB_COMPLETIONS is not"));
}

/// Video facts with analysis (cuts, shots, flattened into `facts`) survive the JSON round trip
/// through shard reports unchanged.
#[test]
fn merge_keeps_analysis_facts() {
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("v");
    fs::create_dir_all(&v).unwrap();
    for f in ["two_shots.mp4", "frozen_tail.mp4", "too_short_2s.mp4"] {
        fs::copy(root().join("fixtures/rejects/videos").join(f), v.join(f)).unwrap();
    }
    let (code, whole) = check_json(dir.path(), &["--isolated", "v"]);
    let mut names = Vec::new();
    for k in 1..=2 {
        let (_, r) = check_json(
            dir.path(),
            &["--isolated", "--shard", &format!("{k}/2"), "v"],
        );
        let name = format!("{k}.json");
        fs::write(
            dir.path().join(&name),
            serde_json::to_vec_pretty(&r).unwrap(),
        )
        .unwrap();
        names.push(name);
    }
    let out = run_in(dir.path(), &["merge", "-f", "json", &names[0], &names[1]]);
    assert_eq!(out.status.code(), Some(code));
    let merged: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(merged["files"], whole["files"]);
    assert_eq!(merged["summary"], whole["summary"]);
}
