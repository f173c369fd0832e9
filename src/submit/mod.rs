//! Submit: hand pairs that passed preflight to a provider, each exactly once, and bring the results
//! back to disk.
//!
//! Money is spent here, so the module is built around not spending it twice or in vain: every pair is
//! checked first (`run`), every task is recorded in an append-only ledger before and after the create
//! call (`ledger`), transient failures are retried with backoff while permanent ones are not (`http`),
//! and a budget cap stops the run before it is exceeded (`price`). Each provider (`freepik`,
//! `gptproto`, `kling`) speaks its own documented contract behind one `Provider` trait.

pub mod assets;
pub mod dispatch;
pub mod download;
pub mod freepik;
pub mod gptproto;
pub mod http;
pub mod kling;
pub mod ledger;
pub mod manifest;
pub mod price;
pub mod redact;
pub mod run;
pub mod webhook;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::profile::Orientation;

pub use http::{Http, RetryPolicy, Secret};

/// The providers we can submit to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProviderName {
    Freepik,
    Gptproto,
    Kling,
}

impl ProviderName {
    pub fn name(self) -> &'static str {
        match self {
            Self::Freepik => "freepik",
            Self::Gptproto => "gptproto",
            Self::Kling => "kling",
        }
    }

    /// The check profile whose limits this provider enforces.
    pub fn profile(self) -> &'static str {
        self.name()
    }

    /// The documented production base URL (overridable with `--api-base`).
    pub fn default_base(self) -> &'static str {
        match self {
            Self::Freepik => freepik::DEFAULT_BASE,
            Self::Gptproto => gptproto::DEFAULT_BASE,
            Self::Kling => kling::DEFAULT_BASE,
        }
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Quality tier: `std` (720p) or `pro` (1080p).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Std,
    Pro,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Self::Std => "std",
            Self::Pro => "pro",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        match s.trim().to_ascii_lowercase().as_str() {
            "std" | "standard" => Some(Tier::Std),
            "pro" => Some(Tier::Pro),
            _ => None,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a provider needs to create one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Public URL of the character image.
    pub image_url: Option<String>,
    /// Raw base64 of the image (no `data:` prefix), for providers that accept it inline (Kling).
    #[serde(skip)]
    pub image_base64: Option<String>,
    pub video_url: String,
    pub prompt: Option<String>,
    pub orientation: Orientation,
    pub tier: Tier,
    pub cfg_scale: Option<f64>,
    /// `None` leaves the provider's default.
    pub keep_sound: Option<bool>,
    pub webhook_url: Option<String>,
    /// Idempotency id: the ledger key, plus `-N` for a forced re-send (Kling's `external_task_id`).
    pub external_id: String,
}

/// Where a task stands, in provider-neutral terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum TaskState {
    /// Accepted, queued or running.
    Running { status: String },
    /// Finished; the output URLs.
    Succeeded { urls: Vec<String> },
    /// Finished without output; the provider's reason.
    Failed { reason: String },
}

/// The answer to "was this job already created?" after a crash between intent and task id.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconciled {
    /// The provider has it: adopt this task id.
    Found(String),
    /// The provider answered and has no such task: safe to send.
    NotFound,
    /// The provider cannot tell us; re-sending might pay twice. The reason says why.
    Unknown(String),
}

/// A request as it would go on the wire, for `--dry-run` (secrets already redacted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

/// Why a provider call failed, classified for the retry and resume logic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubmitError {
    /// The provider refused the request (400, 401, content safety, depleted account): never retried.
    #[error("{0}")]
    Rejected(String),
    /// Retries were exhausted on 429/5xx/network errors.
    #[error("{0}")]
    Transient(String),
    /// The create call may or may not have reached the provider (timeout, dropped connection,
    /// unreadable 2xx reply): a task may exist that we have no id for.
    #[error("{0}")]
    Ambiguous(String),
    /// The request could not be built (a malformed URL, a control character in a header): nothing
    /// left this machine, so no task exists.
    #[error("{0}")]
    NotSent(String),
}

/// One provider's contract: create a task, read it back, and find a task we lost the id of.
pub trait Provider {
    fn name(&self) -> ProviderName;
    /// The create request, redacted, for `--dry-run`.
    fn create_request(&self, job: &Job) -> WireRequest;
    /// Create the task; returns the provider's task id.
    fn create(&self, job: &Job) -> Result<String, SubmitError>;
    /// Read a task's state (`job` carries what the path needs, e.g. the tier).
    fn get(&self, job: &Job, task_id: &str) -> Result<TaskState, SubmitError>;
    /// Look for a task created for `job` whose id we never recorded.
    /// `known` holds the task ids the ledger already has (other pairs' tasks, not this one's).
    fn find(
        &self,
        job: &Job,
        known: &std::collections::HashSet<String>,
    ) -> Result<Reconciled, SubmitError>;
}

/// Credentials, read only from the environment.
pub fn provider_for(
    name: ProviderName,
    base: &str,
    http: Http,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Box<dyn Provider>> {
    let need = |var: &str| -> anyhow::Result<Secret> {
        match env(var) {
            Some(v) if v.trim().chars().any(|c| c.is_control()) => anyhow::bail!(
                "{name}: the environment variable {var} holds a line break or another control character inside the key; nothing was sent (check how the key was pasted)"
            ),
            Some(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            _ => anyhow::bail!(
                "{name}: set the API key in the environment variable {var} (keys are never taken from the command line or files)"
            ),
        }
    };
    let base = base.trim_end_matches('/').to_string();
    Ok(match name {
        ProviderName::Freepik => {
            Box::new(freepik::Freepik::new(base, need("FREEPIK_API_KEY")?, http))
        }
        ProviderName::Gptproto => Box::new(gptproto::Gptproto::new(
            base,
            need("GPTPROTO_API_KEY")?,
            http,
        )),
        ProviderName::Kling => Box::new(kling::Kling::new(
            base,
            need("KLING_ACCESS_KEY")?,
            need("KLING_SECRET_KEY")?,
            http,
        )),
    })
}

/// Refuse to send a key over plain HTTP, except to this machine (tests, local proxies).
pub fn check_base_url(url: &str) -> anyhow::Result<()> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = lower.strip_prefix("http://") {
        let host = host_of(rest);
        if is_loopback(&host) {
            return Ok(());
        }
        anyhow::bail!(
            "refusing plain http:// to {host}: the API key would cross the network unencrypted; use https:// (plain http is allowed only to loopback)"
        );
    }
    anyhow::bail!("{url}: expected an https:// URL")
}

fn host_of(after_scheme: &str) -> String {
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("").to_string();
    }
    authority.split(':').next().unwrap_or("").to_string()
}

fn is_loopback(host: &str) -> bool {
    // Only `localhost` itself and literal loopback addresses: a name under `.localhost` is resolved
    // by whatever resolver the machine has, and may well point elsewhere.
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Read a JSON string at a path of keys, e.g. `str_at(v, &["data", "task_id"])`.
pub(crate) fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_base_url("https://api.freepik.com").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_base_url("http://localhost:1").is_ok());
        assert!(check_base_url("http://[::1]:9/").is_ok());
        let e = check_base_url("http://api.freepik.com")
            .unwrap_err()
            .to_string();
        assert!(e.contains("refusing plain http"), "{e}");
        assert!(check_base_url("http://127.0.0.1.evil.com/").is_err());
        assert!(check_base_url("http://evil.localhost:8080/").is_err());
        assert!(check_base_url("http://127.0.0.2:8080/").is_ok());
        assert!(check_base_url("http://user@10.0.0.1/").is_err());
        assert!(check_base_url("ftp://x").is_err());
    }
}
