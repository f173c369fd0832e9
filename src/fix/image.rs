//! Image fixes: the lossless metadata strip (JPEG segments, PNG chunks) and the re-encode path
//! (orientation, first frame, 8-bit sRGB, flatten, pad/crop, Lanczos3 resize, JPEG quality search).
//!
//! Outputs never carry EXIF, GPS, XMP, IPTC or text metadata: the re-encode writes pixels only, and
//! the lossless copy drops those segments, keeping only an EXIF orientation (as a minimal EXIF block)
//! so the picture is not silently turned sideways.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageEncoder, RgbImage, RgbaImage};

use super::plan::{AspectMode, ImageOut, Reencode};

#[derive(Debug, thiserror::Error)]
pub enum ImageFixError {
    #[error("cannot decode the image: {0}")]
    Decode(String),
    #[error("cannot encode the image: {0}")]
    Encode(String),
    #[error("{0}")]
    Unfit(String),
    #[error("not a well-formed {0}: cannot copy it losslessly")]
    Malformed(&'static str),
}

/// The lossless strip of a JPEG: keep every segment but APP1 (EXIF, XMP) and APP13 (IPTC/Photoshop)
/// and comments; write back a minimal EXIF block when `orientation` is not 1.
pub fn strip_jpeg(data: &[u8], orientation: Option<u16>) -> Result<Vec<u8>, ImageFixError> {
    if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
        return Err(ImageFixError::Malformed("JPEG"));
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(&data[..2]);
    let mut wrote_exif = false;
    let mut i = 2;
    loop {
        // Skip fill bytes.
        while i < data.len() && data[i] == 0xFF && data.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if i + 4 > data.len() || data[i] != 0xFF {
            return Err(ImageFixError::Malformed("JPEG"));
        }
        let marker = data[i + 1];
        if marker == 0xD9 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            out.extend_from_slice(&data[i..i + 2]);
            i += 2;
            if marker == 0xD9 {
                break;
            }
            continue;
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        if len < 2 || i + 2 + len > data.len() {
            return Err(ImageFixError::Malformed("JPEG"));
        }
        let seg = &data[i..i + 2 + len];
        // After APP0 (JFIF) comes the orientation block, where readers expect EXIF.
        let app0 = marker == 0xE0;
        if !wrote_exif && !app0 {
            if let Some(o) = orientation.filter(|o| *o != 1 && *o <= 8) {
                out.extend_from_slice(&exif_orientation_segment(o));
            }
            wrote_exif = true;
        }
        if marker == 0xDA {
            // Start of scan: the entropy-coded data and everything after is copied as is.
            out.extend_from_slice(&data[i..]);
            return Ok(out);
        }
        if !matches!(marker, 0xE1 | 0xED | 0xFE) {
            out.extend_from_slice(seg);
        }
        i += 2 + len;
    }
    Ok(out)
}

/// An APP1 segment whose EXIF holds only the Orientation tag.
fn exif_orientation_segment(o: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian TIFF header, IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&o.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut seg = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16;
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

/// The lossless strip of a PNG: drop eXIf, text and time chunks; keep everything else (including
/// iCCP, gAMA and animation chunks).
pub fn strip_png(data: &[u8]) -> Result<Vec<u8>, ImageFixError> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !data.starts_with(SIG) {
        return Err(ImageFixError::Malformed("PNG"));
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(SIG);
    let mut i = SIG.len();
    while i + 12 <= data.len() {
        let len = u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]) as usize;
        let end = i + 12 + len;
        if end > data.len() {
            return Err(ImageFixError::Malformed("PNG"));
        }
        let ty = &data[i + 4..i + 8];
        if !matches!(ty, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME") {
            out.extend_from_slice(&data[i..end]);
        }
        i = end;
        if ty == b"IEND" {
            return Ok(out);
        }
    }
    Err(ImageFixError::Malformed("PNG"))
}

/// Decode `path` (first frame, EXIF orientation applied when `orient`) into 8-bit RGB or RGBA.
pub fn decode(path: &Path, orient: bool) -> Result<DynamicImage, ImageFixError> {
    let (mut img, orientation) = decode_stored(path)?;
    if orient {
        img.apply_orientation(orientation);
    }
    Ok(img)
}

