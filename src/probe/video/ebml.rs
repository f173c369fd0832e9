//! Reads the DocType ("webm" or "matroska") from a Matroska file's EBML header.
//!
//! libavformat serves both formats with one demuxer ("matroska,webm") and does not export the
//! DocType, yet the difference matters: providers accept WEBM and not MKV. The header is the first
//! few dozen bytes of the file, so reading it ourselves is cheaper and more honest than guessing from
//! the codecs (the caller falls back to the codecs only when this returns `None`).

use std::io::Read;
use std::path::Path;

/// EBML header element ID (with its length-marker bits, as written in files).
const EBML_ID: u64 = 0x1A45_DFA3;
/// DocType child element ID.
const DOCTYPE_ID: u64 = 0x4282;
/// How much of the file we look at: the EBML header is tiny (usually < 64 bytes).
const HEAD_BYTES: u64 = 1024;

/// The DocType string of the EBML header at the start of `path`, lower-cased, if there is one.
pub fn read_doctype(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    file.take(HEAD_BYTES).read_to_end(&mut head).ok()?;
    doctype_from_bytes(&head)
}

/// Parse the DocType out of the first bytes of a file (pure, for tests).
pub fn doctype_from_bytes(buf: &[u8]) -> Option<String> {
    let (id, n) = read_id(buf)?;
    if id != EBML_ID {
        return None;
    }
    let mut pos = n;
    let (size, n) = read_size(buf.get(pos..)?)?;
    pos += n;
    let end = match size {
        Some(s) => pos.checked_add(usize::try_from(s).ok()?)?.min(buf.len()),
        None => buf.len(),
    };
    while pos < end {
        let (child, n) = read_id(buf.get(pos..end)?)?;
        pos += n;
        let (len, n) = read_size(buf.get(pos..end)?)?;
        pos += n;
        let len = usize::try_from(len?).ok()?;
        let data = buf.get(pos..pos.checked_add(len)?)?;
        if child == DOCTYPE_ID {
            let s: String = data
                .iter()
                .take_while(|&&b| b != 0)
                .map(|&b| b as char)
                .collect();
            return Some(s.trim().to_ascii_lowercase());
        }
        pos += len;
    }
    None
}

/// An EBML variable-length integer: its value with or without the length-marker bit, and its length.
fn read_vint(buf: &[u8], keep_marker: bool) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    if first == 0 {
        return None;
    }
    let len = first.leading_zeros() as usize + 1;
    if buf.len() < len {
        return None;
    }
    let mut value = if keep_marker {
        first as u64
    } else {
        (first as u64) & (0xFF >> len)
    };
    for &b in &buf[1..len] {
        value = (value << 8) | b as u64;
    }
    Some((value, len))
}

/// An element ID, marker bit kept (as IDs are written in the spec).
pub(super) fn read_id(buf: &[u8]) -> Option<(u64, usize)> {
    read_vint(buf, true)
}

/// An element size; the all-ones value means "unknown size" (`Some(None)`).
pub(super) fn read_size(buf: &[u8]) -> Option<(Option<u64>, usize)> {
    let (v, len) = read_vint(buf, false)?;
    let unknown = (1u64 << (7 * len)) - 1;
    Some((if v == unknown { None } else { Some(v) }, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webm_and_matroska_doctypes() {
        // EBML header: version 1, DocType "webm".
        let webm = [
            0x1A, 0x45, 0xDF, 0xA3, 0x8F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84, b'w', b'e',
            b'b', b'm', 0x42, 0x87, 0x81, 0x02,
        ];
        assert_eq!(doctype_from_bytes(&webm).as_deref(), Some("webm"));
        let mkv = [
            0x1A, 0x45, 0xDF, 0xA3, 0x8B, 0x42, 0x82, 0x88, b'm', b'a', b't', b'r', b'o', b's',
            b'k', b'a',
        ];
        assert_eq!(doctype_from_bytes(&mkv).as_deref(), Some("matroska"));
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(doctype_from_bytes(&[]), None);
        assert_eq!(doctype_from_bytes(&[0, 0, 0, 0]), None);
        assert_eq!(doctype_from_bytes(&[0x1A, 0x45, 0xDF, 0xA3, 0xFF]), None);
        assert_eq!(
            doctype_from_bytes(&[0x1A, 0x45, 0xDF, 0xA3, 0x85, 0x42, 0x82, 0x90, b'w']),
            None
        );
    }
}
