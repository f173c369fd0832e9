//! One HTTP client for every provider, with the retry policy the providers ask for: retry only 429,
//! 5xx and network errors, with exponential backoff and jitter, honouring `Retry-After`, within a cap
//! on attempts and total time; never retry 400/401.
//!
//! A create call is different: a 5xx or a timeout after the request went out may mean the provider
//! made (and billed) the task before failing, so it is never retried here; it comes back `Ambiguous`
//! for the run to reconcile. A request that cannot be built (a line break in a key, a malformed URL)
//! fails before any byte is sent and says so (`NotSent`).
//!
//! It also keeps secrets out of everything it returns: reply bodies and error messages are redacted
//! (`redact`) after decoding, so a provider echoing a key back, escaped or not, cannot make us print
//! or store it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::SubmitError;

/// A credential. Its `Debug` never shows the value; only the request builders call `expose`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: &str) -> Secret {
        Secret(s.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How hard to try before giving up on a transient failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff delay; doubled per attempt (Kling advises starting at ≥1 s).
    pub base: Duration,
    /// Upper bound of one backoff delay.
    pub max_delay: Duration,
    /// Give up when the next wait would pass this much time since the first attempt.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(180),
        }
    }
}

impl RetryPolicy {
    /// Backoff before attempt `n + 1` (n ≥ 1): base·2^(n-1), capped, with "equal jitter" (half fixed,
    /// half random) so that many clients do not retry in lockstep.
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << (n.saturating_sub(1)).min(20))
            .min(self.max_delay);
        let half = exp / 2;
        half + half.mul_f64(jitter())
    }
}

/// A uniform number in [0, 1) from the clock (no RNG crate needed for jitter).
fn jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ nanos;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A download in progress: status, Content-Length, Content-Type, body reader.
pub type Stream = (
    u16,
    Option<u64>,
    Option<String>,
    Box<dyn std::io::Read + Send>,
);

/// A reply, any status. The body is redacted of secrets, and so is its decoded JSON (redacted after
/// decoding, so escaped echoes are caught too).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<Duration>,
    value: Option<serde_json::Value>,
}

impl Response {
    /// A reply from its raw body, redacted against `secrets`.
    pub fn new(status: u16, raw: &str, retry_after: Option<Duration>, secrets: &[String]) -> Self {
        let value = serde_json::from_str::<serde_json::Value>(raw)
            .ok()
            .map(|mut v| {
                super::redact::redact_json(&mut v, secrets);
                v
            });
        Response {
            status,
            body: super::redact::redact(raw, secrets),
            retry_after,
            value,
        }
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        self.value.clone()
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// What a request is, for the retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Reads (status, list): always safe to repeat.
    Read,
    /// Creates a paid task: a reply that was lost may mean the task exists, so a network error after
    /// the request could have been sent is returned as `Ambiguous` for the caller to reconcile.
    Create,
}

#[derive(Debug)]
enum NetError {
    /// The request never left (DNS, connection refused): safe to retry anything.
    NotSent(String),
    /// The connection broke or timed out after the request may have been sent.
    Lost(String),
}

/// A blocking HTTP client with the retry policy and secret scrubbing. Cheap to clone.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    download_agent: ureq::Agent,
    pub policy: RetryPolicy,
    secrets: Arc<Mutex<Vec<String>>>,
    /// Print retry notes on stderr.
    pub verbose: bool,
}

