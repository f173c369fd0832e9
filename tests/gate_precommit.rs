//! The pre-commit hook as pre-commit runs it: read `.pre-commit-hooks.yaml`, select files with the
//! hook's `files` regex, and run its `entry` with the file names as arguments, the binary found on
//! PATH (`language: system`).

mod common;

use std::path::Path;

use common::*;

/// (entry, files) of the hook `id`, from a tiny parser of the flat YAML we write.
fn hook(id: &str) -> (String, String) {
    let text = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    let mut in_hook = false;
    let (mut entry, mut files) = (None, None);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("- id:") {
            in_hook = rest.trim() == id;
            continue;
        }
        if !in_hook {
            continue;
        }
        let line = line.trim();
        if let Some(v) = line.strip_prefix("entry:") {
            entry = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("files:") {
            files = Some(v.trim().to_string());
        } else if line == "require_serial: true" || line.starts_with("language:") {
            // Present and checked below by content.
        }
    }
    (
        entry.unwrap_or_else(|| panic!("hook {id} has no entry")),
        files.unwrap_or_else(|| panic!("hook {id} has no files")),
    )
}

fn run_hook(files: &[&str]) -> std::process::Output {
    let (entry, _) = hook("kling-preflight");
    let mut words = entry.split_whitespace();
    let program = words.next().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kling-preflight"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::process::Command::new(program)
        .env("PATH", path)
        .current_dir(root())
        .args(words)
        .args(["--isolated"])
        .args(files)
        .output()
        .expect("the hook's entry runs from PATH")
}

#[test]
fn files_regex_selects_media_case_insensitively() {
    let text = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    assert!(text.contains("require_serial: true"));
    for id in ["kling-preflight", "kling-preflight-build"] {
        let (entry, files) = hook(id);
        assert_eq!(entry, "kling-preflight check");
        let re = regex::Regex::new(&files).expect("Python-compatible regex");
        for yes in [
            "a.jpg", "b/C.JPEG", "x.png", "clip.MP4", "take.mov", "x.webm", "d/e.m4v", "i.webp",
        ] {
            assert!(re.is_match(yes), "{id}: {yes}");
        }
        for no in [
            "README.md",
            "mp4.txt",
            "a.jpg.bak",
            "Makefile",
            "clip.mp4/notes",
        ] {
            assert!(!re.is_match(no), "{id}: {no}");
        }
    }
}

#[test]
fn entry_with_file_names_gates_like_check() {
    let (_, files) = hook("kling-preflight");
    let re = regex::Regex::new(&files).unwrap();
    // What pre-commit would pass for these staged files: only the matching ones.
    let staged = [
        "fixtures/README.md",
        "fixtures/pairs/hopper/character.jpg",
        "fixtures/pairs/astronaut/character.png",
    ];
    let selected: Vec<&str> = staged.iter().copied().filter(|f| re.is_match(f)).collect();
    assert_eq!(selected.len(), 2);
    let out = run_hook(&selected);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let mut failing = selected.clone();
    failing.push("fixtures/rejects/images/truncated.jpg");
    let out = run_hook(&failing);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("fixtures/rejects/images/truncated.jpg: error[F001] file-unreadable"),
        "{stdout}"
    );
}
