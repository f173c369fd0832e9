//! WebP: check the RIFF size against the file, then walk the chunks (simple VP8 / VP8L files and
//! extended VP8X files with ALPH, ANIM/ANMF, ICCP, EXIF).
//!
//! Size comes from the VP8X canvas or the bitstream header; alpha from the VP8X flag, an ALPH chunk
//! or the VP8L alpha hint; animation from the VP8X flag plus the count of ANMF frames. A RIFF size
//! beyond the end of the file means truncation; bytes after the RIFF payload are tolerated.

use std::io::{Read, Seek};

use super::{MAX_METADATA_READ, Src, bad, blank, icc, le16_at, le32_at, tiff};
use crate::model::ImageFacts;
use crate::probe::ProbeError;

#[cfg(test)]
const FLAG_ICC: u8 = 0x20;
const FLAG_ALPHA: u8 = 0x10;
const FLAG_ANIMATION: u8 = 0x02;

fn le24(b: &[u8], i: usize) -> u32 {
    u32::from(b[i]) | u32::from(b[i + 1]) << 8 | u32::from(b[i + 2]) << 16
}

fn fourcc(t: &[u8]) -> String {
    t.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

pub(crate) fn probe<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    let len = src.len;
    let mut f = blank(src.format, len);
    if len < 20 {
        return Err(bad(format!(
            "truncated WebP: {len} bytes is too short for a header"
        )));
    }
    let h = src.get(0, 12)?;
    if &h[0..4] != b"RIFF" || &h[8..12] != b"WEBP" {
        return Err(bad("WebP RIFF header is missing or damaged"));
    }
    let riff_end = 8 + u64::from(le32_at(h, 4).unwrap_or(0));
    if riff_end > len {
        return Err(bad(format!(
            "truncated WebP: the RIFF header declares {riff_end} bytes but the file has {len}"
        )));
    }
    let mut pos: u64 = 12;
    let mut first = true;
    let mut vp8x_flags: Option<u8> = None;
    let mut image_chunk = false;
    let mut anmf: u32 = 0;
    while pos + 8 <= riff_end {
        let c = src.get(pos, 8)?;
        let mut tag = [0u8; 4];
        tag.copy_from_slice(&c[0..4]);
        let size = u64::from(le32_at(c, 4).unwrap_or(0));
        let data = pos + 8;
        if size > riff_end - data {
            return Err(bad(format!(
                "truncated WebP: chunk {} claims {size} bytes but only {} remain",
                fourcc(&tag),
                riff_end - data
            )));
        }
        let n = size as usize;
        match &tag {
            b"VP8 " | b"VP8L" if first || vp8x_flags.is_some() => {
                let b = src.get(data, n.min(10))?;
                let (w, h, alpha) = bitstream_size(&tag, b)?;
                if first {
                    f.width = w;
                    f.height = h;
                }
                f.has_alpha |= alpha;
                image_chunk = true;
            }
            b"VP8X" if first => {
                if n < 10 {
                    return Err(bad("corrupt WebP: VP8X chunk is too short"));
                }
                let b = src.get(data, 10)?;
                vp8x_flags = Some(b[0]);
                f.width = le24(b, 4) + 1;
                f.height = le24(b, 7) + 1;
                f.has_alpha = b[0] & FLAG_ALPHA != 0;
            }
            b"ALPH" => f.has_alpha = true,
            b"ANMF" => anmf = anmf.saturating_add(1),
            b"ICCP" => {
                let b = src.get(data, n.min(MAX_METADATA_READ))?;
                f.icc_profile = Some(icc::profile_name(b));
            }
            b"EXIF" => {
                let b = src.get(data, n.min(MAX_METADATA_READ))?;
                let exif = tiff::parse_exif(b);
                f.has_exif = true;
                f.exif_orientation = exif.orientation;
                f.has_gps = exif.has_gps;
            }
            _ if first => {
                return Err(bad(format!(
                    "corrupt WebP: the first chunk is {}, not VP8, VP8L or VP8X",
                    fourcc(&tag)
                )));
            }
            _ => {}
        }
        first = false;
        pos = data + size + (size & 1);
    }
    if first {
        return Err(bad("corrupt WebP: no chunks"));
    }
    match vp8x_flags {
        Some(flags) if flags & FLAG_ANIMATION != 0 => {
            if anmf == 0 {
                return Err(bad("corrupt WebP: animated but without any frame (ANMF)"));
            }
            f.frames = Some(anmf);
            f.animated = anmf > 1;
        }
        _ if !image_chunk => {
            return Err(bad("corrupt WebP: no image data (VP8 or VP8L chunk)"));
        }
        _ => {}
    }
    f.color_model = if f.has_alpha { "rgba" } else { "rgb" }.into();
    Ok(f)
}

