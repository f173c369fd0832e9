//! The config file end to end: discovery by walking up, profile and rule settings changing verdicts,
//! flags overriding the file, ignore globs, errors that name the line, `init` and `config --show`.
//!
//! Images only (header facts), so the verdicts do not depend on video analysis.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// A project folder with one 6000×4000 JPEG (strict: I004 image-too-large; kling allows 65536 px) and
/// one JPEG that passes everywhere.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("assets/sub")).unwrap();
    fs::copy(
        root().join("fixtures/rejects/images/camera_6000x4000.jpg"),
        dir.path().join("assets/camera.jpg"),
    )
    .unwrap();
    fs::copy(
        root().join("fixtures/pairs/hopper/character.jpg"),
        dir.path().join("assets/sub/character.jpg"),
    )
    .unwrap();
    dir
}

fn write_config(dir: &Path, text: &str) {
    fs::write(dir.join("kling-preflight.toml"), text).unwrap();
}

fn verdict_of(report: &serde_json::Value, suffix: &str) -> String {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("{suffix} not in {report}"))["verdict"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn config_profile_changes_the_verdict_and_flags_override_it() {
    let dir = project();
    let (code, r) = check_json(dir.path(), &["assets"]);
    assert_eq!((code, r["profile"].as_str()), (1, Some("strict")));
    // I011/I012: the gradient has no face and no detail (warnings beyond the limits).
    assert_eq!(codes(&r["files"][0]), ["I004", "I011", "I012"]);

    write_config(dir.path(), "profile = \"kling\"\n");
    let (code, r) = check_json(dir.path(), &["assets"]);
    assert_eq!((code, r["profile"].as_str()), (0, Some("kling")));
    assert_eq!(verdict_of(&r, "camera.jpg"), "warn");

    // Found from a subfolder too (walking up), and the flag wins over the file.
    let (code, r) = check_json(&dir.path().join("assets"), &["."]);
    assert_eq!((code, r["profile"].as_str()), (0, Some("kling")));
    let (code, r) = check_json(dir.path(), &["--profile", "strict", "assets"]);
    assert_eq!((code, r["profile"].as_str()), (1, Some("strict")));
    // --isolated ignores the file; --config names another one.
    let (code, _) = check_json(dir.path(), &["--isolated", "assets"]);
    assert_eq!(code, 1);
    fs::write(dir.path().join("other.toml"), "profile = \"strict\"\n").unwrap();
    let (code, r) = check_json(dir.path(), &["--config", "other.toml", "assets"]);
    assert_eq!((code, r["profile"].as_str()), (1, Some("strict")));
}

#[test]
fn config_rules_and_custom_profiles() {
    let dir = project();
    write_config(dir.path(), "[rules]\nI004 = \"warning\"\n");
    let (code, r) = check_json(dir.path(), &["assets"]);
    assert_eq!((code, verdict_of(&r, "camera.jpg")), (0, "warn".into()));
    // A prefix from the flag replaces the config's entry for the rules it covers.
    let (code, r) = check_json(dir.path(), &["--rule", "I=error", "assets"]);
    assert_eq!((code, verdict_of(&r, "camera.jpg")), (1, "fail".into()));

    write_config(
        dir.path(),
        "profile = \"studio\"\n[profiles.studio]\nextends = \"kling\"\nimage.max_edge = 400\n",
    );
    let (code, r) = check_json(dir.path(), &["assets"]);
    assert_eq!((code, r["profile"].as_str()), (1, Some("studio")));
    assert_eq!(verdict_of(&r, "camera.jpg"), "fail");
    let msg = r["files"][0]["diagnostics"][0]["message"].as_str().unwrap();
    assert!(msg.contains("400") && msg.contains("studio"), "{msg}");
}

#[test]
fn unknown_key_error_names_the_line() {
    let dir = project();
    write_config(dir.path(), "profile = \"kling\"\n\nprofle = \"strict\"\n");
    let out = run_in(dir.path(), &["check", "assets"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kling-preflight.toml:3: unknown key 'profle'"),
        "{err}"
    );
    write_config(dir.path(), "[rules]\nV012 = \"loud\"\n");
    let err =
        String::from_utf8_lossy(&run_in(dir.path(), &["check", "assets"]).stderr).into_owned();
    assert!(
        err.contains("kling-preflight.toml:2:") && err.contains("loud"),
        "{err}"
    );
    // --isolated is the way out of a broken config.
    let out = run_in(dir.path(), &["check", "--isolated", "-f", "json", "assets"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ignore_globs_are_relative_to_the_config_folder() {
    let dir = project();
    let p = dir.path();
    fs::create_dir_all(p.join("assets/drafts/deep")).unwrap();
    fs::write(p.join("assets/drafts/deep/broken.jpg"), b"not a jpeg").unwrap();
    fs::write(p.join("assets/sub/take.tmp.mp4"), b"half written").unwrap();
    fs::write(p.join("assets/sub/broken.mp4"), b"not a video").unwrap();
    write_config(p, "ignore = [\"assets/drafts/**\", \"*.tmp.mp4\"]\n");
    let paths = |cwd: &Path, arg: &str| -> Vec<String> {
        let (_, r) = check_json(cwd, &[arg]);
        r["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        paths(p, "assets"),
        [
            "assets/camera.jpg",
            "assets/sub/broken.mp4",
            "assets/sub/character.jpg"
        ]
    );
    // From a subfolder the globs still mean the same files.
    assert_eq!(
        paths(&p.join("assets"), "."),
        ["./camera.jpg", "./sub/broken.mp4", "./sub/character.jpg"]
    );
    // A file named on the command line is always checked.
    let (_, r) = check_json(p, &["assets/sub/take.tmp.mp4"]);
    assert_eq!(r["files"].as_array().unwrap().len(), 1);
    let (_, r) = check_json(p, &["--isolated", "assets"]);
    assert_eq!(r["files"].as_array().unwrap().len(), 5);
}

#[test]
fn init_writes_a_starter_that_parses_and_show_names_origins() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["init"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(dir.path().join("kling-preflight.toml")).unwrap();
    assert!(text.starts_with("# kling-preflight.toml"));
    let out = run_in(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(2), "refuses to overwrite");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(
        fs::read_to_string(dir.path().join("kling-preflight.toml")).unwrap(),
        text
    );

    let out = run_in(dir.path(), &["config", "--show", "--orientation", "image"]);
    assert_eq!(out.status.code(), Some(0));
    let show = String::from_utf8_lossy(&out.stdout);
    let line = |key: &str| {
        show.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} missing in\n{show}"))
            .to_string()
    };
    assert!(
        line("profile ").contains("# kling-preflight.toml:"),
        "{show}"
    );
    assert!(
        line("orientation ").contains("image") && line("orientation ").contains("--orientation")
    );
    assert!(line("analyze ").contains("# default"), "{show}");
    assert!(line("cache ").contains(".kling-preflight-cache"), "{show}");
}
