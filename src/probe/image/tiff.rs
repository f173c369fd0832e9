//! TIFF structures: the IFD walker shared by EXIF blocks (inside JPEG, PNG, WebP, HEIC) and by TIFF
//! files themselves.
//!
//! EXIF is a little TIFF file, so one bounds-checked reader serves both: either byte order, classic
//! and BigTIFF offsets, entry counts capped (`MAX_IFD_ENTRIES`), every value offset checked against
//! the data before it is read. A broken EXIF block never makes an image unreadable (decoders ignore
//! it too); it just yields no orientation.

use std::io::{Read, Seek};

use super::{Src, bad, blank, icc};
use crate::model::ImageFacts;
use crate::probe::ProbeError;

/// More entries than this in one IFD means corrupt data (real files have a few dozen).
const MAX_IFD_ENTRIES: u64 = 1024;

pub(crate) const TAG_WIDTH: u16 = 0x0100;
pub(crate) const TAG_HEIGHT: u16 = 0x0101;
pub(crate) const TAG_BITS: u16 = 0x0102;
pub(crate) const TAG_PHOTOMETRIC: u16 = 0x0106;
pub(crate) const TAG_ORIENTATION: u16 = 0x0112;
pub(crate) const TAG_SAMPLES: u16 = 0x0115;
pub(crate) const TAG_EXTRA_SAMPLES: u16 = 0x0152;
pub(crate) const TAG_EXIF_IFD: u16 = 0x8769;
pub(crate) const TAG_GPS_IFD: u16 = 0x8825;
pub(crate) const TAG_ICC: u16 = 0x8773;
const TAG_STRIP_OFFSETS: u16 = 0x0111;
const TAG_STRIP_COUNTS: u16 = 0x0117;
const TAG_TILE_OFFSETS: u16 = 0x0144;
const TAG_TILE_COUNTS: u16 = 0x0145;

/// Random access to the bytes of a TIFF structure (offsets relative to its header).
pub(crate) trait TiffBytes {
    /// Fill `out` from offset `off`; false when that range is not there.
    fn read_into(&mut self, off: u64, out: &mut [u8]) -> bool;
}

/// An EXIF block in memory.
pub(crate) struct Mem<'a>(pub &'a [u8]);

impl TiffBytes for Mem<'_> {
    fn read_into(&mut self, off: u64, out: &mut [u8]) -> bool {
        let Ok(start) = usize::try_from(off) else {
            return false;
        };
        let Some(end) = start.checked_add(out.len()) else {
            return false;
        };
        match self.0.get(start..end) {
            Some(s) => {
                out.copy_from_slice(s);
                true
            }
            None => false,
        }
    }
}

/// A TIFF file read through `Src`.
struct File<'a, R>(&'a mut Src<R>);

impl<R: Read + Seek> TiffBytes for File<'_, R> {
    fn read_into(&mut self, off: u64, out: &mut [u8]) -> bool {
        match self.0.get(off, out.len()) {
            Ok(s) => {
                out.copy_from_slice(s);
                true
            }
            Err(_) => false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub tag: u16,
    pub typ: u16,
    pub count: u64,
    /// The value field as stored: the value itself when it fits, else an offset.
    raw: [u8; 8],
}

/// Byte order and offset width of one TIFF structure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub le: bool,
    pub big: bool,
}

impl Layout {
    /// Parse a TIFF header; returns the layout and the first IFD's offset.
    pub fn header(h: &[u8]) -> Option<(Layout, u64)> {
        let le = match h.get(0..2)? {
            b"II" => true,
            b"MM" => false,
            _ => return None,
        };
        let l = Layout { le, big: false };
        match l.u16(h.get(2..4)?) {
            42 => Some((l, u64::from(l.u32(h.get(4..8)?)))),
            43 => {
                let l = Layout { le, big: true };
                if l.u16(h.get(4..6)?) != 8 {
                    return None;
                }
                Some((l, l.u64(h.get(8..16)?)))
            }
            _ => None,
        }
    }

    fn u16(&self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }

    fn u64(&self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        if self.le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }

    fn entry_len(&self) -> usize {
        if self.big { 20 } else { 12 }
    }

