//! File names as people read them: escaped, so that a name can neither fake a line of output nor send
//! a terminal escape sequence.
//!
//! A file name may hold any byte but `/` and NUL: a newline (a second, forged finding line), ESC (a
//! sequence that recolours, retitles or clears the terminal), bidirectional overrides (text shown in
//! another order than it is), or bytes that are not UTF-8 at all. Human output shows such names the
//! way ripgrep's `escape` does: `\n`, `\t`, `\r`, `\\` for a backslash, `\xNN` for any other control
//! byte and for every byte that is not UTF-8, `\u{NNNN}` for other control and format characters.
//! Machine formats keep the exact name instead: `path` is the name (U+FFFD for invalid UTF-8) and,
//! only for a name that is not UTF-8, `path_base64` holds its exact bytes (`lossless`).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use base64::Engine as _;

use crate::model::FileReport;

/// A name's bytes, escaped for a terminal or a log line.
pub fn bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02X}"));
        }
    }
    out
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\\' => out.push_str("\\\\"),
        c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
        c if c.is_control() || is_invisible_format(c) => {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32))
        }
        c => out.push(c),
    }
}

/// Format characters that change how the rest of a line is shown (bidirectional controls) or hide
/// text (zero-width characters).
fn is_invisible_format(c: char) -> bool {
    matches!(c as u32,
        0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2069 | 0xFEFF)
}

/// A path, escaped.
pub fn path(p: &Path) -> String {
    bytes(p.as_os_str().as_bytes())
}

/// A string (a name already made lossy, or a message quoting one), escaped.
pub fn text(s: &str) -> String {
    bytes(s.as_bytes())
}

/// A report's file name, escaped from its exact bytes when the name is not UTF-8.
pub fn report_path(f: &FileReport) -> String {
    match f
        .path_base64
        .as_deref()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
    {
        Some(raw) => bytes(&raw),
        None => text(&f.path),
    }
}

/// The exact bytes of a name that is not UTF-8, in base64; `None` for a UTF-8 name.
pub fn lossless(p: &Path) -> Option<String> {
    let raw = p.as_os_str().as_bytes();
    std::str::from_utf8(raw)
        .is_err()
        .then(|| base64::engine::general_purpose::STANDARD.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_unchanged() {
        assert_eq!(text("clips/été 1.mp4"), "clips/été 1.mp4");
    }

    #[test]
    fn newline_in_name_cannot_fake_a_line() {
        let s = text("a.mp4\nb.mp4: V005 video-too-long");
        assert!(!s.contains('\n'));
        assert_eq!(s, "a.mp4\\nb.mp4: V005 video-too-long");
    }

    #[test]
    fn terminal_escapes_are_shown_not_sent() {
        assert_eq!(text("x\x1b[2Jy.png"), "x\\x1B[2Jy.png");
        assert_eq!(text("a\u{202E}gpj.exe"), "a\\u{202E}gpj.exe");
        assert_eq!(text("a\u{9b}b"), "a\\u{009B}b");
        assert_eq!(text("back\\slash"), "back\\\\slash");
    }

    #[test]
    fn invalid_utf8_is_hex() {
        assert_eq!(bytes(b"bad\xff.mp4"), "bad\\xFF.mp4");
        let p = Path::new(std::ffi::OsStr::from_bytes(b"bad\xff.mp4"));
        let b64 = lossless(p).unwrap();
        let f = FileReport {
            path: p.to_string_lossy().into_owned(),
            path_base64: Some(b64),
            kind: crate::model::Kind::Unknown,
            format: None,
            verdict: crate::model::Verdict::Pass,
            facts: crate::model::Facts::Other { bytes: 0 },
            diagnostics: vec![],
        };
        assert_eq!(report_path(&f), "bad\\xFF.mp4");
        assert_eq!(lossless(Path::new("ok.mp4")), None);
    }
}