/// Decode `path` (first frame) as stored, with the orientation its metadata asks for: the shared
/// full-size decode (`pixels`), so `fix` decodes whatever `check` could (FFmpeg for what the image
/// crate cannot, e.g. a YCbCr TIFF).
pub fn decode_stored(
    path: &Path,
) -> Result<(DynamicImage, image::metadata::Orientation), ImageFixError> {
    let d = crate::pixels::decode_full(path).map_err(|e| ImageFixError::Decode(e.0))?;
    Ok((d.img, d.orientation))
}

/// Decode, transform and encode per the recipe. Returns the encoded bytes.
///
/// A huge picture whose output is small (a 65536×3000 PNG padded and downscaled to 3850 px) is
/// decoded reduced, to at least twice the output size, and the geometry scaled with it: the
/// work then holds tens of megabytes, not the gigabytes of the full canvas. The memory budget
/// keeps rayon workers from holding several such decodes at once.
pub fn reencode(path: &Path, r: &Reencode) -> Result<Vec<u8>, ImageFixError> {
    let g = r.geometry;
    let px = g.source.0 as u64 * g.source.1 as u64;
    let k = (g.canvas.0 / (2 * g.size.0.max(1))).min(g.canvas.1 / (2 * g.size.1.max(1)));
    let _lease = crate::pixels::Lease::take(px.saturating_mul(4));
    if k < 2 || px <= crate::pixels::REDUCE_ABOVE_PX {
        let img = decode(path, r.orient)?;
        return render(img, r);
    }
    let d = crate::pixels::decode_reduced_by(path, k).map_err(|e| ImageFixError::Decode(e.0))?;
    let mut img = d.img;
    if r.orient {
        img.apply_orientation(d.orientation);
    }
    let (w, h) = (img.width(), img.height());
    let scale = |c: u32, full: u32, now: u32| {
        ((c as u64 * now as u64 + full as u64 / 2) / full.max(1) as u64).max(1) as u32
    };
    let mut reduced = r.clone();
    reduced.geometry.source = (w, h);
    reduced.geometry.canvas = (
        scale(g.canvas.0, g.source.0, w),
        scale(g.canvas.1, g.source.1, h),
    );
    render(img, &reduced)
}

/// The transform + encode half of `reencode`, on a decoded image.
pub fn render(img: DynamicImage, r: &Reencode) -> Result<Vec<u8>, ImageFixError> {
    let g = r.geometry;
    if (img.width(), img.height()) != g.source {
        return Err(ImageFixError::Decode(format!(
            "decoded {}x{} but the header said {}x{}",
            img.width(),
            img.height(),
            g.source.0,
            g.source.1
        )));
    }
    let keep_alpha = r.flatten.is_none() && img.color().has_alpha() && r.format == ImageOut::Png;
    let bg = r.flatten.unwrap_or([255, 255, 255]);
    let mut pixels = if keep_alpha {
        Pixels::Rgba(img.to_rgba8())
    } else if img.color().has_alpha() {
        Pixels::Rgb(flatten(&img.to_rgba8(), bg))
    } else {
        Pixels::Rgb(img.to_rgb8())
    };
    drop(img);
    if g.canvas != g.source {
        pixels = match g.aspect.unwrap_or(AspectMode::Pad) {
            AspectMode::Pad => pixels.pad(g.canvas, bg),
            AspectMode::Crop => pixels.crop(g.canvas),
        };
    }
    let mut size = g.size;
    let mut attempt = 0;
    loop {
        let scaled = if size != g.canvas {
            pixels.resize(size)
        } else {
            pixels.clone()
        };
        let encoded = encode(&scaled, r.format, r.quality, r.max_bytes)?;
        match (encoded, r.max_bytes) {
            (Some(bytes), _) => return Ok(bytes),
            (None, Some(cap)) if attempt < 2 => {
                // Even the lowest acceptable quality is too big: shrink the pixel count.
                attempt += 1;
                let f = 0.8f64;
                let min = (g.size.0.min(g.size.1) as f64 * f) as u32;
                if min < 340 {
                    return Err(ImageFixError::Unfit(format!(
                        "cannot fit {cap} bytes without going under the minimum edge"
                    )));
                }
                size = (
                    (size.0 as f64 * f).round() as u32,
                    (size.1 as f64 * f).round() as u32,
                );
            }
            (None, cap) => {
                return Err(ImageFixError::Unfit(format!(
                    "cannot fit {} bytes even at the lowest quality",
                    cap.unwrap_or(0)
                )));
            }
        }
    }
}

