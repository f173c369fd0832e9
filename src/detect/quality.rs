//! Sharpness (variance of the Laplacian) and exposure (clipped shadows and highlights, mean level) of
//! a grey picture.
//!
//! Sharpness is measured on the picture scaled to a fixed long edge (`SHARPNESS_EDGE`) and normalised to
//! a fixed contrast, so the number means the same for a 4000 px photo and a 480 px video frame, and for a
//! dim and a bright one. A portrait with a soft background and a sharp face is not blurry: when a face
//! is known, its own sharpness counts too (the larger of the two is kept).

use image::GrayImage;

use super::{Rect, round4};
use crate::model::PictureQuality;

/// Long edge of the picture the Laplacian runs on.
pub const SHARPNESS_EDGE: u32 = 512;
/// Contrast the picture is normalised to before the Laplacian (standard deviation, grey levels).
const NORM_STD: f64 = 50.0;

/// Sharpness and exposure; `face` (in `img` pixels) adds the face's own sharpness.
pub fn measure(img: &GrayImage, face: Option<Rect>) -> PictureQuality {
    let n = (img.width() as usize * img.height() as usize).max(1) as f64;
    let (mut dark, mut bright, mut sum) = (0usize, 0usize, 0u64);
    for &v in img.as_raw() {
        dark += (v <= 5) as usize;
        bright += (v >= 250) as usize;
        sum += v as u64;
    }
    let small = super::fit_gray(img, SHARPNESS_EDGE);
    let mut sharpness = laplacian_score(&small);
    let mut face_mean_luma = None;
    if let Some(r) = face {
        let (x, y) = (r.x.max(0) as u32, r.y.max(0) as u32);
        let w = (r.w.max(0) as u32).min(img.width().saturating_sub(x));
        let h = (r.h.max(0) as u32).min(img.height().saturating_sub(y));
        if w > 0 && h > 0 {
            let crop = image::imageops::crop_imm(img, x, y, w, h).to_image();
            let m = crop.as_raw().iter().map(|&v| v as f64).sum::<f64>() / (w * h) as f64;
            face_mean_luma = Some((m * 10.0).round() / 10.0);
        }
        let k = small.width() as f64 / img.width().max(1) as f64;
        let x = ((r.x.max(0) as f64) * k) as u32;
        let y = ((r.y.max(0) as f64) * k) as u32;
        let w = ((r.w as f64 * k) as u32).min(small.width().saturating_sub(x));
        let h = ((r.h as f64 * k) as u32).min(small.height().saturating_sub(y));
        if w >= 16 && h >= 16 {
            let crop = image::imageops::crop_imm(&small, x, y, w, h).to_image();
            sharpness = sharpness.max(laplacian_score(&crop));
        }
    }
    PictureQuality {
        sharpness: (sharpness * 10.0).round() / 10.0,
        dark_fraction: round4(dark as f64 / n),
        bright_fraction: round4(bright as f64 / n),
        mean_luma: (sum as f64 / n * 10.0).round() / 10.0,
        face_mean_luma,
    }
}

/// Variance of the 4-neighbour Laplacian after normalising the picture to `NORM_STD`; 0 for a flat one.
pub fn laplacian_score(img: &GrayImage) -> f64 {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let px = img.as_raw();
    let n = (w * h) as f64;
    let mean = px.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = px.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    if var < 1.0 {
        return 0.0;
    }
    let (mut s, mut s2, mut m) = (0f64, 0f64, 0f64);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let c = px[y * w + x] as i32;
            let l = px[y * w + x - 1] as i32
                + px[y * w + x + 1] as i32
                + px[(y - 1) * w + x] as i32
                + px[(y + 1) * w + x] as i32
                - 4 * c;
            s += l as f64;
            s2 += (l * l) as f64;
            m += 1.0;
        }
    }
    let lap_var = s2 / m - (s / m).powi(2);
    lap_var * NORM_STD * NORM_STD / var
}

/// Area-average downscale of a grey picture.
pub fn area_resize(img: &GrayImage, tw: u32, th: u32) -> GrayImage {
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    let out = area_resize_raw(img.as_raw(), sw, sw, sh, tw as usize, th as usize);
    GrayImage::from_raw(tw, th, out).expect("buffer sized for the image")
}

