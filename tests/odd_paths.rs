//! Odd paths never crash, hang or hide (issues 15 and 16): a name that is not UTF-8, a FIFO, symlinks
//! (to files, dangling, in a loop), control characters in names, the same file reached twice, an
//! empty folder, and `fix` destinations that resolve into the inputs. Each test runs the binary and is
//! named after the bug it pins.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::root;
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// Run the binary; a run that has not finished after a minute is killed and fails the test (a hang
/// on a FIFO must fail, not block the suite).
fn run(cwd: &Path, args: &[&OsStr]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kling-preflight"))
        .current_dir(cwd)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kling-preflight");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("kling-preflight {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {} / {}", stdout(o), stderr(o)))
}

fn codes(file: &Value) -> Vec<String> {
    file["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

fn non_utf8(dir: &Path, stem: &[u8], ext: &str) -> PathBuf {
    let mut name = stem.to_vec();
    name.extend_from_slice(ext.as_bytes());
    dir.join(OsStr::from_bytes(&name))
}

#[test]
fn non_utf8_file_name_is_judged_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let clip = non_utf8(dir.path(), b"clip\xff", ".mp4");
    std::fs::copy(fixture("rejects/videos/too_short_2s.mp4"), &clip).unwrap();
    let img = non_utf8(dir.path(), b"pic\xfe", ".jpg");
    std::fs::copy(fixture("rejects/images/png_named.jpg"), &img).unwrap();

    let o = run(
        dir.path(),
        &[os("check"), os("."), os("--format"), os("json")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{v}");
    for f in files {
        // Judged by content (the clip is too short, the PNG is named .jpg), not refused as unreadable.
        assert!(!codes(f).contains(&"F001".to_string()), "{f}");
        // The exact bytes survive in the machine format.
        let b64 = f["path_base64"].as_str().expect("lossless name");
        let raw = base64_decode(b64);
        assert!(
            raw == b"./clip\xff.mp4" || raw == b"./pic\xfe.jpg",
            "{raw:?}"
        );
    }

    let o = run(dir.path(), &[os("check"), os(".")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("clip\\xFF.mp4: "), "{out}");
    assert!(out.contains("pic\\xFE.jpg: "), "{out}");

    let o = run(dir.path(), &[os("probe"), clip.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert!(v["files"][0]["error"].is_null(), "{v}");
    assert!(
        v["files"][0]["facts"]["duration_s"].as_f64().is_some(),
        "{v}"
    );

    let out_dir = tempfile::tempdir().unwrap();
    let before = std::fs::read(&img).unwrap();
    let o = run(
        dir.path(),
        &[
            os("fix"),
            img.as_os_str(),
            os("--out-dir"),
            out_dir.path().as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{} {}", stdout(&o), stderr(&o));
    assert!(non_utf8(out_dir.path(), b"pic\xfe", ".png").is_file());
    assert_eq!(std::fs::read(&img).unwrap(), before);
}

fn base64_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        acc = (acc << 6) | A.iter().position(|a| *a == c).unwrap() as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn non_utf8_video_name_is_fixed_through_ffmpeg() {
    // The trim is a stream copy through libavformat, in and out: both paths hold a byte that is not
    // UTF-8 (ffmpeg-next's own path conversion panicked on them).
    let dir = tempfile::tempdir().unwrap();
    let clip = non_utf8(dir.path(), b"long\xff", ".mp4");
    std::fs::copy(fixture("rejects/videos/too_long_35s.mp4"), &clip).unwrap();
    let before = std::fs::read(&clip).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let o = run(
        dir.path(),
        &[
            os("fix"),
            clip.as_os_str(),
            os("--out-dir"),
            out_dir.path().as_os_str(),
            os("--no-analyze"),
            os("--format"),
            os("json"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{} {}", stdout(&o), stderr(&o));
    let v = json(&o);
    assert_eq!(v["files"][0]["status"], "fixed", "{v}");
    assert!(
        non_utf8(out_dir.path(), b"long\xff", ".mp4").is_file(),
        "{v}"
    );
    assert_eq!(std::fs::read(&clip).unwrap(), before);
}

#[test]
fn fifo_named_on_the_command_line_is_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.mp4");
    mkfifo(&fifo);

    let o = run(
        dir.path(),
        &[os("check"), os("pipe.mp4"), os("--format"), os("json")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    let f = &v["files"][0];
    assert_eq!(f["path"], "pipe.mp4");
    assert_eq!(codes(f), ["F001"]);
    assert!(
        f["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("named pipe"),
        "{f}"
    );

    let o = run(dir.path(), &[os("probe"), os("pipe.mp4")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        json(&o)["files"][0]["error"]
            .as_str()
            .unwrap()
            .contains("named pipe")
    );

    let out_dir = tempfile::tempdir().unwrap();
    let o = run(
        dir.path(),
        &[
            os("fix"),
            os("pipe.mp4"),
            os("--out-dir"),
            out_dir.path().as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{} {}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("pipe.mp4: cannot fix"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn fifo_in_a_folder_is_skipped_by_name() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("pipe.mp4"));
    let o = run(dir.path(), &[os("check"), os("."), os("-v")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("skipped ./pipe.mp4: not a regular file but a named pipe"),
        "{err}"
    );
}

#[test]
fn symlinked_file_in_a_folder_is_judged_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::os::unix::fs::symlink(
        fixture("rejects/videos/too_short_2s.mp4"),
        d.join("clip.mp4"),
    )
    .unwrap();
    let o = run(
        dir.path(),
        &[
            os("check"),
            os("d"),
            os("--no-analyze"),
            os("--format"),
            os("json"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["files"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["files"][0]["path"], "d/clip.mp4");
    assert_eq!(v["files"][0]["verdict"], "fail");
}

#[test]
fn dangling_symlink_and_symlink_loop_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::os::unix::fs::symlink("gone.mp4", d.join("clip.mp4")).unwrap();
    std::os::unix::fs::symlink("nowhere", d.join("notes.txt")).unwrap();
    std::os::unix::fs::symlink(".", d.join("loop")).unwrap();
    let o = run(
        dir.path(),
        &[os("check"), os("d"), os("--format"), os("json")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{v}");
    assert_eq!(files[0]["path"], "d/clip.mp4");
    assert_eq!(codes(&files[0]), ["F001"]);
    let msg = files[0]["diagnostics"][0]["message"].as_str().unwrap();
    assert!(msg.contains("dangling symlink to gone.mp4"), "{msg}");
    let err = stderr(&o);
    assert!(
        err.contains("d/notes.txt: skipped: dangling symlink to nowhere"),
        "{err}"
    );
    assert!(err.contains("d/loop: skipped: symlink loop"), "{err}");
}

#[test]
fn control_characters_in_names_cannot_fake_lines_or_send_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let name = "a\nb.jpg: V999 fake-finding: \x1b[2Jgone.jpg";
    std::fs::copy(
        fixture("rejects/images/camera_6000x4000.jpg"),
        dir.path().join(name),
    )
    .unwrap();
    let o = run(dir.path(), &[os("check"), os("."), os("--no-analyze")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(!out.lines().any(|l| l.starts_with("b.jpg")), "{out}");
    assert!(
        out.contains("a\\nb.jpg: V999 fake-finding: \\x1B[2Jgone.jpg: error[I004]"),
        "{out}"
    );
    // JSON keeps the exact name.
    let o = run(
        dir.path(),
        &[
            os("check"),
            os("."),
            os("--no-analyze"),
            os("--format"),
            os("json"),
        ],
    );
    assert_eq!(json(&o)["files"][0]["path"], format!("./{name}"));
}

#[test]
fn same_file_given_twice_is_judged_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::fs::copy(
        fixture("rejects/images/camera_6000x4000.jpg"),
        d.join("x.jpg"),
    )
    .unwrap();
    let o = run(
        dir.path(),
        &[
            os("check"),
            os("d/x.jpg"),
            os("./d/x.jpg"),
            os("d"),
            os("d/../d/x.jpg"),
            os("--no-analyze"),
            os("--format"),
            os("json"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["files"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["files"][0]["path"], "d/x.jpg");
    assert_eq!(v["summary"]["files"], 1, "{v}");
}

#[test]
fn empty_folder_warns_and_fail_on_empty_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    std::fs::write(dir.path().join("empty/notes.txt"), b"hello").unwrap();
    let o = run(dir.path(), &[os("check"), os("empty"), os("--isolated")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: no image or video found in empty"),
        "{err}"
    );
    assert!(err.contains("1 other file skipped"), "{err}");

    let o = run(
        dir.path(),
        &[
            os("check"),
            os("empty"),
            os("--isolated"),
            os("--fail-on-empty"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    let cfg = dir.path().join("kling-preflight.toml");
    std::fs::write(&cfg, "fail_on_empty = true\n").unwrap();
    let o = run(dir.path(), &[os("check"), os("empty"), os("--no-cache")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("failing (--fail-on-empty)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn skipped_files_are_named_with_verbose() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    std::fs::copy(
        fixture("rejects/images/png_named.jpg"),
        dir.path().join("x.jpg"),
    )
    .unwrap();
    let o = run(dir.path(), &[os("check"), os("."), os("--no-analyze")]);
    assert!(!stderr(&o).contains("notes.txt"), "{}", stderr(&o));
    let o = run(
        dir.path(),
        &[os("check"), os("."), os("--no-analyze"), os("-v")],
    );
    let err = stderr(&o);
    assert!(
        err.contains("skipped ./notes.txt: not an image or video by its content"),
        "{err}"
    );
}

/// `inputs/sub/photo.jpg` and an output folder `out` whose `sub` links back to `inputs/sub`:
/// `out/sub/photo.jpg` would be that very input once the link is followed.
struct Trap {
    inputs: PathBuf,
    victim: PathBuf,
    before: Vec<u8>,
    out: PathBuf,
}

fn symlink_trap(dir: &Path) -> Trap {
    let inputs = dir.join("inputs");
    std::fs::create_dir_all(inputs.join("sub")).unwrap();
    let victim = inputs.join("sub/photo.jpg");
    std::fs::copy(fixture("rejects/images/png_named.jpg"), &victim).unwrap();
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(inputs.join("sub"), out.join("sub")).unwrap();
    Trap {
        before: std::fs::read(&victim).unwrap(),
        inputs,
        victim,
        out,
    }
}

#[test]
fn fix_force_into_out_dir_with_symlink_back_into_inputs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Trap {
        inputs,
        victim,
        before,
        out: _,
    } = symlink_trap(dir.path());
    let o = run(
        dir.path(),
        &[
            os("fix"),
            os("inputs"),
            os("--out-dir"),
            os("out"),
            os("--force"),
            os("--unsafe-fixes"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{} {}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("resolves to") && err.contains("is an input file"),
        "{err}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(inputs.join("sub")).unwrap().collect();
    assert_eq!(names.len(), 1, "something was written into the inputs");
}

#[test]
fn out_dir_inside_the_folder_being_fixed_is_refused_the_first_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::fs::copy(fixture("rejects/images/png_named.jpg"), d.join("x.jpg")).unwrap();
    let o = run(
        dir.path(),
        &[os("fix"), os("d"), os("--out-dir"), os("d/fixed")],
    );
    assert_eq!(o.status.code(), Some(2), "{} {}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("is inside the input folder"),
        "{}",
        stderr(&o)
    );
    assert!(!d.join("fixed").exists());
}

/// The library's `fix` had its own, weaker copy of the destination checks: a subfolder of the
/// output folder linked back into the inputs let `force` overwrite an input. It now shares the
/// command's guard.
#[test]
fn library_fix_with_symlink_back_into_inputs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Trap {
        inputs,
        victim,
        before,
        out,
    } = symlink_trap(dir.path());
    let how = kling_preflight::FixSettings {
        force: true,
        unsafe_fixes: true,
        ..Default::default()
    };
    let mut settings =
        kling_preflight::Settings::new(kling_preflight::load_profile("strict").unwrap());
    settings.analyze = false;
    let r = kling_preflight::fix(&[&inputs], &out, &settings, &how);
    let err = r.expect_err("refused").to_string();
    assert!(
        err.contains("resolves to") && err.contains("is an input file"),
        "{err}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), before);
    // An output folder inside the folder being fixed is refused too.
    let r = kling_preflight::fix(&[&inputs], &inputs.join("fixed"), &settings, &how);
    assert!(
        r.expect_err("refused")
            .to_string()
            .contains("is inside the input folder")
    );
    assert!(!inputs.join("fixed").exists());
}
