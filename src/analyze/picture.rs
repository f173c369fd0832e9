//! The character image's pixels, for the subject detectors: turn the decoded picture grey, scale it to
//! the detectors' size, show it upright (EXIF orientation applied), then find the people and the
//! main person's face (pose model) and measure framing, sharpness and exposure (`detect`). The header probe never decodes pixels; this runs only when
//! analysis is on, on the one decode the engine makes (`fix::image::decode_stored`), which the visual
//! report's thumbnail shares.

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage};

use crate::detect;
use crate::model::{ImageFacts, PictureFacts};

/// Run the subject detectors on a decoded image (as stored; `facts` gives its EXIF orientation).
/// `Err` carries a sentence for an info note.
pub fn analyze_decoded(img: &DynamicImage, facts: &ImageFacts) -> Result<PictureFacts, String> {
    let o = facts
        .exif_orientation
        .and_then(|o| Orientation::from_exif(o.min(255) as u8))
        .unwrap_or(Orientation::NoTransforms);
    let pose = detect::pose::model()
        .ok()
        .and_then(|m| m.detect(&rgb_upright(img, o)).ok())
        .map(super::subject::picture_pose);
    Ok(detect::analyze_picture(&gray_upright(img, o), pose))
}

/// The image as an upright colour picture for the person model, scaled once (area average) to the
/// model's input size, flattened onto white like `gray_upright`. A 2000-px photo used to go through
/// a Triangle resize to 512 px and another to 256 px.
fn rgb_upright(img: &DynamicImage, o: Orientation) -> image::RgbImage {
    let (w, h) = (img.width().max(1), img.height().max(1));
    let edge = detect::pose::INPUT;
    let small = if w.max(h) > edge {
        let k = edge as f64 / w.max(h) as f64;
        let (tw, th) = (
            ((w as f64 * k).round() as u32).clamp(1, edge),
            ((h as f64 * k).round() as u32).clamp(1, edge),
        );
        img.thumbnail_exact(tw, th)
    } else {
        img.clone()
    };
    let rgb = if small.color().has_alpha() {
        let rgba = small.to_rgba8();
        image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
            let p = rgba.get_pixel(x, y).0;
            let a = p[3] as f32 / 255.0;
            let mix = |c: u8| (c as f32 * a + 255.0 * (1.0 - a)).round() as u8;
            image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
        })
    } else {
        small.to_rgb8()
    };
    let mut d = DynamicImage::ImageRgb8(rgb);
    d.apply_orientation(o);
    d.into_rgb8()
}

/// The image as an upright grey picture with a long edge of at most `detect::ANALYSIS_EDGE`
/// (scaled before it is turned: the turn then moves a few hundred thousand pixels, not megapixels).
fn gray_upright(img: &DynamicImage, o: Orientation) -> GrayImage {
    // Transparent pixels: judge the picture as a provider flattening onto white would show it.
    let gray = if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        GrayImage::from_fn(rgba.width(), rgba.height(), |x, y| {
            let p = rgba.get_pixel(x, y).0;
            let l = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0;
            let a = p[3] as f32 / 255.0;
            image::Luma([((l * a + (1.0 - a)) * 255.0).round() as u8])
        })
    } else {
        img.to_luma8()
    };
    let mut small = DynamicImage::ImageLuma8(detect::fit_gray(&gray, detect::ANALYSIS_EDGE));
    small.apply_orientation(o);
    small.into_luma8()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_orientation_turns_the_picture_upright() {
        // A 2x1 picture, dark left pixel; orientation 6 (rotate 90° clockwise) puts it on top.
        let img = DynamicImage::ImageLuma8(GrayImage::from_raw(2, 1, vec![0, 255]).unwrap());
        let up = gray_upright(&img, Orientation::Rotate90);
        assert_eq!((up.width(), up.height()), (1, 2));
        assert_eq!(up.as_raw(), &vec![0, 255]);
        assert_eq!(
            gray_upright(&img, Orientation::Rotate270).as_raw(),
            &vec![255, 0]
        );
        assert_eq!(
            gray_upright(&img, Orientation::NoTransforms).as_raw(),
            &vec![0, 255]
        );
    }
}
