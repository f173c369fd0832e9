//! PNG (and APNG): walk the chunk list by seeking from one chunk header to the next.
//!
//! IHDR must come first with a valid CRC; every chunk's length must fit in the file; IDAT and IEND
//! must be present. IDAT payloads are never read. Facts come from IHDR (size, colour type, depth),
//! tRNS (transparency), acTL (APNG frame count), iCCP (profile name, which PNG stores uncompressed)
//! and eXIf (orientation, GPS). Bytes after IEND are tolerated (some writers add a newline).

use std::io::{Read, Seek};

use super::{MAX_METADATA_READ, Src, bad, be32_at, blank, clean_text, tiff};
use crate::model::ImageFacts;
use crate::probe::ProbeError;

/// The PNG spec caps chunk lengths at 2^31 - 1.
const MAX_CHUNK_LEN: u32 = 0x7FFF_FFFF;

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[n] = c;
        n += 1;
    }
    t
};

/// CRC-32 as PNG uses it (over chunk type and data).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| {
        CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

fn type_name(t: &[u8]) -> String {
    if t.iter().all(u8::is_ascii_alphabetic) {
        String::from_utf8_lossy(t).into_owned()
    } else {
        format!("{:02X}{:02X}{:02X}{:02X}", t[0], t[1], t[2], t[3])
    }
}

