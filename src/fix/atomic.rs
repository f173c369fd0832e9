//! Atomic outputs: a fix is written to an invisible temp file in the destination folder, fsynced,
//! re-checked, and only then given its name. Nothing half-written ever carries an output's name.
//!
//! On Linux the temp file is an `O_TMPFILE` inode: it has no name at all until `persist` links it in,
//! so even SIGKILL or a power cut leaves nothing behind (the kernel frees the inode). Writers that
//! need a path (libavformat, the re-check) use `/proc/self/fd/N`. Where `O_TMPFILE` is unsupported we
//! fall back to a hidden `.name.kp-tmp-PID-N` file that a guard deletes on drop (errors, Ctrl-C via the
//! interrupt flag) and that the next run sweeps if its process died (SIGKILL).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const TMP_MARK: &str = ".kp-tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp output that becomes `dest` on `persist`, and disappears otherwise.
#[derive(Debug)]
pub struct TempOutput {
    file: File,
    dest: PathBuf,
    /// The temp file's name when it has one (fallback mode).
    named: Option<PathBuf>,
    persisted: bool,
}

impl TempOutput {
    /// Create the temp file in `dest`'s folder (created if missing).
    pub fn create(dest: &Path) -> io::Result<TempOutput> {
        let dir = parent(dest);
        fs::create_dir_all(&dir)?;
        match OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o644)
            .custom_flags(libc::O_TMPFILE)
            .open(&dir)
        {
            Ok(file) => Ok(TempOutput {
                file,
                dest: dest.to_path_buf(),
                named: None,
                persisted: false,
            }),
            Err(_) => {
                let tmp = hidden_temp(&dir, dest);
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .open(&tmp)?;
                Ok(TempOutput {
                    file,
                    dest: dest.to_path_buf(),
                    named: Some(tmp),
                    persisted: false,
                })
            }
        }
    }

    /// A path through which other code (libavformat, the checker) can open the temp file.
    pub fn path(&self) -> PathBuf {
        match &self.named {
            Some(p) => p.clone(),
            None => fd_path(&self.file),
        }
    }

    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Whether the temp file has no name (`O_TMPFILE`), for tests and messages.
    pub fn is_anonymous(&self) -> bool {
        self.named.is_none()
    }

    /// fsync the data, give the file its final name, fsync the folder. With `overwrite` false an
    /// existing `dest` is an error and is left alone.
    pub fn persist(mut self, overwrite: bool) -> io::Result<()> {
        self.file.sync_all()?;
        let dir = parent(&self.dest);
        match &self.named {
            None => {
                let src = cstr(&fd_path(&self.file))?;
                if overwrite {
                    // linkat cannot replace: link under a hidden name, then rename over the target.
                    let tmp = hidden_temp(&dir, &self.dest);
                    link(&src, &tmp)?;
                    if let Err(e) = fs::rename(&tmp, &self.dest) {
                        let _ = fs::remove_file(&tmp);
                        return Err(e);
                    }
                } else {
                    link(&src, &self.dest)?;
                }
            }
            Some(tmp) => {
                if !overwrite && fs::symlink_metadata(&self.dest).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists", self.dest.display()),
                    ));
                }
                fs::rename(tmp, &self.dest)?;
            }
        }
        self.persisted = true;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.persisted
            && let Some(p) = &self.named
        {
            let _ = fs::remove_file(p);
        }
    }
}

/// A fresh hidden name for a temp file of `dest` in `dir`: `.{name}.kp-tmp-{pid}-{counter}`.
fn hidden_temp(dir: &Path, dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(
        ".{name}{TMP_MARK}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The `/proc/self/fd/N` path of an open file.
fn fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn cstr(p: &Path) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn link(src: &std::ffi::CStr, dest: &Path) -> io::Result<()> {
    let dest = cstr(dest)?;
    // SAFETY: both arguments are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            src.as_ptr(),
            libc::AT_FDCWD,
            dest.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Remove `.name.kp-tmp-PID-N` files left in `dir` by a process that no longer runs (SIGKILL in
/// fallback mode). Returns how many were removed.
pub fn sweep_stale(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.split(TMP_MARK).nth(1) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists();
        if !alive && fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn dropped_temp_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = TempOutput::create(&dir.path().join("a.jpg")).unwrap();
        t.file().write_all(b"half").unwrap();
        drop(t);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn persist_names_the_file_and_respects_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/a.jpg");
        let mut t = TempOutput::create(&dest).unwrap();
        t.file().write_all(b"one").unwrap();
        // Readable through its path before it is named (the re-check does this).
        assert_eq!(fs::read(t.path()).unwrap(), b"one");
        t.persist(false).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"one");
        let mut t = TempOutput::create(&dest).unwrap();
        t.file().write_all(b"two").unwrap();
        assert!(t.persist(false).is_err());
        assert_eq!(fs::read(&dest).unwrap(), b"one");
        let mut t = TempOutput::create(&dest).unwrap();
        t.file().write_all(b"three").unwrap();
        t.persist(true).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"three");
        assert_eq!(names(&dir.path().join("sub")), ["a.jpg"]);
    }

    #[test]
    fn stale_temps_of_dead_processes_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".a.mp4.kp-tmp-999999999-0"), b"x").unwrap();
        let mine = format!(".b.mp4.kp-tmp-{}-0", std::process::id());
        fs::write(dir.path().join(&mine), b"x").unwrap();
        fs::write(dir.path().join("keep.mp4"), b"x").unwrap();
        assert_eq!(sweep_stale(dir.path()), 1);
        assert_eq!(names(dir.path()), [mine, "keep.mp4".to_string()]);
    }
}