impl Http {
    pub fn new(policy: RetryPolicy) -> Http {
        let config = |redirects: u32| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(redirects)
                .timeout_connect(Some(Duration::from_secs(15)))
                .timeout_recv_response(Some(Duration::from_secs(60)))
                // A slow download is fine; a silent one is not.
                .timeout_per_read(Some(Duration::from_secs(60)))
                .user_agent(concat!("kling-preflight/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        Http {
            // API calls carry the key: never follow a redirect with it to another host.
            agent: config(0).into(),
            // Result URLs are CDN links that often redirect; they carry no key.
            download_agent: config(10).into(),
            policy,
            secrets: Arc::new(Mutex::new(Vec::new())),
            verbose: true,
        }
    }

    /// Register a value that must never appear in anything this client returns.
    pub fn add_secret(&self, s: &Secret) {
        if let Ok(mut v) = self.secrets.lock() {
            v.push(s.expose().to_string());
        }
    }

    fn secret_list(&self) -> Vec<String> {
        self.secrets.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Redact every registered secret from `text` (verbatim, escaped, encoded or in pieces).
    pub fn scrub(&self, text: &str) -> String {
        super::redact::redact(text, &self.secret_list())
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response, NetError> {
        let result = if method == "POST" {
            let mut rb = self.agent.post(url);
            for (k, v) in headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            match body {
                Some(b) => rb.send_json(b),
                None => rb.send_empty(),
            }
        } else {
            let mut rb = self.agent.get(url);
            for (k, v) in headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            rb.call()
        };
        let mut resp = result.map_err(|e| classify(e, |s| self.scrub(s)))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp.body_mut().read_to_string().map_err(|e| {
            NetError::Lost(format!("reading the reply: {}", self.scrub(&e.to_string())))
        })?;
        Ok(Response::new(
            status,
            &body,
            retry_after,
            &self.secret_list(),
        ))
    }

    /// Send with retries. Returns the first reply that is not 429/5xx (a 4xx included: the provider
    /// module turns it into a message); `Transient` when the retry budget is spent.
    pub fn send(
        &self,
        what: &str,
        call: Call,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response, SubmitError> {
        self.send_with(what, call, method, url, headers, body, &|_| false)
    }

    /// A read-only GET (retried on 429/5xx/network errors like every `Call::Read`).
    pub fn get(
        &self,
        what: &str,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<Response, SubmitError> {
        self.send(what, Call::Read, "GET", url, headers, None)
    }

    /// `send`, where `final_reply` marks a 429/5xx reply that retrying cannot fix (Kling's 429 with
    /// code 1102, "resource pack depleted"): it is returned at once.
    #[allow(clippy::too_many_arguments)]
    pub fn send_with(
        &self,
        what: &str,
        call: Call,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&serde_json::Value>,
        final_reply: &dyn Fn(&Response) -> bool,
    ) -> Result<Response, SubmitError> {
        check_request(url, headers)
            .map_err(|e| SubmitError::NotSent(format!("{what}: not sent: {}", self.scrub(&e))))?;
        let start = Instant::now();
        let mut attempt = 1;
        loop {
            let (why, wait) = match self.once(method, url, headers, body) {
                Ok(r) if r.status >= 500 && call == Call::Create && !final_reply(&r) => {
                    // The provider may have made (and billed) the task before failing.
                    return Err(SubmitError::Ambiguous(format!(
                        "{what}: HTTP {}{}; the provider may have created the task before failing",
                        r.status,
                        snippet(&r.body)
                    )));
                }
                Ok(r) if (r.status == 429 || r.status >= 500) && !final_reply(&r) => {
                    let why = format!("HTTP {}{}", r.status, snippet(&r.body));
                    (why, r.retry_after)
                }
                Ok(r) => return Ok(r),
                Err(NetError::NotSent(e)) => (e, None),
                Err(NetError::Lost(e)) if call == Call::Create => {
                    return Err(SubmitError::Ambiguous(format!(
                        "{what}: the connection failed after the request was sent ({e}); the task may exist"
                    )));
                }
                Err(NetError::Lost(e)) => (e, None),
            };
            let wait = wait.unwrap_or_else(|| self.policy.backoff(attempt));
            if attempt >= self.policy.max_attempts {
                return Err(SubmitError::Transient(format!(
                    "{what}: gave up after {attempt} attempts: {why}"
                )));
            }
            if start.elapsed() + wait > self.policy.max_total {
                return Err(SubmitError::Transient(format!(
                    "{what}: gave up: {why}; the next wait ({:.1} s) would pass the retry time limit of {:.0} s",
                    wait.as_secs_f64(),
                    self.policy.max_total.as_secs_f64()
                )));
            }
            if self.verbose {
                eprintln!(
                    "kling-preflight: {what}: {why}; retrying in {:.2} s (attempt {}/{})",
                    wait.as_secs_f64(),
                    attempt + 1,
                    self.policy.max_attempts
                );
            }
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    /// Start a download: the status, the Content-Length if any, and the body reader.
    pub fn get_stream(&self, url: &str) -> Result<Stream, String> {
        let resp = self.download_agent.get(url).call().map_err(|e| {
            match classify(e, |s| self.scrub(s)) {
                NetError::NotSent(s) | NetError::Lost(s) => s,
            }
        })?;
        let status = resp.status().as_u16();
        let len = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| self.scrub(v));
        let reader = resp.into_body().into_with_config().limit(u64::MAX).reader();
        Ok((status, len, ctype, Box::new(reader)))
    }
}

/// Everything that would make the request fail before a byte is sent: a URL that does not parse, a
/// header name or value with a line break or another control character.
fn check_request(url: &str, headers: &[(String, String)]) -> Result<(), String> {
    check_url(url)?;
    for (k, v) in headers {
        ureq::http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("the header name {k:?} is invalid"))?;
        if ureq::http::HeaderValue::from_str(v).is_err() {
            return Err(format!(
                "the {k} header holds a line break or another control character (check the API key in the environment)"
            ));
        }
    }
    Ok(())
}

/// A URL the client can send to: http(s), a host, a port that fits in 16 bits.
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|e| format!("the URL {url} is malformed ({e})"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!("the URL {url} is not an http(s) URL with a host"));
    }
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    if let Some((_, port)) = authority.rsplit_once(':')
        && !port.contains(']')
        && port.parse::<u16>().is_err()
    {
        return Err(format!("the URL {url} has an invalid port '{port}'"));
    }
    Ok(())
}

fn classify(e: ureq::Error, scrub: impl Fn(&str) -> String) -> NetError {
    let text = scrub(&e.to_string());
    match e {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            NetError::NotSent(format!("cannot connect: {text}"))
        }
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            NetError::NotSent(format!("cannot connect: {text}"))
        }
        // Refused or unreachable: no connection, so no byte of the request left.
        ureq::Error::Io(ref io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            ) =>
        {
            NetError::NotSent(format!("cannot connect: {text}"))
        }
        _ => NetError::Lost(format!("network error: {text}")),
    }
}

/// `Retry-After` in seconds (the HTTP-date form falls back to our own backoff).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// The start of a reply body for messages: ": {...}" (at most 300 characters).
pub fn snippet(body: &str) -> String {
    let b = body.trim();
    if b.is_empty() {
        return String::new();
    }
    let cut: String = b.chars().take(300).collect();
    let more = if cut.len() < b.len() { "…" } else { "" };
    format!(": {cut}{more}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_total: Duration::from_secs(10),
        };
        for n in 1..12 {
            let d = p.backoff(n);
            let full = Duration::from_millis(100 * (1 << (n - 1).min(20))).min(p.max_delay);
            assert!(d >= full / 2 && d <= full, "n={n} d={d:?}");
        }
        let samples: std::collections::HashSet<_> = (0..20).map(|_| p.backoff(3)).collect();
        assert!(samples.len() > 1, "jitter varies the delay");
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn secrets_are_scrubbed_and_not_debug_printed() {
        let h = Http::new(RetryPolicy::default());
        let s = Secret::new("sk-very-secret");
        h.add_secret(&s);
        assert_eq!(h.scrub("bad key sk-very-secret!"), "bad key [redacted]!");
        let r = Response::new(
            400,
            r#"{"message":"bad key \u0073k-very-secret"}"#,
            None,
            &h.secret_list(),
        );
        assert!(!r.json().unwrap().to_string().contains("very-secret"));
        assert!(!r.body.contains("\\u0073k-very"), "{}", r.body);
        assert_eq!(format!("{s:?}"), "[redacted]");
    }

    #[test]
    fn urls_that_cannot_be_sent_to_are_caught_before_sending() {
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("https://[::1]/x").is_ok());
        assert!(
            check_url("http://127.0.0.1:99999")
                .unwrap_err()
                .contains("port")
        );
        assert!(check_url("ftp://x").is_err());
        let h = [("x-key".to_string(), "a\r\nb".to_string())];
        assert!(
            check_request("https://a.b/", &h)
                .unwrap_err()
                .contains("line break")
        );
    }

    #[test]
    fn snippets_are_short() {
        assert_eq!(snippet(""), "");
        assert_eq!(snippet(" {\"a\":1} "), ": {\"a\":1}");
        assert!(snippet(&"x".repeat(1000)).ends_with('…'));
    }
}