pub(crate) fn probe<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    let len = src.len;
    let mut f = blank(src.format, len);
    if src.get_upto(0, 8)? != b"\x89PNG\r\n\x1a\n" {
        return Err(bad("PNG signature is missing or damaged"));
    }
    // IHDR: length 13, type, 13 bytes, CRC.
    if len < 8 + 25 {
        return Err(bad(format!(
            "truncated PNG: {len} bytes is too short for a header"
        )));
    }
    let ihdr = src.get(8, 25)?;
    if be32_at(ihdr, 0) != Some(13) || &ihdr[4..8] != b"IHDR" {
        return Err(bad("corrupt PNG: the first chunk is not a valid IHDR"));
    }
    let stored_crc = be32_at(ihdr, 21).unwrap_or(0);
    if crc32(&ihdr[4..21]) != stored_crc {
        return Err(bad("corrupt PNG: IHDR checksum mismatch"));
    }
    f.width = be32_at(ihdr, 8).unwrap_or(0);
    f.height = be32_at(ihdr, 12).unwrap_or(0);
    let (depth, ctype, compression, filter, interlace) =
        (ihdr[16], ihdr[17], ihdr[18], ihdr[19], ihdr[20]);
    let depth_ok = match ctype {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => false,
    };
    if !depth_ok || compression != 0 || filter != 0 || interlace > 1 {
        return Err(bad(format!(
            "corrupt PNG: invalid IHDR (colour type {ctype}, bit depth {depth}, compression {compression}, filter {filter}, interlace {interlace})"
        )));
    }
    // Refuse bombs before walking further.
    super::check_dimensions(src.format, f.width, f.height)?;
    f.bit_depth = depth;
    f.color_model = match ctype {
        0 => "gray",
        2 => "rgb",
        3 => "indexed",
        4 => "gray-alpha",
        _ => "rgba",
    }
    .into();
    f.has_alpha = matches!(ctype, 4 | 6);

    let mut pos: u64 = 8 + 25;
    let mut seen_idat = false;
    loop {
        if src.remaining(pos) < 12 {
            let what = if seen_idat {
                "end chunk (IEND)"
            } else {
                "image data (IDAT)"
            };
            return Err(bad(format!(
                "truncated PNG: the file ends after {len} bytes, before its {what}"
            )));
        }
        let h = src.get(pos, 8)?;
        let clen = be32_at(h, 0).unwrap_or(0);
        let mut ctype = [0u8; 4];
        ctype.copy_from_slice(&h[4..8]);
        let name = type_name(&ctype);
        if !ctype.iter().all(u8::is_ascii_alphabetic) {
            return Err(bad(format!(
                "corrupt PNG: invalid chunk type {name} at offset {pos}"
            )));
        }
        let room = src.remaining(pos + 8);
        if clen > MAX_CHUNK_LEN || u64::from(clen) + 4 > room {
            return Err(bad(format!(
                "truncated PNG: chunk {name} claims {clen} bytes but only {} remain",
                room.saturating_sub(4)
            )));
        }
        let data = pos + 8;
        let dlen = clen as usize;
        match &ctype {
            b"IDAT" => seen_idat = true,
            b"IEND" => break,
            b"IHDR" => return Err(bad("corrupt PNG: a second IHDR chunk")),
            b"tRNS" => f.has_alpha = true,
            b"acTL" if dlen >= 8 => {
                let frames = src.be32(data)?;
                f.frames = Some(frames);
                f.animated = frames > 1;
            }
            b"iCCP" => {
                let b = src.get(data, dlen.min(80))?;
                let name = clean_text(b);
                f.icc_profile = Some(if name.is_empty() {
                    super::icc::UNNAMED.into()
                } else {
                    name
                });
            }
            b"eXIf" => {
                let b = src.get(data, dlen.min(MAX_METADATA_READ))?;
                let exif = tiff::parse_exif(b);
                f.has_exif = true;
                f.exif_orientation = exif.orientation;
                f.has_gps = exif.has_gps;
            }
            _ => {}
        }
        pos = data + u64::from(clen) + 4;
    }
    if !seen_idat {
        return Err(bad(
            "corrupt PNG: no image data (IDAT) before the end chunk",
        ));
    }
    Ok(f)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::ImageFormat;
    use crate::probe::image::probe_image_bytes;

    pub(crate) fn chunk(t: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(t);
        c.extend_from_slice(data);
        let crc = crc32(&c[4..]);
        c.extend_from_slice(&crc.to_be_bytes());
        c
    }

    pub(crate) fn png(w: u32, h: u32, depth: u8, ctype: u8, extra: &[Vec<u8>]) -> Vec<u8> {
        let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[depth, ctype, 0, 0, 0]);
        p.extend(chunk(b"IHDR", &ihdr));
        for e in extra {
            p.extend_from_slice(e);
        }
        p.extend(chunk(b"IDAT", &[0x78, 0x9C, 0, 0, 0, 0]));
        p.extend(chunk(b"IEND", &[]));
        p
    }

    #[test]
    fn crc_matches_reference() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn facts_from_chunks() {
        let mut actl = 3u32.to_be_bytes().to_vec();
        actl.extend_from_slice(&0u32.to_be_bytes());
        let exif = tiff::tests::exif_block(true, 8, false);
        let p = png(
            300,
            200,
            16,
            6,
            &[
                chunk(b"acTL", &actl),
                chunk(b"iCCP", b"Display P3\0\0xyz"),
                chunk(b"eXIf", &exif),
            ],
        );
        let f = probe_image_bytes(&p, ImageFormat::Png).unwrap();
        assert_eq!((f.width, f.height, f.bit_depth), (300, 200, 16));
        assert!(f.has_alpha && f.animated);
        assert_eq!(f.frames, Some(3));
        assert_eq!(f.color_model, "rgba");
        assert_eq!(f.icc_profile.as_deref(), Some("Display P3"));
        assert_eq!(f.exif_orientation, Some(8));
        let f =
            probe_image_bytes(&png(1, 1, 1, 3, &[chunk(b"tRNS", &[0])]), ImageFormat::Png).unwrap();
        assert!(f.has_alpha);
        assert_eq!((f.color_model.as_str(), f.bit_depth), ("indexed", 1));
        let f = probe_image_bytes(&png(5, 5, 8, 0, &[]), ImageFormat::Png).unwrap();
        assert!(!f.has_alpha);
        assert_eq!(f.color_model, "gray");
    }

    #[test]
    fn malformed() {
        let p = png(10, 10, 8, 2, &[]);
        let mut bad_crc = p.clone();
        bad_crc[29] ^= 1;
        assert!(
            probe_image_bytes(&bad_crc, ImageFormat::Png)
                .unwrap_err()
                .to_string()
                .contains("checksum")
        );
        // IDAT claiming more than is there.
        let mut long = p.clone();
        long[33..37].copy_from_slice(&65536u32.to_be_bytes());
        let e = probe_image_bytes(&long, ImageFormat::Png)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("truncated PNG: chunk IDAT claims 65536 bytes but only"),
            "{e}"
        );
        let e = probe_image_bytes(&p[..p.len() - 12], ImageFormat::Png)
            .unwrap_err()
            .to_string();
        assert!(e.contains("before its end chunk"), "{e}");
        let no_idat: Vec<u8> = [&p[..33], &chunk(b"IEND", &[])[..]].concat();
        assert!(
            probe_image_bytes(&no_idat, ImageFormat::Png)
                .unwrap_err()
                .to_string()
                .contains("IDAT")
        );
        let e = probe_image_bytes(&png(100_000, 100_000, 8, 2, &[]), ImageFormat::Png).unwrap_err();
        assert!(e.to_string().contains("decompression bomb"), "{e}");
        assert!(probe_image_bytes(&png(10, 10, 3, 2, &[]), ImageFormat::Png).is_err());
        let mut trailing = p.clone();
        trailing.push(b'\n');
        assert!(probe_image_bytes(&trailing, ImageFormat::Png).is_ok());
        for n in 0..p.len() {
            assert!(probe_image_bytes(&p[..n], ImageFormat::Png).is_err());
        }
    }
}
