//! Profiles: each provider's limits as data, every limit with the page it came from and the date it
//! was read. The built-in profiles are TOML files in `data/`, compiled into the binary; users can add
//! their own (a profile may `extends` another and override only some limits).
//!
//! Rules read limits from here and never hard-code a number, so a provider changing a limit is a
//! one-line data change.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{Container, ImageFormat};

/// The built-in profiles: (name, TOML source). `strict` is the default.
pub const BUILTIN: &[(&str, &str)] = &[
    ("strict", include_str!("data/strict.toml")),
    ("kling", include_str!("data/kling.toml")),
    ("freepik", include_str!("data/freepik.toml")),
    ("gptproto", include_str!("data/gptproto.toml")),
    ("fal", include_str!("data/fal.toml")),
    ("replicate", include_str!("data/replicate.toml")),
    ("wavespeed", include_str!("data/wavespeed.toml")),
    ("kie", include_str!("data/kie.toml")),
];

pub const DEFAULT_PROFILE: &str = "strict";

/// Kling's `character_orientation`: it selects the duration cap (10 s for `image`, 30 s for `video`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    #[default]
    Video,
    Image,
}

impl Orientation {
    pub fn name(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Image => "image",
        }
    }
}

impl fmt::Display for Orientation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One limit: its value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit<T> {
    pub value: T,
    /// URL of the page that states the limit.
    pub source: String,
    /// Date the page was read (YYYY-MM-DD).
    pub read: String,
    /// The provider's wording or how we interpreted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ImageLimits {
    pub formats: Option<Limit<Vec<String>>>,
    pub max_bytes: Option<Limit<u64>>,
    pub min_edge: Option<Limit<u32>>,
    pub max_edge: Option<Limit<u32>>,
    pub min_aspect: Option<Limit<f64>>,
    pub max_aspect: Option<Limit<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VideoLimits {
    pub containers: Option<Limit<Vec<String>>>,
    pub max_bytes: Option<Limit<u64>>,
    pub min_edge: Option<Limit<u32>>,
    pub max_edge: Option<Limit<u32>>,
    pub min_duration_s: Option<Limit<f64>>,
    pub max_duration_s_image: Option<Limit<f64>>,
    pub max_duration_s_video: Option<Limit<f64>>,
    pub min_continuous_s: Option<Limit<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RequestLimits {
    pub prompt_max_chars: Option<Limit<u32>>,
    pub cfg_scale_min: Option<Limit<f64>>,
    pub cfg_scale_max: Option<Limit<f64>>,
}

/// Thresholds of the warnings beyond the written limits (I010–I013, V014–V016): our own calibration,
/// not a provider's. Every field defaults to `data/subject.toml`, so a profile names only what it
/// changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubjectLimits {
    pub min_face_height: Option<Limit<f64>>,
    pub min_face_px: Option<Limit<f64>>,
    pub min_sharpness_image: Option<Limit<f64>>,
    pub min_mean_luma: Option<Limit<f64>>,
    pub max_mean_luma: Option<Limit<f64>>,
    pub max_camera_travel: Option<Limit<f64>>,
    pub min_camera_motion_s: Option<Limit<f64>>,
    pub min_sharpness_video: Option<Limit<f64>>,
    pub max_people: Option<Limit<f64>>,
    pub min_person_score: Option<Limit<f64>>,
    pub min_keypoint_score: Option<Limit<f64>>,
    pub min_people_share: Option<Limit<f64>>,
    pub min_person_share: Option<Limit<f64>>,
    pub max_cut_off_share: Option<Limit<f64>>,
    pub max_hands_hidden_share: Option<Limit<f64>>,
}

/// The calibrated thresholds every profile starts from.
pub const SUBJECT_DEFAULTS: &str = include_str!("data/subject.toml");

impl Default for SubjectLimits {
    fn default() -> Self {
        #[derive(Deserialize)]
        struct File {
            subject: SubjectFields,
        }
        // The same fields without `default`, so a missing one in the data file is caught by the tests.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct SubjectFields {
            min_face_height: Limit<f64>,
            min_face_px: Limit<f64>,
            min_sharpness_image: Limit<f64>,
            min_mean_luma: Limit<f64>,
            max_mean_luma: Limit<f64>,
            max_camera_travel: Limit<f64>,
            min_camera_motion_s: Limit<f64>,
            min_sharpness_video: Limit<f64>,
            max_people: Limit<f64>,
            min_person_score: Limit<f64>,
            min_keypoint_score: Limit<f64>,
            min_people_share: Limit<f64>,
            min_person_share: Limit<f64>,
            max_cut_off_share: Limit<f64>,
            max_hands_hidden_share: Limit<f64>,
        }
        let f: File = toml::from_str(SUBJECT_DEFAULTS).expect("data/subject.toml is valid");
        let s = f.subject;
        SubjectLimits {
            min_face_height: Some(s.min_face_height),
            min_face_px: Some(s.min_face_px),
            min_sharpness_image: Some(s.min_sharpness_image),
            min_mean_luma: Some(s.min_mean_luma),
            max_mean_luma: Some(s.max_mean_luma),
            max_camera_travel: Some(s.max_camera_travel),
            min_camera_motion_s: Some(s.min_camera_motion_s),
            min_sharpness_video: Some(s.min_sharpness_video),
            max_people: Some(s.max_people),
            min_person_score: Some(s.min_person_score),
            min_keypoint_score: Some(s.min_keypoint_score),
            min_people_share: Some(s.min_people_share),
            min_person_share: Some(s.min_person_share),
            max_cut_off_share: Some(s.max_cut_off_share),
            max_hands_hidden_share: Some(s.max_hands_hidden_share),
        }
    }
}

