//! Accuracy tests of `analyze_video` on clips generated at test time with the ffmpeg CLI (lavfi
//! sources), where the true cut frames, dissolves, flashes, pans, freezes and fades are known exactly.
//! Skipped with a message when the `ffmpeg` binary is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use kling_preflight::analyze::{
    AnalyzeError, AnalyzeOptions, analyze_video, analyze_video_detailed,
};
use kling_preflight::model::VideoAnalysis;

const S: &str = "s=320x240:r=25";

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Encode the filter graph `fc` (its output pad is `[v]`) into `dir/name` with libx264.
fn make_clip(dir: &Path, name: &str, fc: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-filter_complex", fc, "-map", "[v]"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "50",
        ]);
    if extra.is_empty() {
        cmd.args(["-pix_fmt", "yuv420p"]);
    } else {
        cmd.args(extra);
    }
    let st = cmd.arg(&out).status().expect("run ffmpeg");
    assert!(st.success(), "ffmpeg failed for {name}: {fc}");
    out
}

fn analyze(p: &Path) -> VideoAnalysis {
    let a = analyze_video(p, &AnalyzeOptions::default()).expect("analysis");
    eprintln!(
        "{}: cuts {:?} frozen {:?} motion {:?} longest {:.2} cam {:?}",
        p.file_name().unwrap().to_string_lossy(),
        a.cuts
            .iter()
            .map(|c| (c.frame, c.time_s, c.kind.as_str(), c.score))
            .collect::<Vec<_>>(),
        a.frozen
            .iter()
            .map(|s| (s.start_frame, s.end_frame))
            .collect::<Vec<_>>(),
        a.motion_segments
            .iter()
            .map(|s| (s.start_frame, s.end_frame))
            .collect::<Vec<_>>(),
        a.longest_motion_s,
        a.camera_motion
            .iter()
            .map(|s| (s.start_frame, s.end_frame))
            .collect::<Vec<_>>(),
    );
    a
}

macro_rules! need_ffmpeg {
    () => {
        if !have_ffmpeg() {
            eprintln!("ffmpeg CLI not found: skipping");
            return;
        }
    };
}

fn src(kind: &str, secs: f64, label: &str) -> String {
    match kind {
        "testsrc2" => format!("testsrc2={S}:d={secs}[{label}]"),
        "mandelbrot" | "life" | "cellauto" => {
            format!("{kind}={S},trim=duration={secs},setpts=PTS-STARTPTS,format=yuv420p[{label}]")
        }
        "rgbtestsrc" => format!("rgbtestsrc={S}:d={secs},format=yuv420p[{label}]"),
        _ => unreachable!(),
    }
}

#[test]
fn hard_cuts_exact_frames() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    // 2 s + 1.6 s + 2 s + 1.4 s at 25 fps: cuts at frames 50, 90, 140.
    let fc = format!(
        "{};{};{};{};[a][b][c][d]concat=n=4:v=1:a=0[v]",
        src("testsrc2", 2.0, "a"),
        src("mandelbrot", 1.6, "b"),
        src("life", 2.0, "c"),
        src("cellauto", 1.4, "d")
    );
    let p = make_clip(dir.path(), "cuts.mp4", &fc, &[]);
    let a = analyze(&p);
    let frames: Vec<u64> = a.cuts.iter().map(|c| c.frame).collect();
    assert_eq!(frames.len(), 3, "cuts {frames:?}");
    for (got, want) in frames.iter().zip([50u64, 90, 140]) {
        assert!(got.abs_diff(want) <= 1, "cut {got} vs {want}");
    }
    for (c, want) in a.cuts.iter().zip([2.0, 3.6, 5.6]) {
        assert!(
            (c.time_s - want).abs() < 0.05,
            "time {} vs {want}",
            c.time_s
        );
        assert_eq!(c.kind, "hard");
    }
    assert_eq!(a.shots.len(), 4);
    assert_eq!(a.frames_decoded, 175);
    assert!(
        (a.longest_motion_s - 2.0).abs() <= 0.2,
        "{}",
        a.longest_motion_s
    );
}

