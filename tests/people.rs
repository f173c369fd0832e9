//! The person/pose model end to end: people counted in images and clips, a clip without a person,
//! well-framed single-person fixtures left alone, and a run without ONNX Runtime that says so once
//! and still judges every other rule. The thresholds these rules use (`subject.min_person_score`
//! ...) were calibrated on the labelled people set (README, "Subject checks").

mod common;

use common::{bin, check_json, codes, ffmpeg, root, skip_without_pose};

const PEOPLE_RULES: [&str; 5] = ["I016", "V015", "V017", "V018", "V020"];

fn files(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["files"].as_array().unwrap().clone()
}

fn pose_available() -> bool {
    let out = bin()
        .args(["probe", "--analyze"])
        .arg(root().join("fixtures/pairs/hopper/character.jpg"))
        .output()
        .unwrap();
    let ok = String::from_utf8_lossy(&out.stdout).contains("movenet-multipose");
    if !ok {
        skip_without_pose();
    }
    ok
}

#[test]
fn fixture_portraits_get_no_people_warnings_and_their_pattern_clips_v020() {
    if !pose_available() {
        return;
    }
    let (_, v) = check_json(&root(), &["--isolated", "--no-cache", "fixtures/pairs"]);
    let all = files(&v);
    assert_eq!(all.len(), 4);
    for f in &all {
        let c = codes(f);
        if f["path"].as_str().unwrap().contains("/reference.") {
            // The pairs' clips are generated patterns (fixtures/README.md): no person, truly.
            assert_eq!(c, ["V020"], "{}", f["path"]);
            continue;
        }
        assert!(
            PEOPLE_RULES.iter().all(|r| !c.contains(&r.to_string())),
            "{}: {c:?}",
            f["path"]
        );
        // Images and videos keep their people under the same key.
        let pose = &f["facts"]["subject"]["pose"];
        assert_eq!(pose["model"], "movenet-multipose-256", "{}", f["path"]);
    }
}

#[test]
fn two_people_side_by_side_are_i016_and_a_test_pattern_is_v020() {
    if !pose_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hopper = root().join("fixtures/pairs/hopper/character.jpg");
    let two = dir.path().join("two.jpg");
    let h = hopper.to_str().unwrap();
    ffmpeg(&[
        "-i",
        h,
        "-i",
        h,
        "-filter_complex",
        "[0][1]hstack",
        "-frames:v",
        "1",
        two.to_str().unwrap(),
    ]);
    let pattern = dir.path().join("pattern.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=3",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        pattern.to_str().unwrap(),
    ]);
    let (_, v) = check_json(
        dir.path(),
        &["--isolated", "--no-cache", "two.jpg", "pattern.mp4"],
    );
    for f in files(&v) {
        let c = codes(&f);
        if f["path"].as_str().unwrap().ends_with("two.jpg") {
            assert!(c.contains(&"I016".to_string()), "two people: {c:?}");
            let people = f["facts"]["subject"]["pose"]["people"].as_array().unwrap();
            assert!(people.len() >= 2 && people[0]["keypoints"].as_array().unwrap().len() == 17);
        } else {
            assert!(c.contains(&"V020".to_string()), "test pattern: {c:?}");
            assert!(!c.contains(&"V015".to_string()), "test pattern: {c:?}");
        }
    }
}

/// The Haar cascade found faces only facing the camera and at least 20 px at 640 px, so a small
/// full-body character was I011 (no face) instead of I010 (face too small), and a second face could
/// be anyone's. Faces now come from each person's head keypoints, the main person's first.
#[test]
fn faces_come_from_each_persons_head_keypoints_main_person_first() {
    if !pose_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hopper = root().join("fixtures/pairs/hopper/character.jpg");
    let h = hopper.to_str().unwrap();
    // The same portrait twice, the right one at 60%: two people, the left one the main person.
    let two = dir.path().join("two.jpg");
    ffmpeg(&[
        "-i",
        h,
        "-i",
        h,
        "-filter_complex",
        // 512x600 each: the right copy 306x360, standing on the bottom edge of a 512x600 white box.
        "[1]scale=306:360,pad=512:600:0:240:white[b];[0][b]hstack",
        "-frames:v",
        "1",
        two.to_str().unwrap(),
    ]);
    let (_, v) = check_json(dir.path(), &["--isolated", "--no-cache", "two.jpg"]);
    let f = &files(&v)[0];
    let s = &f["facts"]["subject"];
    assert!(s["detector"].as_str().unwrap().contains("keypoints"), "{s}");
    let faces = s["faces"].as_array().unwrap();
    assert!(faces.len() >= 2, "{s}");
    let main = &s["pose"]["people"][0];
    let inside = |face: &serde_json::Value, p: &serde_json::Value| {
        let nose = &p["keypoints"][0];
        let (x, y) = (nose[0].as_f64().unwrap(), nose[1].as_f64().unwrap());
        let g = |k: &str| face[k].as_f64().unwrap();
        g("x") <= x && x <= g("x") + g("w") && g("y") <= y && y <= g("y") + g("h")
    };
    assert!(inside(&faces[0], main), "the main person's face first: {s}");
    assert!(faces[0]["h"].as_f64() > faces[1]["h"].as_f64(), "{s}");
    assert_eq!(faces[0]["frontal"], true, "{s}");
    let c = codes(f);
    assert!(
        !c.contains(&"I011".to_string()) && !c.contains(&"I010".to_string()),
        "{c:?}"
    );
}