#[derive(Clone)]
enum Pixels {
    Rgb(RgbImage),
    Rgba(RgbaImage),
}

impl Pixels {
    fn pad(self, (w, h): (u32, u32), bg: [u8; 3]) -> Pixels {
        let ox = |sw: u32| (w - sw) as i64 / 2;
        let oy = |sh: u32| (h - sh) as i64 / 2;
        match self {
            Pixels::Rgb(src) => {
                let mut c = RgbImage::from_pixel(w, h, image::Rgb(bg));
                image::imageops::overlay(&mut c, &src, ox(src.width()), oy(src.height()));
                Pixels::Rgb(c)
            }
            Pixels::Rgba(src) => {
                let mut c = RgbaImage::from_pixel(w, h, image::Rgba([bg[0], bg[1], bg[2], 255]));
                image::imageops::replace(&mut c, &src, ox(src.width()), oy(src.height()));
                Pixels::Rgba(c)
            }
        }
    }

    fn crop(self, (w, h): (u32, u32)) -> Pixels {
        let xy = |sw: u32, sh: u32| ((sw - w) / 2, (sh - h) / 2);
        match self {
            Pixels::Rgb(src) => {
                let (x, y) = xy(src.width(), src.height());
                Pixels::Rgb(image::imageops::crop_imm(&src, x, y, w, h).to_image())
            }
            Pixels::Rgba(src) => {
                let (x, y) = xy(src.width(), src.height());
                Pixels::Rgba(image::imageops::crop_imm(&src, x, y, w, h).to_image())
            }
        }
    }

    fn resize(&self, (w, h): (u32, u32)) -> Pixels {
        match self {
            Pixels::Rgb(src) => {
                let buf = resize_u8(src.as_raw(), src.width(), src.height(), 3, w, h);
                Pixels::Rgb(RgbImage::from_raw(w, h, buf).expect("resize returns w*h*3 bytes"))
            }
            Pixels::Rgba(src) => {
                let buf = resize_u8(src.as_raw(), src.width(), src.height(), 4, w, h);
                Pixels::Rgba(RgbaImage::from_raw(w, h, buf).expect("resize returns w*h*4 bytes"))
            }
        }
    }
}