    /// The entries of the IFD at `off` (at most `MAX_IFD_ENTRIES`), or `None` if it is not there.
    pub fn read_ifd(&self, d: &mut impl TiffBytes, off: u64) -> Option<Vec<Entry>> {
        let count = if self.big {
            let mut b = [0u8; 8];
            d.read_into(off, &mut b).then(|| self.u64(&b))?
        } else {
            let mut b = [0u8; 2];
            d.read_into(off, &mut b).then(|| u64::from(self.u16(&b)))?
        };
        let count = count.min(MAX_IFD_ENTRIES) as usize;
        let first = off.checked_add(if self.big { 8 } else { 2 })?;
        let mut table = vec![0u8; count * self.entry_len()];
        if !d.read_into(first, &mut table) {
            return None;
        }
        let entries = table
            .chunks_exact(self.entry_len())
            .map(|e| {
                let mut raw = [0u8; 8];
                let (count, value) = if self.big {
                    (self.u64(&e[4..12]), &e[12..20])
                } else {
                    (u64::from(self.u32(&e[4..8])), &e[8..12])
                };
                raw[..value.len()].copy_from_slice(value);
                Entry {
                    tag: self.u16(&e[0..2]),
                    typ: self.u16(&e[2..4]),
                    count,
                    raw,
                }
            })
            .collect();
        Some(entries)
    }

    fn type_size(typ: u16) -> Option<u64> {
        Some(match typ {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 | 13 => 4,
            5 | 10 | 12 | 16 | 17 | 18 => 8,
            _ => return None,
        })
    }

    /// The raw bytes of an entry's value, at most `cap` of them.
    pub fn bytes(&self, d: &mut impl TiffBytes, e: &Entry, cap: usize) -> Option<Vec<u8>> {
        let total = Self::type_size(e.typ)?.checked_mul(e.count)?;
        let n = total.min(cap as u64) as usize;
        let inline = if self.big { 8 } else { 4 };
        if total <= inline {
            return Some(e.raw[..n].to_vec());
        }
        let off = if self.big {
            self.u64(&e.raw)
        } else {
            u64::from(self.u32(&e.raw))
        };
        let mut out = vec![0u8; n];
        d.read_into(off, &mut out).then_some(out)
    }

    /// Up to `max` unsigned integer values of an entry (BYTE, SHORT, LONG, LONG8, IFD types).
    pub fn uints(&self, d: &mut impl TiffBytes, e: &Entry, max: usize) -> Vec<u64> {
        let Some(size) = Self::type_size(e.typ) else {
            return Vec::new();
        };
        if !matches!(e.typ, 1 | 3 | 4 | 13 | 16 | 18) {
            return Vec::new();
        }
        let size = size as usize;
        let Some(b) = self.bytes(d, e, max.saturating_mul(size)) else {
            return Vec::new();
        };
        b.chunks_exact(size)
            .map(|c| match size {
                1 => u64::from(c[0]),
                2 => u64::from(self.u16(c)),
                4 => u64::from(self.u32(c)),
                _ => self.u64(c),
            })
            .collect()
    }

    pub fn uint(&self, d: &mut impl TiffBytes, e: &Entry) -> Option<u64> {
        self.uints(d, e, 1).first().copied()
    }
}

/// What an EXIF block says that matters to us.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ExifInfo {
    pub orientation: Option<u16>,
    pub has_gps: bool,
}

/// Parse an EXIF block (a TIFF structure; an "Exif\0\0" prefix is skipped). Never fails: broken
/// EXIF just says nothing.
pub(crate) fn parse_exif(data: &[u8]) -> ExifInfo {
    let data = data.strip_prefix(b"Exif\0\0").unwrap_or(data);
    let Some((l, ifd0)) = Layout::header(data) else {
        return ExifInfo::default();
    };
    let mut d = Mem(data);
    let Some(entries) = l.read_ifd(&mut d, ifd0) else {
        return ExifInfo::default();
    };
    exif_from_ifd0(&l, &mut d, &entries)
}

fn exif_from_ifd0(l: &Layout, d: &mut impl TiffBytes, entries: &[Entry]) -> ExifInfo {
    let mut info = ExifInfo::default();
    for e in entries {
        match e.tag {
            TAG_ORIENTATION => {
                info.orientation = l
                    .uint(d, e)
                    .filter(|v| (1..=8).contains(v))
                    .map(|v| v as u16);
            }
            TAG_GPS_IFD => {
                // A pointer to a GPS directory that exists and holds at least one entry.
                info.has_gps = l
                    .uint(d, e)
                    .and_then(|off| l.read_ifd(d, off))
                    .is_some_and(|g| !g.is_empty());
            }
            _ => {}
        }
    }
    info
}

