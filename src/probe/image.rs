//! Image header prober: width, height, EXIF orientation, alpha, animation, colour model, bit depth,
//! ICC profile name and JPEG coding of a still image, read from its headers without decoding pixels.
//!
//! It exists because the preflight must judge thousands of images per second and must never be
//! tricked into a huge allocation by what a file *claims*: every parser here walks the file's
//! structure by seeking (JPEG segments, PNG chunks, GIF blocks, RIFF chunks, TIFF IFDs, ISO-BMFF
//! boxes), reads only small, capped pieces (`MAX_METADATA_READ`), checks every length against the
//! real file size, and refuses absurd dimensions (`MAX_EDGE`, `MAX_PIXELS`) before anything could be
//! allocated for them. A structural failure is a `ProbeError::Unreadable` whose text says what is
//! wrong, in words a user can act on.
//!
//! The format-specific parsers live in `image/`; this file holds the entry points, the bounded
//! random-access reader they share (`Src`) and the common sanity checks.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::ProbeError;
use crate::model::{ImageFacts, ImageFormat};

mod bmp;
mod gif;
mod icc;
mod isobmff;
mod jpeg;
mod misc;
#[cfg(test)]
mod mutate_tests;
mod png;
mod tiff;
mod webp;

/// Largest edge, in pixels, that we accept as a real image. One provider documents edges up to
/// 65,536 px, so this must not be lower; anything above is refused as absurd.
pub const MAX_EDGE: u32 = 65_536;

/// Largest pixel count that we accept (200 megapixels). Above this a decoder would need gigabytes:
/// a decompression bomb, or at least nothing a provider would take.
pub const MAX_PIXELS: u64 = 200_000_000;

/// Most bytes read for one metadata item (an EXIF block, an ICC profile, an ISO-BMFF `meta` box).
/// Larger items are read only up to this cap, never allocated at their declared size.
pub const MAX_METADATA_READ: usize = 1 << 20;

/// How many bytes the first read takes from the start of the file: enough for nearly every header.
const HEAD_READ: usize = 64 * 1024;

/// How many bytes a later read takes when it has to go back to the file (a seek far ahead).
const READAHEAD: usize = 4 * 1024;

/// Read an image's facts from its headers. `format` comes from `sniff`; `bytes` is the file size.
pub fn probe_image(path: &Path, format: ImageFormat, bytes: u64) -> Result<ImageFacts, ProbeError> {
    let f = crate::open::regular(path)?;
    probe_image_reader(f, format, bytes)
}

/// The prober on any seekable byte source (a file, a `Cursor` over a buffer, as the fuzzer uses).
/// `bytes` is the length of the source; the parsers never read beyond it.
pub fn probe_image_reader<R: Read + Seek>(
    r: R,
    format: ImageFormat,
    bytes: u64,
) -> Result<ImageFacts, ProbeError> {
    let mut src = Src::new(r, bytes, format);
    let facts = match format {
        ImageFormat::Jpeg => jpeg::probe(&mut src)?,
        ImageFormat::Png => png::probe(&mut src)?,
        ImageFormat::Gif => gif::probe(&mut src)?,
        ImageFormat::Webp => webp::probe(&mut src)?,
        ImageFormat::Bmp => bmp::probe(&mut src)?,
        ImageFormat::Tiff => tiff::probe(&mut src)?,
        ImageFormat::Heic | ImageFormat::Avif => isobmff::probe(&mut src)?,
        ImageFormat::Jxl => misc::probe_jxl(&mut src)?,
        ImageFormat::Ico => misc::probe_ico(&mut src)?,
        ImageFormat::Psd => misc::probe_psd(&mut src)?,
    };
    check_dimensions(format, facts.width, facts.height)?;
    Ok(facts)
}

/// Probe a whole file held in memory (convenience for tests and the fuzzer).
pub fn probe_image_bytes(data: &[u8], format: ImageFormat) -> Result<ImageFacts, ProbeError> {
    probe_image_reader(std::io::Cursor::new(data), format, data.len() as u64)
}

