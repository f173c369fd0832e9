//! Pixel decode of image files, shared by the subject checks, the visual report and `fix`.
//!
//! A gate that lets a broken picture through costs a paid, failed generation, and one that decodes a
//! 14000×14000 PNG in full for a 640-pixel face search exhausts memory. So every decode here either
//! succeeds or says why not (the decoder's own reason, which the engine turns into F001), and its peak
//! memory follows the work asked for, not what the header claims: JPEGs are decoded by FFmpeg (the
//! decoder providers run) with its error detection on and, for large pictures, its DCT scaling
//! (`lowres`); large PNGs are read row by row through the `png` crate into a box-filtered reduction;
//! formats the `image` crate cannot decode (YCbCr or JPEG-compressed TIFF, ...) go through FFmpeg
//! before being called unreadable. Full-size decodes take a share of a process-wide memory budget, so
//! rayon workers do not hold several huge pictures at once.

use std::path::Path;
use std::sync::{Condvar, Mutex, Once};

use ffmpeg_next as ff;

mod reduce;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat};

/// Why the pixels could not be decoded (the decoder's reason).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PixelError(pub String);

/// A decoded picture, as stored (not turned upright).
pub struct Decoded {
    pub img: DynamicImage,
    /// The orientation its metadata asks for.
    pub orientation: Orientation,
    /// Size of the stored picture; `img` is smaller when the decode was reduced.
    pub full: (u32, u32),
}

/// Pictures up to this many pixels are decoded in full for analysis (what the subject checks were
/// tuned on); larger ones are reduced.
pub const REDUCE_ABOVE_PX: u64 = 16_000_000;

/// Long edge a reduced decode keeps at least (twice the detectors' 640-pixel working size).
pub const REDUCED_EDGE: u32 = 1280;

/// Bytes of decoded pixels all threads may hold at once (a single larger decode still runs, alone).
pub const BUDGET_BYTES: u64 = 192 << 20;

/// Decode for analysis: in full up to `REDUCE_ABOVE_PX`, else reduced to a long edge of at least
/// `REDUCED_EDGE`.
pub fn decode_for_analysis(path: &Path) -> Result<Decoded, PixelError> {
    let d = decode(path, |full| {
        let px = full.0 as u64 * full.1 as u64;
        if px > REDUCE_ABOVE_PX {
            factor(full, REDUCED_EDGE)
        } else {
            1
        }
    });
    remember(path, d.is_ok());
    d
}

/// Verdicts of the analysis decodes, by path, kept only once a program asks (`keep_verdicts`):
/// `check` asks "does `fix` decode it" of a picture it has just decoded, and must not decode it a
/// second time. Each verdict carries the file's size and modification time, so a file changed since
/// is decoded again; reading a verdict removes it, so the map empties as the promises are made. A
/// library that never asks keeps nothing (no map growing in a long-running process).
type Stamp = (u64, Option<std::time::SystemTime>);
static VERDICTS: Mutex<Option<std::collections::HashMap<std::path::PathBuf, (Stamp, bool)>>> =
    Mutex::new(None);

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()))
}

/// From now on, remember each analysis decode's verdict for one `decodes_for_analysis`.
pub fn keep_verdicts() {
    let mut v = VERDICTS.lock().unwrap_or_else(|p| p.into_inner());
    v.get_or_insert_with(Default::default);
}

fn remember(path: &Path, ok: bool) {
    let mut v = VERDICTS.lock().unwrap_or_else(|p| p.into_inner());
    if let (Some(map), Some(st)) = (v.as_mut(), stamp(path)) {
        map.insert(path.to_path_buf(), (st, ok));
    }
}

/// Whether `decode_for_analysis(path)` succeeds: the remembered verdict of this process's earlier
/// decode of the same, unchanged file when there is one, else a decode now.
pub fn decodes_for_analysis(path: &Path) -> bool {
    let known = VERDICTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
        .and_then(|v| v.remove(path));
    match known {
        Some((st, ok)) if stamp(path) == Some(st) => ok,
        _ => decode_for_analysis(path).is_ok(),
    }
}

/// Decode the whole picture at its stored size (for `fix`).
pub fn decode_full(path: &Path) -> Result<Decoded, PixelError> {
    decode(path, |_| 1)
}