/// A TIFF file: size, samples, photometric interpretation, orientation, ICC, GPS.
pub(crate) fn probe<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    let mut facts = blank(src.format, src.len);
    let head = src.get_upto(0, 16)?.to_vec();
    let (l, ifd0) = Layout::header(&head).ok_or_else(|| bad("TIFF header is invalid"))?;
    let len = src.len;
    let mut d = File(src);
    let entries = l.read_ifd(&mut d, ifd0).ok_or_else(|| {
        bad(format!(
            "truncated TIFF: the first image directory at offset {ifd0} lies outside the {len}-byte file"
        ))
    })?;
    let find = |tag: u16| entries.iter().find(|e| e.tag == tag).copied();
    let mut get = |tag: u16| find(tag).and_then(|e| l.uint(&mut d, &e));
    let width = get(TAG_WIDTH).ok_or_else(|| bad("TIFF has no image width tag"))?;
    let height = get(TAG_HEIGHT).ok_or_else(|| bad("TIFF has no image height tag"))?;
    facts.width = u32::try_from(width).unwrap_or(u32::MAX);
    facts.height = u32::try_from(height).unwrap_or(u32::MAX);
    let samples = get(TAG_SAMPLES).unwrap_or(1);
    let photometric = get(TAG_PHOTOMETRIC).unwrap_or(1);
    let bits = find(TAG_BITS)
        .map(|e| l.uints(&mut d, &e, 1))
        .and_then(|v| v.first().copied())
        .unwrap_or(1);
    facts.bit_depth = u8::try_from(bits).unwrap_or(u8::MAX);
    let extra = find(TAG_EXTRA_SAMPLES)
        .map(|e| l.uints(&mut d, &e, 4))
        .unwrap_or_default();
    facts.has_alpha = extra.iter().any(|&v| v == 1 || v == 2);
    facts.color_model = match photometric {
        0 | 1 if facts.has_alpha => "gray-alpha",
        0 | 1 => "gray",
        3 => "indexed",
        5 if samples >= 4 => "cmyk",
        _ if facts.has_alpha => "rgba",
        _ => "rgb",
    }
    .into();
    if let Some(e) = find(TAG_ICC) {
        facts.icc_profile = l
            .bytes(&mut d, &e, super::MAX_METADATA_READ)
            .map(|p| icc::profile_name(&p));
    }
    let exif = exif_from_ifd0(&l, &mut d, &entries);
    facts.exif_orientation = exif.orientation;
    facts.has_gps = exif.has_gps;
    facts.has_exif = find(TAG_EXIF_IFD).is_some() || find(TAG_GPS_IFD).is_some();
    // The first strip or tile must lie inside the file (a cheap truncation check).
    for (offs, counts) in [
        (TAG_STRIP_OFFSETS, TAG_STRIP_COUNTS),
        (TAG_TILE_OFFSETS, TAG_TILE_COUNTS),
    ] {
        if let (Some(o), Some(c)) = (find(offs), find(counts)) {
            let last = |v: Vec<u64>| v.last().copied();
            // Checking the last of the first 4096 strips covers files of any size cheaply.
            let (o, c) = (
                last(l.uints(&mut d, &o, 4096)),
                last(l.uints(&mut d, &c, 4096)),
            );
            if let (Some(o), Some(c)) = (o, c) {
                let end = o.saturating_add(c);
                if end > len {
                    return Err(bad(format!(
                        "truncated TIFF: image data runs to offset {end} but the file ends after {len} bytes"
                    )));
                }
            }
        }
    }
    Ok(facts)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal EXIF block: IFD0 with orientation and (optionally) a GPS IFD with one entry.
    pub(crate) fn exif_block(le: bool, orientation: u16, gps: bool) -> Vec<u8> {
        let w16 = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let w32 = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut b = Vec::new();
        b.extend_from_slice(if le { b"II" } else { b"MM" });
        b.extend_from_slice(&w16(42));
        b.extend_from_slice(&w32(8));
        let n = if gps { 2 } else { 1 };
        b.extend_from_slice(&w16(n));
        b.extend_from_slice(&w16(TAG_ORIENTATION));
        b.extend_from_slice(&w16(3));
        b.extend_from_slice(&w32(1));
        b.extend_from_slice(&w16(orientation));
        b.extend_from_slice(&[0, 0]);
        if gps {
            let gps_off = 8 + 2 + 12 * 2 + 4;
            b.extend_from_slice(&w16(TAG_GPS_IFD));
            b.extend_from_slice(&w16(4));
            b.extend_from_slice(&w32(1));
            b.extend_from_slice(&w32(gps_off));
        }
        b.extend_from_slice(&w32(0));
        if gps {
            b.extend_from_slice(&w16(1));
            b.extend_from_slice(&w16(1)); // GPSLatitudeRef
            b.extend_from_slice(&w16(2));
            b.extend_from_slice(&w32(2));
            b.extend_from_slice(b"N\0\0\0");
            b.extend_from_slice(&w32(0));
        }
        b
    }

    /// A little RGBA TIFF file (big-endian): 3 x 2 px, 8 bits, orientation 6, one strip.
    pub(crate) fn tiff_file() -> Vec<u8> {
        let entries: [(u16, u16, u32, u32); 10] = [
            (TAG_WIDTH, 3, 1, 3 << 16),
            (TAG_HEIGHT, 3, 1, 2 << 16),
            (TAG_BITS, 3, 4, 200),
            (TAG_PHOTOMETRIC, 3, 1, 2 << 16),
            (TAG_STRIP_OFFSETS, 4, 1, 208),
            (TAG_ORIENTATION, 3, 1, 6 << 16),
            (TAG_SAMPLES, 3, 1, 4 << 16),
            (TAG_STRIP_COUNTS, 4, 1, 24),
            (TAG_EXTRA_SAMPLES, 3, 1, 2 << 16),
            (TAG_ICC, 7, 4, u32::from_be_bytes(*b"acsp")),
        ];
        let mut b = b"MM\0\x2a\0\0\0\x08".to_vec();
        b.extend_from_slice(&(entries.len() as u16).to_be_bytes());
        for (tag, typ, count, value) in entries {
            b.extend_from_slice(&tag.to_be_bytes());
            b.extend_from_slice(&typ.to_be_bytes());
            b.extend_from_slice(&count.to_be_bytes());
            b.extend_from_slice(&value.to_be_bytes());
        }
        b.extend_from_slice(&[0; 4]);
        b.resize(200, 0);
        for _ in 0..4 {
            b.extend_from_slice(&8u16.to_be_bytes());
        }
        b.extend_from_slice(&[0x80; 24]);
        b
    }

    #[test]
    fn tiff_files() {
        use crate::model::ImageFormat;
        use crate::probe::image::probe_image_bytes;
        let t = tiff_file();
        let f = probe_image_bytes(&t, ImageFormat::Tiff).unwrap();
        assert_eq!(
            (f.width, f.height, f.bit_depth, f.has_alpha),
            (3, 2, 8, true)
        );
        assert_eq!(
            (f.color_model.as_str(), f.exif_orientation),
            ("rgba", Some(6))
        );
        assert_eq!(f.icc_profile.as_deref(), Some(icc::UNNAMED));
        let e = probe_image_bytes(&t[..t.len() - 1], ImageFormat::Tiff)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("truncated TIFF: image data runs to offset 232"),
            "{e}"
        );
        for n in 0..t.len() {
            assert!(
                probe_image_bytes(&t[..n], ImageFormat::Tiff).is_err(),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn exif_both_byte_orders() {
        for le in [true, false] {
            let e = parse_exif(&exif_block(le, 6, true));
            assert_eq!(
                e,
                ExifInfo {
                    orientation: Some(6),
                    has_gps: true
                }
            );
            let mut with_prefix = b"Exif\0\0".to_vec();
            with_prefix.extend(exif_block(le, 8, false));
            assert_eq!(parse_exif(&with_prefix).orientation, Some(8));
            assert!(!parse_exif(&with_prefix).has_gps);
        }
    }

    #[test]
    fn broken_exif_says_nothing() {
        assert_eq!(parse_exif(b""), ExifInfo::default());
        assert_eq!(parse_exif(b"MM\0*\xff\xff\xff\xff"), ExifInfo::default());
        let mut b = exif_block(true, 9, true);
        assert_eq!(parse_exif(&b).orientation, None); // 9 is not an orientation
        // GPS pointer aimed past the end: drop the GPS directory.
        b.truncate(38);
        assert!(!parse_exif(&b).has_gps);
        for n in 0..b.len() {
            parse_exif(&b[..n]);
        }
    }
}
