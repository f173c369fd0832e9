//! The `kling-preflight` binary: parse arguments, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::FromArgMatches;
use kling_preflight::cli::{self, Cli, Status};

fn main() -> ExitCode {
    // The command carries the run-time FFmpeg versions for `--version`, so it is built, not derived.
    let parsed = cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            // --help and --version are not errors; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Status::Error as u8
            } else {
                0
            });
        }
    };
    match cli::run(cli) {
        Ok(status) => ExitCode::from(status as u8),
        Err(e) => {
            eprintln!("kling-preflight: error: {e:#}");
            ExitCode::from(Status::Error as u8)
        }
    }
}
