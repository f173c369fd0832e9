//! Asset delivery: the providers fetch inputs by public URL, so each local file needs one. Either the
//! user names it (`--image-url`, `--video-url`) or we derive it from `--asset-base-url` and the file's
//! path relative to the working folder (each segment percent-encoded), which matches how a synced
//! folder or bucket mirrors the tree. Kling also takes the image inline as raw base64.

use std::path::{Component, Path};

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;

/// Percent-encode one path segment (RFC 3986 unreserved characters stay as they are).
pub fn encode_segment(s: &str) -> String {
    encode_bytes(s.as_bytes())
}

/// Percent-encode raw bytes: a file name that is not UTF-8 keeps its exact bytes in the URL
/// (`h\xE9ro.jpg` → `h%E9ro.jpg`), never a replacement character.
pub fn encode_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `base` + the path of `file` relative to `workdir`, each segment percent-encoded.
pub fn asset_url(base: &str, workdir: &Path, file: &Path) -> Result<String> {
    let lower = base.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        bail!("--asset-base-url {base}: expected an https:// URL");
    }
    let abs = std::fs::canonicalize(file)
        .with_context(|| format!("{}: cannot resolve the path", file.display()))?;
    let root = std::fs::canonicalize(workdir)
        .with_context(|| format!("{}: cannot resolve the working folder", workdir.display()))?;
    let rel = abs.strip_prefix(&root).map_err(|_| {
        anyhow::anyhow!(
            "{}: outside the working folder {}, so --asset-base-url cannot name it; run from a folder that contains it or pass --image-url/--video-url",
            file.display(),
            root.display()
        )
    })?;
    let mut segments = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => {
                use std::os::unix::ffi::OsStrExt;
                segments.push(encode_bytes(s.as_bytes()))
            }
            _ => bail!("{}: unexpected path component", file.display()),
        }
    }
    let sep = if base.ends_with('/') { "" } else { "/" };
    Ok(format!("{base}{sep}{}", segments.join("/")))
}

/// The image as raw base64 (no `data:` prefix), as Kling accepts it.
pub fn inline_base64(file: &Path) -> Result<String> {
    let bytes = std::fs::read(file)
        .with_context(|| format!("{}: cannot read the image", file.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("hero.jpg"), "hero.jpg");
        assert_eq!(encode_segment("my hero #1?.jpg"), "my%20hero%20%231%3F.jpg");
        assert_eq!(encode_segment("héros"), "h%C3%A9ros");
        assert_eq!(encode_segment("a/b"), "a%2Fb");
        assert_eq!(encode_bytes(b"h\xE9ro.jpg"), "h%E9ro.jpg");
    }

    #[test]
    fn urls_join_the_relative_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("chars/set 1")).unwrap();
        let f = dir.path().join("chars/set 1/hero.jpg");
        std::fs::write(&f, b"x").unwrap();
        assert_eq!(
            asset_url("https://cdn.example.com/assets/", dir.path(), &f).unwrap(),
            "https://cdn.example.com/assets/chars/set%201/hero.jpg"
        );
        assert_eq!(
            asset_url("https://cdn.example.com/assets", dir.path(), &f).unwrap(),
            "https://cdn.example.com/assets/chars/set%201/hero.jpg"
        );
        let other = tempfile::tempdir().unwrap();
        let e = asset_url("https://c/", other.path(), &f)
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the working folder"), "{e}");
        assert!(asset_url("ftp://c/", dir.path(), &f).is_err());
    }

    #[test]
    fn base64_has_no_data_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.jpg");
        std::fs::write(&f, b"ABC").unwrap();
        assert_eq!(inline_base64(&f).unwrap(), "QUJD");
    }
}
