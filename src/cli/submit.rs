//! `submit` and `serve-webhook`: the command-line front of `crate::submit`. Parses the arguments into
//! pairs and settings, reads keys only from the environment, and maps the outcome to an exit status.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;

use super::Status;
use crate::profile::Orientation;
use crate::submit::manifest::{self, PairSpec};
use crate::submit::run::{self, Pair, Settings};
use crate::submit::webhook::{self, ServeOptions};
use crate::submit::{ProviderName, RetryPolicy, Tier, ledger};

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Where to send: freepik, gptproto or kling (keys from FREEPIK_API_KEY, GPTPROTO_API_KEY,
    /// KLING_ACCESS_KEY + KLING_SECRET_KEY).
    #[arg(long, value_enum)]
    pub provider: ProviderName,
    /// std (720p) or pro (1080p); the default for manifest rows without a tier.
    #[arg(long, value_enum, default_value_t = Tier::Std)]
    pub tier: Tier,
    /// The character image (with --video; or use --manifest).
    #[arg(long, requires = "video", conflicts_with = "manifest")]
    pub image: Option<PathBuf>,
    /// The reference video.
    #[arg(long, requires = "image", conflicts_with = "manifest")]
    pub video: Option<PathBuf>,
    /// Many pairs: a CSV (header row) or JSON array with image, video, prompt, orientation, tier,
    /// cfg_scale, keep_sound (and optionally image_url, video_url).
    #[arg(long, required_unless_present = "image")]
    pub manifest: Option<PathBuf>,
    /// Describe scene, lighting and camera (not the motion: the video supplies it).
    #[arg(long)]
    pub prompt: Option<String>,
    /// character_orientation: `image` caps videos at 10 s, `video` at 30 s.
    #[arg(long, value_enum, default_value_t = Orientation::Video)]
    pub orientation: Orientation,
    /// Freepik only: 0–1 (default 0.5 at Freepik).
    #[arg(long)]
    pub cfg_scale: Option<f64>,
    /// Keep the reference video's sound (Kling, GPTProto).
    #[arg(long)]
    pub keep_sound: bool,
    /// Results go here (atomically, named after the pair).
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Override the provider's base URL (gateways, proxies, tests). Plain http:// only to loopback.
    #[arg(long)]
    pub api_base: Option<String>,
    /// Public URL prefix of the working folder: an asset's URL is this + its relative path.
    #[arg(long)]
    pub asset_base_url: Option<String>,
    /// Public URL of the image (single pair).
    #[arg(long, conflicts_with = "manifest")]
    pub image_url: Option<String>,
    /// Public URL of the video (single pair).
    #[arg(long, conflicts_with = "manifest")]
    pub video_url: Option<String>,
    /// Kling only: send the image inline as raw base64 instead of a URL.
    #[arg(long)]
    pub inline_image: bool,
    /// Passed as the provider's callback field (Freepik webhook_url, Kling callback_url).
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Seconds between status polls (fractions allowed).
    #[arg(long, default_value_t = 5.0)]
    pub poll_interval: f64,
    /// Stop polling after this many seconds; unfinished tasks resume on the next run.
    #[arg(long, default_value_t = 3600.0)]
    pub poll_timeout: f64,
    /// Print each request (keys redacted) and the estimated cost; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop before the estimated spend would pass this many US dollars.
    #[arg(long, value_name = "USD")]
    pub max_spend: Option<f64>,
    /// Your price per output second in USD (otherwise the published price, or the reference range).
    #[arg(long, value_name = "USD")]
    pub price_per_second: Option<f64>,
    /// The ledger that makes re-runs idempotent.
    #[arg(long, default_value = ledger::DEFAULT_PATH)]
    pub ledger: PathBuf,
    /// Send again even where a task may exist or has failed (may pay twice).
    #[arg(long)]
    pub force_resend: bool,
    /// Skip decoding videos in preflight (no cut, motion or freeze checks).
    #[arg(long)]
    pub no_analyze: bool,
    /// Attempts per request on 429/5xx/network errors (the first included).
    #[arg(long, default_value_t = 6)]
    pub max_attempts: u32,
    /// First backoff delay in seconds (doubled per attempt, with jitter).
    #[arg(long, default_value_t = 1.0)]
    pub retry_base: f64,
    /// Give up retrying one request after this many seconds.
    #[arg(long, default_value_t = 180.0)]
    pub retry_max_total: f64,
    /// Record a task found at the provider for a pair's ledger key (printed with the key when a
    /// task's fate could not be settled or recorded), instead of creating one: KEY=TASK_ID. Repeatable.
    #[arg(long, value_name = "KEY=TASK_ID")]
    pub adopt: Vec<String>,
    /// Also write a self-contained visual report of the pairs' files as the gate sees them (with the
    /// provider's profile), before anything is sent; typically with --dry-run.
    #[arg(long, value_name = "PATH.html")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeWebhookArgs {
    /// Address to listen on, e.g. 127.0.0.1:8787 (put TLS and a public name in front of it).
    #[arg(long)]
    pub listen: String,
    /// The ledger that `submit` writes.
    #[arg(long, default_value = ledger::DEFAULT_PATH)]
    pub ledger: PathBuf,
    /// Accept callbacks without a Freepik signature (Kling and GPTProto do not sign theirs).
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Exit after this many requests.
    #[arg(long)]
    pub max_requests: Option<usize>,
    /// Exit after this many seconds without a request.
    #[arg(long)]
    pub idle_timeout: Option<f64>,
}

