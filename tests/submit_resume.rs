//! Crashes and re-runs: a process killed after the create call (before or after the task id reached
//! the ledger) never leads to a second create; dry runs, budgets, request rules, manifests and the
//! webhook receiver.

mod submit_support;

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use submit_support::*;

const PAIR: [&str; 4] = ["--image", "hero.jpg", "--video", "dance.mov"];

/// Submit `PAIR` to a fake `provider` (started by `start` with `faults`) whose create call hangs,
/// and kill the client once the server has the create: the task exists, the client never read its
/// id. The held reply is then let go. Returns the fake and the working folder.
fn killed_after_create(
    start: fn(Faults) -> (Mock, Arc<Mutex<Fake>>),
    provider: &str,
    faults: Faults,
) -> (Mock, tempfile::TempDir) {
    let release = Arc::new(AtomicBool::new(false));
    let (mock, _) = start(Faults {
        hold_create: Some(release.clone()),
        ..faults
    });
    let w = workdir();
    kill_when(submit_cmd(w.path(), &mock, provider, &PAIR), || {
        mock.count("POST", "motion-control") == 1
    });
    release.store(true, Ordering::SeqCst);
    (mock, w)
}

/// Run `submit` on `PAIR` with the `extra` flags.
fn run_pair(dir: &std::path::Path, mock: &Mock, provider: &str, extra: &[&str]) -> Run {
    run(submit_cmd(
        dir,
        mock,
        provider,
        &[&PAIR[..], extra].concat(),
    ))
}

#[test]
fn kill_after_create_then_rerun_kling_reconciles_by_external_task_id() {
    let (mock, w) = killed_after_create(kling, "kling", Faults::default());
    let ledger = ledger_text(w.path());
    assert!(
        ledger.contains("\"intent\"") && !ledger.contains("\"created\""),
        "{ledger}"
    );
    let r = run(submit_cmd(w.path(), &mock, "kling", &PAIR));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("found task kl-task-1"), "{}", r.stdout);
    assert_eq!(mock.count("POST", "motion-control"), 1, "no second create");
    assert!(ledger_text(w.path()).contains("\"via\":\"reconcile\""));
}

#[test]
fn kill_after_create_freepik_without_echo_refuses_to_resend_unless_forced() {
    let (mock, w) = killed_after_create(freepik, "freepik", Faults::default());
    let r = run(submit_cmd(w.path(), &mock, "freepik", &PAIR));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("does not echo the inputs") && r.stdout.contains("--force-resend"),
        "{}",
        r.stdout
    );
    assert_eq!(mock.count("POST", "motion-control"), 1, "not re-sent");
    let r = run_pair(w.path(), &mock, "freepik", &["--force-resend"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        mock.count("POST", "motion-control"),
        2,
        "sent again only when forced"
    );
}

#[test]
fn kill_after_create_freepik_with_echo_finds_the_task_in_the_list() {
    let (mock, w) = killed_after_create(
        freepik,
        "freepik",
        Faults {
            list_echoes_inputs: true,
            ..Faults::default()
        },
    );
    let r = run(submit_cmd(w.path(), &mock, "freepik", &PAIR));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(mock.count("POST", "motion-control"), 1, "no second create");
}

#[test]
fn kill_while_polling_then_rerun_resumes_the_same_task() {
    let (mock, fake) = gptproto(Faults {
        never_finish: true,
        ..Faults::default()
    });
    let w = workdir();
    kill_when(submit_cmd(w.path(), &mock, "gptproto", &PAIR), || {
        mock.count("GET", "/result") >= 2
    });
    fake.lock().unwrap().faults.never_finish = false;
    let r = run(submit_cmd(w.path(), &mock, "gptproto", &PAIR));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("is in flight") && r.stdout.contains("polling it"),
        "{}",
        r.stdout
    );
    assert_eq!(mock.count("POST", "motion-control"), 1, "no second create");
    assert_eq!(std::fs::read_dir(w.path().join("out")).unwrap().count(), 1);
}

#[test]
fn a_failed_task_reports_the_reason_and_is_not_resent() {
    let (mock, _) = kling(Faults {
        fail_with: Some("no person detected in the video".into()),
        ..Faults::default()
    });
    let w = workdir();
    let r = run(submit_cmd(w.path(), &mock, "kling", &PAIR));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("FAILED: no person detected in the video"),
        "{}",
        r.stdout
    );
    let r = run(submit_cmd(w.path(), &mock, "kling", &PAIR));
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("--force-resend"), "{}", r.stdout);
    assert_eq!(mock.count("POST", "motion-control"), 1);
}

#[test]
fn a_torn_ledger_line_is_tolerated() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    std::fs::write(
        w.path().join("ledger.jsonl"),
        "{\"event\":\"intent\",\"key\":\"kp-x\",\"at\":1}\n{\"event\":\"crea",
    )
    .unwrap();
    let r = run(submit_cmd(w.path(), &mock, "freepik", &PAIR));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("skipped 1 unreadable line"),
        "{}",
        r.stderr
    );
}

