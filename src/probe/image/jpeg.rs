//! JPEG: walk the marker segments up to the first scan (SOS), then check the file's tail for the
//! end-of-image marker.
//!
//! Facts come from the frame header (SOFn: size, precision, components, coding process), APP1 Exif
//! (orientation, GPS), APP2 ICC_PROFILE chunks (profile name) and APP14 Adobe (the colour transform
//! that tells CMYK from YCCK). The entropy-coded data is never read: truncation is detected by
//! looking for FF D9 in the last `TAIL_WINDOW` bytes after the first scan.
//!
//! Trailing data after EOI is tolerated when it is short (cameras pad files with zeros or junk; the
//! EOI just has to be among the last `TAIL_WINDOW` bytes) and when it is a known appended payload:
//! Google/Samsung motion photos (an MP4 after EOI, announced in the XMP) and Samsung's "SEFT" trailer.
//! Multi-picture files (MPF previews, gain maps) end with their last image's EOI and pass as they are.

use std::io::{Read, Seek};

use super::{MAX_METADATA_READ, Src, bad, blank, icc, tiff};
use crate::model::ImageFacts;
use crate::probe::ProbeError;

/// The end-of-image marker must be within this many bytes of the end of the file.
pub(crate) const TAIL_WINDOW: u64 = 8 * 1024;

/// Junk bytes tolerated between two segments before we call the file corrupt (libjpeg skips them with
/// a warning).
const MAX_JUNK: u64 = 1024;

const XMP_ID: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

fn marker_name(m: u8) -> String {
    match m {
        0xC4 => "DHT".into(),
        0xCC => "DAC".into(),
        0xC0..=0xCF => format!("SOF{}", m - 0xC0),
        0xDA => "SOS".into(),
        0xDB => "DQT".into(),
        0xDD => "DRI".into(),
        0xE0..=0xEF => format!("APP{}", m - 0xE0),
        0xFE => "COM".into(),
        _ => format!("0xFF{m:02X}"),
    }
}

