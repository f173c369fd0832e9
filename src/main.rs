//! The `kling-preflight` binary: parse arguments, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use kling_preflight::cli::{self, Cli, Status};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
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