/// Decode `path` about `k` times smaller on each side (`fix` of a huge picture whose output is
/// small): PNGs, GIFs and most TIFFs exactly `k` (box filter, row by row), JPEGs the largest of 1,
/// 2, 4, 8 not above `k` (DCT scaling), BMP and WebP through FFmpeg's own pixel format.
pub fn decode_reduced_by(path: &Path, k: u32) -> Result<Decoded, PixelError> {
    decode(path, |_| k.max(1))
}

/// Decode `path`, reduced by the factor `pick` chooses from the stored size (1: in full). The
/// decoders are third-party code fed hostile bytes: one that panics costs this picture (an error
/// naming the crash), never the whole run.
fn decode(path: &Path, pick: impl Fn((u32, u32)) -> u32) -> Result<Decoded, PixelError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode_unguarded(path, &pick)
    }))
    .unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(PixelError(format!("the decoder crashed on it: {why}")))
    })
}

fn decode_unguarded(path: &Path, pick: &dyn Fn((u32, u32)) -> u32) -> Result<Decoded, PixelError> {
    let err = |e: &dyn std::fmt::Display| PixelError(e.to_string());
    let reader = image::ImageReader::open(path)
        .map_err(|e| err(&e))?
        .with_guessed_format()
        .map_err(|e| err(&e))?;
    let format = reader.format();
    let (orientation, full) = match reader.into_decoder() {
        Ok(mut d) => (
            d.orientation().unwrap_or(Orientation::NoTransforms),
            d.dimensions(),
        ),
        // Headers the image crate cannot read (e.g. a TIFF it does not support): FFmpeg may.
        Err(_) => (Orientation::NoTransforms, (0, 0)),
    };
    let px = full.0 as u64 * full.1 as u64;
    let k = if full == (0, 0) { 1 } else { pick(full).max(1) };
    let img = match format {
        Some(ImageFormat::Jpeg) => ffmpeg_decode(path, format, k, full).or_else(|e| {
            // FFmpeg cannot decode arithmetic-coded JPEGs; the image crate gets a chance, but a
            // picture FFmpeg rejects for bad data is unreadable.
            if e.0.contains("unsupported") || e.0.contains("Not yet implemented") {
                image_decode(path, px).map_err(|e2| PixelError(format!("{e}; {}", e2.0)))
            } else {
                Err(e)
            }
        })?,
        Some(ImageFormat::Png) if k > 1 => reduce::png_reduced(path, k)?,
        Some(ImageFormat::Gif) if k > 1 => reduce::gif_reduced(path, k)?,
        Some(ImageFormat::Tiff) if k > 1 => match reduce::tiff_reduced(path, k)? {
            Some(img) => img,
            None => ffmpeg_decode(path, format, k, full)?,
        },
        // No row-by-row reader: FFmpeg holds the picture in its own (often smaller) pixel format
        // and scales it down straight from there.
        Some(ImageFormat::Bmp | ImageFormat::WebP) if k > 1 => {
            ffmpeg_decode(path, format, k, full)?
        }
        _ => match image_decode(path, px) {
            Ok(img) => img,
            Err((e, true)) => ffmpeg_decode(path, format, 1, full)
                .map_err(|f| PixelError(format!("{e} (FFmpeg: {f})")))?,
            Err((e, false)) => return Err(PixelError(e)),
        },
    };
    let full = if full == (0, 0) {
        (img.width(), img.height())
    } else {
        full
    };
    Ok(Decoded {
        img,
        orientation,
        full,
    })
}

/// The integer reduction that keeps the long edge at least `edge`.
fn factor(full: (u32, u32), edge: u32) -> u32 {
    (full.0.max(full.1) / edge.max(1)).max(1)
}

/// The image crate's full decode (first frame), under the memory budget. `Err` says whether another
/// decoder should be tried (the format or feature is unsupported, not the data broken).
fn image_decode(path: &Path, px: u64) -> Result<DynamicImage, (String, bool)> {
    too_large(px).map_err(|e| (e.0, false))?;
    let _lease = Lease::take(px.saturating_mul(4));
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| (e.to_string(), false))?;
    let mut reader = reader;
    reader.no_limits();
    let decoder = reader.into_decoder().map_err(classify)?;
    DynamicImage::from_decoder(decoder).map_err(classify)
}

