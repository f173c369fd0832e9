//! The project-level commands: `init` (write a starter config), `config --show` (what a run would use
//! and why) and `clean` (remove the result cache).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;

use super::{Judging, Status, emit, resolve};
use crate::cache::Cache;
use crate::config::{self, Config};

#[derive(Debug, Args)]
pub struct InitArgs {}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print the resolved settings and where each came from (the default action).
    #[arg(long)]
    pub show: bool,
    #[command(flatten)]
    pub judging: Judging,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Clean the cache of the project that holds this config file.
    #[arg(long, value_name = "PATH", conflicts_with = "isolated")]
    pub config: Option<PathBuf>,
    /// Clean the cache in the working folder, whatever config file is above it.
    #[arg(long)]
    pub isolated: bool,
}

pub(super) fn init(_: InitArgs) -> Result<Status> {
    let cwd = std::env::current_dir().context("cannot read the working folder")?;
    let path = cwd.join(config::FILE_NAME);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists; edit it (or delete it first to start over)",
            config::FILE_NAME
        ),
        Err(e) => bail!("cannot create {}: {e}", path.display()),
    };
    file.write_all(config::STARTER.as_bytes())
        .and_then(|_| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "kling-preflight: wrote {}; `kling-preflight config --show` prints what it resolves to",
        config::FILE_NAME
    );
    if let Some(parent) = cwd.parent().and_then(Config::discover) {
        eprintln!(
            "kling-preflight: note: it takes precedence over {} for this folder and below",
            parent.display()
        );
    }
    Ok(Status::Clean)
}

pub(super) fn show(a: ConfigArgs) -> Result<Status> {
    let r = resolve(&a.judging)?;
    let file = match (&r.config.path, a.judging.isolated) {
        (_, true) => "none (--isolated)".to_string(),
        (Some(p), _) => p.display().to_string(),
        (None, _) => format!(
            "none ({} not found in {} or above)",
            config::FILE_NAME,
            r.config.root.display()
        ),
    };
    emit(|out| {
        writeln!(out, "config file: {file}")?;
        writeln!(out, "project root: {}", r.config.root.display())?;
        let width = r.sources.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
        let vwidth = r
            .sources
            .iter()
            .map(|(_, v, _)| v.chars().count())
            .max()
            .unwrap_or(0);
        for (key, value, origin) in &r.sources {
            writeln!(out, "{key:<width$} = {value:<vwidth$}  # {origin}")?;
        }
        Ok(())
    })?;
    Ok(Status::Clean)
}

pub(super) fn clean(a: CleanArgs) -> Result<Status> {
    let cwd = std::env::current_dir().context("cannot read the working folder")?;
    // Only the location matters here, so a config file that does not parse does not block cleaning.
    let root = match (&a.config, a.isolated) {
        (_, true) => cwd.clone(),
        (Some(p), _) => config::normalize(&cwd.join(p))
            .parent()
            .map(PathBuf::from)
            .unwrap_or(cwd.clone()),
        (None, _) => Config::discover(&cwd)
            .and_then(|p| p.parent().map(PathBuf::from))
            .unwrap_or(cwd.clone()),
    };
    let cache = Cache::in_folder(&root);
    match cache.remove() {
        Ok(true) => eprintln!("kling-preflight: removed {}", cache.dir().display()),
        Ok(false) => eprintln!(
            "kling-preflight: no cache at {}; nothing to do",
            cache.dir().display()
        ),
        Err(e) => bail!(e),
    }
    Ok(Status::Clean)
}
