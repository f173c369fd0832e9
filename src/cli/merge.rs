//! `merge`: combine the JSON reports of sharded `check --shard K/N --format json` runs into one report,
//! printed in any format, with the exit status `check` would have given for the whole set.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Args;

use super::{FailOn, Status, emit, human_options};
use crate::model::Report;
use crate::report::{self, Format, merge};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports written by `check --shard K/N --format json`.
    #[arg(required = true, value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also list passing files (human format).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Merge even when some shards' reports are missing.
    #[arg(long)]
    pub allow_partial: bool,
    /// Exit 1 on error-level findings only (default), or on warnings too.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
}

pub(super) fn run(a: MergeArgs, color: bool) -> Result<Status> {
    let mut reports = Vec::new();
    for path in &a.reports {
        let name = path.display().to_string();
        let text =
            std::fs::read(path).map_err(|e| anyhow!("{name}: cannot read the report: {e}"))?;
        let r: Report = serde_json::from_slice(&text).map_err(|e| {
            anyhow!("{name}: not a kling-preflight JSON report ({e}); write one with `check --format json`")
        })?;
        reports.push((name, r));
    }
    let merged = merge::merge(reports, a.allow_partial)?;
    let hopts = human_options(a.verbose, color);
    emit(|out| report::write(out, &merged, a.format, &hopts))?;
    Ok(a.fail_on.status(&merged.summary))
}
