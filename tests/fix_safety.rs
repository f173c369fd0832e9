//! `fix`'s promises about files: inputs are never written, an out-dir containing an input is refused,
//! existing outputs are refused without `--force`, unsafe fixes need the flag (and say so), dry runs
//! and passing files write nothing, and the JSON has the documented shape.

mod fix_util;

use std::path::Path;

use fix_util::*;

fn copy_fixture(rel: &str, dir: &Path) -> std::path::PathBuf {
    let dest = dir.join(Path::new(rel).file_name().unwrap());
    std::fs::copy(fixture(rel), &dest).unwrap();
    dest
}

#[test]
fn out_dir_containing_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = copy_fixture("rejects/images/png_named.jpg", dir.path());
    let print = fingerprint(&input);
    // The out-dir is the input's own folder (spelled differently, to exercise canonicalisation).
    let spelled = dir.path().join(".").join("sub/..");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let (rc, _, stderr) = fix(&[
        input.to_str().unwrap(),
        "--out-dir",
        spelled.to_str().unwrap(),
    ]);
    assert_eq!(rc, 2, "{stderr}");
    assert!(stderr.contains("contains the input"), "{stderr}");
    assert_eq!(fingerprint(&input), print);
    assert_eq!(files_under(dir.path()), ["png_named.jpg"]);
}

#[test]
fn existing_output_is_refused_without_force_and_replaced_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("png_named.png"), b"precious").unwrap();
    let input = fixture("rejects/images/png_named.jpg");
    let (rc, _, stderr) = fix(&[input.to_str().unwrap(), "--out-dir", out.to_str().unwrap()]);
    assert_eq!(rc, 2, "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read(out.join("png_named.png")).unwrap(),
        b"precious"
    );
    let (rc, json, stderr) = fix(&[
        input.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(rc, 0, "{json} {stderr}");
    assert_eq!(
        std::fs::read(out.join("png_named.png")).unwrap(),
        std::fs::read(&input).unwrap()
    );
    assert_eq!(files_under(&out), ["png_named.png"]);
}

#[test]
fn unsafe_fix_without_the_flag_names_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("rejects/images/camera_6000x4000.jpg");
    let (rc, json, _) = fix(&[
        input.to_str().unwrap(),
        "--out-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(rc, 1);
    let f = &json["files"][0];
    assert!(f["output"].is_null());
    assert_eq!(f["verdict_after"], "fail");
    assert_eq!(f["blocked"][0]["fix"], "downscale");
    assert!(
        f["reason"].as_str().unwrap().contains("--unsafe-fixes"),
        "{f}"
    );
    assert!(files_under(dir.path()).is_empty());
    // Human output says the same.
    let out = bin()
        .args([
            "fix",
            input.to_str().unwrap(),
            "--out-dir",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--unsafe-fixes would apply downscale"),
        "{text}"
    );
}

#[test]
fn unfixable_files_say_so_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("rejects/videos/too_short_2s.mp4");
    let (rc, json, _) = fix(&[
        input.to_str().unwrap(),
        "--out-dir",
        dir.path().to_str().unwrap(),
        "--unsafe-fixes",
        "--no-analyze",
    ]);
    assert_eq!(rc, 1);
    assert!(json["files"][0]["output"].is_null());
    assert!(
        json["files"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("V004")
    );
    assert!(files_under(dir.path()).is_empty());
}

#[test]
fn passing_files_are_not_copied_and_dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pairs = fixture("pairs");
    let (rc, json, stderr) = fix(&[
        pairs.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--no-analyze",
    ]);
    assert_eq!(rc, 0, "{stderr}");
    for f in json["files"].as_array().unwrap() {
        assert_eq!(f["status"], "already-passes", "{f}");
        assert!(f["output"].is_null());
    }
    assert!(files_under(&out).is_empty());
    // Dry run over the rejects: plans with outputs, nothing on disk.
    let rejects = fixture("rejects");
    let (_, json, _) = fix(&[
        rejects.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--dry-run",
        "--unsafe-fixes",
        "--no-analyze",
    ]);
    let planned: Vec<_> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "planned")
        .collect();
    assert!(planned.len() >= 15, "{json:#}");
    // Outputs mirror relative paths and get the right extension.
    assert!(planned.iter().any(|f| {
        f["output"]
            .as_str()
            .unwrap()
            .ends_with("out/images/hopper.jpg")
    }));
    assert!(planned.iter().any(|f| {
        f["output"]
            .as_str()
            .unwrap()
            .ends_with("out/videos/clip_vp9.mp4")
    }));
    assert!(files_under(&out).is_empty());
}

#[test]
fn a_whole_folder_leaves_inputs_identical_and_only_finished_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let rejects = fixture("rejects/images");
    let before: Vec<_> = files_under(&rejects)
        .iter()
        .map(|f| (f.clone(), fingerprint(&rejects.join(f))))
        .collect();
    let (rc, json, stderr) = fix(&[
        rejects.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--unsafe-fixes",
    ]);
    // F001 files cannot be fixed: exit 1, everything else written and passing.
    assert_eq!(rc, 1, "{stderr}");
    let after: Vec<_> = files_under(&rejects)
        .iter()
        .map(|f| (f.clone(), fingerprint(&rejects.join(f))))
        .collect();
    assert_eq!(before, after, "an input changed");
    for f in json["files"].as_array().unwrap() {
        if let Some(o) = f["output"].as_str() {
            assert_eq!(check(Path::new(o), &[]).0, 0, "{o}");
        } else {
            let s = f["status"].as_str().unwrap();
            assert!(
                ["cannot-fix", "already-passes", "nothing-to-fix"].contains(&s),
                "{f}"
            );
        }
    }
    let written = files_under(&out);
    assert!(
        written.iter().all(|f| !f.contains(".kp-tmp")),
        "{written:?}"
    );
    assert_eq!(
        written.len(),
        json["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["output"].is_string())
            .count()
    );
}