impl SubjectLimits {
    /// A threshold's value, when the profile has it.
    pub fn get(l: &Option<Limit<f64>>) -> Option<f64> {
        l.as_ref().map(|l| l.value)
    }
}

/// A provider profile: the limits an asset must meet to be accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    #[serde(default)]
    pub image: ImageLimits,
    #[serde(default)]
    pub video: VideoLimits,
    #[serde(default)]
    pub request: RequestLimits,
    /// Warning thresholds beyond the written limits (defaults: `data/subject.toml`).
    #[serde(default)]
    pub subject: SubjectLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown profile '{name}'; known profiles: {known}")]
    Unknown { name: String, known: String },
    #[error("profile '{name}': {message}")]
    Invalid { name: String, message: String },
}

impl Profile {
    /// Parse a profile from TOML. `extends` is resolved against the built-ins (and `extra`).
    pub fn from_toml(
        name_hint: &str,
        text: &str,
        extra: &BTreeMap<String, Profile>,
    ) -> Result<Profile, ProfileError> {
        let value: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ProfileError::Invalid {
                    name: name_hint.into(),
                    message: e.to_string(),
                })?;
        Self::from_table(name_hint, value, extra)
    }

    /// Build a profile from a TOML table, merging it over the profile it `extends`.
    pub fn from_table(
        name_hint: &str,
        table: toml::Table,
        extra: &BTreeMap<String, Profile>,
    ) -> Result<Profile, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            name: name_hint.into(),
            message,
        };
        let merged = match table.get("extends").and_then(|v| v.as_str()) {
            Some(base_name) => {
                let base = lookup(base_name, extra)?;
                let mut base_table =
                    toml::Table::try_from(&base).map_err(|e| invalid(e.to_string()))?;
                base_table.remove("extends");
                merge(&mut base_table, table);
                base_table
            }
            None => table,
        };
        let profile: Profile = merged
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.to_string()))?;
        profile.validate().map_err(invalid)?;
        Ok(profile)
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(f) = &self.image.formats {
            for name in &f.value {
                if ImageFormat::from_name(name).is_none() {
                    return Err(format!("image.formats: unknown image format '{name}'"));
                }
            }
        }
        if let Some(c) = &self.video.containers {
            for name in &c.value {
                if Container::from_name(name).is_none() {
                    return Err(format!("video.containers: unknown container '{name}'"));
                }
            }
        }
        for (key, value, _, _) in self.rows() {
            if let Some((section, key)) = key.split_once('.')
                && let Ok(v) = value.parse::<f64>()
            {
                check_value(section, key, v)?;
            }
        }
        let pairs = [
            ("image.min_aspect", "image.max_aspect"),
            ("image.min_edge", "image.max_edge"),
            ("video.min_edge", "video.max_edge"),
            ("video.min_duration_s", "video.max_duration_s_image"),
            ("video.min_duration_s", "video.max_duration_s_video"),
            ("request.cfg_scale_min", "request.cfg_scale_max"),
            ("subject.min_mean_luma", "subject.max_mean_luma"),
        ];
        let rows = self.rows();
        let get = |k: &str| {
            rows.iter()
                .find(|r| r.0 == k)
                .and_then(|r| r.1.parse::<f64>().ok())
        };
        for (lo, hi) in pairs {
            if let (Some(a), Some(b)) = (get(lo), get(hi))
                && a > b
            {
                return Err(format!("{lo} {a} > {hi} {b}"));
            }
        }
        Ok(())
    }

    /// Whether the profile accepts this image format (no list = anything goes).
    pub fn accepts_image(&self, f: ImageFormat) -> bool {
        self.image
            .formats
            .as_ref()
            .is_none_or(|l| l.value.iter().any(|n| ImageFormat::from_name(n) == Some(f)))
    }

    pub fn accepts_container(&self, c: Container) -> bool {
        self.video
            .containers
            .as_ref()
            .is_none_or(|l| l.value.iter().any(|n| Container::from_name(n) == Some(c)))
    }

    /// The duration cap for an orientation.
    pub fn max_duration(&self, o: Orientation) -> Option<&Limit<f64>> {
        match o {
            Orientation::Image => self.video.max_duration_s_image.as_ref(),
            Orientation::Video => self.video.max_duration_s_video.as_ref(),
        }
    }

    /// Every limit as (key, value as text, limit) rows, for `profiles show`.
    pub fn rows(&self) -> Vec<(String, String, String, String)> {
        let table = toml::Table::try_from(self).unwrap_or_default();
        let mut rows = Vec::new();
        for section in ["image", "video", "request", "subject"] {
            let Some(toml::Value::Table(t)) = table.get(section) else {
                continue;
            };
            for (key, v) in t {
                let Some(l) = v.as_table() else { continue };
                let value = l.get("value").map(|v| v.to_string()).unwrap_or_default();
                let source = l.get("source").and_then(|v| v.as_str()).unwrap_or("");
                let read = l.get("read").and_then(|v| v.as_str()).unwrap_or("");
                rows.push((
                    format!("{section}.{key}"),
                    value,
                    source.to_string(),
                    read.to_string(),
                ));
            }
        }
        rows
    }
}

