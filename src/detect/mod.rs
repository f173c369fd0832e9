//! Subject and picture-quality detectors: faces (how many, how large, where), the framing they imply
//! (head-shot, half-body, full-body), sharpness and exposure, measured on one grey picture.
//!
//! Kling's guidance names the inputs that pass every written limit and still waste credits: a face too
//! small in the character image, a head-shot paired with a full-body dance, several people in the
//! reference video, blurry or badly lit footage. `analyze` calls these on the character image and on
//! frames sampled from the video's one decode pass; rules turn the numbers into warnings.
//!
//! Faces come from OpenCV's trained cascades, evaluated by `cascade` (no OpenCV library): the Haar
//! frontal-face "alt2" cascade, embedded in the binary from Debian's `opencv-data` package (see
//! `data/README.md` for origin and licences), or any new-format HAAR/LBP cascade named by the
//! `KLING_PREFLIGHT_FACE_CASCADE` environment variable. Bodies are not detected: OpenCV's body cascades
//! use tilted features and are weak; framing is estimated from the face's size and the room below it.

pub mod cascade;
pub mod pose;
pub mod quality;
mod xml;

use std::sync::Mutex;

pub use cascade::{Cascade, Params, Rect};
use image::GrayImage;

use crate::model::{FaceBox, Framing, PictureFacts};

/// The face cascade compiled into the binary.
const FACE_ALT2: &str = include_str!("data/haarcascade_frontalface_alt2.xml");
/// Environment variable naming another face cascade file (OpenCV new-format XML).
pub const FACE_CASCADE_ENV: &str = "KLING_PREFLIGHT_FACE_CASCADE";

/// Bump when detector code or data changes what is measured (it is part of the cache key).
pub const DETECTOR_VERSION: u32 = 1;

/// The face cascade in use, loaded once per file (the embedding program may switch files between
/// checks); `Err` says why it could not be loaded.
pub fn face_cascade() -> Result<&'static Cascade, String> {
    type Loaded = (Option<std::ffi::OsString>, &'static Result<Cascade, String>);
    static LOADED: Mutex<Vec<Loaded>> = Mutex::new(Vec::new());
    let want = custom_cascade();
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let found = match loaded.iter().find(|(p, _)| *p == want) {
        Some((_, r)) => *r,
        None => {
            let r: &'static _ = Box::leak(Box::new(load_cascade(want.clone())));
            loaded.push((want, r));
            r
        }
    };
    found.as_ref().map_err(|e| e.clone())
}

fn load_cascade(custom: Option<std::ffi::OsString>) -> Result<Cascade, String> {
    match custom {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{FACE_CASCADE_ENV}={}: {e}", path.to_string_lossy()))?;
            Cascade::from_xml(&text)
                .map_err(|e| format!("{FACE_CASCADE_ENV}={}: {e}", path.to_string_lossy()))
        }
        None => Cascade::from_xml(FACE_ALT2).map_err(|e| format!("embedded face cascade: {e}")),
    }
}

/// The cascade file the embedding program chose (`host::Host::face_cascade`; the CLI reads
/// `KLING_PREFLIGHT_FACE_CASCADE`, where set but empty counts as unset).
fn custom_cascade() -> Option<std::ffi::OsString> {
    crate::host::get().face_cascade.map(Into::into)
}

/// Which face cascade is used, for facts and cache keys.
pub fn detector_name() -> String {
    match custom_cascade() {
        Some(p) => format!("custom:{}", p.to_string_lossy()),
        None => "haarcascade_frontalface_alt2".into(),
    }
}

/// Pictures are analysed at this long edge (pixels): faces down to ~2.5% of the long edge are found.
pub const ANALYSIS_EDGE: u32 = 640;

/// Smallest face looked for, pixels at `ANALYSIS_EDGE`.
pub const MIN_FACE_PX: u32 = 20;

/// Detector settings for the character image (one picture: a finer pyramid).
pub const IMAGE_PARAMS: Params = Params {
    scale_factor: 1.15,
    min_neighbors: 3,
    min_size: MIN_FACE_PX,
    fine: true,
};

/// Detector settings for sampled video frames (many pictures: a coarser pyramid, smaller frames).
pub const VIDEO_PARAMS: Params = Params {
    scale_factor: 1.2,
    min_neighbors: 3,
    min_size: MIN_FACE_PX,
    fine: false,
};

/// Video frames are analysed at about this many pixels (400×400; 533×300 for 16:9), whatever their
/// shape, so a landscape frame keeps enough height for a full-body person's face.
pub const VIDEO_AREA: u32 = 160_000;

