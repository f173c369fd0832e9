//! The result cache end to end: a re-run reads facts from `.kling-preflight-cache/` and prints the same
//! bytes; a changed file is measured again; `--no-cache` neither reads nor writes; corrupt entries
//! are ignored and rewritten; `clean` removes the folder.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A folder with the image fixtures and some of the video fixtures.
fn assets() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &root().join("fixtures/rejects/images"),
        &dir.path().join("a/images"),
    );
    copy_dir(&root().join("fixtures/pairs"), &dir.path().join("a/pairs"));
    for v in ["anamorphic.mp4", "readme_named.mp4", "too_short_2s.mp4"] {
        fs::copy(
            root().join("fixtures/rejects/videos").join(v),
            dir.path().join("a").join(v),
        )
        .unwrap();
    }
    fs::write(
        dir.path().join("a/notes.txt"),
        b"skipped, and cached as skipped",
    )
    .unwrap();
    dir
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir.join(".kling-preflight-cache"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "json"));
    v.sort();
    v
}

fn check(dir: &Path, extra: &[&str]) -> (Option<i32>, Vec<u8>) {
    let mut args = vec!["check", "-f", "json", "a"];
    args.extend_from_slice(extra);
    let out = run_in(dir, &args);
    (out.status.code(), out.stdout)
}

#[test]
fn rerun_is_byte_identical_and_reads_the_cache() {
    let dir = assets();
    let p = dir.path();
    let first = check(p, &[]);
    let cache = p.join(".kling-preflight-cache");
    assert!(cache.join("CACHEDIR.TAG").is_file());
    assert_eq!(fs::read_to_string(cache.join(".gitignore")).unwrap(), "*\n");
    let n_files = count_files(&p.join("a")); // notes.txt (skipped) included
    assert_eq!(
        entries(p).len(),
        n_files,
        "one entry per file, the skipped one included"
    );
    let second = check(p, &[]);
    assert_eq!(first, second, "cached re-run prints the same bytes");
    let uncached = check(p, &["--no-cache"]);
    assert_eq!(first, uncached);
    assert_eq!(entries(p).len(), n_files);

    // The cache is what the second run read: forge the facts of one file and the report follows.
    let report: Value = serde_json::from_slice(&first.1).unwrap();
    let target = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "a/pairs/hopper/character.jpg")
        .unwrap();
    assert_eq!(target["verdict"], "pass");
    let mut forged = 0;
    for e in entries(p) {
        let mut v: Value = serde_json::from_slice(&fs::read(&e).unwrap()).unwrap();
        if v["key"].as_str().unwrap().contains("hopper/character.jpg") {
            v["value"]["image"]["width"] = 20000.into();
            fs::write(&e, serde_json::to_vec(&v).unwrap()).unwrap();
            forged += 1;
        }
    }
    assert_eq!(forged, 1);
    let forged_run: Value = serde_json::from_slice(&check(p, &[]).1).unwrap();
    let f = forged_run["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "a/pairs/hopper/character.jpg")
        .unwrap();
    assert!(
        codes(f).contains(&"I004".to_string()),
        "facts came from the cache: {f}"
    );
    // --no-cache does not read it.
    assert_eq!(check(p, &["--no-cache"]), first);

    // Touching the file (new mtime) makes it measured again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let file = p.join("a/pairs/hopper/character.jpg");
    let bytes = fs::read(&file).unwrap();
    fs::write(&file, bytes).unwrap();
    assert_eq!(check(p, &[]), first);
    assert_eq!(entries(p).len(), n_files + 1, "a new entry for the new key");

    // Changing the profile re-runs the rules on cached facts: no new entries.
    let kling = check(p, &["--profile", "kling"]);
    assert_ne!(kling.1, first.1);
    assert_eq!(entries(p).len(), n_files + 1);
    // Changing what analysis does is a different key.
    check(p, &["--no-analyze"]);
    assert!(entries(p).len() > n_files + 1);

    let out = run_in(p, &["clean"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!cache.exists());
}

#[test]
fn no_cache_writes_nothing() {
    let dir = assets();
    let (code, _) = check(dir.path(), &["--no-cache"]);
    assert_eq!(code, Some(1));
    assert!(!dir.path().join(".kling-preflight-cache").exists());
    fs::write(dir.path().join("kling-preflight.toml"), "cache = false\n").unwrap();
    check(dir.path(), &[]);
    assert!(!dir.path().join(".kling-preflight-cache").exists());
}

#[test]
fn corrupt_entries_are_ignored_and_rewritten() {
    let dir = assets();
    let p = dir.path();
    let first = check(p, &[]);
    let all = entries(p);
    for (i, e) in all.iter().enumerate() {
        let junk: &[u8] = match i % 4 {
            0 => b"",
            1 => b"{\"key\": 12",
            2 => b"\x00\xff garbage",
            _ => b"{\"key\":\"someone else's key\",\"value\":{\"skip\":null}}",
        };
        fs::write(e, junk).unwrap();
    }
    assert_eq!(check(p, &[]), first);
    for e in entries(p) {
        let v: Value = serde_json::from_slice(&fs::read(&e).unwrap()).expect("rewritten");
        assert!(v["key"].is_string());
    }
    assert_eq!(check(p, &[]), first);
}

#[test]
fn cache_lives_next_to_the_config_file() {
    let dir = assets();
    let p = dir.path();
    fs::write(p.join("kling-preflight.toml"), "profile = \"strict\"\n").unwrap();
    let out = run_in(&p.join("a"), &["check", "-q", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(p.join(".kling-preflight-cache/CACHEDIR.TAG").is_file());
    assert!(!p.join("a/.kling-preflight-cache").exists());
    let out = run_in(&p.join("a/pairs"), &["clean"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!p.join(".kling-preflight-cache").exists());
}

#[test]
fn concurrent_runs_share_the_cache_safely() {
    let dir = assets();
    let p = dir.path().to_path_buf();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || check(&p, &[]))
        })
        .collect();
    let outs: Vec<_> = runs.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        outs.windows(2).all(|w| w[0] == w[1]),
        "same report from every run"
    );
    assert_eq!(check(&p, &[]), outs[0], "and from the cache afterwards");
    let leftovers: Vec<_> = fs::read_dir(p.join(".kling-preflight-cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
