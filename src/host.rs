//! Process-wide settings that belong to the program embedding the library, not to one check: how
//! loud FFmpeg's own logging is, which face cascade file replaces the built-in one, and how many
//! threads a video decoder may use. The library never reads environment variables or changes
//! FFmpeg's global log level on its own; the caller decides, once, through [`set`] (the
//! [`check`](crate::check) entry point does it from [`Settings`](crate::Settings)), and the
//! command-line tool fills them from its environment with [`Host::from_env`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::RwLock;

/// FFmpeg's global log level (`av_log_set_level`), which is shared by everything in the process
/// that uses FFmpeg, hence set only when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfmpegLog {
    Quiet,
    Error,
    Warning,
    Info,
}

impl FfmpegLog {
    fn level(self) -> i32 {
        use ffmpeg_next::ffi;
        match self {
            FfmpegLog::Quiet => ffi::AV_LOG_QUIET,
            FfmpegLog::Error => ffi::AV_LOG_ERROR,
            FfmpegLog::Warning => ffi::AV_LOG_WARNING,
            FfmpegLog::Info => ffi::AV_LOG_INFO,
        }
    }
}

/// The embedding program's choices; the default changes nothing and uses the built-in detector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// Set FFmpeg's global log level; `None` leaves it as the program has it.
    pub ffmpeg_log: Option<FfmpegLog>,
    /// An OpenCV cascade XML to use instead of the embedded frontal-face cascade.
    pub face_cascade: Option<PathBuf>,
    /// Frame threads per video decoder; `None` = automatic (fewer above 1080p, to bound memory).
    pub decode_threads: Option<usize>,
}

/// Names of the environment variables the command-line tool reads into a [`Host`].
pub const FFMPEG_LOG_ENV: &str = "KLING_PREFLIGHT_FFMPEG_LOG";
pub const DECODE_THREADS_ENV: &str = "KLING_PREFLIGHT_DECODE_THREADS";

impl Host {
    /// What the command-line tool uses: FFmpeg quiet (the tool prints its own messages) unless
    /// `KLING_PREFLIGHT_FFMPEG_LOG` is set (then warnings and errors), the cascade named by
    /// `KLING_PREFLIGHT_FACE_CASCADE` (set but empty = unset, as `VAR= command` clears a variable for
    /// one run), decoder threads from `KLING_PREFLIGHT_DECODE_THREADS`.
    pub fn from_env() -> Host {
        Host::from_vars(|k| std::env::var_os(k))
    }

    /// [`Host::from_env`] over any variable lookup (tests, or a program's own configuration).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Host {
        Host {
            ffmpeg_log: Some(if var(FFMPEG_LOG_ENV).is_some() {
                FfmpegLog::Warning
            } else {
                FfmpegLog::Quiet
            }),
            face_cascade: var(crate::detect::FACE_CASCADE_ENV)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            decode_threads: var(DECODE_THREADS_ENV)
                .and_then(|v| v.to_str().and_then(|s| s.trim().parse().ok())),
        }
    }
}

static HOST: RwLock<Option<Host>> = RwLock::new(None);

/// Make `host` the process's settings, and apply its FFmpeg log level if it names one.
pub fn set(host: Host) {
    if let Some(log) = host.ffmpeg_log {
        crate::probe::video::ensure_ffmpeg();
        // SAFETY: sets a global integer in libavutil.
        unsafe { ffmpeg_next::ffi::av_log_set_level(log.level()) };
    }
    *HOST.write().unwrap_or_else(|e| e.into_inner()) = Some(host);
}

/// The current settings ([`Host::default`] until [`set`] is called).
pub fn get() -> Host {
    HOST.read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.into())
    }

    #[test]
    fn cli_defaults_keep_ffmpeg_quiet_and_the_builtin_cascade() {
        let h = Host::from_vars(vars(&[]));
        assert_eq!(h.ffmpeg_log, Some(FfmpegLog::Quiet));
        assert_eq!(h.face_cascade, None);
        assert_eq!(h.decode_threads, None);
    }

    #[test]
    fn empty_cascade_variable_counts_as_unset() {
        let h = Host::from_vars(vars(&[
            ("KLING_PREFLIGHT_FACE_CASCADE", ""),
            ("KLING_PREFLIGHT_FFMPEG_LOG", "1"),
            ("KLING_PREFLIGHT_DECODE_THREADS", "2"),
        ]));
        assert_eq!(h.face_cascade, None);
        assert_eq!(h.ffmpeg_log, Some(FfmpegLog::Warning));
        assert_eq!(h.decode_threads, Some(2));
    }

    #[test]
    fn library_default_leaves_ffmpeg_alone() {
        assert_eq!(Host::default().ffmpeg_log, None);
    }
}