/// Width, height and alpha hint of a VP8 (lossy) or VP8L (lossless) bitstream header.
fn bitstream_size(tag: &[u8; 4], b: &[u8]) -> Result<(u32, u32, bool), ProbeError> {
    if tag == b"VP8 " {
        if b.len() < 10 || b[3..6] != [0x9D, 0x01, 0x2A] {
            return Err(bad("corrupt WebP: VP8 bitstream has no key-frame header"));
        }
        if b[0] & 1 != 0 {
            return Err(bad(
                "corrupt WebP: VP8 bitstream does not start with a key frame",
            ));
        }
        let w = le16_at(b, 6).unwrap_or(0) & 0x3FFF;
        let h = le16_at(b, 8).unwrap_or(0) & 0x3FFF;
        Ok((u32::from(w), u32::from(h), false))
    } else {
        if b.len() < 5 || b[0] != 0x2F {
            return Err(bad("corrupt WebP: VP8L bitstream has no valid signature"));
        }
        let bits = le32_at(b, 1).unwrap_or(0);
        if bits >> 29 != 0 {
            return Err(bad("corrupt WebP: unknown VP8L version"));
        }
        Ok((
            (bits & 0x3FFF) + 1,
            ((bits >> 14) & 0x3FFF) + 1,
            (bits >> 28) & 1 != 0,
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::ImageFormat;
    use crate::probe::image::probe_image_bytes;

    fn chunk(t: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = t.to_vec();
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut r = b"RIFF".to_vec();
        r.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
        r.extend_from_slice(b"WEBP");
        r.extend(body);
        r
    }

    pub(crate) fn vp8(w: u16, h: u16) -> Vec<u8> {
        let mut d = vec![0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A];
        d.extend_from_slice(&w.to_le_bytes());
        d.extend_from_slice(&h.to_le_bytes());
        d.extend_from_slice(&[0; 8]);
        chunk(b"VP8 ", &d)
    }

    fn vp8l(w: u32, h: u32, alpha: bool) -> Vec<u8> {
        let bits = (w - 1) | (h - 1) << 14 | u32::from(alpha) << 28;
        let mut d = vec![0x2F];
        d.extend_from_slice(&bits.to_le_bytes());
        d.extend_from_slice(&[0; 4]);
        chunk(b"VP8L", &d)
    }

    fn vp8x(flags: u8, w: u32, h: u32) -> Vec<u8> {
        let mut d = vec![flags, 0, 0, 0];
        d.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
        d.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
        chunk(b"VP8X", &d)
    }

    pub(crate) fn simple_webp() -> Vec<u8> {
        riff(&[vp8(128, 96)])
    }

    #[test]
    fn simple_and_lossless() {
        let f = probe_image_bytes(&simple_webp(), ImageFormat::Webp).unwrap();
        assert_eq!((f.width, f.height, f.has_alpha), (128, 96, false));
        let f = probe_image_bytes(&riff(&[vp8l(200, 150, true)]), ImageFormat::Webp).unwrap();
        assert_eq!((f.width, f.height, f.has_alpha), (200, 150, true));
        assert_eq!(f.color_model, "rgba");
    }

    #[test]
    fn extended_animated_with_metadata() {
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(tiff::tests::exif_block(true, 6, true));
        let frame = chunk(b"ANMF", &[0u8; 24]);
        let w = riff(&[
            vp8x(FLAG_ANIMATION | FLAG_ALPHA | FLAG_ICC | 0x08, 245, 245),
            chunk(b"ICCP", &icc::tests::profile("sRGB", false)),
            chunk(b"ANIM", &[0u8; 6]),
            frame.clone(),
            frame.clone(),
            frame,
            chunk(b"EXIF", &exif),
        ]);
        let f = probe_image_bytes(&w, ImageFormat::Webp).unwrap();
        assert_eq!(
            (f.width, f.height, f.frames, f.animated, f.has_alpha),
            (245, 245, Some(3), true, true)
        );
        assert_eq!(f.icc_profile.as_deref(), Some("sRGB"));
        assert_eq!(
            (f.exif_orientation, f.has_gps, f.has_exif),
            (Some(6), true, true)
        );
        let still = riff(&[vp8x(0, 300, 200), chunk(b"ALPH", &[0; 3]), vp8(300, 200)]);
        let f = probe_image_bytes(&still, ImageFormat::Webp).unwrap();
        assert_eq!((f.width, f.animated, f.has_alpha), (300, false, true));
    }

    #[test]
    fn malformed() {
        let w = simple_webp();
        let e = probe_image_bytes(&w[..w.len() - 4], ImageFormat::Webp)
            .unwrap_err()
            .to_string();
        assert!(e.contains("RIFF header declares"), "{e}");
        for n in 0..w.len() {
            assert!(probe_image_bytes(&w[..n], ImageFormat::Webp).is_err());
        }
        assert!(probe_image_bytes(&riff(&[vp8x(0, 10, 10)]), ImageFormat::Webp).is_err());
        assert!(
            probe_image_bytes(&riff(&[vp8x(FLAG_ANIMATION, 10, 10)]), ImageFormat::Webp).is_err()
        );
        assert!(probe_image_bytes(&riff(&[chunk(b"JUNK", &[1, 2])]), ImageFormat::Webp).is_err());
        let e = probe_image_bytes(&riff(&[vp8(0, 5)]), ImageFormat::Webp).unwrap_err();
        assert_eq!(e.to_string(), "WebP declares a 0 x 5 image");
        let mut trailing = w.clone();
        trailing.extend_from_slice(&[0; 7]);
        assert!(probe_image_bytes(&trailing, ImageFormat::Webp).is_ok());
    }
}
