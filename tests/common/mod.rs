//! Helpers shared by the integration tests: run the binary, parse its JSON, find the corpus, make media.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kling-preflight"))
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus`, or `KLING_PREFLIGHT_CORPUS`; `None` (with a note on stderr) when absent.
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("KLING_PREFLIGHT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpus"));
    if dir.join("expect.json").is_file() {
        Some(dir)
    } else {
        eprintln!("note: {} is absent; corpus tests skipped", dir.display());
        None
    }
}

/// Run the binary with `args` in `cwd`.
pub fn run_in(cwd: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run kling-preflight")
}

/// Run `check --format json` and parse stdout; panics with stderr on a usage error.
pub fn check_json(cwd: &Path, args: &[&str]) -> (i32, Value) {
    let mut full = vec!["check", "--format", "json"];
    full.extend_from_slice(args);
    let out = run_in(cwd, &full);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "exit {code}; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (code, v)
}

/// Sorted rule codes of one file entry.
pub fn codes(file: &Value) -> Vec<String> {
    let mut c: Vec<String> = file["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect();
    c.sort();
    c.dedup();
    c
}

/// Run the ffmpeg CLI (installed by `make setup`) to make a test clip.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed by `make setup`");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test that needs the pose model found it missing: a note and a skip under a bare `cargo test`,
/// a failure under `make test`, which installs ONNX Runtime and sets `KLING_PREFLIGHT_REQUIRE_POSE`.
pub fn skip_without_pose() {
    assert!(
        std::env::var_os("KLING_PREFLIGHT_REQUIRE_POSE").is_none(),
        "no pose facts, and make test requires them (KLING_PREFLIGHT_REQUIRE_POSE)"
    );
    eprintln!("note: no pose facts (ONNX Runtime missing: make setup); test skipped");
}
