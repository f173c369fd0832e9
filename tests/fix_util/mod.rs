//! Shared helpers for the `fix` integration tests: run the binary, read its JSON, hash inputs, and
//! make small media with the ffmpeg CLI or the image crate.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "../common/mod.rs"]
mod common;
// Not every test file that includes these helpers uses each one.
#[allow(unused_imports)]
pub use common::{root, skip_without_pose};

pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

pub fn bin() -> Command {
    let mut c = common::bin();
    c.env("NO_COLOR", "1");
    c
}

/// Run `fix --format json` with fast encoder settings; returns (exit code, JSON, stderr).
pub fn fix(args: &[&str]) -> (i32, Value, String) {
    let out = bin()
        .arg("fix")
        .args(args)
        .args(["--format", "json", "--x264-preset", "ultrafast"])
        .output()
        .expect("run kling-preflight");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// `check --format json` on one file: (exit code, the file's report).
pub fn check(path: &Path, extra: &[&str]) -> (i32, Value) {
    let out = bin()
        .arg("check")
        .arg(path)
        .args(extra)
        .args(["--format", "json"])
        .output()
        .expect("run kling-preflight");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v["files"][0].clone())
}

pub fn codes(report: &Value) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| d["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A cheap content fingerprint (FNV-1a over every byte) plus the length.
pub fn fingerprint(p: &Path) -> (u64, usize) {
    let data = std::fs::read(p).unwrap();
    let mut h: u64 = 0xcbf29ce484222325;
    for b in &data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    (h, data.len())
}

/// Every file under `dir`, relative, sorted (hidden ones included).
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    if !dir.exists() {
        return v;
    }
    for e in walk(dir) {
        v.push(e.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
    }
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Make a clip at `out` with the ffmpeg CLI (installed by `make setup`); a failure fails the
/// test, never skips it.
pub fn ffmpeg(out: &Path, args: &[&str]) -> PathBuf {
    let out_arg = out.to_str().expect("test paths are UTF-8");
    common::ffmpeg(&[args, &[out_arg]].concat());
    out.to_path_buf()
}

/// Whether decoded-frame analysis is available in this build (cuts, motion, freezes).
pub fn analysis_available() -> bool {
    let (_, r) = check(&fixture("rejects/videos/two_shots.mp4"), &[]);
    codes(&r).contains(&"V010".to_string())
}