#[test]
fn cut_out_of_noise_into_a_still_shot() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    // cellauto changes ~42 % of its picture every frame, about as much as the cut into the colour
    // bars does, so the frame-difference scores barely move at the cut (min(mafd, Δmafd) ≈ 8);
    // the luma histogram jumps. Then a cut from the still bars into noise again.
    let fc = format!(
        "{};smptehdbars={S}:d=2,format=yuv420p[b];{};[a][b][c]concat=n=3:v=1:a=0[v]",
        src("cellauto", 2.0, "a"),
        src("cellauto", 1.6, "c")
    );
    let p = make_clip(dir.path(), "noise_still.mp4", &fc, &[]);
    let a = analyze(&p);
    let frames: Vec<u64> = a.cuts.iter().map(|c| c.frame).collect();
    assert_eq!(frames, [50, 100], "{:?}", a.cuts);
}

#[test]
fn dissolve_is_one_gradual_cut_inside_it() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    for (name, tr) in [("dissolve.mp4", "dissolve"), ("xfade.mp4", "fade")] {
        // testsrc2 3 s, then a 1 s transition (frames 50..75) into mandelbrot.
        let fc = format!(
            "{};{};[a][b]xfade=transition={tr}:duration=1:offset=2[v]",
            src("testsrc2", 3.0, "a"),
            src("mandelbrot", 3.0, "b")
        );
        let p = make_clip(dir.path(), name, &fc, &[]);
        let a = analyze(&p);
        assert_eq!(a.cuts.len(), 1, "{name}: {:?}", a.cuts);
        let c = &a.cuts[0];
        assert!(
            (49..=76).contains(&c.frame),
            "{name}: cut at {} not inside the transition",
            c.frame
        );
    }
}

#[test]
fn fade_through_black_between_different_shots_is_a_cut() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let fc = format!(
        "{};{};[a][b]xfade=transition=fadeblack:duration=1:offset=2[v]",
        src("testsrc2", 3.0, "a"),
        src("mandelbrot", 3.0, "b")
    );
    let p = make_clip(dir.path(), "fadeblack.mp4", &fc, &[]);
    let a = analyze(&p);
    assert_eq!(a.cuts.len(), 1, "{:?}", a.cuts);
    assert!((48..=78).contains(&a.cuts[0].frame), "{:?}", a.cuts);
}

#[test]
fn fade_to_black_within_one_shot_is_not_a_cut() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    // Same scene fades out, stays black 0.4 s, fades back in; and a final fade to black.
    let fc = format!(
        "testsrc2={S}:d=2,fade=t=out:st=1.4:d=0.6[a];color=black:{S}:d=0.4,format=yuv420p[b];\
         testsrc2={S}:d=3,fade=t=in:st=0:d=0.6,fade=t=out:st=2:d=1[c];[a][b][c]concat=n=3:v=1:a=0[v]"
    );
    let p = make_clip(dir.path(), "fadeout.mp4", &fc, &[]);
    let a = analyze(&p);
    assert!(a.cuts.is_empty(), "{:?}", a.cuts);
}

#[test]
fn one_frame_flash_is_not_a_cut() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let fc = format!(
        "testsrc2={S}:d=4,drawbox=enable='eq(n\\,50)':color=white:t=fill,\
         drawbox=enable='between(n\\,70\\,71)':color=black:t=fill[v]"
    );
    let p = make_clip(dir.path(), "flash.mp4", &fc, &[]);
    let a = analyze(&p);
    assert!(a.cuts.is_empty(), "{:?}", a.cuts);
}

#[test]
fn fast_pan_is_not_a_cut_and_is_camera_motion() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    // A 2000-wide scene panned at 12 px/frame for the whole 4 s (100 frames; x reaches 1188 on the
    // last frame, so the 1500 clamp never applies).
    let fc = "testsrc2=s=2000x240:r=25:d=4,crop=320:240:x='min(n*12\\,1500)':y=0[v]";
    let p = make_clip(dir.path(), "pan.mp4", fc, &[]);
    let a = analyze(&p);
    assert!(a.cuts.is_empty(), "{:?}", a.cuts);
    // One span over (nearly) the whole pan. The default pass measures the shift over two-frame
    // steps, whose match is less clean where testsrc2's own moving parts add to the pan: the last
    // steps (from frame 95 on) fall just short of the confidence a full decode reaches.
    assert!(
        a.camera_motion
            .iter()
            .any(|s| s.start_frame <= 10 && s.end_frame >= 95),
        "camera motion {:?}",
        a.camera_motion
    );
    let full = analyze_video(&p, &full_decode()).expect("full analysis");
    assert!(
        full.camera_motion
            .iter()
            .any(|s| s.start_frame <= 10 && s.end_frame >= 98),
        "camera motion (full decode) {:?}",
        full.camera_motion
    );
}