/// Check one limit as a profile file gives it (`section.key = { value = ..., source = ..., read = ... }`):
/// the key exists in that section, the value has the right type and is a sane number. A config file's
/// profile is checked key by key this way, so an error names the key's own line.
pub fn check_limit(section: &str, key: &str, limit: &toml::Value) -> Result<(), String> {
    let mut one = toml::Table::new();
    one.insert(key.to_string(), limit.clone());
    let typed = match section {
        "image" => one.try_into::<ImageLimits>().map(|_| ()),
        "video" => one.try_into::<VideoLimits>().map(|_| ()),
        "request" => one.try_into::<RequestLimits>().map(|_| ()),
        "subject" => one.try_into::<SubjectLimits>().map(|_| ()),
        _ => return Err(format!("unknown section '{section}'")),
    };
    typed.map_err(|e| format!("{section}.{key}: {}", e.message().trim()))?;
    if let Some(v) = limit
        .get("value")
        .and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)))
    {
        check_value(section, key, v)?;
    }
    Ok(())
}

/// A limit's value must be a finite, positive number of sensible size: a negative duration or a zero
/// edge would silently pass or fail everything. The subject thresholds and the CFG scale may be 0.
fn check_value(section: &str, key: &str, v: f64) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{section}.{key} = {v}: {why}"));
    let zero_ok = section == "subject" || key.starts_with("cfg_scale");
    if !v.is_finite() {
        return bad("not a finite number");
    }
    if v < 0.0 || (v == 0.0 && !zero_ok) {
        return bad(if zero_ok {
            "must not be negative"
        } else {
            "must be greater than 0"
        });
    }
    let cap = if key.contains("duration") || key.ends_with("_s") {
        Some((86_400.0, "more than a day"))
    } else if key.ends_with("_edge") {
        Some((65_536.0, "more than 65536 px"))
    } else if key.ends_with("_aspect") {
        Some((100.0, "an aspect ratio above 100"))
    } else {
        None
    };
    match cap {
        Some((max, what)) if v > max => bad(&format!("{what} cannot be meant")),
        _ => Ok(()),
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if !o.contains_key("value") => {
                merge(b, o)
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The built-in profiles, parsed.
pub fn builtins() -> Vec<Profile> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            Profile::from_toml(name, text, &BTreeMap::new())
                .unwrap_or_else(|e| panic!("built-in profile {name} is invalid: {e}"))
        })
        .collect()
}

