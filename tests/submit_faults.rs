//! A hostile provider and a busy team: a create that is billed and then answers 5xx, concurrent runs
//! on one ledger, downloads that are an HTML page or cut short, keys echoed back escaped, a ledger
//! that breaks after a paid create, requests that cannot be built, and the dry run's prediction.
//! Each test is named after the bug it pins down and fails without its fix.

mod submit_support;

use std::sync::{Arc, Mutex};

use submit_support::*;

const PAIR: [&str; 4] = ["--image", "hero.jpg", "--video", "dance.mov"];

fn run_pair(dir: &std::path::Path, mock: &Mock, provider: &str, extra: &[&str]) -> Run {
    run(submit_cmd(
        dir,
        mock,
        provider,
        &[&PAIR[..], extra].concat(),
    ))
}

fn events(dir: &std::path::Path, event: &str) -> usize {
    ledger_text(dir)
        .lines()
        .filter(|l| l.contains(&format!("\"event\":\"{event}\"")))
        .count()
}

#[test]
fn regression_charged_then_504_costs_at_most_one_task_over_two_runs() {
    // Freepik without input echo: the task cannot be told apart, so the run stops and says what to do.
    let (mock, fake) = freepik(Faults {
        charge_then: vec![504, 504, 504, 504],
        ..Faults::default()
    });
    let w = workdir();
    for _ in 0..2 {
        let r = run_pair(w.path(), &mock, "freepik", &[]);
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("--adopt kp-") && r.stdout.contains("--force-resend"),
            "{}",
            r.stdout
        );
    }
    assert_eq!(
        mock.count("POST", "motion-control"),
        1,
        "one task over two runs"
    );
    drop(fake);

    // With an echoing list the task is found and adopted: still one task, and it completes.
    let (mock, _) = freepik(Faults {
        charge_then: vec![502, 502],
        list_echoes_inputs: true,
        ..Faults::default()
    });
    let w = workdir();
    let r = run_pair(w.path(), &mock, "freepik", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("found it"), "{}", r.stdout);
    let r = run_pair(w.path(), &mock, "freepik", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(mock.count("POST", "motion-control"), 1);

    // Kling: found by external_task_id.
    let (mock, _) = kling(Faults {
        charge_then: vec![504],
        ..Faults::default()
    });
    let w = workdir();
    let r = run_pair(w.path(), &mock, "kling", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = run_pair(w.path(), &mock, "kling", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(mock.count("POST", "motion-control"), 1);
}

#[test]
fn regression_a_504_without_a_list_endpoint_stops_and_the_rerun_does_not_resend() {
    let (mock, _) = freepik(Faults {
        charge_then: vec![504],
        no_list: true,
        ..Faults::default()
    });
    let w = workdir();
    for _ in 0..2 {
        let r = run_pair(w.path(), &mock, "freepik", &[]);
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("not re-sent") || r.stdout.contains("Not re-sent"),
            "{}",
            r.stdout
        );
    }
    assert_eq!(mock.count("POST", "motion-control"), 1);
}

/// A manifest of four distinct pairs (same files, four prompts: four keys).
fn four_pairs(dir: &std::path::Path) {
    let mut csv = String::from("image,video,prompt\n");
    for i in 0..4 {
        csv.push_str(&format!("hero.jpg,dance.mov,soft light {i}\n"));
    }
    std::fs::write(dir.join("jobs.csv"), csv).unwrap();
}

fn concurrent(n: usize, stagger: bool) {
    let (mock, _) = freepik(Faults {
        polls_before_done: 2,
        ..Faults::default()
    });
    let w = workdir();
    four_pairs(w.path());
    let mut children = Vec::new();
    for k in 0..n {
        if stagger && k > 0 {
            // Start the next run once the first has created something.
            while mock.count("POST", "motion-control") == 0 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        let mut c = submit_cmd(w.path(), &mock, "freepik", &["--manifest", "jobs.csv"]);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        children.push(c.spawn().unwrap());
    }
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert_eq!(
        mock.count("POST", "motion-control"),
        4,
        "{n} runs, {}: exactly one task per pair",
        if stagger { "staggered" } else { "simultaneous" }
    );
    assert_eq!(events(w.path(), "intent"), 4, "{}", ledger_text(w.path()));
    assert_eq!(std::fs::read_dir(w.path().join("out")).unwrap().count(), 4);
}

#[test]
fn regression_two_simultaneous_runs_create_each_pair_once() {
    concurrent(2, false);
}

#[test]
fn regression_four_simultaneous_runs_create_each_pair_once() {
    concurrent(4, false);
}

#[test]
fn regression_staggered_runs_create_each_pair_once() {
    concurrent(2, true);
    concurrent(4, true);
}

#[test]
fn regression_an_html_page_is_not_a_downloaded_result() {
    let (mock, _) = freepik(Faults {
        html_downloads: 1,
        ..Faults::default()
    });
    let w = workdir();
    let r = run_pair(w.path(), &mock, "freepik", &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("text/html"), "{}", r.stdout);
    assert_eq!(events(w.path(), "downloaded"), 0);
    assert!(
        !w.path().join("out").exists()
            || std::fs::read_dir(w.path().join("out")).unwrap().count() == 0,
        "nothing kept under the final name"
    );
    let r = run_pair(w.path(), &mock, "freepik", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(mock.count("POST", "motion-control"), 1, "no new task");
    let outs: Vec<_> = std::fs::read_dir(w.path().join("out")).unwrap().collect();
    assert_eq!(outs.len(), 1);
    assert_eq!(
        std::fs::read(outs[0].as_ref().unwrap().path()).unwrap(),
        output_bytes()
    );
}

#[test]
fn regression_a_body_cut_short_without_content_length_is_refetched() {
    let (mock, _) = freepik(Faults {
        cut_downloads: 2,
        ..Faults::default()
    });
    let w = workdir();
    let r = run_pair(w.path(), &mock, "freepik", &["--max-attempts", "2"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("download failed"), "{}", r.stdout);
    assert_eq!(
        events(w.path(), "downloaded"),
        0,
        "{}",
        ledger_text(w.path())
    );
    assert_eq!(events(w.path(), "completed"), 1);
    // The URL still lives: the next run fetches the real bytes, no new task.
    let r = run_pair(w.path(), &mock, "freepik", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("finished earlier; downloading"),
        "{}",
        r.stdout
    );
    assert_eq!(mock.count("POST", "motion-control"), 1, "no new task");
    let outs: Vec<_> = std::fs::read_dir(w.path().join("out")).unwrap().collect();
    assert_eq!(outs.len(), 1);
    assert_eq!(
        std::fs::read(outs[0].as_ref().unwrap().path()).unwrap(),
        output_bytes()
    );
}

/// Every file under `dir`, recursively, as bytes.
fn all_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[test]
fn regression_an_escaped_split_or_encoded_key_echo_never_leaves_the_process() {
    let escaped: String = FREEPIK_KEY
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let pct: String = FREEPIK_KEY.bytes().map(|b| format!("%{b:02X}")).collect();
    let (half1, half2) = FREEPIK_KEY.split_at(FREEPIK_KEY.len() / 2);
    let reason =
        format!("invalid key {escaped}; see https://x/?k={pct}; parts {half1} then {half2}");
    let (mock, _) = freepik(Faults {
        raw_fail_reason: Some(reason),
        ..Faults::default()
    });
    let w = workdir();
    let r = run_pair(w.path(), &mock, "freepik", &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("FAILED"), "{}", r.stdout);
    let needles = [FREEPIK_KEY, half1, half2, "SECRET"];
    for n in needles {
        assert!(
            !r.stdout.contains(n) && !r.stderr.contains(n),
            "{n}: {}\n{}",
            r.stdout,
            r.stderr
        );
    }
    for (p, bytes) in all_files(w.path()) {
        let text = String::from_utf8_lossy(&bytes);
        for n in needles {
            assert!(!text.contains(n), "{n} in {}: {text}", p.display());
        }
        assert!(
            !text.contains("\\u0066\\u0070"),
            "escaped echo stored in {}",
            p.display()
        );
    }
}

#[test]
fn regression_a_line_break_in_the_key_is_a_local_error_that_does_not_wedge_the_pair() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    let mut c = submit_cmd(w.path(), &mock, "freepik", &PAIR);
    c.env("FREEPIK_API_KEY", "fpk-SECRET\r\nX-Evil: 1");
    let o = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("FREEPIK_API_KEY") && stderr.contains("nothing was sent"),
        "{stderr}"
    );
    assert!(mock.requests().is_empty());
    let r = run_pair(w.path(), &mock, "freepik", &[]);
    assert_eq!(r.code, 0, "not wedged: {}\n{}", r.stdout, r.stderr);
    assert_eq!(mock.count("POST", "motion-control"), 1);
}

#[test]
fn regression_a_malformed_api_url_is_not_a_request_that_was_sent() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    let mut c = std::process::Command::new(bin());
    c.current_dir(w.path())
        .args([
            "submit",
            "--provider",
            "freepik",
            "--api-base",
            "http://127.0.0.1:99999",
        ])
        .args([
            "--asset-base-url",
            "https://cdn.example.com/assets/",
            "--out-dir",
            "out",
        ])
        .args([
            "--ledger",
            "ledger.jsonl",
            "--no-analyze",
            "--retry-base",
            "0.01",
        ])
        .args(PAIR)
        .env("FREEPIK_API_KEY", FREEPIK_KEY);
    let r = run(c);
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(!all.contains("after the request was sent"), "{all}");
    assert!(all.contains("127.0.0.1:99999"), "{all}");
    // The pair is not wedged behind --force-resend.
    let r = run_pair(w.path(), &mock, "freepik", &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(mock.count("POST", "motion-control"), 1);
}

#[test]
fn regression_a_name_under_localhost_is_not_loopback() {
    let w = workdir();
    let mut c = std::process::Command::new(bin());
    c.current_dir(w.path())
        .args([
            "submit",
            "--provider",
            "freepik",
            "--api-base",
            "http://evil.localhost:8080",
        ])
        .args([
            "--asset-base-url",
            "https://cdn.example.com/assets/",
            "--out-dir",
            "out",
        ])
        .args(["--ledger", "ledger.jsonl", "--no-analyze"])
        .args(PAIR)
        .env("FREEPIK_API_KEY", FREEPIK_KEY);
    let r = run(c);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("refusing plain http://"), "{}", r.stderr);
}

#[test]
fn regression_dry_run_honours_max_spend_and_predicts_the_real_run() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    four_pairs(w.path());
    // 4 s at the $0.16/s reference: $0.64 a pair; $1.50 allows two.
    let args = ["--manifest", "jobs.csv", "--max-spend", "1.50"];
    let dry = run(submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &[&args[..], &["--dry-run"]].concat(),
    ));
    assert!(mock.requests().is_empty());
    assert!(
        !w.path().join("ledger.jsonl").exists(),
        "a dry run writes nothing"
    );
    assert!(dry.stdout.contains("past --max-spend"), "{}", dry.stdout);
    assert!(!dry.stdout.contains("SPEC"), "{}", dry.stdout);
    let real = run(submit_cmd(w.path(), &mock, "freepik", &args));
    assert_eq!(dry.code, real.code, "{}\n---\n{}", dry.stdout, real.stdout);
    assert_eq!(mock.count("POST", "motion-control"), 2);
    let dry_sends = dry.stdout.matches("estimated cost").count();
    assert_eq!(dry_sends, 2, "{}", dry.stdout);
    // After the real run, the dry run predicts the resumed pairs are not sent again.
    let dry = run(submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &[&args[..], &["--dry-run"]].concat(),
    ));
    assert_eq!(
        dry.stdout.matches("would be skipped").count(),
        2,
        "{}",
        dry.stdout
    );
    assert!(!real.stdout.contains("SPEC"), "{}", real.stdout);
}

