//! The character image's pixels, for the subject detectors: turn the decoded picture grey, scale it to
//! the detectors' size, show it upright (EXIF orientation applied), then measure faces, framing,
//! sharpness and exposure (`detect`). The header probe never decodes pixels; this runs only when
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
    detect::analyze_picture(&gray_upright(img, o), &detect::IMAGE_PARAMS)
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
