//! Killing `fix` in the middle of a long re-encode leaves no output, not even a partial one: outputs
//! are O_TMPFILE inodes until they are complete, fsynced and re-checked (SIGKILL), and Ctrl-C stops
//! the encode between packets and removes the temp file (SIGINT).

mod fix_util;

use std::process::Stdio;
use std::time::{Duration, Instant};

use fix_util::*;

fn long_clip(dir: &std::path::Path) -> std::path::PathBuf {
    // VP9 in WebM forces a full re-encode; 20 s of 640x360 at preset medium takes seconds.
    ffmpeg(
        &dir.join("long.webm"),
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30:duration=20",
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "1M",
        ],
    )
}

fn run_and_signal(signal: i32) {
    let dir = tempfile::tempdir().unwrap();
    let input = long_clip(dir.path());
    let print = fingerprint(&input);
    let out = dir.path().join("out");
    let mut child = bin()
        .args([
            "fix",
            input.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ])
        .args(["--unsafe-fixes", "--no-analyze", "--x264-preset", "medium"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    // SAFETY: signalling our own child process by its pid.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the fix finished before the signal; make the clip longer"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took too long to stop"
    );
    // No output, partial or temp, anywhere in the out-dir (the out-dir itself may exist).
    assert!(files_under(&out).is_empty(), "{:?}", files_under(&out));
    assert_eq!(fingerprint(&input), print);
}

#[test]
fn sigkill_mid_reencode_leaves_nothing() {
    run_and_signal(libc::SIGKILL);
}

#[test]
fn ctrl_c_mid_reencode_stops_and_cleans_up() {
    run_and_signal(libc::SIGINT);
}
