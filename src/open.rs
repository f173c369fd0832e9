//! Opening inputs: regular files only, never blocking, whatever bytes their names hold.
//!
//! A FIFO named as an input blocks `open(2)` for reading until a writer comes (forever, in CI); a
//! socket or a device is not an upload either; and a name that is not UTF-8 cannot pass through
//! ffmpeg-next's `&str` path conversion (it panics). So inputs are opened here: with `O_NONBLOCK` (a
//! FIFO without a writer opens at once instead of hanging), then `fstat` on the opened descriptor,
//! so the check and the use concern the same inode (no window to swap the file). libavformat is then
//! handed `/proc/self/fd/N` of that descriptor: an ASCII name for exactly the inode that was checked.
//! Outputs are opened by their bytes too (`file:` + the path), never through a `&str`.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::ptr;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

/// Open `path` for reading if it is a regular file (after following symlinks). Anything else is an
/// `InvalidInput` error saying what it is, and is never read from.
pub fn regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    Ok(file)
}

/// The error for a file that is not a regular file, naming what it is.
pub fn not_regular(t: &std::fs::FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file but {}; it was not read", kind_name(t)),
    )
}

/// What a non-regular file is, for messages: "a named pipe (FIFO)", "a socket", ...
pub fn kind_name(t: &std::fs::FileType) -> &'static str {
    if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// The URL libavformat opens: `/proc/self/fd/N` of the checked descriptor, so the inode checked is
/// the inode read. Without /proc (a bare chroot, some sandboxes) every input would fail to open, so
/// the path's own bytes are used there instead: the file was checked regular a moment ago, and only
/// a swap in that instant could differ.
fn fd_url(file: &File, path: &Path) -> CString {
    let proc_fd = format!("/proc/self/fd/{}", file.as_raw_fd());
    if Path::new(&proc_fd).exists() {
        return CString::new(format!("file:{proc_fd}")).expect("no NUL in a formatted fd path");
    }
    let mut bytes = b"file:".to_vec();
    bytes.extend_from_slice(path.as_os_str().as_bytes());
    // A path from the OS holds no NUL byte.
    CString::new(bytes).expect("no NUL in an OS path")
}

/// Why libavformat could not open an input.
#[derive(Debug)]
pub enum AvOpenError {
    /// Our own open failed (missing, permission, not a regular file).
    Io(io::Error),
    /// libavformat's error code (negative AVERROR).
    Av(i32),
}

impl std::fmt::Display for AvOpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AvOpenError::Io(e) => write!(f, "{e}"),
            AvOpenError::Av(code) => write!(f, "{}", ffmpeg::Error::from(*code)),
        }
    }
}

/// Open an input with libavformat (headers only, no stream-info pass), local files only: the file
/// protocol is the only one allowed, so a playlist cannot reach out to other files or URLs.
pub fn av_input(path: &Path) -> Result<ffmpeg::format::context::Input, AvOpenError> {
    av_input_as(path, None)
}

/// `av_input` with the demuxer named (`jpeg_pipe`, `png_pipe`, ...): the descriptor path carries no
/// extension, so a picture whose content probe is weak (an arithmetic-coded JPEG) still reaches the
/// right demuxer. An unknown name falls back to probing.
pub fn av_input_as(
    path: &Path,
    format: Option<&std::ffi::CStr>,
) -> Result<ffmpeg::format::context::Input, AvOpenError> {
    let file = regular(path).map_err(AvOpenError::Io)?;
    // SAFETY: av_find_input_format only reads the NUL-terminated name; null when unknown.
    let fmt = format.map_or(ptr::null(), |f| unsafe {
        ffi::av_find_input_format(f.as_ptr())
    });
    let url = fd_url(&file, path);
    // SAFETY: standard avformat_open_input protocol; on failure libavformat frees the context.
    // `file` stays open until libavformat has opened its own descriptor for the same inode.
    let r = unsafe {
        let mut opts: *mut ffi::AVDictionary = ptr::null_mut();
        ffi::av_dict_set(
            &mut opts,
            c"protocol_whitelist".as_ptr(),
            c"file".as_ptr(),
            0,
        );
        let mut ps: *mut ffi::AVFormatContext = ptr::null_mut();
        let r = ffi::avformat_open_input(&mut ps, url.as_ptr(), fmt as _, &mut opts);
        ffi::av_dict_free(&mut opts);
        if r < 0 || ps.is_null() {
            Err(AvOpenError::Av(r.min(-1)))
        } else {
            Ok(ffmpeg::format::context::Input::wrap(ps))
        }
    };
    drop(file);
    r
}

/// `av_input` followed by libavformat's stream-info pass (what `ffmpeg_next::format::input` does),
/// for callers that decode.
pub fn av_input_with_info(path: &Path) -> Result<ffmpeg::format::context::Input, AvOpenError> {
    let mut ictx = av_input(path)?;
    // SAFETY: a valid, open input context; on failure it is closed by `ictx`'s Drop.
    let r = unsafe { ffi::avformat_find_stream_info(ictx.as_mut_ptr(), ptr::null_mut()) };
    if r < 0 {
        return Err(AvOpenError::Av(r));
    }
    Ok(ictx)
}

/// Create an output of libavformat format `format` ("mp4") at `path`, whatever bytes the path holds.
pub fn av_output_as(
    path: &Path,
    format: &str,
) -> Result<ffmpeg::format::context::Output, ffmpeg::Error> {
    let mut url = b"file:".to_vec();
    url.extend_from_slice(path.as_os_str().as_bytes());
    let url = CString::new(url).map_err(|_| ffmpeg::Error::InvalidData)?;
    let format = CString::new(format).map_err(|_| ffmpeg::Error::InvalidData)?;
    // SAFETY: the standard alloc_output_context2 + avio_open protocol; the context is freed if the
    // file cannot be opened.
    unsafe {
        let mut ps: *mut ffi::AVFormatContext = ptr::null_mut();
        let r = ffi::avformat_alloc_output_context2(
            &mut ps,
            ptr::null(),
            format.as_ptr(),
            url.as_ptr(),
        );
        if r < 0 || ps.is_null() {
            return Err(ffmpeg::Error::from(r.min(-1)));
        }
        let r = ffi::avio_open(&mut (*ps).pb, url.as_ptr(), ffi::AVIO_FLAG_WRITE);
        if r < 0 {
            ffi::avformat_free_context(ps);
            return Err(ffmpeg::Error::from(r));
        }
        Ok(ffmpeg::format::context::Output::wrap(ps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.mp4");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = regular(&fifo).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("named pipe"), "{e}");
        assert!(matches!(av_input(&fifo), Err(AvOpenError::Io(_))));
    }

    #[test]
    fn regular_file_opens() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        std::fs::write(&p, b"x").unwrap();
        assert!(regular(&p).is_ok());
        assert!(regular(dir.path()).is_err());
    }
}
