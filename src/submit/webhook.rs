//! Webhooks: `serve-webhook` receives the providers' callbacks and records completions in the ledger,
//! so a long run can end without polling and a later `submit` finds the results waiting.
//!
//! Freepik signs its callbacks (Standard-Webhooks style): `webhook-signature` holds space-separated
//! `v1,<base64 HMAC-SHA256>` entries over `"{webhook-id}.{webhook-timestamp}.{body}"`, keyed with the
//! secret from `FREEPIK_WEBHOOK_SECRET` (a `whsec_` prefix marks a base64-encoded secret, as in the
//! Standard Webhooks convention; otherwise the secret's bytes are the key). Unsigned callbacks (Kling
//! and GPTProto document no signature) are refused unless `--allow-unsigned`, since anyone who can
//! reach the port could otherwise mark a task done with a URL of their choosing.
//!
//! The receiver faces the internet, so nothing a client sends can hold it up: each connection is
//! handled on its own thread (at most `MAX_CONNECTIONS` at once) with a read timeout and a deadline
//! for the whole request, headers and body are capped in size, and at most `MAX_SIGNATURES` entries
//! of `webhook-signature` are looked at, each checked against one HMAC computed once.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::TaskState;
use super::ledger::{Ledger, Record};

/// Accept timestamps this far from our clock (replay protection).
pub const TOLERANCE_S: u64 = 300;
/// Signature entries looked at (a secret rotation sends two or three).
pub const MAX_SIGNATURES: usize = 8;
/// Connections handled at once; more are answered 503 at once.
pub const MAX_CONNECTIONS: usize = 64;
/// The longest a client may stay silent, and the longest one request may take in all.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
const MAX_HEADER_BYTES: usize = 16 * 1024;
const MAX_BODY_BYTES: usize = 1024 * 1024;

fn key_bytes(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        Some(b64) => STANDARD
            .decode(b64)
            .unwrap_or_else(|_| secret.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    }
}

/// The `v1,<sig>` value Freepik would send for this message (used by tests and mocks).
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_bytes(secret)).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Verify Freepik's signature headers; `Err` says why the callback is refused.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now_unix: u64,
) -> Result<(), String> {
    let ts: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| format!("webhook-timestamp '{timestamp}' is not a number"))?;
    if ts.abs_diff(now_unix) > TOLERANCE_S {
        return Err(format!(
            "webhook-timestamp {ts} is more than {TOLERANCE_S} s from now (replayed or clock skew)"
        ));
    }
    let entries: Vec<&str> = signature.split_whitespace().collect();
    if entries.len() > MAX_SIGNATURES {
        return Err(format!(
            "webhook-signature has {} entries; at most {MAX_SIGNATURES} are accepted",
            entries.len()
        ));
    }
    // The HMAC over the body is computed once; each entry only finalizes a copy.
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_bytes(secret)).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    for entry in entries {
        let Some(sig) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(sig) = STANDARD.decode(sig) else {
            continue;
        };
        if mac.clone().verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err("no v1 signature in webhook-signature matches (wrong FREEPIK_WEBHOOK_SECRET?)".into())
}

/// A callback body in any provider's shape → (task id, state).
pub fn parse_callback(body: &serde_json::Value) -> Option<(String, TaskState)> {
    super::freepik::state_of(body)
        .or_else(|| super::kling::state_of(body))
        .or_else(|| super::gptproto::state_of(body))
}

/// Record a callback's outcome in the ledger. Returns a short description of what was recorded.
pub fn record(ledger: &mut Ledger, task_id: &str, state: &TaskState) -> Result<String, String> {
    let Some(key) = ledger.key_for_task(task_id).map(str::to_string) else {
        return Err(format!("task {task_id} is not in the ledger"));
    };
    let attempt = ledger.entry(&key).map(|e| e.attempt).unwrap_or(1);
    let mut rec = match state {
        TaskState::Running { status } => return Ok(format!("task {task_id}: {status}")),
        TaskState::Succeeded { urls } => {
            let mut r = Record::new("completed", &key, attempt);
            r.urls = Some(urls.clone());
            r
        }
        TaskState::Failed { reason } => {
            let mut r = Record::new("failed", &key, attempt);
            r.reason = Some(reason.clone());
            r
        }
    };
    rec.task_id = Some(task_id.to_string());
    rec.via = Some("webhook".into());
    let what = format!("task {task_id}: {}", rec.event);
    ledger.append(rec).map_err(|e| format!("{e:#}"))?;
    Ok(what)
}

/// Options of the receiver.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: String,
    pub ledger: std::path::PathBuf,
    pub secret: Option<String>,
    pub allow_unsigned: bool,
    /// Stop after this many requests (tests, one-shot use).
    pub max_requests: Option<usize>,
    /// Stop after this long without a request.
    pub idle_timeout: Option<Duration>,
}