#[test]
fn regression_a_ledger_that_breaks_after_a_paid_create_prints_the_task_and_how_to_adopt_it() {
    let w = workdir();
    let ledger = w.path().join("ledger.jsonl");
    let hook_ledger = ledger.clone();
    let broke = Arc::new(Mutex::new(false));
    let broke2 = broke.clone();
    let (mock, _) = freepik(Faults {
        on_create: Some(Box::new(move || {
            // The ledger turns into a folder: every later write fails.
            let _ = std::fs::remove_file(&hook_ledger);
            let _ = std::fs::create_dir(&hook_ledger);
            *broke2.lock().unwrap() = true;
        })),
        ..Faults::default()
    });
    let r = run_pair(w.path(), &mock, "freepik", &[]);
    assert!(*broke.lock().unwrap());
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("task fp-task-1") && r.stdout.contains("--adopt kp-"),
        "{}",
        r.stdout
    );
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("--adopt kp-"))
        .unwrap();
    let adopt = line
        .split("--adopt ")
        .nth(1)
        .unwrap()
        .split(['`', ' '])
        .next()
        .unwrap()
        .to_string();
    std::fs::remove_dir(&ledger).unwrap();
    let r = run_pair(w.path(), &mock, "freepik", &["--adopt", &adopt]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("adopted task fp-task-1"), "{}", r.stdout);
    assert_eq!(
        mock.count("POST", "motion-control"),
        1,
        "adopted, not re-created"
    );
}
