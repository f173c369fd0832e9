//! How many bytes a video's container structure declares, read from a few box or element headers.
//!
//! A copy or upload that stopped early leaves a file whose header still promises the whole clip; the
//! cheapest honest evidence is the container's own byte counts: an MP4/MOV top-level box, or a
//! Matroska/WebM Segment of known size, that runs past the end of the file. No timing tolerance is
//! needed (a healthy file never declares more bytes than it has), so this holds without decoding,
//! with `--no-analyze` too.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Matroska Segment element ID (with its length-marker bits).
const SEGMENT_ID: u64 = 0x1853_8067;
/// Top-level boxes walked at most (a healthy MP4 has a handful).
const MAX_BOXES: usize = 10_000;

/// The end offset the container structure declares, when it declares one beyond what it has
/// (`None`: not one of these containers, a size left open, or nothing past the end).
pub fn declared_end(path: &Path, bytes: u64, matroska: bool, mov: bool) -> Option<u64> {
    let mut f = std::fs::File::open(path).ok()?;
    let end = if matroska {
        segment_end(&mut f)?
    } else if mov {
        last_box_end(&mut f, bytes)?
    } else {
        return None;
    };
    (end > bytes).then_some(end)
}

/// End of the Segment after the EBML header, when its size is known.
fn segment_end(f: &mut std::fs::File) -> Option<u64> {
    let mut head = Vec::with_capacity(1024);
    f.by_ref().take(1024).read_to_end(&mut head).ok()?;
    let (_, n) = super::ebml::read_id(&head)?;
    let (size, m) = super::ebml::read_size(head.get(n..)?)?;
    let seg = n + m + usize::try_from(size?).ok()?;
    let (id, n) = super::ebml::read_id(head.get(seg..)?)?;
    if id != SEGMENT_ID {
        return None;
    }
    let (size, m) = super::ebml::read_size(head.get(seg + n..)?)?;
    (seg as u64 + (n + m) as u64).checked_add(size?)
}

/// End of the last top-level ISO-BMFF box (a size of 0 means "to the end of the file").
fn last_box_end(f: &mut std::fs::File, bytes: u64) -> Option<u64> {
    let mut pos = 0u64;
    for _ in 0..MAX_BOXES {
        if pos + 8 > bytes {
            break;
        }
        f.seek(SeekFrom::Start(pos)).ok()?;
        let mut h = [0u8; 16];
        let n = f.read(&mut h).ok()?;
        if n < 8 {
            break;
        }
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let size = match size32 {
            0 => return Some(bytes),
            1 if n >= 16 => u64::from_be_bytes(h[8..16].try_into().ok()?),
            1 => return None,
            s => s,
        };
        if size < 8 || !h[4..8].iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            // Not a box header: trailing junk, not a declaration.
            return None;
        }
        pos = pos.checked_add(size)?;
        if pos > bytes {
            return Some(pos);
        }
    }
    Some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, data: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("kp-extent-{}-{name}", std::process::id()));
        std::fs::write(&p, data).unwrap();
        p
    }

    #[test]
    fn mp4_box_past_the_end() {
        let mut d = Vec::new();
        d.extend_from_slice(&16u32.to_be_bytes());
        d.extend_from_slice(b"ftypisom\0\0\0\0");
        d.extend_from_slice(&1000u32.to_be_bytes());
        d.extend_from_slice(b"mdat");
        d.extend_from_slice(&[0; 100]);
        let p = tmp("cut.mp4", &d);
        assert_eq!(declared_end(&p, d.len() as u64, false, true), Some(1016));
        d.resize(1016, 0);
        std::fs::write(&p, &d).unwrap();
        assert_eq!(declared_end(&p, d.len() as u64, false, true), None);
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn matroska_segment_past_the_end() {
        // EBML header (empty), Segment of 1000 bytes with 8-byte size field.
        let mut d = vec![0x1A, 0x45, 0xDF, 0xA3, 0x80];
        d.extend_from_slice(&[0x18, 0x53, 0x80, 0x67, 0x01, 0, 0, 0, 0, 0, 0x03, 0xE8]);
        d.extend_from_slice(&[0; 50]);
        let p = tmp("cut.mkv", &d);
        assert_eq!(
            declared_end(&p, d.len() as u64, true, false),
            Some(17 + 1000)
        );
        // Unknown size (live streams): no declaration.
        d[9..17].copy_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        std::fs::write(&p, &d).unwrap();
        assert_eq!(declared_end(&p, d.len() as u64, true, false), None);
        std::fs::remove_file(p).ok();
    }
}