#[test]
fn frozen_stretch_and_longest_motion() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    // 1.5 s moving, frozen 2.5 s (frames 37..100), hard cut at 100 into 3 s of motion.
    let fc = format!(
        "testsrc2={S}:d=1.5,tpad=stop_mode=clone:stop_duration=2.5[a];{};[a][b]concat=n=2:v=1:a=0[v]",
        src("mandelbrot", 3.0, "b")
    );
    let p = make_clip(dir.path(), "freeze.mp4", &fc, &[]);
    let a = analyze(&p);
    assert_eq!(a.cuts.len(), 1, "{:?}", a.cuts);
    assert!(a.cuts[0].frame.abs_diff(100) <= 1);
    assert_eq!(a.frozen.len(), 1, "{:?}", a.frozen);
    let f = &a.frozen[0];
    assert!(
        f.start_frame.abs_diff(37) <= 2 && f.end_frame.abs_diff(100) <= 1,
        "{f:?}"
    );
    assert!(
        (a.longest_motion_s - 3.0).abs() <= 0.2,
        "{}",
        a.longest_motion_s
    );
}

#[test]
fn ten_bit_444_goes_through_conversion() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let fc = format!(
        "{};{};[a][b]concat=n=2:v=1:a=0[v]",
        src("testsrc2", 2.0, "a"),
        src("life", 2.0, "b")
    );
    let p = make_clip(dir.path(), "hi10.mp4", &fc, &["-pix_fmt", "yuv444p10le"]);
    let a = analyze(&p);
    assert_eq!(a.cuts.len(), 1, "{:?}", a.cuts);
    assert!(a.cuts[0].frame.abs_diff(50) <= 1);
}

#[test]
fn bad_inputs_error_or_partial_never_panic() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert!(analyze_video(&empty, &AnalyzeOptions::default()).is_err());
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, vec![0x5a; 10_000]).unwrap();
    assert!(analyze_video(&junk, &AnalyzeOptions::default()).is_err());

    // A truncated transport stream decodes what it can.
    let fc = format!("{}[v]", src("testsrc2", 3.0, "x").trim_end_matches("[x]"));
    let out = dir.path().join("full.ts");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-filter_complex", &fc, "-map", "[v]"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&out).unwrap();
    let cut = dir.path().join("cut.ts");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    match analyze_video(&cut, &AnalyzeOptions::default()) {
        Ok(a) => assert!(a.frames_decoded > 0 && a.frames_decoded < 75),
        Err(e) => eprintln!("truncated: {e}"),
    }

    // Audio only: no video stream.
    let audio = dir.path().join("a.m4a");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=1"])
        .arg(&audio)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(matches!(
        analyze_video(&audio, &AnalyzeOptions::default()),
        Err(AnalyzeError::NoVideoStream)
    ));
}

/// Sensor-style grain on a still picture is frozen footage, not motion; the same grain on moving
/// content, or on a still picture with one small moving part (testsrc2's ball and counter), is not.
#[test]
fn noisy_still_is_frozen_but_noisy_motion_is_not() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let s = "s=640x360:r=25";
    let grain = "noise=alls=15:allf=t+u,format=yuv420p";
    // 1.5 s moving, then 4 s of the last frame held, grain over everything.
    let fc = format!("testsrc2={s}:d=1.5,tpad=stop_mode=clone:stop_duration=4,{grain}[v]");
    let p = make_clip(dir.path(), "noisy_freeze.mp4", &fc, &[]);
    let a = analyze(&p);
    assert_eq!(a.frozen.len(), 1, "{:?}", a.frozen);
    let f = &a.frozen[0];
    assert!(
        f.start_frame.abs_diff(37) <= 3 && f.end_frame.abs_diff(137) <= 2,
        "{f:?}"
    );
    assert!(a.longest_motion_s < 2.0, "{}", a.longest_motion_s);

    let fc = format!("mandelbrot={s},trim=duration=4,setpts=PTS-STARTPTS,{grain}[v]");
    let a = analyze(&make_clip(dir.path(), "noisy_motion.mp4", &fc, &[]));
    assert!(a.frozen.is_empty(), "{:?}", a.frozen);
    assert!(a.longest_motion_s > 3.8, "{}", a.longest_motion_s);

    let fc = format!("testsrc2={s}:d=4,{grain}[v]");
    let a = analyze(&make_clip(dir.path(), "noisy_small_motion.mp4", &fc, &[]));
    assert!(a.frozen.is_empty(), "{:?}", a.frozen);
}