fn secs(name: &str, v: f64) -> Result<Duration> {
    if !v.is_finite() || v < 0.0 {
        bail!("{name} {v}: expected a number of seconds ≥ 0");
    }
    Ok(Duration::from_secs_f64(v))
}

pub fn run(a: SubmitArgs) -> Result<Status> {
    super::check_report_path(a.report.as_deref())?;
    if !a.dry_run {
        super::check_output_dir("--out-dir", &a.out_dir)?;
    }
    let defaults = Pair {
        image: PathBuf::new(),
        video: PathBuf::new(),
        prompt: a.prompt.clone(),
        orientation: a.orientation,
        tier: a.tier,
        cfg_scale: a.cfg_scale,
        keep_sound: a.keep_sound.then_some(true),
        image_url: None,
        video_url: None,
        origin: String::new(),
    };
    let specs = match (&a.manifest, &a.image, &a.video) {
        (Some(m), _, _) => manifest::load(m)?,
        (None, Some(i), Some(v)) => vec![PairSpec {
            image: i.clone(),
            video: v.clone(),
            image_url: a.image_url.clone(),
            video_url: a.video_url.clone(),
            origin: "command line".into(),
            ..PairSpec::default()
        }],
        _ => bail!("give --image and --video, or --manifest"),
    };
    for s in &specs {
        for p in [&s.image, &s.video] {
            if !p.is_file() {
                bail!(
                    "{}: {} does not exist or is not a file",
                    s.origin,
                    p.display()
                );
            }
        }
    }
    let pairs: Vec<Pair> = specs
        .into_iter()
        .map(|s| Pair::from_spec(s, &defaults))
        .collect();
    if let Some(path) = &a.report {
        report_pairs(path, &pairs, &a)?;
    }
    if a.max_attempts == 0 {
        bail!("--max-attempts must be at least 1");
    }
    let settings = Settings {
        provider: a.provider,
        api_base: a.api_base,
        out_dir: a.out_dir,
        ledger: a.ledger,
        poll_interval: secs("--poll-interval", a.poll_interval)?,
        poll_timeout: secs("--poll-timeout", a.poll_timeout)?,
        dry_run: a.dry_run,
        force_resend: a.force_resend,
        max_spend: a.max_spend,
        price_per_second: a.price_per_second,
        asset_base_url: a.asset_base_url,
        inline_image: a.inline_image,
        webhook_url: a.webhook_url,
        analyze: !a.no_analyze,
        retry: RetryPolicy {
            max_attempts: a.max_attempts,
            base: secs("--retry-base", a.retry_base)?,
            max_delay: Duration::from_secs(30),
            max_total: secs("--retry-max-total", a.retry_max_total)?,
        },
        workdir: std::env::current_dir()?,
        adopt: a
            .adopt
            .iter()
            .map(|v| match v.split_once('=') {
                Some((k, t)) if !k.trim().is_empty() && !t.trim().is_empty() => {
                    Ok((k.trim().to_string(), t.trim().to_string()))
                }
                _ => bail!(
                    "--adopt {v}: expected KEY=TASK_ID (the key and task id printed by submit)"
                ),
            })
            .collect::<Result<_>>()?,
        command_line: command_line(),
    };
    let env = |k: &str| std::env::var(k).ok();
    let (_, clean) = run::run(&settings, pairs, &env)?;
    Ok(if clean {
        Status::Clean
    } else {
        Status::Findings
    })
}

