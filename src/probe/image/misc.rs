//! Formats every profile rejects but whose size the edge rules still report: JPEG XL (bare
//! codestream or ISO-BMFF container), ICO/CUR (largest entry, embedded PNGs included) and PSD/PSB.
//!
//! Only the headers are read; structure checks are limited to "the declared pieces lie inside the
//! file".

use std::io::{Read, Seek};

use super::{Src, bad, be16_at, be32_at, blank, le16_at, le32_at};
use crate::model::ImageFacts;
use crate::probe::ProbeError;

/// Bits of a JPEG XL header, least significant bit first.
struct Bits<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn u(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for k in 0..n {
            let byte = *self.b.get(self.pos / 8)?;
            v |= u32::from((byte >> (self.pos % 8)) & 1) << k;
            self.pos += 1;
        }
        Some(v)
    }

    fn size_u32(&mut self) -> Option<u32> {
        let bits = [9, 13, 18, 30][self.u(2)? as usize];
        self.u(bits)?.checked_add(1)
    }
}

/// Width, height and orientation from a JPEG XL codestream (starting with FF 0A).
fn jxl_codestream(b: &[u8]) -> Option<(u32, u32, Option<u16>)> {
    if b.get(0..2)? != [0xFF, 0x0A] {
        return None;
    }
    let mut r = Bits { b: &b[2..], pos: 0 };
    let small = r.u(1)? == 1;
    let height = if small {
        (r.u(5)? + 1) * 8
    } else {
        r.size_u32()?
    };
    let ratio = r.u(3)?;
    let width = match ratio {
        0 if small => (r.u(5)? + 1) * 8,
        0 => r.size_u32()?,
        _ => {
            let (num, den) =
                [(1, 1), (12, 10), (4, 3), (3, 2), (16, 9), (5, 4), (2, 1)][ratio as usize - 1];
            (u64::from(height) * num / den).min(u64::from(u32::MAX)) as u32
        }
    };
    // ImageMetadata: all_default, extra_fields, orientation.
    let mut orientation = None;
    if r.u(1)? == 0 && r.u(1)? == 1 {
        orientation = Some(r.u(3)? as u16 + 1);
    }
    Some((width, height, orientation))
}

pub(crate) fn probe_jxl<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    let len = src.len;
    let mut f = blank(src.format, len);
    let head = src.get_upto(0, 64)?.to_vec();
    let code = if head.starts_with(&[0xFF, 0x0A]) {
        head
    } else {
        // Container: find the first jxlc (or jxlp, after its 4-byte index) box.
        let mut pos = 0u64;
        let mut found = None;
        let mut boxes = 0;
        while pos + 8 <= len && boxes < 1000 {
            boxes += 1;
            let h = src.get(pos, 8)?;
            let (size, t) = (
                u64::from(be32_at(h, 0).unwrap_or(0)),
                [h[4], h[5], h[6], h[7]],
            );
            let (hdr, size) = match size {
                0 => (8, len - pos),
                1 => {
                    let b = src.get(pos + 8, 8)?;
                    (
                        16,
                        u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                    )
                }
                s => (8, s),
            };
            if size < hdr || size > len - pos {
                return Err(bad(format!(
                    "truncated JPEG XL: box at offset {pos} claims {size} bytes but only {} remain",
                    len - pos
                )));
            }
            match &t {
                b"jxlc" => found = Some(pos + hdr),
                b"jxlp" => found = Some(pos + hdr + 4),
                _ => {}
            }
            if found.is_some() {
                break;
            }
            pos += size;
        }
        let at = found.ok_or_else(|| bad("corrupt JPEG XL: no codestream box"))?;
        src.get_upto(at, 64)?.to_vec()
    };
    let (w, h, orientation) =
        jxl_codestream(&code).ok_or_else(|| bad("corrupt JPEG XL: unreadable size header"))?;
    (f.width, f.height, f.exif_orientation) = (w, h, orientation.filter(|&o| o != 1));
    Ok(f)
}

pub(crate) fn probe_ico<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    let len = src.len;
    let mut f = blank(src.format, len);
    let h = src.get_upto(0, 6)?.to_vec();
    let count = le16_at(&h, 4).ok_or_else(|| bad(format!("truncated ICO: {len} bytes")))?;
    if count == 0 {
        return Err(bad("corrupt ICO: no images in the directory"));
    }
    let table = src
        .get(6, usize::from(count) * 16)
        .map_err(|_| {
            bad(format!(
                "truncated ICO: the directory of {count} images runs past the end"
            ))
        })?
        .to_vec();
    let mut best: Option<(u64, u32, u32, u32, u64)> = None;
    for e in table.chunks_exact(16) {
        let w = if e[0] == 0 { 256 } else { u32::from(e[0]) };
        let h = if e[1] == 0 { 256 } else { u32::from(e[1]) };
        let bpp = u32::from(le16_at(e, 6).unwrap_or(0));
        let size = u64::from(le32_at(e, 8).unwrap_or(0));
        let off = u64::from(le32_at(e, 12).unwrap_or(0));
        if off.saturating_add(size) > len {
            return Err(bad(format!(
                "truncated ICO: an image at offset {off} claims {size} bytes but the file ends after {len}"
            )));
        }
        let area = u64::from(w) * u64::from(h);
        if best.is_none_or(|b| area > b.0) {
            best = Some((area, w, h, bpp, off));
        }
    }
    let (_, mut w, mut h, bpp, off) = best.unwrap_or_default();
    f.has_alpha = bpp == 32;
    // A PNG inside: its IHDR has the real size (the directory says 0 = 256 for big ones).
    if let Ok(p) = src.get(off, 26)
        && p.starts_with(b"\x89PNG\r\n\x1a\n")
    {
        w = be32_at(p, 16).unwrap_or(w);
        h = be32_at(p, 20).unwrap_or(h);
        f.has_alpha = matches!(p[25], 4 | 6);
    }
    (f.width, f.height) = (w, h);
    f.color_model = if f.has_alpha { "rgba" } else { "rgb" }.into();
    Ok(f)
}

