//! Merging shard reports: `check --shard K/N` on N machines gives N JSON reports; `merge` makes them one
//! report, as if a single machine had checked everything, so the gate decision and the CI formats
//! (SARIF, JUnit, annotations) come from the whole set.
//!
//! The reports must agree on profile and orientation (mixing them would judge files by different
//! limits), no file may appear twice (overlapping shards), and when the reports carry their shard all
//! N shards must be present unless a partial merge is asked for. Files are sorted by path components,
//! which is the order `check` lists one walked folder in; the summary is recomputed.

use std::collections::BTreeMap;
use std::path::Path;

use crate::model::Report;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("no reports to merge")]
    Empty,
    #[error(
        "{name} was checked with {what} '{theirs}' but {first} with '{ours}'; merge only shards of one `check` command (same --profile and --orientation)"
    )]
    Mismatch {
        name: String,
        first: String,
        what: &'static str,
        theirs: String,
        ours: String,
    },
    #[error(
        "'{path}' appears in both {a} and {b}; were the shards run with different inputs or a different --shard N?"
    )]
    Duplicate { path: String, a: String, b: String },
    #[error(
        "{name} is shard {theirs} but {first} is shard {ours}; all reports must come from the same --shard N"
    )]
    ShardCount {
        name: String,
        first: String,
        theirs: String,
        ours: String,
    },
    #[error(
        "shard(s) {missing} of {count} are missing; merge every shard's report, or pass --allow-partial to merge what is here"
    )]
    Missing { missing: String, count: u32 },
}

/// Merge `(name, report)` pairs (`name` is how errors refer to each, e.g. its file path).
pub fn merge(reports: Vec<(String, Report)>, allow_partial: bool) -> Result<Report, MergeError> {
    let Some((first_name, first)) = reports.first() else {
        return Err(MergeError::Empty);
    };
    let (first_name, profile, orientation, shard) = (
        first_name.clone(),
        first.profile.clone(),
        first.orientation.clone(),
        first.shard,
    );
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut shards_present = Vec::new();
    let mut files = Vec::new();
    let mut skipped = 0;
    for (name, r) in reports {
        for (what, theirs, ours) in [
            ("profile", &r.profile, &profile),
            ("orientation", &r.orientation, &orientation),
        ] {
            if theirs != ours {
                return Err(MergeError::Mismatch {
                    name,
                    first: first_name,
                    what,
                    theirs: theirs.clone(),
                    ours: ours.clone(),
                });
            }
        }
        match (r.shard, shard) {
            (Some(a), Some(b)) if a.count != b.count => {
                return Err(MergeError::ShardCount {
                    name,
                    first: first_name,
                    theirs: a.to_string(),
                    ours: b.to_string(),
                });
            }
            (Some(a), _) => shards_present.push(a.index),
            _ => {}
        }
        skipped += r.summary.skipped;
        for f in r.files {
            if let Some(prev) = seen.insert(f.path.clone(), name.clone()) {
                return Err(MergeError::Duplicate {
                    path: f.path,
                    a: prev,
                    b: name,
                });
            }
            files.push(f);
        }
    }
    if let Some(s) = shard
        && !allow_partial
    {
        let missing: Vec<String> = (1..=s.count)
            .filter(|i| !shards_present.contains(i))
            .map(|i| i.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(MergeError::Missing {
                missing: missing.join(", "),
                count: s.count,
            });
        }
    }
    files.sort_by(|a, b| Path::new(&a.path).cmp(Path::new(&b.path)));
    Ok(Report::new(&profile, &orientation, files, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Facts, FileReport, Kind, Verdict};
    use crate::shard::Shard;

    fn file(path: &str) -> FileReport {
        FileReport {
            path: path.into(),
            path_base64: None,
            kind: Kind::Unknown,
            format: None,
            verdict: Verdict::Pass,
            facts: Facts::Other { bytes: 1 },
            diagnostics: vec![],
        }
    }

    fn shard(k: u32, n: u32, paths: &[&str]) -> (String, Report) {
        let mut r = Report::new("kling", "video", paths.iter().map(|p| file(p)).collect(), 1);
        r.shard = Some(Shard { index: k, count: n });
        (format!("shard{k}.json"), r)
    }

    #[test]
    fn merges_sorted_by_path_components() {
        let m = merge(
            vec![
                shard(2, 2, &["a-c.mp4", "b.png"]),
                shard(1, 2, &["a/b.mp4"]),
            ],
            false,
        )
        .unwrap();
        let paths: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a/b.mp4", "a-c.mp4", "b.png"], "walkdir's order");
        assert_eq!(m.summary.files, 3);
        assert_eq!(m.summary.skipped, 2);
        assert_eq!(m.shard, None);
    }

    #[test]
    fn refuses_mixed_duplicate_or_missing_shards() {
        let mut other = shard(2, 2, &["b"]);
        other.1.profile = "strict".into();
        let e = merge(vec![shard(1, 2, &["a"]), other], false).unwrap_err();
        assert!(e.to_string().contains("profile 'strict'"), "{e}");
        let e = merge(vec![shard(1, 2, &["a"]), shard(2, 2, &["a"])], false).unwrap_err();
        assert!(matches!(e, MergeError::Duplicate { .. }));
        let e = merge(vec![shard(1, 3, &["a"]), shard(2, 2, &["b"])], false).unwrap_err();
        assert!(matches!(e, MergeError::ShardCount { .. }));
        let e = merge(vec![shard(1, 3, &["a"]), shard(3, 3, &["b"])], false).unwrap_err();
        assert_eq!(e.to_string().split(' ').nth(1), Some("2"));
        assert!(merge(vec![shard(1, 3, &["a"])], true).is_ok());
        assert_eq!(merge(vec![], false).unwrap_err(), MergeError::Empty);
    }
}
