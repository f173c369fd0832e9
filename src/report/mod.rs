//! Reporters: turn a `Report` into what a person or a program reads. They never probe or judge;
//! everything they print is already in the report.
//!
//! Machine formats (`json`, `json-lines`) are a contract (SPEC.md): stable, sorted as the inputs were
//! given (folder contents by name), no footer. The human format has colour only on a terminal and
//! ends with a summary.

pub mod human;

use std::io::{self, Write};

use crate::model::Report;

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    #[value(name = "json-lines")]
    JsonLines,
}

/// Write `report` in `format`.
pub fn write(
    out: &mut dyn Write,
    report: &Report,
    format: Format,
    opts: &human::Options,
) -> io::Result<()> {
    match format {
        Format::Human => human::write(out, report, opts),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::JsonLines => {
            for f in &report.files {
                serde_json::to_writer(&mut *out, f)?;
                writeln!(out)?;
            }
            serde_json::to_writer(&mut *out, &serde_json::json!({ "summary": report.summary }))?;
            writeln!(out)
        }
    }
}
