//! The character image's pixels, for the subject detectors: decode once, turn grey, show it upright
//! (EXIF orientation applied), scale to the detectors' size, then measure faces, framing, sharpness and
//! exposure (`detect`). The header probe never decodes pixels; this runs only when analysis is on.

use std::path::Path;

use image::GrayImage;

use crate::detect;
use crate::model::{ImageFacts, PictureFacts};

/// Decode `path` and run the subject detectors on it. `Err` carries a sentence for an info note.
pub fn analyze_image(path: &Path, facts: &ImageFacts) -> Result<PictureFacts, String> {
    let gray = decode_gray(path, facts)?;
    detect::analyze_picture(&gray, &detect::IMAGE_PARAMS)
}

/// The image as an upright grey picture with a long edge of at most `detect::ANALYSIS_EDGE`.
pub fn decode_gray(path: &Path, facts: &ImageFacts) -> Result<GrayImage, String> {
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| format!("cannot read the image: {e}"))?;
    let mut reader = reader;
    reader.no_limits();
    let img = reader
        .decode()
        .map_err(|e| format!("cannot decode the image: {e}"))?;
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
    drop(img);
    let small = detect::fit_gray(&gray, detect::ANALYSIS_EDGE);
    Ok(orient(small, facts.exif_orientation.unwrap_or(1)))
}

/// Apply an EXIF orientation (1–8) so the picture is shown upright.
fn orient(img: GrayImage, o: u16) -> GrayImage {
    use image::imageops::{flip_horizontal, flip_vertical, rotate90, rotate180, rotate270};
    match o {
        2 => flip_horizontal(&img),
        3 => rotate180(&img),
        4 => flip_vertical(&img),
        5 => flip_horizontal(&rotate90(&img)),
        6 => rotate90(&img),
        7 => flip_horizontal(&rotate270(&img)),
        8 => rotate270(&img),
        _ => img,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_orientation_turns_the_picture_upright() {
        // A 2x1 picture, dark left pixel; orientation 6 (rotate 90° clockwise) puts it on top.
        let img = GrayImage::from_raw(2, 1, vec![0, 255]).unwrap();
        let up = orient(img.clone(), 6);
        assert_eq!((up.width(), up.height()), (1, 2));
        assert_eq!(up.as_raw(), &vec![0, 255]);
        assert_eq!(orient(img.clone(), 8).as_raw(), &vec![255, 0]);
        assert_eq!(orient(img, 1).as_raw(), &vec![0, 255]);
    }
}
