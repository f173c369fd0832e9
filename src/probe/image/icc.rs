//! ICC profile names: the human-readable 'desc' text of an embedded colour profile.
//!
//! Rules flag wide-gamut profiles (Display P3, Adobe RGB, ProPhoto) by name, so we read just the
//! profile's tag table and its description tag (v2 `desc` ASCII or v4 `mluc` UTF-16), all bounds
//! checked on a buffer the caller already capped.

use super::{be16_at, be32_at, clean_text};

/// Name used when a profile is present but carries no readable description.
pub(crate) const UNNAMED: &str = "unnamed ICC profile";

/// The description of an ICC profile, or `UNNAMED`.
pub(crate) fn profile_name(p: &[u8]) -> String {
    description(p)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| UNNAMED.to_string())
}

fn description(p: &[u8]) -> Option<String> {
    if p.get(36..40)? != b"acsp" {
        return None;
    }
    let count = be32_at(p, 128)?.min(1024) as usize;
    for i in 0..count {
        let e = 132 + i * 12;
        if p.get(e..e + 4)? != b"desc" {
            continue;
        }
        let off = be32_at(p, e + 4)? as usize;
        let size = be32_at(p, e + 8)? as usize;
        let tag = p.get(off..off.checked_add(size)?)?;
        return match tag.get(0..4)? {
            b"desc" => {
                let n = be32_at(tag, 8)? as usize;
                let text = tag.get(12..12usize.checked_add(n)?.min(tag.len()))?;
                Some(clean_text(text))
            }
            b"mluc" => {
                let records = be32_at(tag, 8)?;
                if records == 0 {
                    return None;
                }
                // First record: language, country, length, offset (from the tag start).
                let len = be32_at(tag, 20)? as usize;
                let start = be32_at(tag, 24)? as usize;
                let s = tag.get(start..start.checked_add(len)?)?;
                let units: Vec<u16> = (0..s.len() / 2).filter_map(|k| be16_at(s, k * 2)).collect();
                let text = String::from_utf16_lossy(&units);
                Some(clean_text(text.as_bytes()))
            }
            _ => None,
        };
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal profile whose desc tag holds `name` (v2 `desc` or v4 `mluc`).
    pub(crate) fn profile(name: &str, v4: bool) -> Vec<u8> {
        let mut tag = Vec::new();
        if v4 {
            tag.extend_from_slice(b"mluc\0\0\0\0");
            tag.extend_from_slice(&1u32.to_be_bytes());
            tag.extend_from_slice(&12u32.to_be_bytes());
            tag.extend_from_slice(b"enUS");
            let utf16: Vec<u8> = name.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
            tag.extend_from_slice(&(utf16.len() as u32).to_be_bytes());
            tag.extend_from_slice(&28u32.to_be_bytes());
            tag.extend_from_slice(&utf16);
        } else {
            tag.extend_from_slice(b"desc\0\0\0\0");
            tag.extend_from_slice(&(name.len() as u32 + 1).to_be_bytes());
            tag.extend_from_slice(name.as_bytes());
            tag.push(0);
        }
        let mut p = vec![0u8; 128];
        p[36..40].copy_from_slice(b"acsp");
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(b"desc");
        p.extend_from_slice(&144u32.to_be_bytes());
        p.extend_from_slice(&(tag.len() as u32).to_be_bytes());
        p.extend_from_slice(&tag);
        let n = p.len() as u32;
        p[0..4].copy_from_slice(&n.to_be_bytes());
        p
    }

    #[test]
    fn names_v2_and_v4() {
        assert_eq!(
            profile_name(&profile("sRGB IEC61966-2.1", false)),
            "sRGB IEC61966-2.1"
        );
        assert_eq!(profile_name(&profile("Display P3", true)), "Display P3");
        assert_eq!(profile_name(b"garbage"), UNNAMED);
        let p = profile("Display P3", true);
        for n in 0..p.len() {
            profile_name(&p[..n]);
        }
    }
}
