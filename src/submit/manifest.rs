//! Manifests: many pairs in one file, as CSV (with a header row) or JSON (an array of objects), with
//! the columns image, video, prompt, orientation, tier, cfg_scale, keep_sound (and optionally
//! image_url, video_url). Relative paths are resolved against the manifest's folder. Empty cells mean
//! "use the command-line default".

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::Tier;
use crate::profile::Orientation;

/// One pair as the user described it; `None` fields take the command-line defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairSpec {
    pub image: PathBuf,
    pub video: PathBuf,
    pub prompt: Option<String>,
    pub orientation: Option<Orientation>,
    pub tier: Option<Tier>,
    pub cfg_scale: Option<f64>,
    pub keep_sound: Option<bool>,
    pub image_url: Option<String>,
    pub video_url: Option<String>,
    /// "jobs.csv:3" — where the pair came from, for messages.
    pub origin: String,
}

const COLUMNS: &[&str] = &[
    "image",
    "video",
    "prompt",
    "orientation",
    "tier",
    "cfg_scale",
    "keep_sound",
    "image_url",
    "video_url",
];

pub fn load(path: &Path) -> Result<Vec<PairSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the manifest", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let name = path.display().to_string();
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('[');
    let rows = if is_json {
        json_rows(&text, &name)?
    } else {
        csv_rows(&text, &name)?
    };
    let mut out = Vec::new();
    for (origin, cells) in rows {
        out.push(to_spec(&origin, &cells, &dir)?);
    }
    if out.is_empty() {
        bail!("{name}: the manifest lists no pairs");
    }
    Ok(out)
}

type Row = (String, Vec<(String, String)>);

fn json_rows(text: &str, name: &str) -> Result<Vec<Row>> {
    let v: serde_json::Value = serde_json::from_str(text)
        .with_context(|| format!("{name}: not valid JSON (expected an array of objects)"))?;
    let Some(items) = v.as_array() else {
        bail!("{name}: expected a JSON array of objects with image and video");
    };
    let mut rows = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let origin = format!("{name}[{i}]");
        let Some(obj) = item.as_object() else {
            bail!("{origin}: expected an object");
        };
        let mut cells = Vec::new();
        for (k, v) in obj {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            cells.push((k.clone(), s));
        }
        rows.push((origin, cells));
    }
    Ok(rows)
}

/// Split CSV text into records (RFC 4180: quoted fields may hold commas, quotes and newlines).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
        .into_iter()
        .filter(|r| !(r.len() == 1 && r[0].trim().is_empty()))
        .collect()
}

fn csv_rows(text: &str, name: &str) -> Result<Vec<Row>> {
    let mut records = parse_csv(text.trim_start_matches('\u{feff}')).into_iter();
    let Some(header) = records.next() else {
        bail!("{name}: empty manifest");
    };
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if !header.iter().any(|h| h == "image") || !header.iter().any(|h| h == "video") {
        bail!(
            "{name}: the first row must name the columns (image,video,prompt,orientation,tier,cfg_scale,keep_sound)"
        );
    }
    Ok(records
        .enumerate()
        .map(|(i, r)| {
            let cells = header.iter().cloned().zip(r).collect();
            (format!("{name}:{}", i + 2), cells)
        })
        .collect())
}

fn to_spec(origin: &str, cells: &[(String, String)], dir: &Path) -> Result<PairSpec> {
    let mut s = PairSpec {
        origin: origin.into(),
        ..PairSpec::default()
    };
    let resolve = |v: &str| {
        let p = PathBuf::from(v);
        if p.is_absolute() { p } else { dir.join(p) }
    };
    for (k, v) in cells {
        let v = v.trim();
        if !COLUMNS.contains(&k.as_str()) {
            bail!(
                "{origin}: unknown column '{k}' (known: {})",
                COLUMNS.join(", ")
            );
        }
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "image" => s.image = resolve(v),
            "video" => s.video = resolve(v),
            "prompt" => s.prompt = Some(v.to_string()),
            "orientation" => {
                s.orientation = Some(match v.to_ascii_lowercase().as_str() {
                    "video" => Orientation::Video,
                    "image" => Orientation::Image,
                    _ => bail!("{origin}: orientation must be video or image, not '{v}'"),
                })
            }
            "tier" => {
                s.tier = Some(
                    Tier::parse(v)
                        .with_context(|| format!("{origin}: tier must be std or pro, not '{v}'"))?,
                )
            }
            "cfg_scale" => {
                s.cfg_scale = Some(
                    v.parse()
                        .with_context(|| format!("{origin}: cfg_scale '{v}' is not a number"))?,
                )
            }
            "keep_sound" => {
                s.keep_sound = Some(match v.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => bail!("{origin}: keep_sound must be true or false, not '{v}'"),
                })
            }
            "image_url" => s.image_url = Some(v.to_string()),
            "video_url" => s.video_url = Some(v.to_string()),
            _ => {}
        }
    }
    if s.image.as_os_str().is_empty() || s.video.as_os_str().is_empty() {
        bail!("{origin}: each pair needs an image and a video");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("jobs.csv");
        std::fs::write(
            &p,
            "image,video,prompt,orientation,tier,cfg_scale,keep_sound\n\
             a.jpg,v.mp4,\"warm light, \"\"soft\"\" shadows\",image,pro,0.4,no\n\
             b.jpg,/abs/w.mov,,,,,\n",
        )
        .unwrap();
        let specs = load(&p).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].image, dir.path().join("a.jpg"));
        assert_eq!(
            specs[0].prompt.as_deref(),
            Some("warm light, \"soft\" shadows")
        );
        assert_eq!(specs[0].orientation, Some(Orientation::Image));
        assert_eq!(specs[0].tier, Some(Tier::Pro));
        assert_eq!(specs[0].cfg_scale, Some(0.4));
        assert_eq!(specs[0].keep_sound, Some(false));
        assert_eq!(specs[1].video, PathBuf::from("/abs/w.mov"));
        assert_eq!(specs[1].prompt, None);
        assert!(specs[1].origin.ends_with("jobs.csv:3"));
    }

    #[test]
    fn json_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("jobs.json");
        std::fs::write(
            &p,
            r#"[{"image":"a.jpg","video":"v.mp4","cfg_scale":0.7,"keep_sound":true}]"#,
        )
        .unwrap();
        let s = load(&p).unwrap();
        assert_eq!((s[0].cfg_scale, s[0].keep_sound), (Some(0.7), Some(true)));
        std::fs::write(&p, r#"[{"image":"a.jpg"}]"#).unwrap();
        assert!(
            load(&p)
                .unwrap_err()
                .to_string()
                .contains("needs an image and a video")
        );
        std::fs::write(&p, r#"[{"image":"a.jpg","video":"v","tier":"ultra"}]"#).unwrap();
        assert!(
            load(&p)
                .unwrap_err()
                .to_string()
                .contains("tier must be std or pro")
        );
        let c = dir.path().join("x.csv");
        std::fs::write(&c, "img,vid\na,b\n").unwrap();
        assert!(load(&c).unwrap_err().to_string().contains("first row"));
    }
}
