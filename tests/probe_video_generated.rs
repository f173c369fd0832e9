//! The video prober on clips generated at test time with the `ffmpeg` CLI (lavfi testsrc2): brands
//! (MOV, M4V, 3GP), Matroska DocType (WEBM vs MKV), codecs and pixel formats (VP9, 10-bit HEVC,
//! 4:4:4 H.264), rotation, non-square pixels, VFR vs CFR, broken files and parallel calls.
//! Skips (with a note) when `ffmpeg` is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use kling_preflight::model::{Container, VideoFacts};
use kling_preflight::probe::{ProbeError, probe_video};

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run `ffmpeg -f lavfi -i testsrc2=... <args> out` in `dir`; `None` when the encoder is missing.
fn make(dir: &Path, name: &str, src: &str, args: &[&str]) -> Option<PathBuf> {
    let out = dir.join(name);
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", src])
        .args(args)
        .arg(&out)
        .status()
        .ok()?;
    if !st.success() {
        eprintln!("ffmpeg could not make {name}; skipping it");
        return None;
    }
    Some(out)
}

/// ffprobe's `rotation` (counter-clockwise degrees) of the first video stream, if ffprobe is there.
fn ffprobe_rotation(p: &Path) -> Option<f64> {
    let stream = ffprobe_stream(p)?;
    let sd = stream["side_data_list"].as_array()?;
    sd.iter().find_map(|e| e["rotation"].as_f64())
}

/// ffprobe's JSON for the first video stream.
fn ffprobe_stream(p: &Path) -> Option<serde_json::Value> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(p)
        .output()
        .ok()?;
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(j["streams"][0].clone())
}

const SRC: &str = "testsrc2=s=160x120:r=30:d=1";
const X264: &[&str] = &[
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
];

