//! The result cache: what sniffing, probing and analysing a file found, kept on disk so that a re-run
//! on unchanged files skips the expensive part (decoding a video takes seconds; a cache hit takes a
//! stat, a small read and a JSON parse).
//!
//! Only *facts* are cached, never diagnostics: rules are re-run on every check (they take
//! microseconds), so changing the profile, the orientation or a rule's severity never needs a fresh
//! probe. An entry is keyed by the file's canonical path, size, modification time (ns), inode and
//! change time, the tool's build, and a hash of the settings that change facts (`AnalyzeOptions` and
//! whether analysis ran). The full key is stored in the entry and compared on read, so a hash
//! collision or a corrupt, truncated or foreign entry is a miss (and is rewritten), never a wrong answer.
//!
//! Layout: `.kling-preflight-cache/` next to the config file (or in the working folder), holding a
//! `CACHEDIR.TAG` (backup tools skip it), a `.gitignore` of `*`, and one `<hash>.json` per entry.
//! Writes go to a temp file in the same folder and are renamed into place, so concurrent runs and
//! interrupted runs never leave a half-written entry under a real name.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::stable_hash::Fnv64;

/// Name of the cache folder.
pub const DIR_NAME: &str = ".kling-preflight-cache";

const TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by kling-preflight.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// A cache folder. Cheap to clone; all methods are best effort (an unwritable cache slows a run down,
/// it never fails it).
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Entry<K, T> {
    key: K,
    value: T,
}

impl Cache {
    /// The cache in `base/.kling-preflight-cache` (created on the first write).
    pub fn in_folder(base: &Path) -> Cache {
        Cache {
            dir: base.join(DIR_NAME),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of a file's facts: `None` when the file cannot be stat'ed or canonicalised (no caching).
    /// `settings` identifies everything else that changes the facts (see `engine`).
    pub fn file_key(path: &Path, meta: &fs::Metadata, settings: &str) -> Option<String> {
        let canonical = fs::canonicalize(path).ok()?;
        let mtime = meta
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        #[cfg(unix)]
        let extra = {
            use std::os::unix::fs::MetadataExt;
            format!(
                "dev={} ino={} ctime={}.{:09}",
                meta.dev(),
                meta.ino(),
                meta.ctime(),
                meta.ctime_nsec()
            )
        };
        #[cfg(not(unix))]
        let extra = String::new();
        Some(format!(
            "v1|build={}|{}|size={}|mtime={mtime}|{extra}|{settings}",
            build_id(),
            canonical.display(),
            meta.len(),
        ))
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        let mut h = Fnv64::default();
        h.write(key.as_bytes());
        // A second, differently seeded pass makes the file name 128 bits: fewer collisions to verify.
        let mut h2 = Fnv64::default();
        h2.write(b"kling-preflight").write(key.as_bytes());
        self.dir
            .join(format!("{:016x}{:016x}.json", h.finish(), h2.finish()))
    }

    /// The value stored under `key`, if there is a readable entry for exactly that key.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let bytes = fs::read(self.entry_path(key)).ok()?;
        let entry: Entry<String, T> = serde_json::from_slice(&bytes).ok()?;
        (entry.key == key).then_some(entry.value)
    }

    /// Store `value` under `key` (atomically: temp file + rename). Errors are ignored.
    pub fn put<T: Serialize>(&self, key: &str, value: &T) {
        let _ = self.try_put(key, value);
    }

    fn try_put<T: Serialize>(&self, key: &str, value: &T) -> std::io::Result<()> {
        self.ensure_dir()?;
        let data = serde_json::to_vec(&Entry { key, value }).map_err(std::io::Error::other)?;
        let target = self.entry_path(key);
        let tmp = self.dir.join(temp_name());
        let written = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&data)?;
            // No fsync: a cache entry lost to a crash is only a re-probe.
            drop(f);
            fs::rename(&tmp, &target)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// Create the folder with its `CACHEDIR.TAG` and `.gitignore` when missing.
    fn ensure_dir(&self) -> std::io::Result<()> {
        let tag = self.dir.join("CACHEDIR.TAG");
        if tag.is_file() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir)?;
        write_atomic(&self.dir, &self.dir.join(".gitignore"), b"*\n")?;
        write_atomic(&self.dir, &tag, TAG.as_bytes())
    }

