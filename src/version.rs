//! What `kling-preflight --version` prints: the build (version, commit, Cargo profile, target,
//! compiler) and the FFmpeg libraries actually loaded, beside the ones the binary was built against.
//! The binary links the system's FFmpeg shared libraries, so a copied binary or a container image is
//! only understood with both halves; bug reports paste this block.

use std::ffi::CStr;
use std::sync::OnceLock;

use ffmpeg_next::ffi;

/// `major.minor.micro` of an FFmpeg `AV_VERSION_INT`.
fn dotted(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// The multi-line `--version` text (without the leading program name, which clap prints).
pub fn version_long() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        // SAFETY: av_version_info returns a pointer to a static NUL-terminated string;
        // the *_version functions only return constants of the loaded libraries.
        let (info, util, codec, format, filter, scale) = unsafe {
            (
                CStr::from_ptr(ffi::av_version_info())
                    .to_string_lossy()
                    .into_owned(),
                ffi::avutil_version(),
                ffi::avcodec_version(),
                ffi::avformat_version(),
                ffi::avfilter_version(),
                ffi::swscale_version(),
            )
        };
        format!(
            "{version}\n\
             build: commit {git}, profile {profile}, {target}, {rustc}\n\
             FFmpeg {info} (loaded): libavutil {util}, libavcodec {codec}, libavformat {format}, \
             libavfilter {filter}, libswscale {scale}\n\
             built against: libavutil {bu}, libavcodec {bc}, libavformat {bf}",
            version = env!("CARGO_PKG_VERSION"),
            git = env!("KLING_PREFLIGHT_BUILD_GIT"),
            profile = env!("KLING_PREFLIGHT_BUILD_PROFILE"),
            target = env!("KLING_PREFLIGHT_BUILD_TARGET"),
            rustc = env!("KLING_PREFLIGHT_BUILD_RUSTC"),
            util = dotted(util),
            codec = dotted(codec),
            format = dotted(format),
            filter = dotted(filter),
            scale = dotted(scale),
            bu = built(ffi::LIBAVUTIL_VERSION_MAJOR, ffi::LIBAVUTIL_VERSION_MINOR),
            bc = built(ffi::LIBAVCODEC_VERSION_MAJOR, ffi::LIBAVCODEC_VERSION_MINOR),
            bf = built(
                ffi::LIBAVFORMAT_VERSION_MAJOR,
                ffi::LIBAVFORMAT_VERSION_MINOR
            ),
        )
    })
}

fn built(major: i32, minor: i32) -> String {
    format!("{major}.{minor}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_splits_av_version_int() {
        // AV_VERSION_INT(59, 27, 100)
        assert_eq!(dotted((59 << 16) | (27 << 8) | 100), "59.27.100");
    }

    #[test]
    fn names_the_loaded_libavformat_major() {
        // SAFETY: returns a constant of the loaded library.
        let major = unsafe { ffi::avformat_version() } >> 16;
        assert!(version_long().contains(&format!("libavformat {major}.")));
    }
}