/// This invocation as a shell command (without any --adopt or --force-resend), for the commands
/// printed after a failure. Keys are only ever read from the environment, so none appear here.
fn command_line() -> String {
    let mut out = vec!["kling-preflight".to_string()];
    let mut skip = false;
    for a in std::env::args_os().skip(1) {
        let a = a.to_string_lossy().into_owned();
        if std::mem::take(&mut skip) {
            continue;
        }
        if a == "--adopt" {
            skip = true;
            continue;
        }
        if a.starts_with("--adopt=") || a == "--force-resend" {
            continue;
        }
        let plain = !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
        out.push(if plain {
            a
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        });
    }
    out.join(" ")
}

/// The visual report of the pairs' files, judged as the submit gate judges them (the provider's
/// profile, each video with its pair's orientation). It is its own check pass, so a video is decoded
/// once for the page and once more by the gate.
fn report_pairs(path: &std::path::Path, pairs: &[Pair], a: &SubmitArgs) -> Result<()> {
    use rayon::prelude::*;

    use crate::engine::{CheckOptions, Input, check_file_visual};
    use crate::report::html;

    let profile = crate::profile::lookup(a.provider.profile(), &Default::default())?;
    let mut files: Vec<(PathBuf, Orientation)> = Vec::new();
    for p in pairs {
        for f in [&p.image, &p.video] {
            if !files.iter().any(|(g, _)| g == f) {
                files.push((f.clone(), p.orientation));
            }
        }
    }
    let checked: Vec<_> = files
        .par_iter()
        .filter_map(|(f, orientation)| {
            let mut opts = CheckOptions::new(profile.clone());
            opts.orientation = *orientation;
            opts.analyze = !a.no_analyze;
            let input = Input {
                path: f.clone(),
                display: f.display().to_string(),
                explicit: true,
            };
            check_file_visual(&input, &opts)
        })
        .collect();
    let page = html::Page {
        command: if a.dry_run {
            "submit --dry-run"
        } else {
            "submit"
        },
        profile: &profile,
        orientation: a.orientation,
        entries: checked
            .iter()
            .map(|(r, art)| html::Entry {
                report: r,
                artefacts: Some(art),
                after: None,
            })
            .collect(),
    };
    super::write_report(path, &page, false)
}

pub fn serve_webhook(a: ServeWebhookArgs) -> Result<Status> {
    webhook::ledger_ok(&a.ledger)?;
    let secret = std::env::var("FREEPIK_WEBHOOK_SECRET")
        .ok()
        .filter(|s| !s.is_empty());
    if secret.is_none() && !a.allow_unsigned {
        bail!(
            "set FREEPIK_WEBHOOK_SECRET to verify Freepik's signed callbacks (or pass --allow-unsigned for Kling/GPTProto callbacks)"
        );
    }
    webhook::serve(&ServeOptions {
        listen: a.listen,
        ledger: a.ledger,
        secret,
        allow_unsigned: a.allow_unsigned,
        max_requests: a.max_requests,
        idle_timeout: a
            .idle_timeout
            .map(|t| secs("--idle-timeout", t))
            .transpose()?,
    })?;
    Ok(Status::Clean)
}