pub(crate) fn probe_psd<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    let len = src.len;
    let mut f = blank(src.format, len);
    if len < 26 {
        return Err(bad(format!(
            "truncated PSD: {len} bytes is too short for a header"
        )));
    }
    let h = src.get(0, 26)?;
    let version = be16_at(h, 4).unwrap_or(0);
    if &h[0..4] != b"8BPS" || !matches!(version, 1 | 2) {
        return Err(bad("PSD header is missing or damaged"));
    }
    let channels = be16_at(h, 12).unwrap_or(0);
    f.height = be32_at(h, 14).unwrap_or(0);
    f.width = be32_at(h, 18).unwrap_or(0);
    f.bit_depth = be16_at(h, 22).unwrap_or(8).min(255) as u8;
    let mode = be16_at(h, 24).unwrap_or(3);
    let (model, base) = match mode {
        0 | 1 | 8 => ("gray", 1),
        2 => ("indexed", 1),
        4 => ("cmyk", 4),
        _ => ("rgb", 3),
    };
    f.has_alpha = channels > base;
    f.color_model = match (model, f.has_alpha) {
        ("gray", true) => "gray-alpha",
        ("rgb", true) => "rgba",
        (m, _) => m,
    }
    .into();
    Ok(f)
}

#[cfg(test)]
mod tests {
    use crate::model::ImageFormat;
    use crate::probe::image::probe_image_bytes;

    #[test]
    fn jxl_sizes() {
        // small: height (3+1)*8 = 32, ratio 1 (1:1), then all_default = 1.
        // bits LSB first: small=1, h_div8-1=3 (5 bits), ratio=1 (3 bits), all_default=1.
        let v: u32 = 1 | 3 << 1 | 1 << 6 | 1 << 9;
        let b = [0xFF, 0x0A, v as u8, (v >> 8) as u8, 0, 0];
        let f = probe_image_bytes(&b, ImageFormat::Jxl).unwrap();
        assert_eq!((f.width, f.height, f.exif_orientation), (32, 32, None));
        // large: height via 2-bit selector 1 → 13 bits (value 599 → 600), ratio 0, width 13 bits (799),
        // then all_default 0, extra_fields 1, orientation 6-1 = 5.
        let mut bits: Vec<(u32, usize)> = vec![
            (0, 1),
            (1, 2),
            (599, 13),
            (0, 3),
            (1, 2),
            (799, 13),
            (0, 1),
            (1, 1),
            (5, 3),
        ];
        let mut acc: u64 = 0;
        let mut n = 0;
        for (val, width) in bits.drain(..) {
            acc |= u64::from(val) << n;
            n += width;
        }
        let mut b = vec![0xFF, 0x0A];
        b.extend_from_slice(&acc.to_le_bytes());
        let f = probe_image_bytes(&b, ImageFormat::Jxl).unwrap();
        assert_eq!((f.width, f.height, f.exif_orientation), (800, 600, Some(6)));
        // In a container.
        let mut c = b"\0\0\0\x0cJXL \r\n\x87\n".to_vec();
        c.extend_from_slice(&((b.len() + 8) as u32).to_be_bytes());
        c.extend_from_slice(b"jxlc");
        c.extend_from_slice(&b);
        assert_eq!(probe_image_bytes(&c, ImageFormat::Jxl).unwrap().width, 800);
        assert!(probe_image_bytes(&c[..20], ImageFormat::Jxl).is_err());
    }

    #[test]
    fn ico_and_psd() {
        let mut ico = vec![0, 0, 1, 0, 2, 0];
        ico.extend_from_slice(&[16, 16, 0, 0, 1, 0, 32, 0, 4, 0, 0, 0, 38, 0, 0, 0]);
        ico.extend_from_slice(&[0, 0, 0, 0, 1, 0, 32, 0, 26, 0, 0, 0, 42, 0, 0, 0]);
        ico.extend_from_slice(&[0; 4]);
        let png = crate::probe::image::png::tests::png(512, 300, 8, 6, &[]);
        ico.extend_from_slice(&png[..26]);
        let f = probe_image_bytes(&ico, ImageFormat::Ico).unwrap();
        assert_eq!((f.width, f.height, f.has_alpha), (512, 300, true));
        assert!(probe_image_bytes(&ico[..40], ImageFormat::Ico).is_err());

        let mut psd = b"8BPS\0\x01\0\0\0\0\0\0\0\x04".to_vec();
        psd.extend_from_slice(&480u32.to_be_bytes());
        psd.extend_from_slice(&640u32.to_be_bytes());
        psd.extend_from_slice(&[0, 16, 0, 3]);
        let f = probe_image_bytes(&psd, ImageFormat::Psd).unwrap();
        assert_eq!(
            (f.width, f.height, f.bit_depth, f.has_alpha),
            (640, 480, 16, true)
        );
        assert_eq!(f.color_model, "rgba");
        assert!(probe_image_bytes(&psd[..20], ImageFormat::Psd).is_err());
    }
}
