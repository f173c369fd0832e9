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
    let raw = std::fs::read(path)
        .with_context(|| format!("{}: cannot read the manifest", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let name = path.display().to_string();
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || raw.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let rows = if is_json {
        let text = std::str::from_utf8(&raw)
            .map_err(|_| anyhow::anyhow!("{name}: a JSON manifest must be UTF-8"))?;
        json_rows(text, &name)?
    } else {
        csv_rows(&raw, &name)?
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

/// Where a row came from ("jobs.csv:7"), and its (column, raw value) cells.
type Row = (String, Vec<(String, Vec<u8>)>);

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
            cells.push((k.clone(), s.into_bytes()));
        }
        rows.push((origin, cells));
    }
    Ok(rows)
}

/// CSV through the `csv` crate (RFC 4180 quoting, quoted newlines), strict: the header names only
/// known columns, every row has exactly the header's number of cells, and every message names the
/// line the row starts on in the file (blank lines and quoted newlines counted). Cells stay bytes,
/// so a path that is not UTF-8 survives to the file system untouched.
fn csv_rows(raw: &[u8], name: &str) -> Result<Vec<Row>> {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(raw);
    let mut records = rdr.byte_records();
    // The csv crate's own line number can point at blank lines skipped before a record; count the
    // newlines before the record's first byte instead (blank lines skipped forward first).
    let line_of = |r: &csv::ByteRecord| {
        r.position().map_or(0, |p| {
            let mut at = (p.byte() as usize).min(raw.len());
            while at < raw.len() && (raw[at] == b'\n' || raw[at] == b'\r') {
                at += 1;
            }
            raw[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1
        })
    };
    let csv_err = |e: csv::Error| {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        anyhow::anyhow!("{name}:{line}: not valid CSV: {e}")
    };
    let Some(header) = records.next().transpose().map_err(csv_err)? else {
        bail!("{name}: empty manifest");
    };
    let hline = line_of(&header);
    let mut columns = Vec::new();
    for cell in header.iter() {
        let h = String::from_utf8_lossy(cell).trim().to_ascii_lowercase();
        if !COLUMNS.contains(&h.as_str()) {
            bail!(
                "{name}:{hline}: unknown column '{h}' (known: {}); nothing was sent",
                COLUMNS.join(", ")
            );
        }
        if columns.contains(&h) {
            bail!("{name}:{hline}: column '{h}' appears twice; nothing was sent");
        }
        columns.push(h);
    }
    if !columns.iter().any(|h| h == "image") || !columns.iter().any(|h| h == "video") {
        bail!(
            "{name}:{hline}: the first row must name the columns, image and video among them (image,video,prompt,orientation,tier,cfg_scale,keep_sound)"
        );
    }
    let mut rows = Vec::new();
    for rec in records {
        let rec = rec.map_err(csv_err)?;
        let line = line_of(&rec);
        if rec.len() != columns.len() {
            bail!(
                "{name}:{line}: {} cell(s) where the header has {} (a missing or extra comma, or an unquoted comma in a prompt?); nothing was sent",
                rec.len(),
                columns.len()
            );
        }
        let cells = columns
            .iter()
            .cloned()
            .zip(rec.iter().map(<[u8]>::to_vec))
            .collect();
        rows.push((format!("{name}:{line}"), cells));
    }
    Ok(rows)
}

fn to_spec(origin: &str, cells: &[(String, Vec<u8>)], dir: &Path) -> Result<PairSpec> {
    use std::os::unix::ffi::OsStrExt;
    let mut s = PairSpec {
        origin: origin.into(),
        ..PairSpec::default()
    };
    let resolve = |v: &[u8]| {
        let p = PathBuf::from(std::ffi::OsStr::from_bytes(v));
        if p.is_absolute() { p } else { dir.join(p) }
    };
    for (k, raw) in cells {
        if !COLUMNS.contains(&k.as_str()) {
            bail!(
                "{origin}: unknown column '{k}' (known: {})",
                COLUMNS.join(", ")
            );
        }
        let raw = raw.trim_ascii();
        if raw.is_empty() {
            continue;
        }
        if k == "image" || k == "video" {
            let p = resolve(raw);
            if k == "image" {
                s.image = p;
            } else {
                s.video = p;
            }
            continue;
        }
        let v = std::str::from_utf8(raw)
            .map_err(|_| anyhow::anyhow!("{origin}: the {k} cell is not valid UTF-8"))?;
        match k.as_str() {
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
        std::fs::write(&c, "image,video\n").unwrap();
        assert!(load(&c).unwrap_err().to_string().contains("no pairs"));
    }

    #[test]
    fn regression_ragged_rows_and_unknown_columns_name_the_exact_line() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("jobs.csv");
        let err = |text: &str| {
            std::fs::write(&c, text).unwrap();
            load(&c).unwrap_err().to_string()
        };
        // A missing cell after a blank line and a quoted newline: the row starts on line 6.
        let e = err("image,video,prompt\n\na.jpg,v.mp4,\"two\nlines\"\n\nb.jpg,w.mp4\n");
        assert!(e.contains("jobs.csv:6:") && e.contains("2 cell(s)"), "{e}");
        let e = err("image,video,prompt\na.jpg,v.mp4,x,extra\n");
        assert!(e.contains("jobs.csv:2:") && e.contains("4 cell(s)"), "{e}");
        let e = err("\nimage,video,promt\na.jpg,v.mp4,x\n");
        assert!(e.contains("jobs.csv:2: unknown column 'promt'"), "{e}");
        std::fs::write(
            &c,
            "image,video,prompt\n\na.jpg,v.mp4,\"a\nb\"\nc.jpg,w.mp4,\n",
        )
        .unwrap();
        let specs = load(&c).unwrap();
        assert_eq!(specs[0].origin, format!("{}:3", c.display()));
        assert_eq!(specs[1].origin, format!("{}:5", c.display()));
    }

    #[test]
    fn non_utf8_paths_survive_as_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("jobs.csv");
        std::fs::write(&c, b"image,video\nh\xE9ro.jpg,v.mp4\n").unwrap();
        let specs = load(&c).unwrap();
        assert_eq!(
            specs[0].image.file_name().unwrap().as_bytes(),
            b"h\xE9ro.jpg"
        );
    }
}
