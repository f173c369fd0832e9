//! What reaches `submit` from outside: manifests (strict CSV with exact line numbers, refused before
//! anything is sent), file names that are not UTF-8 (their bytes percent-encoded exactly), and the
//! webhook receiver under a stalled client and a flood of signature entries.

mod submit_support;

use std::io::{BufRead, BufReader, Read, Write};

use submit_support::*;

#[test]
fn regression_a_ragged_manifest_row_is_refused_with_its_line_before_anything_is_sent() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    // Line 5 misses a cell (its prompt would otherwise be read as the orientation... or silently
    // dropped); a blank line and a quoted newline come before it.
    std::fs::write(
        w.path().join("jobs.csv"),
        "image,video,prompt\n\nhero.jpg,dance.mov,\"warm\nlight\"\nhero.jpg,dance.mov\n",
    )
    .unwrap();
    let r = run(submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &["--manifest", "jobs.csv"],
    ));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("jobs.csv:5:") && r.stderr.contains("2 cell(s)"),
        "{}",
        r.stderr
    );
    std::fs::write(
        w.path().join("jobs.csv"),
        "image,video,promt\nhero.jpg,dance.mov,x\n",
    )
    .unwrap();
    let r = run(submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &["--manifest", "jobs.csv"],
    ));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("jobs.csv:1: unknown column 'promt'"),
        "{}",
        r.stderr
    );
    assert!(mock.requests().is_empty(), "nothing sent");
    assert!(!w.path().join("ledger.jsonl").exists());
}

#[test]
fn regression_a_non_utf8_file_name_gets_its_exact_bytes_in_the_asset_url() {
    use std::os::unix::ffi::OsStrExt;
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    let name = std::ffi::OsStr::from_bytes(b"h\xE9ro.jpg");
    std::fs::copy(w.path().join("hero.jpg"), w.path().join(name)).unwrap();
    let mut c = submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &["--dry-run", "--video", "dance.mov"],
    );
    c.arg("--image").arg(name);
    let r = run(c);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("https://cdn.example.com/assets/h%E9ro.jpg"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("%EF%BF%BD"), "no replacement character");
    // The same bytes through a manifest.
    let mut csv = b"image,video\n".to_vec();
    csv.extend_from_slice(b"h\xE9ro.jpg,dance.mov\n");
    std::fs::write(w.path().join("jobs.csv"), csv).unwrap();
    let r = run(submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &["--dry-run", "--manifest", "jobs.csv"],
    ));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("assets/h%E9ro.jpg"), "{}", r.stdout);
}

/// Start `serve-webhook` (unsigned callbacks allowed unless a secret is given); returns the child
/// and its address.
fn webhook(
    dir: &std::path::Path,
    max_requests: &str,
    secret: Option<&str>,
) -> (std::process::Child, String) {
    let mut c = std::process::Command::new(bin());
    c.current_dir(dir)
        .args([
            "serve-webhook",
            "--listen",
            "127.0.0.1:0",
            "--ledger",
            "ledger.jsonl",
        ])
        .args(["--max-requests", max_requests, "--idle-timeout", "60"])
        .stdout(std::process::Stdio::piped());
    match secret {
        Some(s) => c.env("FREEPIK_WEBHOOK_SECRET", s),
        None => c
            .arg("--allow-unsigned")
            .env_remove("FREEPIK_WEBHOOK_SECRET"),
    };
    let mut child = c.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    std::thread::spawn(move || for _ in lines {});
    (child, first.trim_start_matches("listening on ").to_string())
}

fn exchange(addr: &str, request: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    // A bound so a blocked server fails the test instead of hanging it.
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    s.write_all(request).unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply
}

#[test]
fn regression_a_stalled_webhook_client_does_not_block_others() {
    let w = workdir();
    let (mut server, addr) = webhook(w.path(), "2", None);
    // Headers sent, body promised and never finished.
    let mut stalled = std::net::TcpStream::connect(&addr).unwrap();
    stalled
        .write_all(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"task_id\":")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let body = r#"{"task_id":"unknown-task","status":"COMPLETED","generated":[]}"#;
    let reply = exchange(
        &addr,
        format!(
            "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert!(
        reply.starts_with("HTTP/1.1 404") && reply.contains("not in the ledger"),
        "answered while another client stalls: {reply:?}"
    );
    drop(stalled);
    assert!(server.wait().unwrap().success());
}

#[test]
fn regression_thousands_of_signature_entries_are_refused_outright() {
    let w = workdir();
    let (mut server, addr) = webhook(w.path(), "2", Some("whsec_dGVzdC1zZWNyZXQ="));
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = r#"{"task_id":"t","status":"COMPLETED","generated":[]}"#;
    let sigs = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ".repeat(300);
    let reply = exchange(
        &addr,
        format!(
            "POST /h HTTP/1.1\r\nwebhook-id: m\r\nwebhook-timestamp: {ts}\r\nwebhook-signature: {sigs}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert!(
        reply.starts_with("HTTP/1.1 401") && reply.contains("at most 8"),
        "{reply:?}"
    );
    let reply = exchange(
        &addr,
        format!(
            "POST /h HTTP/1.1\r\nwebhook-id: m\r\nwebhook-timestamp: {ts}\r\nwebhook-signature: v1,AAAA\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert!(
        reply.starts_with("HTTP/1.1 401"),
        "still refuses a bad signature: {reply:?}"
    );
    assert!(server.wait().unwrap().success());
}
