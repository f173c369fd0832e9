//! What the binary says about itself: `--version` (with the FFmpeg libraries it actually runs with,
//! read at run time, since a distribution upgrade swaps them under an unchanged binary), shell
//! completions and the man page. Both generators read the same clap definition the parser uses, so
//! they cannot drift from the real flags.

use std::ffi::CStr;

use anyhow::Result;
use clap::{Args, CommandFactory};

use super::{Cli, Status, emit};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for. Bash: `kling-preflight completions bash >
    /// /etc/bash_completion.d/kling-preflight`; zsh: into a folder on `$fpath` as `_kling-preflight`;
    /// fish: `~/.config/fish/completions/kling-preflight.fish`; PowerShell: dot-source the output.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The FFmpeg release string of the loaded libavutil (`5.1.9-0+deb12u1` on Debian 12).
fn ffmpeg_release() -> String {
    // SAFETY: av_version_info returns a static NUL-terminated string owned by libavutil.
    let p = unsafe { ffmpeg_next::ffi::av_version_info() };
    if p.is_null() {
        return "unknown".into();
    }
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The clap command with the run-time version strings (`-V` one line, `--version` all of it).
pub fn command() -> clap::Command {
    let long = crate::version::version_long().to_string();
    let short = format!(
        "{} (FFmpeg {})",
        env!("CARGO_PKG_VERSION"),
        ffmpeg_release()
    );
    // Built once per process; clap keeps `&'static str` versions without its `string` feature.
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    Cli::command().version(leak(short)).long_version(leak(long))
}

pub(super) fn completions(a: CompletionsArgs) -> Result<Status> {
    // Into a buffer first: clap_complete panics on a write error, and `| head` closes the pipe.
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut command(), "kling-preflight", &mut buf);
    emit(|out| out.write_all(&buf))?;
    Ok(Status::Clean)
}

pub(super) fn man() -> Result<Status> {
    let page = clap_mangen::Man::new(command());
    let mut buf = Vec::new();
    page.render(&mut buf)?;
    emit(|out| out.write_all(&buf))?;
    Ok(Status::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_loaded_ffmpeg() {
        assert!(!ffmpeg_release().is_empty());
        let v = command().render_long_version();
        assert!(v.contains("libavformat 5") && v.contains("FFmpeg "), "{v}");
    }
}