/// x264 without scene-cut keyframes and with 3 B-frames (a B-pyramid): the first frame of a new
/// shot is often a non-reference B-frame, which the default pass does not decode.
const NO_SCENECUT: [&str; 4] = [
    "-x264-params",
    "scenecut=0:bframes=3:b-pyramid=normal",
    "-pix_fmt",
    "yuv420p",
];

fn full_decode() -> AnalyzeOptions {
    AnalyzeOptions {
        skip_nonref: false,
        ..AnalyzeOptions::default()
    }
}

/// The fast pass deciding every unsure cut by re-decoding its stretch, however many (short clips
/// would otherwise fall back to a full decode, and the re-decodes would go untested).
fn refine_always() -> AnalyzeOptions {
    AnalyzeOptions {
        refine_max_share: 1e9,
        ..AnalyzeOptions::default()
    }
}

fn cut_list(a: &VideoAnalysis) -> Vec<(u64, String)> {
    a.cuts.iter().map(|c| (c.frame, c.kind.clone())).collect()
}

/// Cuts on skipped frames every 23 frames: deciding each again at the full rate (with the return
/// test's 2 s of history) would decode the clip about three times over, so the file is decoded in
/// full instead, with the same cuts.
#[test]
fn dense_cuts_on_skipped_frames_fall_back_to_one_full_decode() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let kinds = ["testsrc2", "mandelbrot", "life", "rgbtestsrc", "mandelbrot"];
    let shots: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| src(k, 0.92, &format!("s{i}")))
        .collect();
    let fc = format!(
        "{};[s0][s1][s2][s3][s4]concat=n=5:v=1:a=0[v]",
        shots.join(";")
    );
    let p = make_clip(dir.path(), "dense.mp4", &fc, &NO_SCENECUT);
    let d = analyze_video_detailed(&p, &AnalyzeOptions::default()).expect("analysis");
    assert_eq!(d.frames_skipped, 0, "re-decodes instead of one full decode");
    let full = analyze_video(&p, &full_decode()).expect("full analysis");
    assert_eq!(cut_list(&d.analysis), cut_list(&full));
    assert_eq!(d.analysis.cuts.len(), 4, "{:?}", d.analysis.cuts);
}

#[test]
fn cut_on_a_skipped_frame_is_placed_exactly() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let mut on_skipped = 0;
    // The cut at each of six consecutive frames: wherever it falls in the B-frame pattern, the
    // fast pass reports the frame a full decode reports, the true one.
    for n in 58..=63u64 {
        let fc = format!(
            "testsrc2={S},trim=end_frame={n}[a];{};[a][b]concat=n=2:v=1:a=0[v]",
            src("mandelbrot", 2.0, "b")
        );
        let p = make_clip(dir.path(), &format!("cut{n}.mp4"), &fc, &NO_SCENECUT);
        let d = analyze_video_detailed(&p, &AnalyzeOptions::default()).expect("analysis");
        assert!(d.frames_skipped > 0, "nothing skipped in cut{n}");
        assert_eq!(d.analysis.frames_decoded, n + 50);
        let frames: Vec<u64> = d.analysis.cuts.iter().map(|c| c.frame).collect();
        assert_eq!(frames, [n], "cut{n}");
        assert!((d.analysis.cuts[0].time_s - n as f64 / 25.0).abs() < 1e-3);
        // The shots meet at the cut: the fix trims on these frame numbers.
        let shots: Vec<(u64, u64)> = d
            .analysis
            .shots
            .iter()
            .map(|s| (s.start_frame, s.end_frame))
            .collect();
        assert_eq!(shots, [(0, n), (n, n + 50)]);
        if !d.frames.iter().any(|r| r.frame == n) {
            on_skipped += 1;
        }
        let full = analyze_video(&p, &full_decode()).expect("full analysis");
        assert_eq!(cut_list(&d.analysis), cut_list(&full), "cut{n}");
    }
    // Without the full-rate look at the skipped stretch these would land on the next decoded frame.
    assert!(
        on_skipped >= 2,
        "only {on_skipped} cuts fell on skipped frames"
    );

    // Several cuts inside one keyframe interval: the decoder reads on from one stretch to the
    // next instead of seeking back to the keyframe each time.
    let fc = format!(
        "testsrc2={S},trim=end_frame=29[a];{};{};{};[a][b][c][d]concat=n=4:v=1:a=0[v]",
        "mandelbrot=s=320x240:r=25,trim=end_frame=27,setpts=PTS-STARTPTS,format=yuv420p[b]",
        "life=s=320x240:r=25,trim=end_frame=26,setpts=PTS-STARTPTS,format=yuv420p[c]",
        "testsrc2=s=320x240:r=25:d=2,hue=h=90,vflip[d]"
    );
    let mut args = NO_SCENECUT.to_vec();
    args.extend(["-g", "250"]);
    let p = make_clip(dir.path(), "gop.mp4", &fc, &args);
    let d = analyze_video_detailed(&p, &AnalyzeOptions::default()).expect("analysis");
    let full = analyze_video(&p, &full_decode()).expect("full analysis");
    let frames: Vec<u64> = d.analysis.cuts.iter().map(|c| c.frame).collect();
    assert_eq!(frames, [29, 56, 82], "fast {:?}", d.analysis.cuts);
    assert_eq!(cut_list(&d.analysis), cut_list(&full));
}