fn probe(p: &Path) -> VideoFacts {
    let bytes = std::fs::metadata(p).unwrap().len();
    probe_video(p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn args<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    a.iter().chain(b).copied().collect()
}

#[test]
fn generated_clips() {
    if !have_ffmpeg() {
        eprintln!("ffmpeg CLI not installed: skipping generated-clip tests");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    // Plain MP4: CFR, square pixels, no rotation, 30 frames, 1 s.
    if let Some(p) = make(d, "plain.mp4", SRC, X264) {
        let f = probe(&p);
        assert_eq!(f.container, Container::Mp4);
        assert_eq!(f.major_brand.as_deref(), Some("isom"));
        assert_eq!(f.duration_source.as_deref(), Some("container"));
        assert!(
            (f.duration_s.unwrap() - 1.0).abs() < 0.05,
            "{:?}",
            f.duration_s
        );
        let v = f.video.unwrap();
        assert_eq!((v.codec.as_str(), v.width, v.height), ("h264", 160, 120));
        assert_eq!(v.pix_fmt.as_deref(), Some("yuv420p"));
        assert_eq!((v.bit_depth, v.chroma.as_deref()), (Some(8), Some("4:2:0")));
        assert_eq!((v.sar_num, v.sar_den), (1, 1));
        assert_eq!(v.rotation_deg, 0.0);
        assert_eq!(v.frames, Some(30));
        assert!((v.fps_avg.unwrap() - 30.0).abs() < 0.01);
        assert!(!v.vfr);
        assert!(f.audio.is_none());
    }

    // Rotation. FFmpeg 5.1's CLI writes the old `rotate` tag into a display matrix only when stream
    // copying, and with libavutil's counter-clockwise sign (ffprobe then prints `rotation=90` for
    // `rotate=90`, and ffmpeg's own autorotate turns the picture counter-clockwise): so the clockwise
    // rotation we report is 360 - tag. We check against ffprobe's number: clockwise = -rotation.
    if let Some(plain) = make(d, "for_rot.mp4", SRC, X264) {
        for (deg, want) in [("90", 270.0), ("270", 90.0), ("180", 180.0)] {
            let out = d.join(format!("rot{deg}.mp4"));
            let tag = format!("rotate={deg}");
            let ok = Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-y", "-i"])
                .arg(&plain)
                .args(["-c", "copy", "-metadata:s:v:0", &tag])
                .arg(&out)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                continue;
            }
            let f = probe(&out);
            let v = f.video.as_ref().unwrap();
            assert_eq!(v.rotation_deg, want, "rotate={deg}");
            if let Some(ccw) = ffprobe_rotation(&out) {
                assert_eq!((-ccw).rem_euclid(360.0), want, "ffprobe rotation={ccw}");
            }
            if want != 180.0 {
                assert_eq!(f.display_size(), Some((120, 160)), "rotate={deg}");
            }
        }
    }

    // MOV (brand "qt  "), M4V (brand "M4V "), 3GP.
    if let Some(p) = make(d, "clip.mov", SRC, &args(X264, &["-f", "mov"])) {
        let f = probe(&p);
        assert_eq!(f.container, Container::Mov);
        assert_eq!(f.major_brand.as_deref(), Some("qt  "));
    }
    if let Some(p) = make(
        d,
        "clip.m4v",
        SRC,
        &args(X264, &["-f", "mp4", "-brand", "M4V "]),
    ) {
        assert_eq!(probe(&p).container, Container::M4v);
    }
    if let Some(p) = make(d, "clip.3gp", SRC, &args(X264, &["-f", "3gp"])) {
        let f = probe(&p);
        assert_eq!(f.container, Container::ThreeGp, "{:?}", f.major_brand);
    }

    // VP9 in WEBM and in MKV: the EBML DocType decides, not the codecs.
    let vp9 = &[
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "200k",
    ];
    if let Some(p) = make(d, "clip.webm", SRC, vp9) {
        let f = probe(&p);
        assert_eq!(f.container, Container::Webm);
        assert_eq!(f.format_name, "matroska,webm");
        let v = f.video.unwrap();
        assert_eq!(v.codec, "vp9");
        assert!(!v.vfr);
        assert!((f.duration_s.unwrap() - 1.0).abs() < 0.05);
    }
    if let Some(p) = make(d, "vp9.mkv", SRC, vp9) {
        assert_eq!(probe(&p).container, Container::Mkv);
    }

    // 10-bit HEVC: profile Main 10, yuv420p10le, bit depth 10.
    let x265 = &[
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p10le",
        "-x265-params",
        "log-level=none",
    ];
    if let Some(p) = make(d, "hevc10.mp4", SRC, x265) {
        let v = probe(&p).video.unwrap();
        assert_eq!(v.codec, "hevc");
        assert_eq!(v.profile.as_deref(), Some("Main 10"));
        assert_eq!(v.pix_fmt.as_deref(), Some("yuv420p10le"));
        assert_eq!(v.bit_depth, Some(10));
        assert_eq!(v.chroma.as_deref(), Some("4:2:0"));
    }

    // 4:4:4 H.264.
    let x444 = &[
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv444p",
    ];
    if let Some(p) = make(d, "h444.mp4", SRC, x444) {
        let v = probe(&p).video.unwrap();
        assert_eq!(v.profile.as_deref(), Some("High 4:4:4 Predictive"));
        assert_eq!(v.chroma.as_deref(), Some("4:4:4"));
    }

    // H.264 pixel formats come from the SPS (no frame decoding): they must match ffprobe's, which
    // decodes. Full range (yuvj*), 4:2:2, 10-bit, and a VUI-only sample aspect ratio.
    for (pf, extra) in [
        ("yuvj420p", ""),
        ("yuv422p", ""),
        ("yuv420p10le", ""),
        ("yuv444p10le", ""),
        ("yuv420p", "setsar=12/11"),
    ] {
        let mut a = vec!["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pf];
        if !extra.is_empty() {
            a.extend(["-vf", extra]);
        }
        for ext in ["mp4", "mkv"] {
            let name = format!("h264_{pf}_{}.{ext}", extra.replace(['=', '/'], "_"));
            let Some(p) = make(d, &name, SRC, &a) else {
                continue;
            };
            let v = probe(&p).video.unwrap();
            if let Some(j) = ffprobe_stream(&p) {
                assert_eq!(v.pix_fmt.as_deref(), j["pix_fmt"].as_str(), "{name}");
                assert_eq!(v.profile.as_deref(), j["profile"].as_str(), "{name}");
                let sar = format!("{}:{}", v.sar_num, v.sar_den);
                let want = j["sample_aspect_ratio"].as_str().unwrap_or("1:1");
                assert_eq!(sar, want, "{name}");
            }
        }
    }

    // Non-square pixels.
    if let Some(p) = make(d, "sar.mp4", SRC, &args(X264, &["-vf", "setsar=4/3"])) {
        let f = probe(&p);
        let v = f.video.as_ref().unwrap();
        assert_eq!((v.sar_num, v.sar_den), (4, 3));
        assert_eq!(f.display_size(), Some((213, 120)));
    }

    // VFR: every third frame dropped, timestamps kept. MP4 (sample index) and MKV (packets).
    let drop3 = ["-vf", "select='not(eq(mod(n\\,3)\\,2))'", "-vsync", "vfr"];
    let src3 = "testsrc2=s=160x120:r=30:d=3";
    if let Some(p) = make(d, "vfr.mp4", src3, &args(X264, &drop3)) {
        let v = probe(&p).video.unwrap();
        assert!(v.vfr, "{v:?}");
        assert_eq!(v.frames, Some(60));
    }
    if let Some(p) = make(d, "vfr.mkv", src3, &args(X264, &drop3)) {
        let v = probe(&p).video.unwrap();
        assert!(v.vfr, "{v:?}");
    }
    if let Some(p) = make(d, "cfr.mkv", src3, X264) {
        let v = probe(&p).video.unwrap();
        assert!(!v.vfr, "{v:?}");
        assert_eq!(v.frames, Some(90), "counted from packets");
    }
    // B-frames (reordered timestamps, edit list) and fragmented MP4 (index built while reading).
    let bf = ["-c:v", "libx264", "-preset", "medium", "-bf", "3"];
    if let Some(p) = make(d, "bframes.mp4", src3, &bf) {
        let v = probe(&p).video.unwrap();
        assert_eq!((v.frames, v.vfr), (Some(90), false), "{v:?}");
        assert!((v.fps_avg.unwrap() - 30.0).abs() < 0.01);
    }
    let frag = args(X264, &["-g", "15", "-movflags", "frag_keyframe+empty_moov"]);
    if let Some(p) = make(d, "frag.mp4", src3, &frag) {
        let f = probe(&p);
        assert!((f.duration_s.unwrap() - 3.0).abs() < 0.05, "{f:?}");
        let v = f.video.unwrap();
        assert_eq!((v.frames, v.vfr), (Some(90), false), "{v:?}");
    }

    // A timestamp jump in the middle (a pause in a screen recording).
    let jump = ["-vf", "setpts='PTS+gte(N\\,45)*2/TB'", "-vsync", "vfr"];
    if let Some(p) = make(d, "jump.mp4", src3, &args(X264, &jump)) {
        let f = probe(&p);
        assert!(
            (f.duration_s.unwrap() - 5.0).abs() < 0.1,
            "{:?}",
            f.duration_s
        );
        // One long interval among 89: a gap, not a variable rate.
        assert!(!f.video.unwrap().vfr);
    }

    // Audio only: facts without video.
    let sine = "sine=f=440:d=1";
    if let Some(p) = make(d, "audio.m4a", sine, &["-c:a", "aac"]) {
        let f = probe(&p);
        assert!(f.video.is_none());
        let a = f.audio.unwrap();
        assert_eq!((a.codec.as_str(), a.sample_rate), ("aac", Some(44100)));
        assert_eq!(a.channels, Some(1));
    }

    // A ':' in the file name is not a protocol.
    if let Some(p) = make(d, "plain.mp4", SRC, X264) {
        let odd = d.join("clip:1.mp4");
        std::fs::copy(&p, &odd).unwrap();
        assert!(probe(&odd).video.is_some());

        // Truncated: moov at the end is cut off → unreadable, never a panic.
        let data = std::fs::read(&p).unwrap();
        let cut = d.join("cut.mp4");
        std::fs::write(&cut, &data[..data.len() / 2]).unwrap();
        match probe_video(&cut, (data.len() / 2) as u64) {
            Err(ProbeError::Unreadable(msg)) => assert!(!msg.is_empty()),
            Ok(f) => assert!(f.video.is_some()),
            Err(e) => panic!("unexpected {e}"),
        }

        // Many threads at once, each with its own context.
        let paths: Vec<PathBuf> = (0..32).map(|_| p.clone()).collect();
        std::thread::scope(|s| {
            let hs: Vec<_> = paths
                .chunks(8)
                .map(|c| {
                    s.spawn(move || {
                        c.iter()
                            .map(|p| probe(p).video.unwrap().frames)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in hs {
                assert!(h.join().unwrap().iter().all(|&n| n == Some(30)));
            }
        });
    }
}

#[test]
fn garbage_and_empty_files_are_unreadable() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        probe_video(&empty, 0),
        Err(ProbeError::Unreadable(_))
    ));

    let junk = tmp.path().join("junk.mov");
    let bytes: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&junk, &bytes).unwrap();
    match probe_video(&junk, bytes.len() as u64) {
        Err(ProbeError::Unreadable(msg)) => assert!(!msg.is_empty()),
        Ok(f) => assert!(f.video.is_none() || f.video.unwrap().width > 0),
        Err(e) => panic!("unexpected {e}"),
    }

    // libavformat opens it (ffmetadata) but there are no streams at all.
    let meta = tmp.path().join("meta.txt");
    std::fs::write(&meta, b";FFMETADATA1\ntitle=nothing here\n").unwrap();
    match probe_video(&meta, 32) {
        Err(ProbeError::Unreadable(msg)) => assert!(msg.contains("no streams"), "{msg}"),
        other => panic!("{other:?}"),
    }

    // Subtitles only: readable, but neither video nor audio.
    let srt = tmp.path().join("subs.srt");
    std::fs::write(&srt, b"1\n00:00:00,000 --> 00:00:01,000\nhello\n\n").unwrap();
    if let Ok(f) = probe_video(&srt, 40) {
        assert!(f.video.is_none() && f.audio.is_none());
    }

    let missing = tmp.path().join("missing.mp4");
    assert!(matches!(probe_video(&missing, 0), Err(ProbeError::Io(_))));
    assert!(matches!(probe_video(tmp.path(), 0), Err(ProbeError::Io(_))));
}