/// Decoded bytes one picture may take when it cannot be decoded reduced (4 bytes a pixel): beyond
/// this a header's claim would decide how much memory the tool takes.
pub const MAX_FULL_DECODE_BYTES: u64 = 1 << 30;

/// `Err` when a full decode of `px` pixels would pass `MAX_FULL_DECODE_BYTES`.
fn too_large(px: u64) -> Result<(), PixelError> {
    let need = px.saturating_mul(4);
    if need > MAX_FULL_DECODE_BYTES {
        return Err(PixelError(format!(
            "{:.0} megapixels cannot be decoded within the {} MB this tool allows one picture \
             (this format is not decoded reduced)",
            px as f64 / 1e6,
            MAX_FULL_DECODE_BYTES >> 20
        )));
    }
    Ok(())
}

fn classify(e: image::ImageError) -> (String, bool) {
    let unsupported = matches!(e, image::ImageError::Unsupported(_));
    (e.to_string(), unsupported)
}

/// A share of the process-wide budget of decoded bytes, returned on drop.
pub struct Lease(u64);

static BUDGET: (Mutex<u64>, Condvar) = (Mutex::new(0), Condvar::new());

impl Lease {
    /// Wait until `bytes` (capped at the whole budget) fit beside the other threads' decodes. A
    /// thread that already holds a lease (a fix around its decode) is not held up again.
    pub fn take(bytes: u64) -> Lease {
        if HELD.with(|h| h.get()) > 0 {
            return Lease(0);
        }
        let want = bytes.clamp(1, BUDGET_BYTES);
        HELD.with(|h| h.set(want));
        let (m, cv) = &BUDGET;
        let mut used = m.lock().unwrap_or_else(|p| p.into_inner());
        while *used > 0 && *used + want > BUDGET_BYTES {
            used = cv.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += want;
        Lease(want)
    }
}

thread_local! {
    static HELD: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.0 == 0 {
            return;
        }
        HELD.with(|h| h.set(0));
        let (m, cv) = &BUDGET;
        let mut used = m.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(self.0);
        cv.notify_all();
    }
}

static INIT: Once = Once::new();

/// Decode the first picture of `path` with FFmpeg; for JPEG with its error detection on
/// (`err_detect=explode`: a damaged entropy-coded segment is an error, not a concealed grey block). With `reduce`, JPEGs are
/// decoded at 1/2, 1/4 or 1/8 scale (DCT scaling), the largest not above `k`.
fn ffmpeg_decode(
    path: &Path,
    format: Option<ImageFormat>,
    k: u32,
    full: (u32, u32),
) -> Result<DynamicImage, PixelError> {
    // FFmpeg's log level is the embedding program's choice (`host`), never set here.
    INIT.call_once(|| {
        let _ = ff::init();
    });
    let e = |what: &str, e: ff::Error| PixelError(format!("FFmpeg {what}: {e}"));
    let demuxer = match format {
        Some(ImageFormat::Jpeg) => Some(c"jpeg_pipe"),
        Some(ImageFormat::Png) => Some(c"png_pipe"),
        Some(ImageFormat::Tiff) => Some(c"tiff_pipe"),
        Some(ImageFormat::WebP) => Some(c"webp_pipe"),
        Some(ImageFormat::Bmp) => Some(c"bmp_pipe"),
        Some(ImageFormat::Gif) => Some(c"gif"),
        _ => None,
    };
    let mut ictx = crate::open::av_input_as(path, demuxer)
        .map_err(|x| PixelError(format!("FFmpeg cannot open it: {x}")))?;
    // SAFETY: a valid, open input context; on failure it is closed by `ictx`'s Drop.
    let r = unsafe { ff::ffi::avformat_find_stream_info(ictx.as_mut_ptr(), std::ptr::null_mut()) };
    if r < 0 {
        return Err(PixelError(format!(
            "FFmpeg cannot read its streams: {}",
            ff::Error::from(r)
        )));
    }
    let st = ictx
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| PixelError("FFmpeg finds no picture in it".into()))?;
    let index = st.index();
    let ctx = ff::codec::context::Context::from_parameters(st.parameters())
        .map_err(|x| e("cannot read its parameters", x))?;
    let (w, h) = if full == (0, 0) {
        // SAFETY: plain field reads of valid AVCodecParameters.
        unsafe {
            let p = &*st.parameters().as_ptr();
            (p.width.max(0) as u32, p.height.max(0) as u32)
        }
    } else {
        full
    };
    let mut opts = ff::Dictionary::new();
    let mut lowres = 0;
    let jpeg = ctx.id() == ff::codec::Id::MJPEG;
    if !jpeg {
        too_large(w as u64 * h as u64)?;
    }
    if jpeg {
        // JPEG only: the TIFF decoder, for one, also "explodes" on a tag it merely does not know.
        opts.set("err_detect", "explode");
        while lowres < 3 && (2u32 << lowres) <= k {
            lowres += 1;
        }
        opts.set("lowres", &lowres.to_string());
    }
    let codec = ff::decoder::find(ctx.id())
        .ok_or_else(|| PixelError(format!("FFmpeg has no decoder for {:?}", ctx.id())))?;
    let mut dec = ctx
        .decoder()
        .open_as_with(codec, opts)
        .and_then(|o| o.video())
        .map_err(|x| e("cannot open the decoder", x))?;
    let out_px = ((w >> lowres) as u64).max(1) * ((h >> lowres) as u64).max(1);
    let _lease = Lease::take(out_px * if jpeg { 8 } else { 4 });
    let mut frame = ff::frame::Video::empty();
    let mut got = false;
    let mut pkt = ff::Packet::empty();
    loop {
        match pkt.read(&mut ictx) {
            Ok(()) => {}
            Err(ff::Error::Eof) => break,
            Err(x) => return Err(e("cannot read the data", x)),
        }
        if pkt.stream() != index {
            continue;
        }
        dec.send_packet(&pkt)
            .map_err(|x| e("rejects the data", x))?;
        if dec.receive_frame(&mut frame).is_ok() {
            got = true;
            break;
        }
    }
    if !got {
        let _ = dec.send_eof();
        dec.receive_frame(&mut frame)
            .map_err(|x| e("decodes no picture", x))?;
    }
    // JPEGs come reduced from the decoder already; other pictures are scaled down here.
    let k = if jpeg { 1 } else { k.max(1) };
    to_image(&frame, k)
}