#[test]
fn skipping_frames_keeps_flash_pan_dissolve_and_cut_verdicts() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let clips = [
        // Flashes on every frame position of the B-frame pattern.
        (
            "flashes.mp4",
            format!(
                "testsrc2={S}:d=5,drawbox=enable='eq(n\\,30)+eq(n\\,41)+eq(n\\,52)+eq(n\\,63)':\
                 color=white:t=fill[v]"
            ),
        ),
        // A fast pan, 16 px per frame.
        (
            "pan16.mp4",
            "testsrc2=s=2000x240:r=25:d=4,crop=320:240:x='n*16':y=0[v]".to_string(),
        ),
        // A shot that starts like one 2.8 s earlier (the same panning pattern restarted in other
        // colours): still a cut. The "back to an earlier picture" test looks back about 2 s; with
        // frames skipped its ring of past frames reached further and took this for a glitch.
        (
            "restart.mp4",
            "mandelbrot=s=320x240:r=25,trim=end_frame=40,format=yuv420p[a];\
             testsrc2=s=1000x240:r=25,crop=320:240:x='n*8':y=0,trim=end_frame=70[b];\
             testsrc2=s=1000x240:r=25,crop=320:240:x='n*8':y=0,trim=end_frame=50,hue=h=90[c];\
             [a][b][c]concat=n=3:v=1:a=0[v]"
                .to_string(),
        ),
        // A dissolve and a cut.
        (
            "dissolve_cut.mp4",
            format!(
                "{};{};[a][b]xfade=transition=dissolve:duration=1:offset=2[x];{};[x][c]concat=n=2:v=1:a=0[v]",
                src("testsrc2", 3.0, "a"),
                src("mandelbrot", 3.0, "b"),
                src("life", 2.0, "c")
            ),
        ),
    ];
    for (name, fc) in &clips {
        let p = make_clip(dir.path(), name, fc, &NO_SCENECUT);
        let d = analyze_video_detailed(&p, &refine_always()).expect("analysis");
        assert!(d.frames_skipped > 0, "nothing skipped in {name}");
        let full = analyze_video(&p, &full_decode()).expect("full analysis");
        let (fast, full) = (cut_list(&d.analysis), cut_list(&full));
        match *name {
            "restart.mp4" => {
                assert_eq!(fast, full, "{name}");
                let frames: Vec<u64> = fast.iter().map(|c| c.0).collect();
                assert_eq!(frames, [40, 110], "{name}");
            }
            "dissolve_cut.mp4" => {
                assert_eq!(fast.len(), 2, "{name}: {fast:?}");
                assert_eq!(fast[0].1, "gradual");
                assert!(fast[0].0.abs_diff(62) <= 8, "{name}: {fast:?}");
                assert_eq!(fast[1], (125, "hard".to_string()), "{name}");
                assert_eq!(full.len(), 2, "{name} full: {full:?}");
            }
            _ => {
                assert!(fast.is_empty(), "{name}: {fast:?}");
                assert!(full.is_empty(), "{name} full: {full:?}");
            }
        }
    }
}

