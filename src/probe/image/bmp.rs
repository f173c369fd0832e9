//! BMP: the file header and the DIB header (OS/2 core, BITMAPINFOHEADER and its V4/V5 extensions).
//!
//! Size, bits per pixel and the alpha mask come from the DIB header; a cheap truncation check
//! compares the pixel data an uncompressed bitmap needs with what the file holds.

use std::io::{Read, Seek};

use super::{Src, bad, blank, le16_at, le32_at};
use crate::model::ImageFacts;
use crate::probe::ProbeError;

pub(crate) fn probe<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    let len = src.len;
    let mut f = blank(src.format, len);
    if len < 26 {
        return Err(bad(format!(
            "truncated BMP: {len} bytes is too short for a header"
        )));
    }
    let h = src.get_upto(0, 14 + 124 + 16)?.to_vec();
    let at16 = |i| le16_at(&h, i).unwrap_or(0);
    let at32 = |i| le32_at(&h, i).unwrap_or(0);
    let data_off = u64::from(at32(10));
    let dib = at32(14);
    let (w, height, bpp, compression) = match dib {
        12 => (i64::from(at16(18)), i64::from(at16(20)), at16(24), 0),
        40.. if h.len() >= 54 => (
            i64::from(at32(18) as i32),
            i64::from(at32(22) as i32),
            at16(28),
            at32(30),
        ),
        _ => return Err(bad(format!("corrupt BMP: unknown header size {dib}"))),
    };
    if w < 0 {
        return Err(bad(format!("corrupt BMP: negative width {w}")));
    }
    f.width = u32::try_from(w).unwrap_or(u32::MAX);
    f.height = u32::try_from(height.unsigned_abs()).unwrap_or(u32::MAX);
    super::check_dimensions(src.format, f.width, f.height)?;
    if !matches!(bpp, 1 | 2 | 4 | 8 | 16 | 24 | 32 | 64) {
        return Err(bad(format!("corrupt BMP: {bpp} bits per pixel")));
    }
    // Alpha mask: in V3+ headers (size >= 56), or after a 40-byte header with ALPHABITFIELDS (6).
    let alpha_mask = if dib >= 56 || (dib == 40 && compression == 6) {
        at32(66)
    } else {
        0
    };
    f.has_alpha = bpp == 32 && alpha_mask != 0;
    f.bit_depth = if bpp >= 16 { 8 } else { bpp as u8 };
    f.color_model = match bpp {
        1..=8 => "indexed",
        _ if f.has_alpha => "rgba",
        _ => "rgb",
    }
    .into();
    if data_off > len {
        return Err(bad(format!(
            "truncated BMP: pixel data starts at offset {data_off} but the file ends after {len} bytes"
        )));
    }
    if matches!(compression, 0 | 3 | 6) {
        let stride = (u64::from(f.width) * u64::from(bpp)).div_ceil(32) * 4;
        let need = stride.saturating_mul(u64::from(f.height));
        if need > len - data_off {
            return Err(bad(format!(
                "truncated BMP: {} x {} px at {bpp} bits need {need} bytes of pixel data but only {} remain",
                f.width,
                f.height,
                len - data_off
            )));
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use crate::model::ImageFormat;
    use crate::probe::image::probe_image_bytes;

    pub(crate) fn bmp(w: i32, h: i32, bpp: u16, v5_alpha: bool) -> Vec<u8> {
        let dib: u32 = if v5_alpha { 124 } else { 40 };
        let off = 14 + dib;
        let stride = ((w.unsigned_abs() * u32::from(bpp)).div_ceil(32) * 4) as usize;
        let mut b = b"BM".to_vec();
        b.extend_from_slice(&(off + (stride * h.unsigned_abs() as usize) as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&off.to_le_bytes());
        let mut d = vec![0u8; dib as usize];
        d[0..4].copy_from_slice(&dib.to_le_bytes());
        d[4..8].copy_from_slice(&w.to_le_bytes());
        d[8..12].copy_from_slice(&h.to_le_bytes());
        d[12..14].copy_from_slice(&1u16.to_le_bytes());
        d[14..16].copy_from_slice(&bpp.to_le_bytes());
        if v5_alpha {
            d[16..20].copy_from_slice(&3u32.to_le_bytes());
            d[52..56].copy_from_slice(&0xFF00_0000u32.to_le_bytes());
        }
        b.extend(d);
        b.extend(vec![0u8; stride * h.unsigned_abs() as usize]);
        b
    }

    #[test]
    fn facts_and_truncation() {
        let f = probe_image_bytes(&bmp(10, -7, 24, false), ImageFormat::Bmp).unwrap();
        assert_eq!(
            (f.width, f.height, f.has_alpha, f.color_model.as_str()),
            (10, 7, false, "rgb")
        );
        let f = probe_image_bytes(&bmp(4, 4, 32, true), ImageFormat::Bmp).unwrap();
        assert!(f.has_alpha);
        assert_eq!(f.color_model, "rgba");
        let f = probe_image_bytes(&bmp(4, 4, 8, false), ImageFormat::Bmp).unwrap();
        assert_eq!(f.color_model, "indexed");
        let b = bmp(10, 10, 24, false);
        let e = probe_image_bytes(&b[..b.len() - 1], ImageFormat::Bmp)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("truncated BMP"), "{e}");
        assert!(probe_image_bytes(&bmp(-3, 3, 24, false), ImageFormat::Bmp).is_err());
        assert!(probe_image_bytes(&bmp(0, 3, 24, false), ImageFormat::Bmp).is_err());
        for n in 0..b.len() {
            assert!(probe_image_bytes(&b[..n], ImageFormat::Bmp).is_err());
        }
    }
}
