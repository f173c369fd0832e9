//! The ledger: an append-only, fsynced JSON-lines file that remembers every task we paid for, so that
//! a re-run (or a run after a crash) never pays for the same pair twice.
//!
//! A job's key is a content hash (blake3) of the image bytes, the video bytes, the request parameters,
//! the provider and the tier: renaming a file does not change it, editing a frame or the prompt does.
//! Each job goes through `intent` (written and fsynced before the create call) → `created` (the task
//! id, right after) → `completed` | `failed` → `downloaded`. A key with an intent but no `created`
//! marks a crash between the two writes: the task may exist, and it must be reconciled with the
//! provider before anything is sent again. A torn last line (a crash mid-write) is skipped.
//!
//! Several runs may share one ledger (a CI retry and a terminal, or machines sharing the folder): a
//! run takes the ledger's lock (`lock`: an exclusive `flock` on `<ledger>.lock`) around "re-read →
//! decide → record intent → create → record created", so two runs can never both decide to create
//! the same key. Each append opens the file by path, so a ledger that cannot be written fails loudly
//! at the moment it matters.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

pub const DEFAULT_PATH: &str = ".kling-preflight/ledger.jsonl";

/// One line of the ledger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// "intent", "created", "completed", "failed", "downloaded", or "rejected" (the create call was
    /// refused, so no task exists).
    pub event: String,
    pub key: String,
    /// Unix seconds.
    pub at: u64,
    /// 1 for the first task of a key; a forced re-send increments it.
    #[serde(default = "one")]
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Who learned it: "poll", "webhook", "reconcile".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

fn one() -> u32 {
    1
}

impl Record {
    pub fn new(event: &str, key: &str, attempt: u32) -> Record {
        Record {
            event: event.into(),
            key: key.into(),
            at: now(),
            attempt,
            ..Record::default()
        }
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Where a key stands, folded from its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Intent written, no task id: crashed (or failed) around the create call.
    Intent,
    Created,
    Completed,
    Failed,
    Downloaded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub attempt: u32,
    pub phase: Phase,
    pub task_id: Option<String>,
    pub urls: Vec<String>,
    pub reason: Option<String>,
    pub path: Option<String>,
    pub estimate_usd: Option<f64>,
    pub provider: Option<String>,
    pub tier: Option<String>,
}

impl Entry {
    /// A key's state before anything but its phase is known.
    pub fn new(key: &str, attempt: u32, phase: Phase) -> Entry {
        Entry {
            key: key.into(),
            attempt,
            phase,
            task_id: None,
            urls: Vec::new(),
            reason: None,
            path: None,
            estimate_usd: None,
            provider: None,
            tier: None,
        }
    }
}

pub struct Ledger {
    path: PathBuf,
    entries: HashMap<String, Entry>,
    by_task: HashMap<String, String>,
    /// Lines that could not be parsed (a torn last line), reported once.
    pub skipped_lines: usize,
}

impl Ledger {
    /// Open (creating it and its folder if needed) and read the whole history.
    pub fn open(path: &Path) -> Result<Ledger> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create the ledger folder", dir.display()))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .with_context(|| format!("{}: cannot open the ledger", path.display()))?;
        let mut raw = Vec::new();
        file.read_to_end(&mut raw)
            .with_context(|| format!("{}: cannot read the ledger", path.display()))?;
        if !raw.is_empty() && !raw.ends_with(b"\n") {
            // A torn last line: end it so the next record starts on a line of its own.
            file.write_all(b"\n")?;
            file.sync_data()?;
        }
        Ok(Ledger::parse(path, &raw))
    }

    /// Read the history without creating or changing anything (`--dry-run`); an empty ledger when
    /// the file does not exist.
    pub fn peek(path: &Path) -> Result<Ledger> {
        match std::fs::read(path) {
            Ok(raw) => Ok(Ledger::parse(path, &raw)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::parse(path, b"")),
            Err(e) => Err(e).with_context(|| format!("{}: cannot read the ledger", path.display())),
        }
    }

