//! Webhooks: `serve-webhook` receives the providers' callbacks and records completions in the ledger,
//! so a long run can end without polling and a later `submit` finds the results waiting.
//!
//! Freepik signs its callbacks (Standard-Webhooks style): `webhook-signature` holds space-separated
//! `v1,<base64 HMAC-SHA256>` entries over `"{webhook-id}.{webhook-timestamp}.{body}"`, keyed with the
//! secret from `FREEPIK_WEBHOOK_SECRET` (a `whsec_` prefix marks a base64-encoded secret, as in the
//! Standard Webhooks convention; otherwise the secret's bytes are the key). Unsigned callbacks (Kling
//! and GPTProto document no signature) are refused unless `--allow-unsigned`, since anyone who can
//! reach the port could otherwise mark a task done with a URL of their choosing.

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
    for entry in signature.split_whitespace() {
        let Some(sig) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(sig) = STANDARD.decode(sig) else {
            continue;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key_bytes(secret)).expect("any key length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        if mac.verify_slice(&sig).is_ok() {
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

/// Serve until `max_requests` or `idle_timeout`; prints one line per callback.
pub fn serve(o: &ServeOptions) -> Result<()> {
    let server = tiny_http::Server::http(&o.listen)
        .map_err(|e| anyhow::anyhow!("--listen {}: cannot listen: {e}", o.listen))?;
    println!(
        "listening on {}",
        server
            .server_addr()
            .to_ip()
            .map(|a| a.to_string())
            .unwrap_or_else(|| o.listen.clone())
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let mut ledger = Ledger::open(&o.ledger)?;
    let mut served = 0usize;
    loop {
        if o.max_requests.is_some_and(|m| served >= m) {
            return Ok(());
        }
        let req = match o.idle_timeout {
            Some(t) => match server.recv_timeout(t)? {
                Some(r) => r,
                None => return Ok(()),
            },
            None => server.recv()?,
        };
        served += 1;
        let (code, msg) = handle(req_parts(req), o, &mut ledger);
        println!("{msg}");
        let _ = code;
        let _ = std::io::stdout().flush();
    }
}

struct Parts {
    req: tiny_http::Request,
    body: Vec<u8>,
}

fn req_parts(mut req: tiny_http::Request) -> Parts {
    let mut body = Vec::new();
    let _ = std::io::Read::take(req.as_reader(), 10_000_000).read_to_end(&mut body);
    Parts { req, body }
}

use std::io::Read as _;

fn handle(p: Parts, o: &ServeOptions, ledger: &mut Ledger) -> (u16, String) {
    let header = |name: &str| {
        p.req
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_string())
    };
    let (code, msg) = (|| -> (u16, String) {
        if p.req.method() != &tiny_http::Method::Post {
            return (405, "refused: only POST".into());
        }
        match header("webhook-signature") {
            Some(sig) => {
                let Some(secret) = &o.secret else {
                    return (
                        500,
                        "refused: a signed callback arrived but FREEPIK_WEBHOOK_SECRET is not set"
                            .into(),
                    );
                };
                let id = header("webhook-id").unwrap_or_default();
                let ts = header("webhook-timestamp").unwrap_or_default();
                if let Err(why) = verify(secret, &id, &ts, &sig, &p.body, super::ledger::now()) {
                    return (401, format!("refused: {why}"));
                }
            }
            None if o.allow_unsigned => {}
            None => {
                return (
                    401,
                    "refused: unsigned callback (pass --allow-unsigned to accept Kling/GPTProto callbacks)".into(),
                );
            }
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&p.body) else {
            return (400, "refused: the body is not JSON".into());
        };
        let Some((task, state)) = parse_callback(&v) else {
            return (400, "refused: no task id and status in the body".into());
        };
        // Another process (submit) may have appended since we opened.
        let _ = ledger.refresh();
        match record(ledger, &task, &state) {
            Ok(m) => (200, format!("recorded {m}")),
            Err(m) => (404, format!("ignored: {m}")),
        }
    })();
    let _ = p
        .req
        .respond(tiny_http::Response::from_string(msg.clone()).with_status_code(code));
    (code, msg)
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