#[test]
fn streams_that_packets_cannot_number_are_decoded_in_full() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let fc = format!(
        "testsrc2={S},trim=end_frame=61[a];{};[a][b]concat=n=2:v=1:a=0[v]",
        src("mandelbrot", 2.0, "b")
    );
    let mp4 = make_clip(dir.path(), "cut.mp4", &fc, &NO_SCENECUT);
    // A raw H.264 elementary stream: packets carry no timestamps, so frames the decoder skipped
    // could not be numbered; the analysis decodes every frame instead.
    let raw = dir.path().join("cut.h264");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&mp4)
        .args(["-c", "copy", "-f", "h264"])
        .arg(&raw)
        .status()
        .expect("run ffmpeg");
    assert!(st.success());
    // Interlaced video may carry one field per packet: numbering by packet is not safe either.
    let mut args = NO_SCENECUT.to_vec();
    args.extend(["-flags", "+ilme+ildct"]);
    let interlaced = make_clip(dir.path(), "interlaced.mp4", &fc, &args);
    for p in [&raw, &interlaced] {
        let d = analyze_video_detailed(p, &AnalyzeOptions::default()).expect("analysis");
        assert_eq!(d.frames_skipped, 0, "{}", p.display());
        assert_eq!(d.analysis.frames_decoded, 111);
        let frames: Vec<u64> = d.analysis.cuts.iter().map(|c| c.frame).collect();
        assert_eq!(frames, [61], "{}", p.display());
    }
    // Two MPEG-TS recordings joined byte for byte, the first with its clock 10 s ahead: timestamps
    // go back at the join, so they cannot number the frames either.
    let ts = |name: &str, source: String, offset: &str| {
        let args = [
            "-x264-params",
            "bframes=3",
            "-pix_fmt",
            "yuv420p",
            "-output_ts_offset",
            offset,
        ];
        std::fs::read(make_clip(dir.path(), name, &source, &args)).unwrap()
    };
    let mut joined = ts("a.ts", format!("testsrc2={S}:d=2[v]"), "10");
    joined.extend(ts("b.ts", src("mandelbrot", 2.0, "v"), "0"));
    let joined_path = dir.path().join("joined.ts");
    std::fs::write(&joined_path, joined).unwrap();
    let d = analyze_video_detailed(&joined_path, &AnalyzeOptions::default()).expect("analysis");
    assert_eq!(d.frames_skipped, 0);
    let frames: Vec<u64> = d.analysis.cuts.iter().map(|c| c.frame).collect();
    assert_eq!(frames, [50], "joined.ts");
    // Times follow the frames (the second recording's clock starts 10 s earlier).
    assert!(
        (d.analysis.cuts[0].time_s - 2.0).abs() < 0.05,
        "{:?}",
        d.analysis.cuts
    );
    assert!(d.frames.windows(2).all(|w| w[1].t > w[0].t));

    // The same stream in MP4 is numbered from its packets, skipping frames.
    let d = analyze_video_detailed(&mp4, &AnalyzeOptions::default()).expect("analysis");
    assert!(d.frames_skipped > 0);
    assert_eq!(d.analysis.cuts[0].frame, 61);
}

/// Stop motion: a zooming Mandelbrot shown 1.5 times a second (each picture held 20 frames at
/// 30 fps, then a jump), then a hard cut to a mirrored one that moves every frame.
fn stop_motion(hold_fps: &str, cut: bool) -> String {
    let a = format!(
        "mandelbrot=s=320x240:r=30,fps={hold_fps},fps=30,trim=end_frame=62,setpts=PTS-STARTPTS,\
         format=yuv420p"
    );
    if cut {
        format!(
            "{a}[a];mandelbrot=s=320x240:r=30,hflip,trim=end_frame=60,setpts=PTS-STARTPTS,\
             format=yuv420p[b];[a][b]concat=n=2:v=1:a=0[v]"
        )
    } else {
        format!("{a}[v]")
    }
}