/// Find a profile by name among the user's (`extra`) and the built-ins.
pub fn lookup(name: &str, extra: &BTreeMap<String, Profile>) -> Result<Profile, ProfileError> {
    if let Some(p) = extra.get(name) {
        return Ok(p.clone());
    }
    if let Some((n, text)) = BUILTIN.iter().find(|(n, _)| *n == name) {
        return Profile::from_toml(n, text, &BTreeMap::new());
    }
    let mut known: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
    known.extend(extra.keys().cloned());
    Err(ProfileError::Unknown {
        name: name.into(),
        known: known.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_cites_sources() {
        let all = builtins();
        assert_eq!(all.len(), 8);
        for p in &all {
            let rows = p.rows();
            assert!(rows.len() >= 8, "{} has only {} limits", p.name, rows.len());
            for (key, _, source, read) in rows {
                // Provider limits cite the provider's page; our calibrated thresholds cite the test
                // that measures them.
                let cited = if key.starts_with("subject.") {
                    ["tests/subject_corpus.rs", "tests/people.rs"].contains(&source.as_str())
                } else {
                    source.starts_with("https://")
                };
                assert!(cited, "{}: {key} has no source ({source})", p.name);
                assert_eq!(read.len(), 10, "{}: {key} has no read date", p.name);
            }
        }
    }

    #[test]
    fn strict_is_at_least_as_strict_as_every_provider() {
        let all = builtins();
        let strict = all.iter().find(|p| p.name == "strict").unwrap();
        for p in &all {
            for f in ImageFormat::ALL {
                assert!(
                    !strict.accepts_image(f) || p.accepts_image(f),
                    "{} rejects {f:?}",
                    p.name
                );
            }
            for c in Container::ALL {
                assert!(
                    !strict.accepts_container(c) || p.accepts_container(c),
                    "{} rejects {c:?}",
                    p.name
                );
            }
            let ge = |a: &Option<Limit<u32>>, b: &Option<Limit<u32>>| match (a, b) {
                (Some(a), Some(b)) => a.value >= b.value,
                (_, None) => true,
                (None, Some(_)) => false,
            };
            assert!(ge(&strict.image.min_edge, &p.image.min_edge), "{}", p.name);
            assert!(ge(&strict.video.min_edge, &p.video.min_edge), "{}", p.name);
            let le = |a: &Option<Limit<u32>>, b: &Option<Limit<u32>>| match (a, b) {
                (Some(a), Some(b)) => a.value <= b.value,
                (_, None) => true,
                (None, Some(_)) => false,
            };
            assert!(le(&strict.image.max_edge, &p.image.max_edge), "{}", p.name);
            assert!(le(&strict.video.max_edge, &p.video.max_edge), "{}", p.name);
            for o in [Orientation::Image, Orientation::Video] {
                assert!(strict.max_duration(o).unwrap().value <= p.max_duration(o).unwrap().value);
            }
        }
    }

    #[test]
    fn extends_overrides_only_what_it_names() {
        let text = r#"
            name = "studio"
            description = "ours"
            extends = "kling"
            [video.max_duration_s_video]
            value = 12.0
            source = "https://example.com/our-policy"
            read = "2026-11-21"
        "#;
        let p = Profile::from_toml("studio", text, &BTreeMap::new()).unwrap();
        assert_eq!(p.name, "studio");
        assert_eq!(p.max_duration(Orientation::Video).unwrap().value, 12.0);
        assert_eq!(p.image.min_edge.as_ref().unwrap().value, 300);
        assert_eq!(p.subject, SubjectLimits::default(), "calibrated defaults");
        let text = r#"
            name = "tight"
            description = "ours"
            extends = "strict"
            [subject.max_people]
            value = 3.0
            source = "our policy"
            read = "2026-11-21"
        "#;
        let p = Profile::from_toml("tight", text, &BTreeMap::new()).unwrap();
        assert_eq!(p.subject.max_people.as_ref().unwrap().value, 3.0);
        assert_eq!(p.subject.min_face_px, SubjectLimits::default().min_face_px);
    }

    #[test]
    fn negative_zero_and_absurd_limits_are_refused() {
        let limit = |v: toml::Value| {
            let mut t = toml::Table::new();
            t.insert("value".into(), v);
            t.insert("source".into(), "here".into());
            t.insert("read".into(), "".into());
            toml::Value::Table(t)
        };
        let e = check_limit("video", "max_duration_s_video", &limit((-5.0).into())).unwrap_err();
        assert!(
            e.contains("video.max_duration_s_video = -5") && e.contains("greater than 0"),
            "{e}"
        );
        assert!(check_limit("image", "min_edge", &limit(0.into())).is_err());
        assert!(check_limit("image", "max_aspect", &limit(1000.0.into())).is_err());
        assert!(check_limit("video", "max_duration_s_image", &limit(1e9.into())).is_err());
        assert!(
            check_limit("image", "max_edge", &limit((-1).into())).is_err(),
            "u32"
        );
        assert!(check_limit("subject", "max_people", &limit(0.0.into())).is_ok());
        assert!(check_limit("request", "cfg_scale_min", &limit(0.0.into())).is_ok());
        assert!(check_limit("video", "max_duration_s_video", &limit(12.0.into())).is_ok());
        let e = check_limit("video", "max_duraton_s_video", &limit(12.0.into())).unwrap_err();
        assert!(e.contains("max_duraton_s_video"), "{e}");
        let text = "name='x'\ndescription='d'\nextends='kling'\n[video.min_duration_s]\nvalue=40.0\nsource='s'\nread='r'";
        let e = Profile::from_toml("x", text, &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("video.min_duration_s 40 > video.max_duration_s_image 10"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_and_names_are_errors() {
        let err = Profile::from_toml(
            "x",
            "name='x'\ndescription='d'\ncolour='red'",
            &BTreeMap::new(),
        );
        assert!(err.unwrap_err().to_string().contains("colour"));
        let err = lookup("nope", &BTreeMap::new()).unwrap_err().to_string();
        assert!(err.contains("strict") && err.contains("nope"), "{err}");
        let bad =
            "name='x'\ndescription='d'\n[image.formats]\nvalue=['bmpx']\nsource='s'\nread='r'";
        assert!(Profile::from_toml("x", bad, &BTreeMap::new()).is_err());
    }
}