/// Serve until `max_requests` or `idle_timeout`; prints one line per request.
pub fn serve(o: &ServeOptions) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let listener = std::net::TcpListener::bind(&o.listen)
        .map_err(|e| anyhow::anyhow!("--listen {}: cannot listen: {e}", o.listen))?;
    println!("listening on {}", listener.local_addr()?);
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let ledger = Arc::new(Mutex::new(Ledger::open(&o.ledger)?));
    listener.set_nonblocking(true)?;
    let served = Arc::new(AtomicUsize::new(0));
    let active = Arc::new(AtomicUsize::new(0));
    let mut last = std::time::Instant::now();
    let mut workers = Vec::new();
    loop {
        if o.max_requests
            .is_some_and(|m| served.load(Ordering::SeqCst) >= m)
        {
            break;
        }
        match listener.accept() {
            Ok((mut stream, _)) => {
                last = std::time::Instant::now();
                if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                    let _ = respond(&mut stream, 503, "busy: too many connections");
                    continue;
                }
                active.fetch_add(1, Ordering::SeqCst);
                let (o, ledger, served, active) =
                    (o.clone(), ledger.clone(), served.clone(), active.clone());
                workers.push(std::thread::spawn(move || {
                    let (_, msg) = connection(stream, &o, &ledger);
                    println!("{msg}");
                    let _ = std::io::stdout().flush();
                    served.fetch_add(1, Ordering::SeqCst);
                    active.fetch_sub(1, Ordering::SeqCst);
                }));
                workers.retain(|w| !w.is_finished());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let idle = o.idle_timeout.is_some_and(|t| last.elapsed() > t);
                if idle && active.load(Ordering::SeqCst) == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e).context("accepting a connection"),
        }
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// A request as read off the wire.
struct Parts {
    method: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Parts {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// Read one request (within the timeouts and size caps), handle it, answer, close.
fn connection(
    mut stream: std::net::TcpStream,
    o: &ServeOptions,
    ledger: &std::sync::Mutex<Ledger>,
) -> (u16, String) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let (code, msg) = match read_request(&mut stream) {
        Ok(p) => handle(&p, o, ledger),
        Err((code, why)) => (code, format!("refused: {why}")),
    };
    let _ = respond(&mut stream, code, &msg);
    (code, msg)
}

fn respond(stream: &mut std::net::TcpStream, code: u16, msg: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    write!(
        stream,
        "HTTP/1.1 {code} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
        if code < 300 { "OK" } else { "Error" },
        msg.len()
    )?;
    stream.flush()
}

/// Reads with the per-read timeout and the whole-request deadline.
struct Limited<'a> {
    stream: &'a mut std::net::TcpStream,
    deadline: std::time::Instant,
    buf: Vec<u8>,
}

impl Limited<'_> {
    /// Read more bytes into `buf`; `Err` on timeout, deadline or a closed connection.
    fn fill(&mut self) -> Result<(), (u16, String)> {
        if std::time::Instant::now() > self.deadline {
            return Err((408, "the request took too long".into()));
        }
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err((400, "the connection closed mid-request".into())),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err((408, "the client stalled".into()))
            }
            Err(e) => Err((400, format!("read error: {e}"))),
        }
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Result<Parts, (u16, String)> {
    let mut r = Limited {
        stream,
        deadline: std::time::Instant::now() + REQUEST_DEADLINE,
        buf: Vec::new(),
    };
    let head_end = loop {
        if let Some(i) = r.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if r.buf.len() > MAX_HEADER_BYTES {
            return Err((431, "headers too large".into()));
        }
        r.fill()?;
    };
    let head = String::from_utf8_lossy(&r.buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let method = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("")
        .to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut parts = Parts {
        method,
        headers,
        body: Vec::new(),
    };
    let rest = r.buf.split_off(head_end + 4);
    r.buf = rest;
    if parts
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    {
        parts.body = read_chunked(&mut r)?;
        return Ok(parts);
    }
    let len: usize = match parts.header("content-length") {
        Some(v) => v
            .parse()
            .map_err(|_| (400, format!("Content-Length '{v}' is not a number")))?,
        None => 0,
    };
    if len > MAX_BODY_BYTES {
        return Err((
            413,
            format!("body of {len} bytes (at most {MAX_BODY_BYTES})"),
        ));
    }
    while r.buf.len() < len {
        r.fill()?;
    }
    r.buf.truncate(len);
    parts.body = std::mem::take(&mut r.buf);
    Ok(parts)
}

/// A chunked body, within the body cap.
fn read_chunked(r: &mut Limited) -> Result<Vec<u8>, (u16, String)> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = r.buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            if r.buf.len() > 1024 {
                return Err((400, "bad chunk header".into()));
            }
            r.fill()?;
        };
        let size_text = String::from_utf8_lossy(&r.buf[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| (400, "bad chunk size".to_string()))?;
        if body.len() + size > MAX_BODY_BYTES {
            return Err((413, format!("body over {MAX_BODY_BYTES} bytes")));
        }
        while r.buf.len() < line_end + 2 + size + 2 {
            r.fill()?;
        }
        body.extend_from_slice(&r.buf[line_end + 2..line_end + 2 + size]);
        r.buf.drain(..line_end + 2 + size + 2);
        if size == 0 {
            return Ok(body);
        }
    }
}