#[test]
fn cut_after_stop_motion_is_kept() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    // The cut changes the picture 13.5 % and the last jump before it 7.8 %: "change minus the
    // previous real change" was 5.7, under every threshold.
    let p = make_clip(
        dir.path(),
        "stop_cut.mp4",
        &stop_motion("1.5", true),
        &NO_SCENECUT,
    );
    for opts in [AnalyzeOptions::default(), full_decode()] {
        let a = analyze_video(&p, &opts).expect("analysis");
        assert_eq!(cut_list(&a), [(62, "hard".to_string())], "{opts:?}");
    }
    // The stop motion alone has no cut: its jumps are all alike.
    for fps in ["1.5", "3"] {
        let name = format!("stop_{fps}.mp4");
        let p = make_clip(dir.path(), &name, &stop_motion(fps, false), &NO_SCENECUT);
        for opts in [AnalyzeOptions::default(), full_decode()] {
            let a = analyze_video(&p, &opts).expect("analysis");
            assert!(a.cuts.is_empty(), "{name}: {:?}", a.cuts);
        }
    }
}

/// Every picture held 2 to 4 frames; each jump looks like one after a hold, as in stop motion.
/// No false cut at any jump, the cut into the second pan (itself held) found on its frame, and the
/// same verdict both ways. The cut used to be missed in both modes: the second pan (the test
/// pattern flipped, other colours) was taken for a return to a picture 2 s back, its luma alone
/// being close enough.
#[test]
fn cut_between_held_pans_is_kept_without_false_cuts() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    for r in [8, 12, 15] {
        let pan = |x: &str, rest: &str| {
            format!(
                "testsrc2=s=1280x240:r=30,crop=320:240:x='{x}':y=0{rest},fps={r},fps=30,\
                 trim=end_frame=90,setpts=PTS-STARTPTS,format=yuv420p"
            )
        };
        let fc = format!(
            "{}[a];{}[b];[a][b]concat=n=2:v=1:a=0[v]",
            pan("n*4", ""),
            pan("900-n*4", ",vflip,hue=h=120")
        );
        let name = format!("low{r}.mp4");
        let p = make_clip(dir.path(), &name, &fc, &NO_SCENECUT);
        let fast = cut_list(&analyze_video(&p, &AnalyzeOptions::default()).expect("analysis"));
        let full = cut_list(&analyze_video(&p, &full_decode()).expect("full analysis"));
        assert_eq!(fast, full, "{name}");
        assert_eq!(fast, [(90, "hard".to_string())], "{name}");
    }
}

/// A pan that freezes for 37 frames (1.2 s) and resumes on the picture it showed 13 frames before
/// the freeze, i.e. 50 frames before the jump (`back`: the resumed shot differs, `negate`).
fn freeze_and_resume(resumed: &str) -> String {
    format!(
        "testsrc2=s=1280x240:r=30,crop=320:240:x='n*6':y=0,format=yuv420p,split=3[x][y][z];\
         [x]trim=end_frame=60,setpts=PTS-STARTPTS[a];\
         [y]trim=start_frame=59:end_frame=60,setpts=PTS-STARTPTS,loop=loop=36:size=1:start=0,\
         setpts=N/30/TB[b];\
         [z]trim=start_frame=47:end_frame=120,setpts=PTS-STARTPTS{resumed}[c];\
         [a][b][c]concat=n=3:v=1:a=0[v]"
    )
}

/// The arm-wrestling clip's false cut (9.571 s): a freeze that ends on a picture seen about 50
/// frames earlier is no new shot for a full decode, whose return test looks 2 s back; the fast pass
/// decided that frame again from only a second of context and reported a cut.
#[test]
fn freeze_back_to_earlier_picture_is_not_a_cut_in_fast_pass() {
    need_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    let p = make_clip(
        dir.path(),
        "resume.mp4",
        &freeze_and_resume(""),
        &NO_SCENECUT,
    );
    let d = analyze_video_detailed(&p, &refine_always()).expect("analysis");
    assert!(d.frames_skipped > 0, "nothing skipped");
    let full = analyze_video(&p, &full_decode()).expect("full analysis");
    assert_eq!(cut_list(&full), [], "full decode");
    assert_eq!(cut_list(&d.analysis), [], "fast pass");
    // Resuming on a different picture is a cut, both ways, on its frame.
    let p = make_clip(
        dir.path(),
        "resume_other.mp4",
        &freeze_and_resume(",negate"),
        &NO_SCENECUT,
    );
    for opts in [refine_always(), AnalyzeOptions::default(), full_decode()] {
        let a = analyze_video(&p, &opts).expect("analysis");
        assert_eq!(cut_list(&a), [(97, "hard".to_string())], "{opts:?}");
    }
}
