//! GIF: walk the block stream (extensions, image descriptors, data sub-blocks) to the trailer.
//!
//! Frames are counted from image descriptors; transparency comes from a Graphic Control Extension
//! with its transparency flag set. Every sub-block length must fit in the file. A frame that reaches
//! beyond `MAX_EDGE` (offset + size) is refused like an oversized screen: that is how GIF bombs
//! declare their size. A file that ends cleanly after a complete frame but lacks the one-byte
//! trailer is accepted, as every browser does.

use std::io::{Read, Seek};

use super::{MAX_EDGE, Src, bad, blank, le16_at};
use crate::model::ImageFacts;
use crate::probe::ProbeError;

/// Sequential block walking reads far ahead.
const GIF_READAHEAD: usize = 64 * 1024;

pub(crate) fn probe<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    src.readahead = GIF_READAHEAD;
    let len = src.len;
    let mut f = blank(src.format, len);
    f.color_model = "indexed".into();
    if len < 13 {
        return Err(bad(format!(
            "truncated GIF: {len} bytes is too short for a header"
        )));
    }
    let h = src.get(0, 13)?;
    if !(h.starts_with(b"GIF87a") || h.starts_with(b"GIF89a")) {
        return Err(bad("GIF signature is missing or damaged"));
    }
    f.width = u32::from(le16_at(h, 6).unwrap_or(0));
    f.height = u32::from(le16_at(h, 8).unwrap_or(0));
    let packed = h[10];
    super::check_dimensions(src.format, f.width, f.height)?;
    let mut pos: u64 = 13;
    if packed & 0x80 != 0 {
        pos += 3 << ((packed & 7) + 1);
    }
    let mut frames: u32 = 0;
    loop {
        if pos >= len {
            if frames > 0 {
                break; // Missing trailer after complete frames: tolerated.
            }
            return Err(bad(format!(
                "truncated GIF: the file ends after {len} bytes, before any image"
            )));
        }
        let at = pos;
        match src.u8(pos)? {
            0x3B => break,
            0x21 => {
                let label = src.u8(pos + 1)?;
                pos += 2;
                // Only the first frame's transparency is visible in the still a provider takes; later
                // frames use the flag to composite deltas over the previous frame.
                if label == 0xF9 && frames == 0 {
                    let b = src.get(pos, 2)?;
                    if b[0] >= 4 && b[1] & 1 != 0 {
                        f.has_alpha = true;
                    }
                }
                pos = skip_sub_blocks(src, pos)?;
            }
            0x2C => {
                let d = src.get(pos + 1, 9)?;
                let (left, top) = (le16_at(d, 0).unwrap_or(0), le16_at(d, 2).unwrap_or(0));
                let (w, hh) = (le16_at(d, 4).unwrap_or(0), le16_at(d, 6).unwrap_or(0));
                let right = u32::from(left) + u32::from(w);
                let bottom = u32::from(top) + u32::from(hh);
                if right > MAX_EDGE || bottom > MAX_EDGE {
                    return Err(bad(format!(
                        "GIF frame {} declares {w} x {hh} px at offset ({left}, {top}), reaching beyond {MAX_EDGE} px: a decompression bomb?",
                        frames + 1
                    )));
                }
                let lpacked = d[8];
                pos += 10;
                if lpacked & 0x80 != 0 {
                    pos += 3 << ((lpacked & 7) + 1);
                }
                let _lzw_min = src.u8(pos).map_err(|_| {
                    bad(format!(
                        "truncated GIF: the file ends after {len} bytes, inside frame {}",
                        frames + 1
                    ))
                })?;
                pos = skip_sub_blocks(src, pos + 1)?;
                frames = frames.saturating_add(1);
            }
            b => {
                return Err(bad(format!(
                    "corrupt GIF: unknown block type 0x{b:02X} at offset {at}"
                )));
            }
        }
    }
    if frames == 0 {
        return Err(bad("corrupt GIF: no image in the file"));
    }
    f.frames = Some(frames);
    f.animated = frames > 1;
    Ok(f)
}

/// Skip a chain of data sub-blocks starting at `pos`; returns the offset after the terminator.
fn skip_sub_blocks<R: Read + Seek>(src: &mut Src<R>, mut pos: u64) -> Result<u64, ProbeError> {
    loop {
        let n = if pos < src.len { src.u8(pos)? } else { 0xFF };
        if pos >= src.len || u64::from(n) >= src.remaining(pos) {
            return Err(bad(format!(
                "truncated GIF: a data block at offset {pos} runs past the end of the file ({} bytes)",
                src.len
            )));
        }
        pos += 1 + u64::from(n);
        if n == 0 {
            return Ok(pos);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::model::ImageFormat;
    use crate::probe::image::probe_image_bytes;

    pub(crate) fn gif(w: u16, h: u16, frames: usize, transparent: bool) -> Vec<u8> {
        let mut g = b"GIF89a".to_vec();
        g.extend_from_slice(&w.to_le_bytes());
        g.extend_from_slice(&h.to_le_bytes());
        g.extend_from_slice(&[0x80, 0, 0]); // 2-colour global table
        g.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
        g.extend_from_slice(b"\x21\xFF\x0BNETSCAPE2.0\x03\x01\0\0\0");
        for _ in 0..frames {
            g.extend_from_slice(&[0x21, 0xF9, 4, u8::from(transparent), 0, 0, 0, 0]);
            g.push(0x2C);
            g.extend_from_slice(&[0, 0, 0, 0]);
            g.extend_from_slice(&w.to_le_bytes());
            g.extend_from_slice(&h.to_le_bytes());
            g.push(0);
            g.extend_from_slice(&[2, 2, 0x4C, 0x01, 0]);
        }
        g.push(0x3B);
        g
    }

    #[test]
    fn frames_and_transparency() {
        let f = probe_image_bytes(&gif(14, 25, 24, false), ImageFormat::Gif).unwrap();
        assert_eq!(
            (f.width, f.height, f.frames, f.animated),
            (14, 25, Some(24), true)
        );
        assert!(!f.has_alpha);
        let f = probe_image_bytes(&gif(3, 3, 1, true), ImageFormat::Gif).unwrap();
        assert_eq!((f.frames, f.animated, f.has_alpha), (Some(1), false, true));
        // Missing trailer after a whole frame is fine.
        let g = gif(3, 3, 1, false);
        assert!(probe_image_bytes(&g[..g.len() - 1], ImageFormat::Gif).is_ok());
    }

    #[test]
    fn malformed() {
        let e = probe_image_bytes(&gif(0, 32, 1, false), ImageFormat::Gif).unwrap_err();
        assert_eq!(e.to_string(), "GIF declares a 0 x 32 image");
        let g = gif(3, 3, 2, false);
        // Each frame is 23 bytes; cutting anywhere before the end of frame 1 fails.
        for n in 0..g.len() - 1 - 23 {
            assert!(
                probe_image_bytes(&g[..n], ImageFormat::Gif).is_err(),
                "prefix {n}"
            );
        }
        let mut bomb = gif(32, 32, 1, false);
        let d = bomb.iter().position(|&b| b == 0x2C).unwrap();
        bomb[d + 3..d + 5].copy_from_slice(&0xFF00u16.to_le_bytes());
        bomb[d + 7..d + 9].copy_from_slice(&0x0529u16.to_le_bytes());
        let e = probe_image_bytes(&bomb, ImageFormat::Gif)
            .unwrap_err()
            .to_string();
        assert!(e.contains("decompression bomb"), "{e}");
    }
}