use std::io::Read as _;

fn handle(p: &Parts, o: &ServeOptions, ledger: &std::sync::Mutex<Ledger>) -> (u16, String) {
    if p.method != "POST" {
        return (405, "refused: only POST".into());
    }
    match p.header("webhook-signature") {
        Some(sig) => {
            let Some(secret) = &o.secret else {
                return (
                    500,
                    "refused: a signed callback arrived but FREEPIK_WEBHOOK_SECRET is not set"
                        .into(),
                );
            };
            let id = p.header("webhook-id").unwrap_or_default();
            let ts = p.header("webhook-timestamp").unwrap_or_default();
            if let Err(why) = verify(secret, &id, &ts, &sig, &p.body, super::ledger::now()) {
                return (401, format!("refused: {why}"));
            }
        }
        None if o.allow_unsigned => {}
        None => {
            return (
                401,
                "refused: unsigned callback (pass --allow-unsigned to accept Kling/GPTProto callbacks)"
                    .into(),
            );
        }
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&p.body) else {
        return (400, "refused: the body is not JSON".into());
    };
    let Some((task, state)) = parse_callback(&v) else {
        return (400, "refused: no task id and status in the body".into());
    };
    let Ok(mut ledger) = ledger.lock() else {
        return (500, "refused: the ledger is unavailable".into());
    };
    // Another process (submit) may have appended since we opened.
    let _ = ledger.refresh();
    match record(&mut ledger, &task, &state) {
        Ok(m) => (200, format!("recorded {m}")),
        Err(m) => (404, format!("ignored: {m}")),
    }
}

/// Used by `serve-webhook` to check the ledger path before listening.
pub fn ledger_ok(path: &Path) -> Result<()> {
    Ledger::open(path)
        .map(|_| ())
        .with_context(|| format!("{}: cannot open the ledger", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let body = br#"{"task_id":"t","status":"COMPLETED","generated":["https://o"]}"#;
        let sig = sign("s3cret", "msg_1", "1000", body);
        assert!(verify("s3cret", "msg_1", "1000", &sig, body, 1100).is_ok());
        assert!(
            verify(
                "s3cret",
                "msg_1",
                "1000",
                &format!("v1,AAAA {sig}"),
                body,
                1100
            )
            .is_ok(),
            "any entry may match"
        );
        assert!(verify("other", "msg_1", "1000", &sig, body, 1100).is_err());
        let many = format!("{} {sig}", "v1,AAAA ".repeat(5000));
        let e = verify("s3cret", "msg_1", "1000", &many, body, 1100).unwrap_err();
        assert!(e.contains("at most 8"), "{e}");
        assert!(verify("s3cret", "msg_2", "1000", &sig, body, 1100).is_err());
        assert!(verify("s3cret", "msg_1", "1000", &sig, b"{}", 1100).is_err());
        let e = verify("s3cret", "msg_1", "1000", &sig, body, 5000).unwrap_err();
        assert!(e.contains("from now"), "{e}");
        let wh = format!("whsec_{}", STANDARD.encode(b"raw-key"));
        let sig = sign(&wh, "i", "1000", body);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"raw-key").unwrap();
        mac.update(b"i.1000.");
        mac.update(body);
        assert_eq!(
            sig,
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        );
    }

    #[test]
    fn callbacks_are_recorded_against_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("l.jsonl")).unwrap();
        l.append(Record::new("intent", "k", 1)).unwrap();
        let mut c = Record::new("created", "k", 1);
        c.task_id = Some("t".into());
        l.append(c).unwrap();
        let v = serde_json::json!({"task_id":"t","status":"COMPLETED","generated":["https://o"]});
        let (id, st) = parse_callback(&v).unwrap();
        assert!(record(&mut l, &id, &st).unwrap().contains("completed"));
        assert_eq!(l.entry("k").unwrap().urls, ["https://o"]);
        assert!(record(&mut l, "nope", &st).is_err());
    }
}
