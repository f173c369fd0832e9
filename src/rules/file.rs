//! File-level rules: F001 `file-unreadable` (emitted by the engine, which knows why a file could not
//! be read) and F002 `file-extension-mismatch`.

use std::path::Path;

use super::Sink;
use crate::model::{Container, Facts};

/// The ISO-BMFF family: the same bytes under different brands, interchangeable for a provider.
const ISO_FAMILY: [Container; 4] = [
    Container::Mp4,
    Container::Mov,
    Container::M4v,
    Container::ThreeGp,
];

/// Lower-case extension of a path, if it has one.
pub fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

/// Whether `ext` names a container of the same family as `c` (MP4/MOV/M4V/3GP are one family;
/// WebM content may be named .mkv, since Matroska is its superset).
pub fn extension_fits_container(ext: &str, c: Container) -> bool {
    if ISO_FAMILY.contains(&c) {
        return ISO_FAMILY.iter().any(|f| f.extensions().contains(&ext)) || ext == "m4a";
    }
    if c == Container::Webm && Container::Mkv.extensions().contains(&ext) {
        return true;
    }
    c.extensions().contains(&ext)
}

/// F001: the file could not be read; `reason` says why.
pub fn unreadable(sink: &mut Sink<'_>, reason: &str) {
    sink.emit("F001", reason);
}

/// F002: content format and extension disagree.
pub fn check_extension(sink: &mut Sink<'_>, path: &Path, facts: &Facts) {
    let Some(ext) = extension(path) else { return };
    match facts {
        Facts::Image(f) => {
            if !f.format.extensions().contains(&ext.as_str()) {
                sink.emit(
                    "F002",
                    format!(
                        "content is {} but the extension is .{ext} (rename to .{})",
                        f.format.name().to_uppercase(),
                        f.format.extensions()[0]
                    ),
                );
            }
        }
        Facts::Video(v) => {
            if v.container == Container::Other || v.video.is_none() {
                return;
            }
            if !extension_fits_container(&ext, v.container) {
                sink.emit(
                    "F002",
                    format!(
                        "content is {} {} container but the extension is .{ext} (rename to .{})",
                        article(v.container),
                        v.container.name().to_uppercase(),
                        v.container.extensions().first().unwrap_or(&"mp4")
                    ),
                );
            }
        }
        Facts::Other { .. } => {}
    }
}

/// "a" or "an" before a container's name as it is read aloud: "an MP4" (em-pee-four), "a MOV".
fn article(c: Container) -> &'static str {
    match c {
        Container::Mp4
        | Container::M4v
        | Container::Mkv
        | Container::Avi
        | Container::Mpegts
        | Container::Flv
        | Container::Ogg
        | Container::Mpeg
        | Container::Asf => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_family_and_matroska_are_lenient() {
        assert!(extension_fits_container("mov", Container::Mp4));
        assert!(extension_fits_container("mp4", Container::M4v));
        assert!(extension_fits_container("mkv", Container::Webm));
        assert!(!extension_fits_container("webm", Container::Mkv));
        assert!(!extension_fits_container("avi", Container::Mp4));
        assert!(!extension_fits_container("mp4", Container::Avi));
    }
}
