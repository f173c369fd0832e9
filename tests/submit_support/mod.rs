//! Loopback mock servers for the submit tests: a raw HTTP/1.1 server on 127.0.0.1:0 (one request per
//! connection) with full control over faults — status bursts with Retry-After, malformed JSON, dropped
//! connections, slow and truncated bodies, a create that hangs until the client is killed — and a fake
//! of each provider's contract on top. Every server stops by itself when dropped or after a deadline.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

pub enum Reply {
    Json(u16, Value),
    /// Status, extra headers, raw body.
    Raw(u16, Vec<(String, String)>, Vec<u8>),
    /// Close the connection without answering.
    Drop,
    /// Send the body in chunks with a pause between them.
    Slow {
        body: Vec<u8>,
        chunk: usize,
        delay: Duration,
    },
    /// Claim `claimed` bytes, send `body`, close.
    Truncated {
        body: Vec<u8>,
        claimed: usize,
    },
    /// Wait until the flag is set (the client got killed), then answer.
    HoldThen(Arc<AtomicBool>, Box<Reply>),
    /// Status, Content-Type, body; without a Content-Length when `length` is false (the end of the
    /// body is the end of the connection, so a cut body looks complete).
    Typed {
        status: u16,
        ctype: &'static str,
        body: Vec<u8>,
        length: bool,
    },
}

pub struct Mock {
    pub base: String,
    log: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Mock {
    pub fn start(handler: impl FnMut(&Req, &str) -> Reply + Send + 'static) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2, base2) = (log.clone(), stop.clone(), base.clone());
        let handler: Handler = Arc::new(Mutex::new(handler));
        let handle = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut workers = Vec::new();
            while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (log, handler, base, stop) =
                            (log2.clone(), handler.clone(), base2.clone(), stop2.clone());
                        workers.push(thread::spawn(move || {
                            let _ = serve_one(stream, &log, &handler, &base, &stop);
                        }));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
            stop2.store(true, Ordering::SeqCst);
            for w in workers {
                let _ = w.join();
            }
        });
        Mock {
            base,
            log,
            stop,
            handle: Some(handle),
        }
    }

    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }

    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path.contains(path_contains))
            .count()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

type Handler = Arc<Mutex<dyn FnMut(&Req, &str) -> Reply + Send>>;