    /// Remove the cache folder. Refuses a folder that is not ours (no `CACHEDIR.TAG` written by us and
    /// not empty). Returns whether anything was removed.
    pub fn remove(&self) -> Result<bool, String> {
        if !self.dir.exists() {
            return Ok(false);
        }
        let ours = fs::read_to_string(self.dir.join("CACHEDIR.TAG"))
            .is_ok_and(|t| t.contains("kling-preflight"));
        let empty = fs::read_dir(&self.dir).is_ok_and(|mut d| d.next().is_none());
        if !ours && !empty {
            return Err(format!(
                "{} has no CACHEDIR.TAG written by kling-preflight; not removing it (delete it yourself if it is a stale cache)",
                self.dir.display()
            ));
        }
        fs::remove_dir_all(&self.dir)
            .map_err(|e| format!("cannot remove {}: {e}", self.dir.display()))?;
        Ok(true)
    }
}

fn write_atomic(dir: &Path, target: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(temp_name());
    let r = fs::write(&tmp, data).and_then(|_| fs::rename(&tmp, target));
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r
}

/// A name no other writer (thread or process) uses at the same time; starts with `.tmp-` so a
/// leftover from a killed run is recognisable (and never read as an entry).
fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(".tmp-{}-{n}-{nanos}", std::process::id())
}

/// Identifies the code that produced cached facts: the package version plus the running executable's
/// size and modification time, so a rebuilt prober (same version number, new behaviour) never reads
/// facts measured by the old one.
fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let exe = std::env::current_exe()
            .and_then(fs::metadata)
            .ok()
            .map(|m| {
                let t = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                format!("{}:{t}", m.len())
            })
            .unwrap_or_default();
        format!("{}+{exe}", env!("CARGO_PKG_VERSION"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_verify_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::in_folder(dir.path());
        assert_eq!(cache.get::<u32>("k"), None);
        cache.put("k", &7u32);
        assert_eq!(cache.get::<u32>("k"), Some(7));
        assert_eq!(cache.get::<u32>("other"), None);
        assert!(cache.dir().join("CACHEDIR.TAG").is_file());
        assert_eq!(
            fs::read_to_string(cache.dir().join(".gitignore")).unwrap(),
            "*\n"
        );
        // No temp files left behind.
        let names: Vec<String> = fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with(".tmp-")), "{names:?}");
    }

    #[test]
    fn corrupt_entries_are_misses_and_get_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::in_folder(dir.path());
        cache.put("k", &"value".to_string());
        let file = cache.entry_path("k");
        for junk in [
            &b""[..],
            b"{\"key\":\"k\",\"val",
            b"\xff\xfe",
            b"{\"key\":\"k\",\"value\":12}",
        ] {
            fs::write(&file, junk).unwrap();
            assert_eq!(cache.get::<String>("k"), None);
        }
        cache.put("k", &"again".to_string());
        assert_eq!(cache.get::<String>("k").as_deref(), Some("again"));
    }

    #[test]
    fn key_changes_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.mp4");
        fs::write(&f, b"one").unwrap();
        let k1 = Cache::file_key(&f, &fs::metadata(&f).unwrap(), "s").unwrap();
        assert_eq!(
            k1,
            Cache::file_key(&f, &fs::metadata(&f).unwrap(), "s").unwrap()
        );
        assert_ne!(
            k1,
            Cache::file_key(&f, &fs::metadata(&f).unwrap(), "t").unwrap()
        );
        fs::write(&f, b"three").unwrap();
        assert_ne!(
            k1,
            Cache::file_key(&f, &fs::metadata(&f).unwrap(), "s").unwrap()
        );
    }

    #[test]
    fn remove_refuses_foreign_folders() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::in_folder(dir.path());
        assert_eq!(cache.remove(), Ok(false));
        cache.put("k", &1u8);
        assert_eq!(cache.remove(), Ok(true));
        assert!(!cache.dir().exists());
        fs::create_dir_all(cache.dir()).unwrap();
        fs::write(cache.dir().join("precious.txt"), b"x").unwrap();
        assert!(cache.remove().is_err());
    }
}