/// Composite RGBA onto an opaque background colour.
fn flatten(src: &RgbaImage, bg: [u8; 3]) -> RgbImage {
    let mut out = RgbImage::new(src.width(), src.height());
    for (o, p) in out.pixels_mut().zip(src.pixels()) {
        let a = p[3] as u32;
        for c in 0..3 {
            o[c] = ((p[c] as u32 * a + bg[c] as u32 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// Lanczos3 resize of packed 8-bit RGB (3 channels) or RGBA (4, alpha-aware) pixels.
///
/// One non-generic function on purpose: fast_image_resize's dynamic dispatch instantiates every
/// pixel type's SIMD kernels in the caller's crate, which cost ~100 s of release codegen per rebuild
/// (see the notes); the typed call below instantiates two.
#[inline(never)]
pub fn resize_u8(src: &[u8], sw: u32, sh: u32, channels: u8, dw: u32, dh: u32) -> Vec<u8> {
    use fast_image_resize::images::{TypedImage, TypedImageRef};
    use fast_image_resize::pixels::{U8x3, U8x4};
    use fast_image_resize::{FilterType, MulDiv, ResizeAlg, ResizeOptions, Resizer};
    let opts = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .use_alpha(false);
    let mut resizer = Resizer::new();
    let mut out = vec![0u8; dw as usize * dh as usize * channels as usize];
    let ok = if channels == 4 {
        // Premultiply so transparent pixels do not bleed their colour into the edges.
        let mut pre = src.to_vec();
        let muldiv = MulDiv::default();
        let done = (|| {
            let s = TypedImageRef::<U8x4>::from_buffer(sw, sh, src).ok()?;
            let mut p = TypedImage::<U8x4>::from_buffer(sw, sh, &mut pre).ok()?;
            muldiv.multiply_alpha_typed(&s, &mut p).ok()?;
            let p = TypedImageRef::<U8x4>::from_buffer(sw, sh, &pre).ok()?;
            let mut tmp = vec![0u8; out.len()];
            let mut d = TypedImage::<U8x4>::from_buffer(dw, dh, &mut tmp).ok()?;
            resizer.resize_typed(&p, &mut d, &opts).ok()?;
            let d = TypedImageRef::<U8x4>::from_buffer(dw, dh, &tmp).ok()?;
            let mut o = TypedImage::<U8x4>::from_buffer(dw, dh, &mut out).ok()?;
            muldiv.divide_alpha_typed(&d, &mut o).ok()?;
            Some(())
        })();
        done.is_some()
    } else {
        (|| {
            let s = TypedImageRef::<U8x3>::from_buffer(sw, sh, src).ok()?;
            let mut d = TypedImage::<U8x3>::from_buffer(dw, dh, &mut out).ok()?;
            resizer.resize_typed(&s, &mut d, &opts).ok()
        })()
        .is_some()
    };
    if !ok {
        // Buffers are sized by construction; fall back to image's resize rather than panic.
        return fallback_resize(src, sw, sh, channels, dw, dh);
    }
    out
}

fn fallback_resize(src: &[u8], sw: u32, sh: u32, channels: u8, dw: u32, dh: u32) -> Vec<u8> {
    use image::imageops::{FilterType, resize};
    if channels == 4 {
        let img = RgbaImage::from_raw(sw, sh, src.to_vec()).unwrap_or_default();
        resize(&img, dw, dh, FilterType::Lanczos3).into_raw()
    } else {
        let img = RgbImage::from_raw(sw, sh, src.to_vec()).unwrap_or_default();
        resize(&img, dw, dh, FilterType::Lanczos3).into_raw()
    }
}

fn encode_once(p: &Pixels, format: ImageOut, q: u8) -> Result<Vec<u8>, ImageFixError> {
    let mut buf = Vec::new();
    let enc = |e: image::ImageError| ImageFixError::Encode(e.to_string());
    let (raw, w, h, ct) = match p {
        Pixels::Rgb(i) => (
            i.as_raw(),
            i.width(),
            i.height(),
            image::ExtendedColorType::Rgb8,
        ),
        Pixels::Rgba(i) => (
            i.as_raw(),
            i.width(),
            i.height(),
            image::ExtendedColorType::Rgba8,
        ),
    };
    match format {
        ImageOut::Jpeg => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, q)
            .write_image(raw, w, h, ct)
            .map_err(enc)?,
        ImageOut::Png => image::codecs::png::PngEncoder::new(Cursor::new(&mut buf))
            .write_image(raw, w, h, ct)
            .map_err(enc)?,
    }
    Ok(buf)
}

/// Encode; with a byte cap, JPEG searches the highest quality in [40, q] that fits. `None` when
/// nothing fits.
fn encode(
    p: &Pixels,
    format: ImageOut,
    q: u8,
    cap: Option<u64>,
) -> Result<Option<Vec<u8>>, ImageFixError> {
    let first = encode_once(p, format, q)?;
    let Some(cap) = cap else {
        return Ok(Some(first));
    };
    if first.len() as u64 <= cap {
        return Ok(Some(first));
    }
    if format == ImageOut::Png {
        return Ok(None);
    }
    let (mut lo, mut hi) = (40u8, q - 1);
    let mut best = None;
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let b = encode_once(p, format, mid)?;
        if b.len() as u64 <= cap {
            best = Some(b);
            lo = mid + 1;
        } else {
            if mid == 0 {
                break;
            }
            hi = mid - 1;
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::plan::Geometry;
    use image::ImageDecoder;

    fn recipe(source: (u32, u32), canvas: (u32, u32), size: (u32, u32)) -> Reencode {
        Reencode {
            format: ImageOut::Jpeg,
            orient: true,
            flatten: Some([255, 255, 255]),
            geometry: Geometry {
                source,
                aspect: Some(AspectMode::Pad),
                canvas,
                size,
            },
            max_bytes: Some(10_000_000),
            quality: 90,
        }
    }

    fn noisy(w: u32, h: u32) -> DynamicImage {
        let mut s = 12345u32;
        DynamicImage::ImageRgba8(RgbaImage::from_fn(w, h, |x, y| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            image::Rgba([(x % 256) as u8, (y % 256) as u8, (s >> 24) as u8, 128])
        }))
    }

    #[test]
    fn pad_resize_flatten_encode() {
        let out = render(noisy(300, 100), &recipe((300, 100), (300, 120), (850, 340))).unwrap();
        let back = image::load_from_memory(&out).unwrap();
        assert_eq!((back.width(), back.height()), (850, 340));
        assert!(!back.color().has_alpha());
        // The pad bars are the background colour.
        let px = back.to_rgb8().get_pixel(425, 2).0;
        assert!(px.iter().all(|c| *c > 240), "{px:?}");
    }

    #[test]
    fn quality_search_fits_the_cap() {
        let mut r = recipe((800, 800), (800, 800), (800, 800));
        r.max_bytes = Some(120_000);
        let out = render(noisy(800, 800), &r).unwrap();
        assert!(out.len() <= 120_000, "{}", out.len());
    }

    #[test]
    fn resize_keeps_buffers_consistent() {
        let src = vec![200u8; 40 * 20 * 4];
        let out = resize_u8(&src, 40, 20, 4, 10, 5);
        assert_eq!(out.len(), 10 * 5 * 4);
        assert!(out.iter().all(|v| (*v as i32 - 200).abs() <= 1));
        let src = vec![7u8; 40 * 20 * 3];
        assert_eq!(resize_u8(&src, 40, 20, 3, 80, 40).len(), 80 * 40 * 3);
    }

    #[test]
    fn jpeg_strip_drops_exif_keeps_orientation_and_pixels() {
        let img = RgbImage::from_pixel(16, 8, image::Rgb([10, 200, 30]));
        let mut jpg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 90)
            .write_image(img.as_raw(), 16, 8, image::ExtendedColorType::Rgb8)
            .unwrap();
        // Splice in an APP1 with GPS-looking junk and a comment after SOI.
        let mut app1 = vec![0xFF, 0xE1, 0, 14];
        app1.extend_from_slice(b"Exif\0\0GPS!GP");
        let mut with = jpg[..2].to_vec();
        with.extend_from_slice(&app1);
        with.extend_from_slice(&[0xFF, 0xFE, 0, 5, b'h', b'i', b'!']);
        with.extend_from_slice(&jpg[2..]);
        let stripped = strip_jpeg(&with, Some(6)).unwrap();
        assert!(!stripped.windows(4).any(|w| w == b"GPS!"));
        assert!(!stripped.windows(3).any(|w| w == b"hi!"));
        let mut d = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&stripped)).unwrap();
        assert_eq!(
            d.orientation().unwrap(),
            image::metadata::Orientation::Rotate90
        );
        let back = image::load_from_memory(&stripped).unwrap().to_rgb8();
        assert_eq!(back, image::load_from_memory(&jpg).unwrap().to_rgb8());
        assert!(strip_jpeg(b"not a jpeg", None).is_err());
    }

    #[test]
    fn png_strip_drops_text_chunks() {
        let img = RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3]));
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(img.as_raw(), 4, 4, image::ExtendedColorType::Rgb8)
            .unwrap();
        // Insert a tEXt chunk after IHDR (8 + 25 bytes).
        let body = b"tEXtComment\0secret";
        let mut chunk = ((body.len() - 4) as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(body);
        chunk.extend_from_slice(&[0, 0, 0, 0]);
        let mut with = png[..33].to_vec();
        with.extend_from_slice(&chunk);
        with.extend_from_slice(&png[33..]);
        let out = strip_png(&with).unwrap();
        assert_eq!(out, png);
    }
}