fn serve_one(
    stream: TcpStream,
    log: &Mutex<Vec<Req>>,
    handler: &Handler,
    base: &str,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let req = Req {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    log.lock().unwrap().push(req.clone());
    let reply = (handler.lock().unwrap())(&req, base);
    write_reply(stream, reply, stop)
}

fn head(status: u16, len: usize, extra: &[(String, String)], ctype: &str) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {len}\r\nContent-Type: {ctype}\r\nConnection: close\r\n"
    );
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn write_reply(mut s: TcpStream, reply: Reply, stop: &AtomicBool) -> std::io::Result<()> {
    match reply {
        Reply::Json(status, v) => {
            let b = v.to_string().into_bytes();
            s.write_all(&head(status, b.len(), &[], "application/json"))?;
            s.write_all(&b)?;
        }
        Reply::Raw(status, extra, b) => {
            s.write_all(&head(status, b.len(), &extra, "application/json"))?;
            s.write_all(&b)?;
        }
        Reply::Drop => {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        Reply::Slow { body, chunk, delay } => {
            s.write_all(&head(200, body.len(), &[], "video/mp4"))?;
            for c in body.chunks(chunk) {
                s.write_all(c)?;
                s.flush()?;
                thread::sleep(delay);
            }
        }
        Reply::Truncated { body, claimed } => {
            s.write_all(&head(200, claimed, &[], "video/mp4"))?;
            s.write_all(&body)?;
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        Reply::Typed {
            status,
            ctype,
            body,
            length,
        } => {
            let mut h =
                format!("HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nConnection: close\r\n");
            if length {
                h.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            h.push_str("\r\n");
            s.write_all(h.as_bytes())?;
            s.write_all(&body)?;
            s.flush()?;
            let _ = s.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        Reply::HoldThen(flag, then) => {
            let until = Instant::now() + Duration::from_secs(60);
            while !flag.load(Ordering::SeqCst)
                && !stop.load(Ordering::SeqCst)
                && Instant::now() < until
            {
                thread::sleep(Duration::from_millis(5));
            }
            return write_reply(s, *then, stop);
        }
    }
    s.flush()
}

/// Faults a fake provider injects, counted down as they fire.
#[derive(Default)]
pub struct Faults {
    /// (status, Retry-After seconds) for the next create calls.
    pub create: Vec<(u16, Option<&'static str>)>,
    /// Replies for the next status polls instead of the real state.
    pub poll: Vec<PollFault>,
    /// The task fails with this reason instead of completing.
    pub fail_with: Option<String>,
    /// Polls answered IN_PROGRESS before the task completes.
    pub polls_before_done: usize,
    /// Send the video slowly, in chunks.
    pub slow_download: bool,
    /// First download is cut short.
    pub truncate_first_download: bool,
    /// The create call hangs until the flag is set (the client is killed meanwhile).
    pub hold_create: Option<Arc<AtomicBool>>,
    /// The list endpoint echoes image_url/video_url.
    pub list_echoes_inputs: bool,
    /// Never finish (the client is killed while polling).
    pub never_finish: bool,
    /// The next create calls make (and bill) the task, then answer with this status (502, 504).
    pub charge_then: Vec<u16>,
    /// The next downloads answer 200 with an HTML error page (an expired signed URL).
    pub html_downloads: usize,
    /// The next downloads send half the video without a Content-Length, then close.
    pub cut_downloads: usize,
    /// A FAILED task's error, as raw JSON string content (so it can hold `\u` escapes).
    pub raw_fail_reason: Option<String>,
    /// Called whenever a task is created (e.g. to break the ledger mid-run).
    pub on_create: Option<Box<dyn FnMut() + Send>>,
    /// The list endpoint is missing (404).
    pub no_list: bool,
}

pub enum PollFault {
    Status(u16, Option<&'static str>),
    Malformed,
    Drop,
}

/// The output video the fakes serve: a real 4 s MP4 (the reference video's length), index first
/// (faststart) so a cut copy still opens and only its packets tell it is short. Made once per test
/// process with the ffmpeg CLI.
pub fn output_bytes() -> Vec<u8> {
    static VIDEO: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    VIDEO
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("out.mp4");
            let st = std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg("testsrc=size=320x240:rate=24:duration=4")
                .args([
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-pix_fmt",
                    "yuv420p",
                ])
                .args(["-movflags", "+faststart"])
                .arg(&out)
                .status()
                .unwrap();
            assert!(st.success(), "ffmpeg could not make the fake output video");
            std::fs::read(&out).unwrap()
        })
        .clone()
}

struct Task {
    id: String,
    polls: usize,
    body: Value,
}

/// Shared fake state: tasks by id, the faults, the accepted key.
pub struct Fake {
    pub faults: Faults,
    tasks: Vec<Task>,
    downloads: usize,
}

impl Fake {
    pub fn new(faults: Faults) -> Fake {
        Fake {
            faults,
            tasks: Vec::new(),
            downloads: 0,
        }
    }

    fn poll_fault(&mut self) -> Option<Reply> {
        if self.faults.poll.is_empty() {
            return None;
        }
        Some(match self.faults.poll.remove(0) {
            PollFault::Status(s, ra) => Reply::Raw(
                s,
                ra.map(|r| vec![("Retry-After".to_string(), r.to_string())])
                    .unwrap_or_default(),
                b"{\"message\":\"internal\"}".to_vec(),
            ),
            PollFault::Malformed => Reply::Raw(200, vec![], b"{\"data\": {\"task_id\": ".to_vec()),
            PollFault::Drop => Reply::Drop,
        })
    }

    /// After a task was made: a charge-then-5xx reply if one is queued, and the create hook.
    fn after_create(&mut self) -> Option<Reply> {
        if let Some(h) = self.faults.on_create.as_mut() {
            h();
        }
        if self.faults.charge_then.is_empty() {
            return None;
        }
        let st = self.faults.charge_then.remove(0);
        Some(Reply::Raw(
            st,
            vec![],
            b"{\"message\":\"Gateway Timeout\"}".to_vec(),
        ))
    }

    fn create_fault(&mut self) -> Option<Reply> {
        if self.faults.create.is_empty() {
            return None;
        }
        let (s, ra) = self.faults.create.remove(0);
        Some(Reply::Raw(
            s,
            ra.map(|r| vec![("Retry-After".to_string(), r.to_string())])
                .unwrap_or_default(),
            b"{\"message\":\"Service Unavailable\"}".to_vec(),
        ))
    }

    /// Advance a task: (done, failed reason).
    fn advance(&mut self, i: usize) -> (bool, Option<String>) {
        let t = &mut self.tasks[i];
        t.polls += 1;
        if self.faults.never_finish || t.polls <= self.faults.polls_before_done {
            return (false, None);
        }
        (true, self.faults.fail_with.clone())
    }

    fn download(&mut self) -> Reply {
        self.downloads += 1;
        let body = output_bytes();
        if self.faults.html_downloads > 0 {
            self.faults.html_downloads -= 1;
            return Reply::Typed {
                status: 200,
                ctype: "text/html; charset=utf-8",
                body: b"<html><body><h1>Request has expired</h1></body></html>".to_vec(),
                length: true,
            };
        }
        if self.faults.cut_downloads > 0 {
            self.faults.cut_downloads -= 1;
            return Reply::Typed {
                status: 200,
                ctype: "video/mp4",
                body: body[..body.len() / 2].to_vec(),
                length: false,
            };
        }
        if self.faults.truncate_first_download && self.downloads == 1 {
            return Reply::Truncated {
                body: body[..1000].to_vec(),
                claimed: body.len(),
            };
        }
        if self.faults.slow_download {
            return Reply::Slow {
                body,
                chunk: 50_000,
                delay: Duration::from_millis(40),
            };
        }
        Reply::Typed {
            status: 200,
            ctype: "video/mp4",
            body,
            length: true,
        }
    }

    fn hold(&self, then: Reply) -> Reply {
        match &self.faults.hold_create {
            Some(f) => Reply::HoldThen(f.clone(), Box::new(then)),
            None => then,
        }
    }
}

/// Start a fake provider on the shared state made from `faults`: the output video at
/// /files/out.mp4, every other request answered by `api` (with the state locked).
fn fake_provider(
    faults: Faults,
    mut api: impl FnMut(&mut Fake, &Req, &str) -> Reply + Send + 'static,
) -> (Mock, Arc<Mutex<Fake>>) {
    let fake = Arc::new(Mutex::new(Fake::new(faults)));
    let f2 = fake.clone();
    let mock = Mock::start(move |req, base| {
        let mut f = f2.lock().unwrap();
        if req.path == "/files/out.mp4" {
            return f.download();
        }
        api(&mut f, req, base)
    });
    (mock, fake)
}

pub const FREEPIK_KEY: &str = "fpk-SECRET-0123456789";

/// Freepik's contract: x-freepik-api-key, CREATED/IN_PROGRESS/COMPLETED/FAILED, data.generated.
pub fn freepik(faults: Faults) -> (Mock, Arc<Mutex<Fake>>) {
    fake_provider(faults, |f, req, base| {
        let prefix = "/v1/ai/video/kling-v3-motion-control-";
        if !req.path.starts_with(prefix) {
            return Reply::Json(404, json!({"message": "Not found"}));
        }
        match req.header("x-freepik-api-key") {
            None => return Reply::Json(401, json!({"message": "Missing API key"})),
            Some(k) if k != FREEPIK_KEY => {
                return Reply::Json(401, json!({"message": "Invalid API key"}));
            }
            _ => {}
        }
        let rest = &req.path[prefix.len()..];
        let (tier, id) = match rest.split_once('/') {
            Some((t, id)) => (t, Some(id)),
            None => (rest, None),
        };
        if tier != "std" && tier != "pro" {
            return Reply::Json(404, json!({"message": "Not found"}));
        }
        match (req.method.as_str(), id) {
            ("POST", None) => {
                if let Some(r) = f.create_fault() {
                    return r;
                }
                let b = req.json();
                let mut invalid = Vec::new();
                for field in ["image_url", "video_url"] {
                    if !b[field].is_string() {
                        invalid.push(json!({"name": field, "reason": "required"}));
                    }
                }
                if b.get("cfg_scale")
                    .and_then(|c| c.as_f64())
                    .is_some_and(|c| !(0.0..=1.0).contains(&c))
                {
                    invalid.push(json!({"name": "cfg_scale", "reason": "must be between 0 and 1"}));
                }
                if !invalid.is_empty() {
                    return Reply::Json(
                        400,
                        json!({"message": "Bad request", "invalid_params": invalid}),
                    );
                }
                let id = format!("fp-task-{}", f.tasks.len() + 1);
                f.tasks.push(Task {
                    id: id.clone(),
                    polls: 0,
                    body: b,
                });
                if let Some(r) = f.after_create() {
                    return r;
                }
                let reply = Reply::Json(
                    200,
                    json!({"data": {"task_id": id, "status": "CREATED", "generated": []}}),
                );
                f.hold(reply)
            }
            ("GET", None) if f.faults.no_list => Reply::Json(404, json!({"message": "Not found"})),
            ("GET", None) => {
                let items: Vec<Value> = f
                    .tasks
                    .iter()
                    .map(|t| {
                        let mut item =
                            json!({"task_id": t.id, "status": "IN_PROGRESS", "generated": []});
                        if f.faults.list_echoes_inputs {
                            item["image_url"] = t.body["image_url"].clone();
                            item["video_url"] = t.body["video_url"].clone();
                        }
                        item
                    })
                    .collect();
                Reply::Json(200, json!({"data": items}))
            }
            ("GET", Some(id)) => {
                if let Some(r) = f.poll_fault() {
                    return r;
                }
                let Some(i) = f.tasks.iter().position(|t| t.id == id) else {
                    return Reply::Json(404, json!({"message": "Task not found"}));
                };
                match f.advance(i) {
                    (false, _) => Reply::Json(
                        200,
                        json!({"data": {"task_id": id, "status": "IN_PROGRESS", "generated": []}}),
                    ),
                    (true, Some(reason)) => Reply::Json(
                        200,
                        json!({"data": {"task_id": id, "status": "FAILED", "generated": [], "error": reason}}),
                    ),
                    (true, None) if f.faults.raw_fail_reason.is_some() => Reply::Raw(
                        200,
                        vec![],
                        format!(
                            "{{\"data\": {{\"task_id\": \"{id}\", \"status\": \"FAILED\", \"generated\": [], \"error\": \"{}\"}}}}",
                            f.faults.raw_fail_reason.as_ref().unwrap()
                        )
                        .into_bytes(),
                    ),
                    (true, None) => Reply::Json(
                        200,
                        json!({"data": {"task_id": id, "status": "COMPLETED", "generated": [format!("{base}/files/out.mp4")]}}),
                    ),
                }
            }
            _ => Reply::Json(405, json!({"message": "Method not allowed"})),
        }
    })
}

pub const KLING_AK: &str = "kling-AK-ACCESS-777";
pub const KLING_SK: &str = "kling-SK-SECRET-888";

/// Verify a Kling JWT the way the server would (HS256 with SK, iss = AK, time window).
fn kling_auth_ok(req: &Req) -> bool {
    use base64::Engine as _;
    use hmac::Mac as _;
    let Some(token) = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
    else {
        return false;
    };
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(KLING_SK.as_bytes()).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    let Ok(sig) = b64.decode(parts[2]) else {
        return false;
    };
    if mac.verify_slice(&sig).is_err() {
        return false;
    }
    let claims: Value = b64
        .decode(parts[1])
        .ok()
        .and_then(|c| serde_json::from_slice(&c).ok())
        .unwrap_or(Value::Null);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    claims["iss"] == KLING_AK
        && claims["exp"].as_u64().is_some_and(|e| e > now)
        && claims["nbf"].as_u64().is_some_and(|n| n <= now)
}

/// Kling's contract: JWT, code/message/data, external_task_id, submitted/processing/succeed/failed.
pub fn kling(faults: Faults) -> (Mock, Arc<Mutex<Fake>>) {
    let externals: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    fake_provider(faults, move |f, req, base| {
        let path = "/v1/videos/motion-control";
        if !kling_auth_ok(req) {
            return Reply::Json(
                401,
                json!({"code": 1000, "message": "Authentication failed"}),
            );
        }
        let task_obj = |id: &str, ext: &str, status: &str, extra: Value| {
            let mut d = json!({"task_id": id, "task_info": {"external_task_id": ext}, "task_status": status, "created_at": 1, "updated_at": 2});
            if let Value::Object(m) = extra {
                for (k, v) in m {
                    d[k] = v;
                }
            }
            json!({"code": 0, "message": "SUCCEED", "request_id": "r", "data": d})
        };
        if req.method == "POST" && req.path == path {
            if let Some(r) = f.create_fault() {
                return r;
            }
            let b = req.json();
            if b["model_name"] != "kling-v3"
                || !b["mode"].is_string()
                || !b["character_orientation"].is_string()
            {
                return Reply::Json(400, json!({"code": 1201, "message": "invalid params"}));
            }
            if b.get("cfg_scale").is_some() {
                return Reply::Json(
                    400,
                    json!({"code": 1201, "message": "unknown field cfg_scale"}),
                );
            }
            let ext = b["external_task_id"].as_str().unwrap_or("").to_string();
            let mut ex = externals.lock().unwrap();
            if ex.contains_key(&ext) {
                return Reply::Json(
                    400,
                    json!({"code": 1201, "message": "external_task_id already exists"}),
                );
            }
            let id = format!("kl-task-{}", f.tasks.len() + 1);
            ex.insert(ext.clone(), id.clone());
            f.tasks.push(Task {
                id: id.clone(),
                polls: 0,
                body: b,
            });
            if let Some(r) = f.after_create() {
                return r;
            }
            let reply = Reply::Json(200, task_obj(&id, &ext, "submitted", json!({})));
            return f.hold(reply);
        }
        if req.method == "GET"
            && let Some(id) = req.path.strip_prefix(&format!("{path}/"))
        {
            {
                if let Some(r) = f.poll_fault() {
                    return r;
                }
                let ex = externals.lock().unwrap();
                let id = ex.get(id).cloned().unwrap_or(id.to_string());
                let Some(i) = f.tasks.iter().position(|t| t.id == id) else {
                    return Reply::Json(404, json!({"code": 1203, "message": "task not found"}));
                };
                let ext = f.tasks[i].body["external_task_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                return Reply::Json(
                    200,
                    match f.advance(i) {
                        (false, _) => task_obj(&id, &ext, "processing", json!({})),
                        (true, Some(reason)) => {
                            task_obj(&id, &ext, "failed", json!({"task_status_msg": reason}))
                        }
                        (true, None) => task_obj(
                            &id,
                            &ext,
                            "succeed",
                            json!({"task_result": {"videos": [{"id": "v", "url": format!("{base}/files/out.mp4"), "duration": "4"}]}, "final_unit_deduction": "1"}),
                        ),
                    },
                );
            }
        }
        Reply::Json(404, json!({"code": 404, "message": "not found"}))
    })
}

pub const GPTPROTO_KEY: &str = "gp-SECRET-42424242";

/// GPTProto's (partly unverified) contract: Authorization without Bearer, data{id,status,outputs}.
pub fn gptproto(faults: Faults) -> (Mock, Arc<Mutex<Fake>>) {
    fake_provider(faults, |f, req, base| {
        if req.header("authorization") != Some(GPTPROTO_KEY) {
            return Reply::Json(401, json!({"code": 401, "message": "invalid api key"}));
        }
        if req.method == "POST"
            && req.path.starts_with("/api/v3/kwaivgi/kling-v3.0-")
            && req.path.contains("/motion-control")
        {
            if let Some(r) = f.create_fault() {
                return r;
            }
            let b = req.json();
            if !b["image"].is_string() || !b["video"].is_string() {
                return Reply::Json(
                    400,
                    json!({"code": 400, "message": "image and video are required"}),
                );
            }
            let id = format!("gp-{}", f.tasks.len() + 1);
            f.tasks.push(Task {
                id: id.clone(),
                polls: 0,
                body: b,
            });
            if let Some(r) = f.after_create() {
                return r;
            }
            return f.hold(Reply::Json(
                200,
                json!({"code": 200, "data": {"id": id, "status": "created", "outputs": []}}),
            ));
        }
        if req.method == "GET"
            && let Some(id) = req
                .path
                .strip_prefix("/api/v3/predictions/")
                .and_then(|p| p.strip_suffix("/result"))
        {
            {
                if let Some(r) = f.poll_fault() {
                    return r;
                }
                let Some(i) = f.tasks.iter().position(|t| t.id == id) else {
                    return Reply::Json(404, json!({"code": 404, "message": "not found"}));
                };
                return Reply::Json(
                    200,
                    match f.advance(i) {
                        (false, _) => {
                            json!({"code": 200, "data": {"id": id, "status": "processing", "outputs": []}})
                        }
                        (true, Some(reason)) => {
                            json!({"code": 200, "data": {"id": id, "status": "failed", "outputs": [], "error": reason}})
                        }
                        (true, None) => {
                            json!({"code": 200, "data": {"id": id, "status": "completed", "outputs": [format!("{base}/files/out.mp4")]}})
                        }
                    },
                );
            }
        }
        Reply::Json(404, json!({"message": "not found"}))
    })
}

/// A working folder with the test media: hero.jpg + dance.mov (pass), short.mp4 (too short).
pub fn workdir() -> tempfile::TempDir {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root.join("fixtures/pairs/hopper/character.jpg"),
        dir.path().join("hero.jpg"),
    )
    .unwrap();
    std::fs::copy(
        root.join("fixtures/pairs/hopper/reference.mov"),
        dir.path().join("dance.mov"),
    )
    .unwrap();
    std::fs::copy(
        root.join("fixtures/rejects/videos/too_short_2s.mp4"),
        dir.path().join("short.mp4"),
    )
    .unwrap();
    dir
}

pub fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("kling-preflight")
}

/// `submit` with the test plumbing: loopback base, asset base, fast polls and retries, header-only
/// preflight (`--no-analyze`: the rules these tests need are header rules, decoding only adds time).
pub fn submit_cmd(
    dir: &std::path::Path,
    mock: &Mock,
    provider: &str,
    extra: &[&str],
) -> std::process::Command {
    let mut c = submit_cmd_analyzed(dir, mock, provider, extra);
    c.arg("--no-analyze");
    c
}

/// `submit` with the full preflight, video decoding included.
pub fn submit_cmd_analyzed(
    dir: &std::path::Path,
    mock: &Mock,
    provider: &str,
    extra: &[&str],
) -> std::process::Command {
    let mut c = std::process::Command::new(bin());
    c.current_dir(dir)
        .args(["submit", "--provider", provider, "--api-base", &mock.base])
        .args([
            "--asset-base-url",
            "https://cdn.example.com/assets/",
            "--out-dir",
            "out",
        ])
        .args([
            "--ledger",
            "ledger.jsonl",
            "--poll-interval",
            "0.01",
            "--retry-base",
            "0.01",
        ])
        .args(extra)
        .env_remove("FREEPIK_API_KEY")
        .env_remove("GPTPROTO_API_KEY")
        .env_remove("KLING_ACCESS_KEY")
        .env_remove("KLING_SECRET_KEY")
        .env("FREEPIK_API_KEY", FREEPIK_KEY)
        .env("GPTPROTO_API_KEY", GPTPROTO_KEY)
        .env("KLING_ACCESS_KEY", KLING_AK)
        .env("KLING_SECRET_KEY", KLING_SK)
        .env("NO_COLOR", "1");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut c: std::process::Command) -> Run {
    let o = c.output().unwrap();
    let r = Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    for secret in [FREEPIK_KEY, GPTPROTO_KEY, KLING_AK, KLING_SK] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "a key leaked:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    r
}

/// Start `c`, wait until `ready()` holds, then kill it (SIGKILL: no cleanup runs).
pub fn kill_when(mut c: std::process::Command, ready: impl Fn() -> bool) {
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(
            Instant::now() < until,
            "the child never reached the kill point"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the child exited early: {status}");
        }
        thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

pub fn ledger_text(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("ledger.jsonl")).unwrap_or_default()
}