#[test]
fn dry_run_prints_redacted_requests_and_cost_and_sends_nothing() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    let r = run_pair(
        w.path(),
        &mock,
        "freepik",
        &["--dry-run", "--cfg-scale", "0.4"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("POST ") && r.stdout.contains("kling-v3-motion-control-std"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("x-freepik-api-key: [redacted]"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\"cfg_scale\": 0.4"), "{}", r.stdout);
    assert!(r.stdout.contains("estimated cost: $"), "{}", r.stdout);
    assert!(mock.requests().is_empty());
    let r = run_pair(w.path(), &mock, "kling", &["--dry-run", "--inline-image"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("[base64 image data]") && r.stdout.contains("Bearer [redacted JWT]"),
        "{}",
        r.stdout
    );
}

#[test]
fn the_budget_stops_before_it_is_passed() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    let r = run_pair(w.path(), &mock, "freepik", &["--max-spend", "0.10"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("past --max-spend"), "{}", r.stdout);
    assert!(mock.requests().is_empty());
}

#[test]
fn request_rules_r001_r002_r003_and_p001() {
    let (mock, _) = kling(Faults::default());
    let w = workdir();
    // R003: Kling has no cfg_scale field.
    let r = run_pair(
        w.path(),
        &mock,
        "kling",
        &["--cfg-scale", "0.5", "--dry-run"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("R003 cfg-scale-out-of-range")
            && r.stdout.contains("kling has no cfg_scale field"),
        "{}",
        r.stdout
    );
    // R003: out of Freepik's range.
    let r = run_pair(
        w.path(),
        &mock,
        "freepik",
        &["--cfg-scale", "1.5", "--dry-run"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("cfg_scale 1.5 is outside 0–1"),
        "{}",
        r.stdout
    );
    // R001: characters, not bytes.
    let long = "é".repeat(2501);
    let r = run_pair(
        w.path(),
        &mock,
        "freepik",
        &["--prompt", &long, "--dry-run"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("R001 prompt-too-long") && r.stdout.contains("2501 characters"),
        "{}",
        r.stdout
    );
    // R002: a warning; the pair is still sent.
    let r = run_pair(
        w.path(),
        &mock,
        "freepik",
        &["--prompt", "she is dancing and jumps", "--dry-run"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("R002 prompt-describes-action") && r.stdout.contains("dancing, jumps"),
        "{}",
        r.stdout
    );
    // P001: a landscape character image with the portrait reference video.
    let st = std::process::Command::new("ffmpeg")
        .current_dir(w.path())
        .args([
            "-v",
            "error",
            "-y",
            "-i",
            "hero.jpg",
            "-vf",
            "scale=900:500",
            "wide.jpg",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let r = run(submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &["--image", "wide.jpg", "--video", "dance.mov", "--dry-run"],
    ));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("P001 pair-framing-mismatch") && r.stdout.contains("landscape"),
        "{}",
        r.stdout
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn a_manifest_sends_passing_pairs_and_refuses_the_rest() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    std::fs::write(
        w.path().join("jobs.csv"),
        "image,video,prompt,orientation,tier,cfg_scale,keep_sound\n\
         hero.jpg,dance.mov,\"soft light, static camera\",video,pro,0.5,\n\
         hero.jpg,short.mp4,,,,,\n",
    )
    .unwrap();
    let r = run(submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &["--manifest", "jobs.csv"],
    ));
    assert_eq!(r.code, 1, "one pair refused: {}\n{}", r.stdout, r.stderr);
    assert_eq!(mock.count("POST", "motion-control-pro"), 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("1 downloaded") && r.stdout.contains("1 refused"),
        "{}",
        r.stdout
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let w = workdir();
    let mut c = std::process::Command::new(bin());
    c.current_dir(w.path())
        .args([
            "submit",
            "--provider",
            "freepik",
            "--api-base",
            "http://api.example.com",
        ])
        .args([
            "--image-url",
            "https://c/a.jpg",
            "--video-url",
            "https://c/b.mov",
        ])
        .args([
            "--out-dir",
            "out",
            "--ledger",
            "ledger.jsonl",
            "--no-analyze",
        ])
        .args(PAIR)
        .env("FREEPIK_API_KEY", FREEPIK_KEY);
    let r = run(c);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("refusing plain http://"), "{}", r.stderr);
    assert!(!w.path().join("ledger.jsonl").exists(), "nothing recorded");
}

#[test]
fn webhook_receiver_verifies_freepik_signatures_and_completes_the_task() {
    let (mock, _) = freepik(Faults {
        never_finish: true,
        ..Faults::default()
    });
    let w = workdir();
    let secret = "whsec_dGVzdC1zZWNyZXQ=";
    let mut server = std::process::Command::new(bin())
        .current_dir(w.path())
        .args([
            "serve-webhook",
            "--listen",
            "127.0.0.1:0",
            "--ledger",
            "ledger.jsonl",
            "--max-requests",
            "2",
            "--idle-timeout",
            "30",
        ])
        .env("FREEPIK_WEBHOOK_SECRET", secret)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.trim_start_matches("listening on ").to_string();
    // submit polls forever (never_finish) until the webhook records completion in the ledger.
    let mut sub = submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &[
            &PAIR[..],
            &["--webhook-url", "https://hooks.example.com/kp"],
        ]
        .concat(),
    );
    sub.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = sub.spawn().unwrap();
    while !ledger_text(w.path()).contains("\"created\"") {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let create = mock
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(create.json()["webhook_url"], "https://hooks.example.com/kp");
    let body = format!(
        "{{\"task_id\":\"fp-task-1\",\"status\":\"COMPLETED\",\"generated\":[\"{}/files/out.mp4\"]}}",
        mock.base
    );
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let post = |sig: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "POST /freepik HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nwebhook-id: msg_1\r\nwebhook-timestamp: {ts}\r\nwebhook-signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        std::io::Read::read_to_string(&mut s, &mut reply).unwrap();
        reply
    };
    let forged = post("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert!(forged.starts_with("HTTP/1.1 401"), "{forged}");
    let good = kling_preflight::submit::webhook::sign(secret, "msg_1", &ts, body.as_bytes());
    let ok = post(&good);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(ledger_text(w.path()).contains("\"via\":\"webhook\""));
    assert_eq!(std::fs::read_dir(w.path().join("out")).unwrap().count(), 1);
    server.wait().unwrap();
    assert!(!stdout.contains(FREEPIK_KEY));
}
