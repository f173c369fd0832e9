//! Subject and picture-quality detectors: faces (how many, how large, where), the framing they imply
//! (head-shot, half-body, full-body), sharpness and exposure, measured on one grey picture.
//!
//! Kling's guidance names the inputs that pass every written limit and still waste credits: a face too
//! small in the character image, a head-shot paired with a full-body dance, several people in the
//! reference video, blurry or badly lit footage. `analyze` calls these on the character image and on
//! frames sampled from the video's one decode pass; rules turn the numbers into warnings.
//!
//! People, their keypoints and the main person's face come from one model, MoveNet MultiPose
//! (`pose`), run on a small colour copy of the picture; the face region is built from the main
//! person's head keypoints (`face`). Without ONNX Runtime the model cannot run: there are then no
//! people and no faces, and the rules that need them are skipped (the run says so once), while
//! sharpness and exposure are still measured on the whole picture.

pub mod face;
pub mod pose;
pub mod quality;

use image::GrayImage;

use crate::model::{FaceBox, PictureFacts, PicturePose};

/// Bump when detector code or data changes what is measured (it is part of the cache key).
/// 2: faces from the pose model's head keypoints instead of the Haar cascade.
/// 3: the pose model sees the picture's own aspect (a multiple-of-32 rectangle), not a padded square.
pub const DETECTOR_VERSION: u32 = 3;

/// The face detector, for facts and cache keys.
pub const FACE_DETECTOR: &str = "movenet-multipose-256 head keypoints";
/// What the facts name when the pose model could not run (no faces were looked for).
pub const NO_DETECTOR: &str = "none (ONNX Runtime not available)";

/// Which face detector is used, for facts and cache keys.
pub fn detector_name() -> String {
    FACE_DETECTOR.into()
}

/// Pictures are analysed at this long edge (pixels).
pub const ANALYSIS_EDGE: u32 = 640;

/// Video frames are analysed at about this many pixels (400×400; 533×300 for 16:9), whatever their
/// shape.
pub const VIDEO_AREA: u32 = 160_000;

/// A rectangle in a picture's pixels (the face region sharpness and exposure look at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

/// Faces, framing and quality of a grey picture already scaled to the detectors' size, upright, and
/// the pose model's people on the same picture (`None` when the model did not run: no faces then).
pub fn analyze_picture(img: &GrayImage, pose: Option<PicturePose>) -> PictureFacts {
    let (w, h) = (img.width().max(1) as f64, img.height().max(1) as f64);
    let faces: Vec<FaceBox> = pose
        .as_ref()
        .map(|p| face::faces(&p.people, w / h))
        .unwrap_or_default();
    let region = faces.first().map(|f| Rect {
        x: (f.x * w).round() as i32,
        y: (f.y * h).round() as i32,
        w: (f.w * w).round() as i32,
        h: (f.h * h).round() as i32,
    });
    let quality = quality::measure(img, region);
    PictureFacts {
        detector: if pose.is_some() {
            detector_name()
        } else {
            NO_DETECTOR.into()
        },
        faces,
        framing: pose.as_ref().and_then(|p| p.framing),
        quality,
        pose,
    }
}

/// Downscale a grey picture so its long edge is at most `edge` (area average; never enlarges).
pub fn fit_gray(img: &GrayImage, edge: u32) -> GrayImage {
    scale_down(
        img,
        edge as f64 / img.width().max(img.height()).max(1) as f64,
    )
}

/// Facts are rounded to 4 decimals: short decimals read back from the cache's JSON bit for bit.
pub fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Downscale a grey picture to about `area` pixels (never enlarges).
pub fn fit_area(img: &GrayImage, area: u32) -> GrayImage {
    let pixels = (img.width() as f64 * img.height() as f64).max(1.0);
    scale_down(img, (area as f64 / pixels).sqrt())
}

/// Area-average the picture by factor `k` per side (a copy when `k` ≥ 1).
fn scale_down(img: &GrayImage, k: f64) -> GrayImage {
    if k >= 1.0 {
        return img.clone();
    }
    let (w, h) = (img.width() as f64, img.height() as f64);
    let (tw, th) = (
        ((w * k).round() as u32).max(1),
        ((h * k).round() as u32).max(1),
    );
    quality::area_resize(img, tw, th)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_picture_has_no_faces() {
        let img = GrayImage::from_pixel(320, 240, image::Luma([128]));
        let p = analyze_picture(&img, None);
        assert!(p.faces.is_empty() && p.framing.is_none());
        assert_eq!(p.detector, NO_DETECTOR, "no model, no face detector");
    }

    #[test]
    fn the_main_persons_face_is_the_quality_region() {
        // Left half dark, right half bright; a person whose head is in the bright half.
        let img = GrayImage::from_fn(400, 400, |x, _| {
            image::Luma([if x < 200 { 20 } else { 230 }])
        });
        let mut kp = vec![[0.75, 0.9, 0.0]; 17];
        kp[0] = [0.75, 0.3, 0.9];
        kp[1] = [0.72, 0.27, 0.9];
        kp[2] = [0.78, 0.27, 0.9];
        let person = crate::model::Person {
            score: 0.8,
            x: 0.6,
            y: 0.1,
            w: 0.3,
            h: 0.8,
            keypoints: kp,
        };
        let pose = PicturePose {
            model: pose::MODEL_NAME.into(),
            people: vec![person],
            framing: Some(crate::model::Framing::HalfBody),
        };
        let p = analyze_picture(&img, Some(pose));
        assert_eq!(p.faces.len(), 1);
        assert_eq!(p.detector, FACE_DETECTOR);
        assert_eq!(p.framing, Some(crate::model::Framing::HalfBody));
        assert_eq!(p.quality.face_mean_luma, Some(230.0), "{:?}", p.faces);
    }
}