/// Upper-case display name of a format, for messages ("truncated JPEG: ...").
pub(crate) fn label(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::Gif => "GIF",
        ImageFormat::Webp => "WebP",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Heic => "HEIC",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Jxl => "JPEG XL",
        ImageFormat::Ico => "ICO",
        ImageFormat::Psd => "PSD",
    }
}

/// Zero, over-long or too many pixels: refuse before anyone allocates for them.
pub(crate) fn check_dimensions(format: ImageFormat, w: u32, h: u32) -> Result<(), ProbeError> {
    let name = label(format);
    if w == 0 || h == 0 {
        return Err(bad(format!("{name} declares a {w} x {h} image")));
    }
    let pixels = u64::from(w) * u64::from(h);
    if w > MAX_EDGE || h > MAX_EDGE {
        return Err(bad(format!(
            "{name} declares {w} x {h} px, an edge over the {MAX_EDGE} px limit: a decompression bomb?"
        )));
    }
    if pixels > MAX_PIXELS {
        return Err(bad(format!(
            "{name} declares {w} x {h} px, over the {}-megapixel decode limit: a decompression bomb?",
            MAX_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

pub(crate) fn bad(msg: impl Into<String>) -> ProbeError {
    ProbeError::Unreadable(msg.into())
}

/// Facts with everything unknown yet; each parser fills in what its format says.
pub(crate) fn blank(format: ImageFormat, bytes: u64) -> ImageFacts {
    ImageFacts::blank(format, bytes)
}

/// A bounded random-access reader over the image: one buffered window, refilled by seeking.
///
/// Every read names its offset and length and is checked against `len` (the file size) first, so a
/// header that lies about a length produces an error, never a short read or an allocation of the
/// lied-about size. The window is at most `max(HEAD_READ, requested)` bytes, and requests are capped
/// by the callers at `MAX_METADATA_READ`.
pub(crate) struct Src<R> {
    r: R,
    pub len: u64,
    pub format: ImageFormat,
    buf: Vec<u8>,
    buf_pos: u64,
    /// Bytes to read ahead when a request falls outside the window.
    pub readahead: usize,
}

impl<R: Read + Seek> Src<R> {
    pub fn new(r: R, len: u64, format: ImageFormat) -> Self {
        Src {
            r,
            len,
            format,
            buf: Vec::new(),
            buf_pos: 0,
            readahead: READAHEAD,
        }
    }

    pub fn name(&self) -> &'static str {
        label(self.format)
    }

    /// Bytes from `pos` to the end of the file (0 when `pos` is past it).
    pub fn remaining(&self, pos: u64) -> u64 {
        self.len.saturating_sub(pos)
    }

    /// `n` bytes at `pos`, or an "unexpected end of file" error.
    pub fn get(&mut self, pos: u64, n: usize) -> Result<&[u8], ProbeError> {
        let end = pos.checked_add(n as u64).filter(|&e| e <= self.len);
        let Some(end) = end else {
            return Err(bad(format!(
                "truncated {}: needs {n} bytes at offset {pos} but the file ends after {} bytes",
                self.name(),
                self.len
            )));
        };
        if n > MAX_METADATA_READ.saturating_mul(4) {
            return Err(bad(format!(
                "{}: refusing to read {n} bytes of header",
                self.name()
            )));
        }
        let in_window = pos >= self.buf_pos && end <= self.buf_pos + self.buf.len() as u64;
        if !in_window {
            let ahead = if self.buf.is_empty() && pos == 0 {
                HEAD_READ
            } else {
                self.readahead
            };
            let want = (n.max(ahead) as u64).min(self.len - pos) as usize;
            self.fill(pos, want, n)?;
        }
        let start = (pos - self.buf_pos) as usize;
        Ok(&self.buf[start..start + n])
    }

    /// Like `get`, but as much as exists up to `n` bytes (for "read up to the cap" metadata).
    pub fn get_upto(&mut self, pos: u64, n: usize) -> Result<&[u8], ProbeError> {
        let n = (n as u64).min(self.remaining(pos)) as usize;
        self.get(pos, n)
    }

    pub fn u8(&mut self, pos: u64) -> Result<u8, ProbeError> {
        Ok(self.get(pos, 1)?[0])
    }

    pub fn be16(&mut self, pos: u64) -> Result<u16, ProbeError> {
        let b = self.get(pos, 2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn be32(&mut self, pos: u64) -> Result<u32, ProbeError> {
        let b = self.get(pos, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn fill(&mut self, pos: u64, want: usize, need: usize) -> Result<(), ProbeError> {
        self.buf_pos = pos;
        self.buf.clear();
        self.buf.reserve(want);
        self.r.seek(SeekFrom::Start(pos))?;
        // `read_to_end` on a `take` neither zero-fills nor grows past `want`.
        if let Err(e) = self.r.by_ref().take(want as u64).read_to_end(&mut self.buf) {
            self.buf.clear();
            return Err(e.into());
        }
        let got = self.buf.len();
        if got < need {
            let real_end = pos + got as u64;
            self.buf.clear();
            return Err(bad(format!(
                "truncated {}: the file ends after {real_end} bytes, inside a structure at offset {pos}",
                self.name()
            )));
        }
        Ok(())
    }
}

/// Read a big-endian u16/u32 from a slice at `i`, or `None` when out of bounds.
pub(crate) fn be16_at(b: &[u8], i: usize) -> Option<u16> {
    let s = b.get(i..i.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

pub(crate) fn be32_at(b: &[u8], i: usize) -> Option<u32> {
    let s = b.get(i..i.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

pub(crate) fn le16_at(b: &[u8], i: usize) -> Option<u16> {
    let s = b.get(i..i.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

pub(crate) fn le32_at(b: &[u8], i: usize) -> Option<u32> {
    let s = b.get(i..i.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Printable text from header bytes: stops at the first NUL, drops control characters, trims, caps.
pub(crate) fn clean_text(b: &[u8]) -> String {
    let b = b.split(|&c| c == 0).next().unwrap_or(&[]);
    let s: String = String::from_utf8_lossy(b)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    s.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimension_limits() {
        assert!(check_dimensions(ImageFormat::Png, 1, 1).is_ok());
        assert!(check_dimensions(ImageFormat::Png, MAX_EDGE, 3000).is_ok());
        let e = check_dimensions(ImageFormat::Gif, 0, 32)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "GIF declares a 0 x 32 image");
        let e = check_dimensions(ImageFormat::Png, 20_000, 20_000)
            .unwrap_err()
            .to_string();
        assert!(e.contains("200-megapixel"), "{e}");
        let e = check_dimensions(ImageFormat::Png, 100_000, 10)
            .unwrap_err()
            .to_string();
        assert!(e.contains("decompression bomb"), "{e}");
    }

    #[test]
    fn src_reads_are_bounded() {
        let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let mut s = Src::new(
            std::io::Cursor::new(&data),
            data.len() as u64,
            ImageFormat::Png,
        );
        assert_eq!(s.get(0, 3).unwrap(), &[0, 1, 2]);
        assert_eq!(s.get(70_000, 2).unwrap(), &data[70_000..70_002]);
        assert_eq!(s.get(10, 1).unwrap(), &[10]);
        assert!(s.get(99_999, 2).is_err());
        assert!(s.get(u64::MAX, 2).is_err());
        assert_eq!(s.get_upto(99_990, 1000).unwrap().len(), 10);
        // A source shorter than the length it was announced with: an error, no panic.
        let mut s = Src::new(std::io::Cursor::new(&data[..10]), 1000, ImageFormat::Png);
        assert!(s.get(5, 20).is_err());
        assert!(s.get(500, 2).is_err());
    }

    #[test]
    fn text_is_cleaned() {
        assert_eq!(clean_text(b" sRGB\x01 IEC\0junk"), "sRGB IEC");
        assert_eq!(clean_text(b""), "");
    }
}