/// Convert a decoded frame to 8-bit RGB (RGBA when it has alpha), `k` times smaller on each side
/// (area average) when `k` > 1.
fn to_image(frame: &ff::frame::Video, k: u32) -> Result<DynamicImage, PixelError> {
    use ff::format::Pixel;
    let alpha = frame
        .format()
        .descriptor()
        .is_some_and(|d| d.nb_components() == 4 || d.nb_components() == 2);
    let (target, ch) = if alpha {
        (Pixel::RGBA, 4)
    } else {
        (Pixel::RGB24, 3)
    };
    let (fw, fh) = (frame.width(), frame.height());
    let (w, h) = (fw.div_ceil(k).max(1), fh.div_ceil(k).max(1));
    let flags = if k > 1 {
        ff::software::scaling::Flags::AREA
    } else {
        ff::software::scaling::Flags::POINT
    };
    let mut sws = ff::software::scaling::Context::get(frame.format(), fw, fh, target, w, h, flags)
        .map_err(|x| PixelError(format!("FFmpeg cannot convert its pixels: {x}")))?;
    let mut out = ff::frame::Video::empty();
    sws.run(frame, &mut out)
        .map_err(|x| PixelError(format!("FFmpeg cannot convert its pixels: {x}")))?;
    let stride = out.stride(0);
    let data = out.data(0);
    let row = w as usize * ch;
    let mut buf = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        buf.extend_from_slice(&data[y * stride..y * stride + row]);
    }
    let img = if alpha {
        image::RgbaImage::from_raw(w, h, buf).map(DynamicImage::ImageRgba8)
    } else {
        image::RgbImage::from_raw(w, h, buf).map(DynamicImage::ImageRgb8)
    };
    img.ok_or_else(|| PixelError("FFmpeg returned a picture of the wrong size".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_decode_is_an_error_for_that_picture() {
        let p = std::env::temp_dir().join(format!("kp-panic-{}.png", std::process::id()));
        image::RgbImage::new(4, 4).save(&p).unwrap();
        let r = decode(&p, |_| panic!("hostile header"));
        let e = r.err().expect("an error, not a panic");
        assert!(
            e.0.contains("crashed") && e.0.contains("hostile header"),
            "{e}"
        );
        std::fs::remove_file(&p).ok();
    }

    #[test]
    fn a_remembered_verdict_is_not_trusted_once_the_file_changed() {
        keep_verdicts();
        let p = std::env::temp_dir().join(format!("kp-verdict-{}.png", std::process::id()));
        image::RgbImage::new(8, 8).save(&p).unwrap();
        assert!(decode_for_analysis(&p).is_ok());
        // Replaced by garbage of another size after check decoded it: decoded again, not "ok".
        std::fs::write(&p, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        assert!(!decodes_for_analysis(&p));
        // An unchanged file keeps its verdict once; the verdict is then consumed.
        image::RgbImage::new(8, 8).save(&p).unwrap();
        assert!(decode_for_analysis(&p).is_ok());
        assert!(decodes_for_analysis(&p));
        let held = VERDICTS
            .lock()
            .unwrap()
            .as_ref()
            .map(|v| v.contains_key(&p));
        assert_eq!(held, Some(false));
        std::fs::remove_file(&p).ok();
    }

    #[test]
    fn reduction_factor_keeps_the_edge() {
        assert_eq!(factor((14000, 14000), REDUCED_EDGE), 10);
        assert_eq!(factor((65536, 3000), REDUCED_EDGE), 51);
        assert_eq!(factor((1000, 800), REDUCED_EDGE), 1);
    }

    /// A PNG written by hand (stored deflate blocks), plain or Adam7-interlaced, 8-bit RGB.
    fn png_bytes(img: &image::RgbImage, interlaced: bool) -> Vec<u8> {
        let (w, h) = img.dimensions();
        let mut raw = Vec::new();
        let passes: Vec<(u32, u32, u32, u32)> = if interlaced {
            reduce::ADAM7.to_vec()
        } else {
            vec![(0, 1, 0, 1)]
        };
        for (x0, dx, y0, dy) in passes {
            if w <= x0 || h <= y0 {
                continue;
            }
            for y in (y0..h).step_by(dy as usize) {
                raw.push(0);
                for x in (x0..w).step_by(dx as usize) {
                    raw.extend_from_slice(&img.get_pixel(x, y).0);
                }
            }
        }
        let mut z = vec![0x78, 0x01];
        for (i, block) in raw.chunks(65535).enumerate() {
            let last = (i + 1) * 65535 >= raw.len();
            z.push(last as u8);
            z.extend_from_slice(&(block.len() as u16).to_le_bytes());
            z.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
            z.extend_from_slice(block);
        }
        let (mut a, mut b) = (1u32, 0u32);
        for &v in &raw {
            a = (a + v as u32) % 65521;
            b = (b + a) % 65521;
        }
        z.extend_from_slice(&((b << 16) | a).to_be_bytes());
        let chunk = |out: &mut Vec<u8>, ty: &[u8], data: &[u8]| {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut c = !0u32;
            for &v in ty.iter().chain(data) {
                c ^= v as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            out.extend_from_slice(ty);
            out.extend_from_slice(data);
            out.extend_from_slice(&(!c).to_be_bytes());
        };
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, interlaced as u8]);
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &z);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn png_row_reducer_matches_a_box_filter() {
        let dir = std::env::temp_dir().join(format!("kp-pixels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img =
            image::RgbImage::from_fn(9, 7, |x, y| image::Rgb([(x * 20) as u8, (y * 30) as u8, 7]));
        for interlaced in [false, true] {
            let p = dir.join(format!("t{interlaced}.png"));
            std::fs::write(&p, png_bytes(&img, interlaced)).unwrap();
            // The image crate reads the same picture (the hand-written file is valid).
            assert_eq!(
                image::open(&p).unwrap().to_rgb8(),
                img,
                "interlaced={interlaced}"
            );
            let r = reduce::png_reduced(&p, 3).unwrap().to_rgb8();
            assert_eq!(r.dimensions(), (3, 3));
            // Box (0..3, 0..3): x*20 averages 20, y*30 averages 30; the last row of boxes is row 6.
            assert_eq!(r.get_pixel(0, 0).0, [20, 30, 7], "interlaced={interlaced}");
            assert_eq!(
                r.get_pixel(2, 2).0,
                [140, 180, 7],
                "interlaced={interlaced}"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