#[test]
fn without_onnxruntime_the_run_says_so_once_and_judges_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=10:duration=32",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        long.to_str().unwrap(),
    ]);
    std::fs::copy(
        root().join("fixtures/pairs/hopper/character.jpg"),
        dir.path().join("c.jpg"),
    )
    .unwrap();
    let out = bin()
        .current_dir(dir.path())
        .env(
            "KLING_PREFLIGHT_ONNXRUNTIME",
            dir.path().join("missing/libonnxruntime.so"),
        )
        .args([
            "check",
            "--format",
            "json",
            "--isolated",
            "--no-cache",
            "long.mp4",
            "c.jpg",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "V005 is an error; stderr: {stderr}"
    );
    assert_eq!(
        stderr.matches("the person detector is off").count(),
        1,
        "one note: {stderr}"
    );
    assert!(stderr.contains("missing/libonnxruntime.so"), "{stderr}");
    assert!(
        stderr.contains("I010, I011") && stderr.contains("I012, I013 judge the whole picture"),
        "the face rules are named as skipped: {stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for f in files(&v) {
        let c = codes(&f);
        if f["path"].as_str().unwrap().ends_with("long.mp4") {
            assert!(c.contains(&"V005".to_string()), "{c:?}");
            let subject = &f["facts"]["subject"];
            assert!(subject["pose"].is_null(), "{subject}");
        } else {
            // Faces come from the pose model: none were looked for, and the facts say so.
            let subject = &f["facts"]["subject"];
            assert_eq!(subject["faces"], serde_json::json!([]), "{subject}");
            assert!(
                subject["detector"].as_str().unwrap().starts_with("none"),
                "{subject}"
            );
            assert!(subject["quality"]["sharpness"].as_f64().unwrap() > 0.0);
        }
        // Skipped, not passed or failed on a missing face: the note names them.
        assert!(
            !c.iter()
                .any(|c| ["I010", "I011", "I016", "V015", "V017", "V018", "V020"]
                    .contains(&c.as_str())),
            "{c:?}"
        );
    }
}

/// The corpus, which CI always has (`../shared/corpus`): a missing corpus fails, it does not skip.
fn corpus_required() -> std::path::PathBuf {
    common::corpus().expect("../shared/corpus is needed by this test (CI has it)")
}

#[test]
fn v017_a_dancer_filmed_from_the_thighs_up_is_cut_off() {
    if !pose_available() {
        return;
    }
    // Read in place: the clip comes from a Git repository (corpus MANIFEST), so it is never
    // committed; labelled `v_tiktok_2` (calibration) in people/labels.toml.
    let clip = corpus_required().join("videos/people/mimicmotion_raw_2_tiktok_dance.mp4");
    let (_, v) = check_json(
        &root(),
        &["--isolated", "--no-cache", clip.to_str().unwrap()],
    );
    let f = &files(&v)[0];
    let c = codes(f);
    assert!(c.contains(&"V017".to_string()), "{c:?}");
    let msg = f["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "V017")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("head out in 0"), "feet, not head: {msg}");
    for quiet in ["V015", "V018", "V020"] {
        assert!(!c.contains(&quiet.to_string()), "{quiet}: {c:?}");
    }
}

#[test]
fn v018_fixture_fires_and_turns_off_with_its_rule() {
    if !pose_available() {
        return;
    }
    let clip = "fixtures/rejects/videos/hands_cropped_out.mp4";
    let (_, on) = check_json(&root(), &["--isolated", "--no-cache", clip]);
    assert_eq!(codes(&files(&on)[0]), ["V018"]);
    let (_, off) = check_json(
        &root(),
        &["--isolated", "--no-cache", "--rule", "V018=off", clip],
    );
    assert!(codes(&files(&off)[0]).is_empty());
}

/// `probe --analyze` loaded ONNX Runtime from the default places even when
/// `KLING_PREFLIGHT_ONNXRUNTIME` named another file, and said nothing when it was missing: only
/// check/fix/submit read the variable.
#[test]
fn probe_honours_the_onnxruntime_variable_and_says_when_it_is_missing() {
    let out = bin()
        .args(["probe", "--analyze"])
        .arg(root().join("fixtures/pairs/hopper/character.jpg"))
        .env(
            "KLING_PREFLIGHT_ONNXRUNTIME",
            "/nonexistent/libonnxruntime.so",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let subject = &v["files"][0]["facts"]["subject"];
    assert!(
        subject["detector"].as_str().unwrap().starts_with("none"),
        "{subject}"
    );
    assert!(subject["pose"].is_null(), "{subject}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/libonnxruntime.so"),
        "names what is missing: {stderr}"
    );
}

#[test]
fn a_cached_run_never_loads_onnxruntime() {
    // Regression: the cache key used to load the model (ONNX Runtime and a session, ~0.3 s) on every
    // run, even one whose every file was cached. A file that is not a library shows when a load is
    // tried: the first run names it in a note, the cached run must not try.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("fixtures/pairs/hopper/character.jpg"),
        dir.path().join("c.jpg"),
    )
    .unwrap();
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let run = || {
        let out = bin()
            .current_dir(dir.path())
            .env("KLING_PREFLIGHT_ONNXRUNTIME", &fake)
            .args(["check", "--format", "json", "--isolated", "c.jpg"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let first = run();
    assert_eq!(
        first.matches("the person detector is off").count(),
        1,
        "{first}"
    );
    assert!(first.contains("libonnxruntime.so"), "{first}");
    let cached = run();
    assert!(!cached.contains("person detector"), "{cached}");
}