    fn parse(path: &Path, raw: &[u8]) -> Ledger {
        let mut ledger = Ledger {
            path: path.to_path_buf(),
            entries: HashMap::new(),
            by_task: HashMap::new(),
            skipped_lines: 0,
        };
        for line in String::from_utf8_lossy(raw)
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            match serde_json::from_str::<Record>(line) {
                Ok(r) => ledger.apply(&r),
                Err(_) => ledger.skipped_lines += 1,
            }
        }
        ledger
    }

    /// Take the ledger's exclusive lock (blocking until other runs release it); released on drop,
    /// and by the kernel if the process dies.
    pub fn lock(&self) -> Result<LedgerLock> {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("{}: cannot open the ledger lock", lock_path.display()))?;
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: flock on a file descriptor we own for the lifetime of `file`.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if r == 0 {
                return Ok(LedgerLock { _file: file });
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e)
                    .with_context(|| format!("{}: cannot lock the ledger", lock_path.display()));
            }
        }
    }

    /// Every task id the ledger knows (for telling our tasks from others in a provider's list).
    pub fn task_ids(&self) -> std::collections::HashSet<String> {
        self.by_task.keys().cloned().collect()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn apply(&mut self, r: &Record) {
        let e = self
            .entries
            .entry(r.key.clone())
            .or_insert_with(|| Entry::new(&r.key, r.attempt, Phase::Intent));
        if r.event == "intent" {
            // A new attempt (forced re-send) starts over.
            *e = Entry {
                estimate_usd: r.estimate_usd,
                provider: r.provider.clone(),
                tier: r.tier.clone(),
                ..Entry::new(&r.key, r.attempt, Phase::Intent)
            };
            return;
        }
        if r.attempt != e.attempt {
            return; // a late record about an older attempt
        }
        if let Some(t) = &r.task_id {
            e.task_id = Some(t.clone());
            self.by_task.insert(t.clone(), r.key.clone());
        }
        if r.event == "rejected" {
            // The provider refused the create: no task exists, a later run may send again.
            self.entries.remove(&r.key);
            return;
        }
        let phase = match r.event.as_str() {
            "created" => Phase::Created,
            "completed" => Phase::Completed,
            "failed" => Phase::Failed,
            "downloaded" => Phase::Downloaded,
            _ => return,
        };
        if let Some(u) = &r.urls {
            e.urls = u.clone();
        }
        if r.reason.is_some() {
            e.reason = r.reason.clone();
        }
        if r.path.is_some() {
            e.path = r.path.clone();
        }
        // Records can arrive out of order (a webhook and a poll); a key never moves backwards.
        if phase > e.phase {
            e.phase = phase;
        }
    }

    /// Append one record: one write (O_APPEND), then fsync, before the caller goes on.
    pub fn append(&mut self, r: Record) -> Result<()> {
        let mut line = serde_json::to_string(&r)?;
        line.push('\n');
        OpenOptions::new()
            .append(true)
            .open(&self.path)
            .and_then(|mut f| {
                f.write_all(line.as_bytes())?;
                f.sync_data()
            })
            .with_context(|| format!("{}: cannot write the ledger", self.path.display()))?;
        self.apply(&r);
        Ok(())
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn key_for_task(&self, task_id: &str) -> Option<&str> {
        self.by_task.get(task_id).map(String::as_str)
    }

    /// Re-read records appended by another process (the webhook receiver) since we opened.
    pub fn refresh(&mut self) -> Result<()> {
        let fresh = Ledger::open(&self.path)?;
        self.entries = fresh.entries;
        self.by_task = fresh.by_task;
        Ok(())
    }
}

/// Holds the ledger's lock until dropped.
pub struct LedgerLock {
    _file: File,
}

/// blake3 of a file's bytes, streamed.
pub fn hash_file(path: &Path) -> Result<blake3::Hash> {
    let mut h = blake3::Hasher::new();
    let f = File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    h.update_reader(f)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(h.finalize())
}

/// The job key: a content hash of (image bytes, video bytes, parameters, provider, tier), shortened
/// to 128 bits, usable as Kling's `external_task_id`.
pub fn job_key(
    image: &blake3::Hash,
    video: &blake3::Hash,
    params: &serde_json::Value,
    provider: &str,
    tier: &str,
) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"kling-preflight job v1\0");
    h.update(image.as_bytes());
    h.update(video.as_bytes());
    h.update(params.to_string().as_bytes());
    h.update(b"\0");
    h.update(provider.as_bytes());
    h.update(b"\0");
    h.update(tier.as_bytes());
    let hex = h.finalize().to_hex();
    format!("kp-{}", &hex[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_fold_into_phases_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/ledger.jsonl");
        let mut l = Ledger::open(&p).unwrap();
        l.append(Record::new("intent", "k1", 1)).unwrap();
        assert_eq!(l.entry("k1").unwrap().phase, Phase::Intent);
        let mut c = Record::new("created", "k1", 1);
        c.task_id = Some("t1".into());
        l.append(c).unwrap();
        let mut d = Record::new("completed", "k1", 1);
        d.urls = Some(vec!["https://o".into()]);
        l.append(d).unwrap();
        // A late poll result must not move the key backwards.
        l.append(Record::new("created", "k1", 1)).unwrap();
        drop(l);
        let l = Ledger::open(&p).unwrap();
        let e = l.entry("k1").unwrap();
        assert_eq!(e.phase, Phase::Completed);
        assert_eq!(e.task_id.as_deref(), Some("t1"));
        assert_eq!(e.urls, ["https://o"]);
        assert_eq!(l.key_for_task("t1"), Some("k1"));
    }

    #[test]
    fn a_torn_last_line_is_tolerated_and_closed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ledger.jsonl");
        let good = serde_json::to_string(&Record::new("intent", "k1", 1)).unwrap();
        std::fs::write(&p, format!("{good}\n{{\"event\":\"crea")).unwrap();
        let mut l = Ledger::open(&p).unwrap();
        assert_eq!(l.skipped_lines, 1);
        assert_eq!(l.entry("k1").unwrap().phase, Phase::Intent);
        l.append(Record::new("failed", "k1", 1)).unwrap();
        let l = Ledger::open(&p).unwrap();
        assert_eq!(l.entry("k1").unwrap().phase, Phase::Failed);
        assert_eq!(l.skipped_lines, 1);
    }

    #[test]
    fn a_new_attempt_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("l.jsonl")).unwrap();
        l.append(Record::new("intent", "k", 1)).unwrap();
        l.append(Record::new("failed", "k", 1)).unwrap();
        l.append(Record::new("intent", "k", 2)).unwrap();
        l.append(Record::new("completed", "k", 1)).unwrap();
        let e = l.entry("k").unwrap();
        assert_eq!((e.attempt, e.phase), (2, Phase::Intent));
    }

    #[test]
    fn keys_depend_on_content_params_provider_and_tier() {
        let a = blake3::hash(b"image");
        let b = blake3::hash(b"video");
        let p = serde_json::json!({"prompt": "x"});
        let k = job_key(&a, &b, &p, "freepik", "std");
        assert!(k.starts_with("kp-") && k.len() == 35);
        assert_eq!(k, job_key(&a, &b, &p, "freepik", "std"));
        assert_ne!(k, job_key(&a, &b, &p, "freepik", "pro"));
        assert_ne!(k, job_key(&a, &b, &p, "kling", "std"));
        assert_ne!(k, job_key(&b, &a, &p, "freepik", "std"));
        assert_ne!(
            k,
            job_key(
                &a,
                &b,
                &serde_json::json!({"prompt": "y"}),
                "freepik",
                "std"
            )
        );
    }
}