/// Area-average resize of an 8-bit plane of `sw`×`sh` pixels whose rows are `stride` bytes apart
/// (nearest neighbour where it enlarges, as chroma planes may).
///
/// Each output row first sums its source rows column by column (one pass over the source, which
/// the compiler vectorises), then each output pixel adds its columns: the same integer sums as
/// adding each output pixel's block directly, so the same pixels.
pub fn area_resize_raw(
    src: &[u8],
    stride: usize,
    sw: usize,
    sh: usize,
    tw: usize,
    th: usize,
) -> Vec<u8> {
    let mut out = vec![0u8; tw * th];
    let xs: Vec<(usize, usize)> = (0..tw)
        .map(|tx| {
            let x0 = tx * sw / tw;
            (x0, ((tx + 1) * sw / tw).max(x0 + 1).min(sw))
        })
        .collect();
    let mut columns = vec![0u32; sw];
    for (ty, row) in out.chunks_exact_mut(tw.max(1)).take(th).enumerate() {
        let y0 = ty * sh / th;
        let y1 = ((ty + 1) * sh / th).max(y0 + 1).min(sh);
        columns.fill(0);
        for y in y0..y1 {
            for (c, &v) in columns.iter_mut().zip(&src[y * stride..y * stride + sw]) {
                *c += v as u32;
            }
        }
        for (o, &(x0, x1)) in row.iter_mut().zip(&xs) {
            let sum: u32 = columns[x0..x1].iter().sum();
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            *o = ((sum + n / 2) / n) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The resize as it was before it summed columns first, block by block: the reference.
    fn reference_resize(
        src: &[u8],
        stride: usize,
        sw: usize,
        sh: usize,
        tw: usize,
        th: usize,
    ) -> Vec<u8> {
        let mut out = vec![0u8; tw * th];
        for ty in 0..th {
            let y0 = ty * sh / th;
            let y1 = ((ty + 1) * sh / th).max(y0 + 1).min(sh);
            for tx in 0..tw {
                let x0 = tx * sw / tw;
                let x1 = ((tx + 1) * sw / tw).max(x0 + 1).min(sw);
                let mut sum = 0u32;
                for y in y0..y1 {
                    sum += src[y * stride + x0..y * stride + x1]
                        .iter()
                        .map(|&v| v as u32)
                        .sum::<u32>();
                }
                let n = ((y1 - y0) * (x1 - x0)) as u32;
                out[ty * tw + tx] = ((sum + n / 2) / n) as u8;
            }
        }
        out
    }

    #[test]
    fn resize_matches_the_block_by_block_reference() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let src: Vec<u8> = (0..97 * 61)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 56) as u8
            })
            .collect();
        // Shrink, enlarge, mixed, odd sizes, a stride wider than the picture, one pixel.
        for (stride, sw, sh, tw, th) in [
            (97, 97, 61, 40, 25),
            (97, 97, 61, 33, 61),
            (97, 90, 61, 200, 70),
            (97, 97, 61, 97, 61),
            (97, 13, 7, 1, 1),
            (97, 1, 1, 5, 3),
        ] {
            assert_eq!(
                area_resize_raw(&src, stride, sw, sh, tw, th),
                reference_resize(&src, stride, sw, sh, tw, th),
                "{sw}x{sh} -> {tw}x{th}"
            );
        }
    }

    fn checker(w: u32, h: u32, cell: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if (x / cell + y / cell).is_multiple_of(2) {
                40
            } else {
                200
            }])
        })
    }

    #[test]
    fn blur_lowers_sharpness_and_contrast_does_not_matter() {
        let sharp = checker(400, 300, 8);
        let blurred = image::imageops::blur(&sharp, 4.0);
        let (a, b) = (laplacian_score(&sharp), laplacian_score(&blurred));
        assert!(a > 10.0 * b, "{a} vs {b}");
        let dim = GrayImage::from_fn(400, 300, |x, y| {
            image::Luma([sharp.get_pixel(x, y).0[0] / 4])
        });
        assert!((laplacian_score(&dim) / a - 1.0).abs() < 0.05);
        assert_eq!(laplacian_score(&GrayImage::new(10, 10)), 0.0);
    }

    #[test]
    fn exposure_counts_clipped_pixels() {
        let img = GrayImage::from_fn(100, 100, |x, _| image::Luma([if x < 60 { 0 } else { 255 }]));
        let q = measure(&img, None);
        assert_eq!((q.dark_fraction, q.bright_fraction), (0.6, 0.4));
        assert!((q.mean_luma - 102.0).abs() < 0.1);
    }
}