pub(crate) fn probe<R: Read + Seek>(src: &mut Src<R>) -> Result<ImageFacts, ProbeError> {
    let len = src.len;
    let mut f = blank(src.format, len);
    if src.get_upto(0, 2)? != [0xFF, 0xD8] {
        return Err(bad("JPEG does not start with a start-of-image marker"));
    }
    let mut pos: u64 = 2;
    let mut have_sof = false;
    let mut components = 0u8;
    let mut adobe_transform: Option<u8> = None;
    let mut icc_chunks: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut icc_total = 0usize;
    let mut xmp_segments: Vec<(u64, usize)> = Vec::new();
    let scan_start;
    loop {
        // Find the next marker, skipping a little junk and any fill bytes.
        let junk_start = pos;
        while pos < len && src.u8(pos)? != 0xFF {
            pos += 1;
            if pos - junk_start > MAX_JUNK {
                return Err(bad(format!(
                    "corrupt JPEG: no marker between offsets {junk_start} and {pos}"
                )));
            }
        }
        while pos + 1 < len && src.u8(pos + 1)? == 0xFF {
            pos += 1;
        }
        if pos + 1 >= len {
            return Err(bad(format!(
                "truncated JPEG: the file ends after {len} bytes, before any image data"
            )));
        }
        let m = src.u8(pos + 1)?;
        let at = pos;
        pos += 2;
        match m {
            0xD9 => {
                return Err(bad(format!(
                    "corrupt JPEG: end-of-image marker at offset {at} before any image data"
                )));
            }
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        if pos + 2 > len {
            return Err(bad(format!(
                "truncated JPEG: the file ends after {len} bytes, inside the {} segment header",
                marker_name(m)
            )));
        }
        let seg_len = u64::from(src.be16(pos)?);
        if seg_len < 2 {
            return Err(bad(format!(
                "corrupt JPEG: segment {} at offset {at} has an invalid length of {seg_len}",
                marker_name(m)
            )));
        }
        if seg_len > src.remaining(pos) {
            return Err(bad(format!(
                "truncated JPEG: segment {} at offset {at} claims {seg_len} bytes but only {} remain",
                marker_name(m),
                src.remaining(pos)
            )));
        }
        let body = pos + 2;
        let body_len = (seg_len - 2) as usize;
        match m {
            0xDA => {
                if !have_sof {
                    return Err(bad(
                        "corrupt JPEG: image data (SOS) before any frame header (SOF)",
                    ));
                }
                scan_start = pos + seg_len;
                break;
            }
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF if !have_sof => {
                let b = src.get(body, body_len.min(6))?;
                if b.len() < 6 {
                    return Err(bad(format!(
                        "corrupt JPEG: frame header {} is too short",
                        marker_name(m)
                    )));
                }
                have_sof = true;
                f.bit_depth = b[0];
                f.height = u32::from(u16::from_be_bytes([b[1], b[2]]));
                f.width = u32::from(u16::from_be_bytes([b[3], b[4]]));
                components = b[5];
                f.jpeg_coding = Some(
                    match m {
                        0xC0 => "baseline",
                        0xC1 | 0xC5 => "extended",
                        0xC2 | 0xC6 => "progressive",
                        0xC3 | 0xC7 => "lossless",
                        _ => "arithmetic",
                    }
                    .into(),
                );
            }
            0xE1 => {
                let head = src.get(body, body_len.min(XMP_ID.len()))?;
                if head.starts_with(b"Exif\0\0") && !f.has_exif {
                    f.has_exif = true;
                    let data = src.get(body, body_len.min(MAX_METADATA_READ))?;
                    let exif = tiff::parse_exif(data);
                    f.exif_orientation = exif.orientation;
                    f.has_gps = exif.has_gps;
                } else if head == XMP_ID {
                    xmp_segments.push((body, body_len));
                }
            }
            0xE2 => {
                let b = src.get(body, body_len)?;
                if b.len() > 14 && b.starts_with(b"ICC_PROFILE\0") && icc_total < MAX_METADATA_READ
                {
                    let chunk = &b[14..b.len().min(14 + MAX_METADATA_READ - icc_total)];
                    icc_total += chunk.len();
                    icc_chunks.push((b[12], chunk.to_vec()));
                }
            }
            0xEE => {
                let b = src.get(body, body_len.min(12))?;
                if b.len() >= 12 && b.starts_with(b"Adobe") {
                    adobe_transform = Some(b[11]);
                }
            }
            _ => {}
        }
        pos += seg_len;
    }

    f.color_model = match components {
        1 => "gray",
        4 if adobe_transform == Some(2) => "ycck",
        4 => "cmyk",
        _ => "rgb",
    }
    .into();
    if !icc_chunks.is_empty() {
        icc_chunks.sort_by_key(|c| c.0);
        let mut profile = Vec::with_capacity(icc_total);
        for (_, chunk) in &icc_chunks {
            profile.extend_from_slice(chunk);
        }
        f.icc_profile = Some(icc::profile_name(&profile));
    }
    check_eoi(src, scan_start, &xmp_segments)?;
    Ok(f)
}

/// The file must end with FF D9, give or take `TAIL_WINDOW` bytes of padding or a known trailer.
fn check_eoi<R: Read + Seek>(
    src: &mut Src<R>,
    scan_start: u64,
    xmp: &[(u64, usize)],
) -> Result<(), ProbeError> {
    let len = src.len;
    let from = scan_start.max(len.saturating_sub(TAIL_WINDOW));
    let tail = src.get(from, (len - from) as usize)?;
    let has_eoi = tail
        .iter()
        .enumerate()
        .rev()
        .any(|(i, &b)| b == 0xD9 && i > 0 && tail[i - 1] == 0xFF);
    if has_eoi || tail.ends_with(b"SEFT") {
        return Ok(());
    }
    for &(pos, n) in xmp {
        let x = src.get(pos, n)?;
        let has = |needle: &[u8]| x.windows(needle.len()).any(|w| w == needle);
        if has(b"MicroVideo") || has(b"MotionPhoto") {
            return Ok(());
        }
    }
    Err(bad(format!(
        "truncated JPEG: no end-of-image marker (file ends after {len} bytes)"
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::ImageFormat;
    use crate::probe::image::probe_image_bytes;

    fn seg(m: u8, body: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, m];
        s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        s.extend_from_slice(body);
        s
    }

    /// A structurally valid JPEG header + fake scan: `sof` marker, size, components, extra segments.
    pub(crate) fn jpeg(sof: u8, w: u16, h: u16, comps: u8, extra: &[Vec<u8>]) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8];
        j.extend(seg(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        for e in extra {
            j.extend_from_slice(e);
        }
        let mut sof_body = vec![8];
        sof_body.extend_from_slice(&h.to_be_bytes());
        sof_body.extend_from_slice(&w.to_be_bytes());
        sof_body.push(comps);
        for c in 0..comps {
            sof_body.extend_from_slice(&[c + 1, 0x11, 0]);
        }
        j.extend(seg(sof, &sof_body));
        j.extend(seg(0xDA, &[1, 1, 0, 0, 63, 0]));
        j.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78]);
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    pub(crate) fn app1_exif(orientation: u16, gps: bool) -> Vec<u8> {
        let mut b = b"Exif\0\0".to_vec();
        b.extend(tiff::tests::exif_block(false, orientation, gps));
        seg(0xE1, &b)
    }

    #[test]
    fn baseline_with_exif_and_icc() {
        let mut icc_body = b"ICC_PROFILE\0\x01\x01".to_vec();
        icc_body.extend(icc::tests::profile("Display P3", true));
        let j = jpeg(
            0xC0,
            640,
            480,
            3,
            &[app1_exif(6, true), seg(0xE2, &icc_body)],
        );
        let f = probe_image_bytes(&j, ImageFormat::Jpeg).unwrap();
        assert_eq!((f.width, f.height), (640, 480));
        assert_eq!(f.exif_orientation, Some(6));
        assert!(f.has_exif && f.has_gps);
        assert_eq!(f.icc_profile.as_deref(), Some("Display P3"));
        assert_eq!(f.jpeg_coding.as_deref(), Some("baseline"));
        assert_eq!(f.color_model, "rgb");
        assert_eq!(f.display_size(), (480, 640));
    }

    #[test]
    fn coding_and_colour() {
        for (m, name) in [
            (0xC1, "extended"),
            (0xC2, "progressive"),
            (0xC3, "lossless"),
            (0xC9, "arithmetic"),
            (0xCA, "arithmetic"),
        ] {
            let f = probe_image_bytes(&jpeg(m, 10, 10, 1, &[]), ImageFormat::Jpeg).unwrap();
            assert_eq!(f.jpeg_coding.as_deref(), Some(name));
            assert_eq!(f.color_model, "gray");
        }
        let adobe = |t: u8| seg(0xEE, &[b'A', b'd', b'o', b'b', b'e', 0, 100, 0, 0, 0, 0, t]);
        let f = probe_image_bytes(&jpeg(0xC0, 10, 10, 4, &[adobe(2)]), ImageFormat::Jpeg).unwrap();
        assert_eq!(f.color_model, "ycck");
        let f = probe_image_bytes(&jpeg(0xC0, 10, 10, 4, &[adobe(0)]), ImageFormat::Jpeg).unwrap();
        assert_eq!(f.color_model, "cmyk");
    }

    #[test]
    fn truncation_and_padding() {
        let j = jpeg(0xC2, 100, 100, 3, &[]);
        let cut = &j[..j.len() - 2];
        let e = probe_image_bytes(cut, ImageFormat::Jpeg)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "truncated JPEG: no end-of-image marker (file ends after {} bytes)",
                cut.len()
            )
        );
        let mut padded = j.clone();
        padded.extend(vec![0u8; 3000]);
        assert!(probe_image_bytes(&padded, ImageFormat::Jpeg).is_ok());
        let mut far = j.clone();
        far.extend(vec![0u8; TAIL_WINDOW as usize + 10]);
        assert!(probe_image_bytes(&far, ImageFormat::Jpeg).is_err());
        let mut seft = far.clone();
        seft.extend_from_slice(b"SEFT");
        assert!(probe_image_bytes(&seft, ImageFormat::Jpeg).is_ok());
        // Segment length running past the end.
        let e = probe_image_bytes(&j[..12], ImageFormat::Jpeg)
            .unwrap_err()
            .to_string();
        assert!(e.contains("claims 16 bytes but only"), "{e}");
        // Every prefix fails cleanly.
        for n in 0..j.len() - 1 {
            assert!(probe_image_bytes(&j[..n], ImageFormat::Jpeg).is_err());
        }
    }

    #[test]
    fn sos_without_sof_and_zero_size() {
        let j = [0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 0xFF, 0xD9];
        assert!(
            probe_image_bytes(&j, ImageFormat::Jpeg)
                .unwrap_err()
                .to_string()
                .contains("SOF")
        );
        let e = probe_image_bytes(&jpeg(0xC0, 0, 10, 3, &[]), ImageFormat::Jpeg).unwrap_err();
        assert_eq!(e.to_string(), "JPEG declares a 0 x 10 image");
    }
}