/// Faces, framing and quality of a grey picture already scaled to the detectors' size.
pub fn analyze_picture(img: &GrayImage, params: &Params) -> Result<PictureFacts, String> {
    let cascade = face_cascade()?;
    let (w, h) = (img.width().max(1) as f64, img.height().max(1) as f64);
    let mut rects = cascade.detect(img, params);
    rects.sort_by_key(|r| std::cmp::Reverse(r.w as i64 * r.h as i64));
    let faces: Vec<FaceBox> = rects
        .iter()
        .map(|r| FaceBox {
            x: round4(r.x as f64 / w),
            y: round4(r.y as f64 / h),
            w: round4(r.w as f64 / w),
            h: round4(r.h as f64 / h),
        })
        .collect();
    let framing = faces.first().map(framing_of);
    let face_region = rects.first().copied();
    let quality = quality::measure(img, face_region);
    Ok(PictureFacts {
        detector: detector_name(),
        faces,
        framing,
        quality,
        pose: None,
    })
}

/// Framing from the largest face: the room below the face in face-box heights (a standing adult is
/// about 7 face-box heights from the chin to the feet, the shoulders need about 1.5) and the face's
/// share of the frame height (a quarter or more is a head-shot whatever is below).
pub fn framing_of(f: &FaceBox) -> Framing {
    let below = (1.0 - (f.y + f.h)).max(0.0) / f.h.max(1e-6);
    if f.h >= 0.25 || below < 2.0 {
        Framing::HeadShot
    } else if below < 5.0 {
        Framing::HalfBody
    } else {
        Framing::FullBody
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
    fn the_embedded_cascade_loads() {
        let c = Cascade::from_xml(FACE_ALT2).unwrap();
        assert_eq!((c.width, c.height), (20, 20));
    }

    #[test]
    fn framing_from_face_size_and_room_below() {
        let f = |y, h| FaceBox { x: 0.4, y, w: h, h };
        assert_eq!(framing_of(&f(0.2, 0.4)), Framing::HeadShot);
        assert_eq!(
            framing_of(&f(0.55, 0.15)),
            Framing::HeadShot,
            "face low in the frame"
        );
        assert_eq!(framing_of(&f(0.15, 0.15)), Framing::HalfBody);
        assert_eq!(framing_of(&f(0.05, 0.06)), Framing::FullBody);
        assert_eq!(
            framing_of(&f(0.65, 0.06)),
            Framing::HalfBody,
            "no room for legs"
        );
        assert_eq!(
            framing_of(&f(0.14, 0.095)),
            Framing::FullBody,
            "room for 8 faces below"
        );
    }

    /// Time per `Cascade::detect` call on corpus photos, as sampled video frames (about 400×400,
    /// `VIDEO_PARAMS`) and as character images (640 px, `IMAGE_PARAMS`). Prints the fastest and the
    /// median of 15 calls (the machine is shared: the fastest is the steadier figure).
    /// `cargo test --release --lib detect::tests::detect_timing -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, prints ms; needs ../shared/corpus"]
    fn detect_timing() {
        let c = face_cascade().unwrap();
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/images/people");
        for name in [
            "lp_s7_cartoon_boy.jpg",
            "lp_s9_mona_lisa.jpg",
            "immich_craft-beer_6000x4000.jpg",
        ] {
            let grey = image::open(dir.join(name)).unwrap().to_luma8();
            for (img, p) in [
                (fit_area(&grey, VIDEO_AREA), VIDEO_PARAMS),
                (fit_gray(&grey, ANALYSIS_EDGE), IMAGE_PARAMS),
            ] {
                let mut ms: Vec<f64> = (0..15)
                    .map(|_| {
                        let t = std::time::Instant::now();
                        std::hint::black_box(c.detect(&img, &p));
                        t.elapsed().as_secs_f64() * 1e3
                    })
                    .collect();
                ms.sort_by(f64::total_cmp);
                println!(
                    "{name} {}x{} scale {}: min {:.1} ms, median {:.1} ms",
                    img.width(),
                    img.height(),
                    p.scale_factor,
                    ms[0],
                    ms[7]
                );
            }
        }
    }

    #[test]
    fn a_flat_picture_has_no_faces() {
        let img = GrayImage::from_pixel(320, 240, image::Luma([128]));
        let p = analyze_picture(&img, &IMAGE_PARAMS).unwrap();
        assert!(p.faces.is_empty() && p.framing.is_none());
    }
}
