//! The bar for `submit`, end to end against a loopback server that speaks Freepik's contract: a 503 on
//! the first create is looked up in the task list (empty: nothing was made) before it is sent again, the task is polled to COMPLETED and the video downloaded intact, an
//! identical re-run creates nothing, a pair whose video is too short is refused with a non-zero exit
//! and no request, and the key never appears in output or in the ledger.

mod submit_support;

use submit_support::*;

#[test]
fn freepik_end_to_end_retry_poll_download_and_idempotent_rerun() {
    let (mock, _) = freepik(Faults {
        create: vec![(503, Some("0"))],
        polls_before_done: 2,
        poll: vec![PollFault::Status(500, None)],
        ..Faults::default()
    });
    let w = workdir();
    let args = [
        "--image",
        "hero.jpg",
        "--video",
        "dance.mov",
        "--prompt",
        "warm studio light, static camera",
    ];
    // The full preflight, decoded-frame analysis included: the hopper pair passes it.
    let r = run(submit_cmd_analyzed(w.path(), &mock, "freepik", &args));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        mock.count("POST", "motion-control-std"),
        2,
        "one 503, looked up, one success"
    );
    let create = mock
        .requests()
        .into_iter()
        .rfind(|q| q.method == "POST")
        .unwrap();
    let body = create.json();
    assert_eq!(body["image_url"], "https://cdn.example.com/assets/hero.jpg");
    assert_eq!(
        body["video_url"],
        "https://cdn.example.com/assets/dance.mov"
    );
    assert_eq!(body["character_orientation"], "video");
    let outs: Vec<_> = std::fs::read_dir(w.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(outs.len(), 1, "{outs:?}");
    assert!(
        outs[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("hero__dance-")
    );
    assert_eq!(
        std::fs::read(&outs[0]).unwrap(),
        output_bytes(),
        "downloaded intact"
    );
    let ledger = ledger_text(w.path());
    assert!(!ledger.contains(FREEPIK_KEY));
    for event in ["intent", "created", "completed", "downloaded"] {
        assert!(
            ledger.contains(&format!("\"event\":\"{event}\"")),
            "{ledger}"
        );
    }

    // An identical re-run creates nothing.
    let before = mock.requests().len();
    let r = run(submit_cmd(w.path(), &mock, "freepik", &args));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("already done"), "{}", r.stdout);
    assert_eq!(
        mock.requests().len(),
        before,
        "no request at all on a finished pair"
    );
}

#[test]
fn a_too_short_video_is_refused_without_any_request() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    let r = run(submit_cmd_analyzed(
        w.path(),
        &mock,
        "freepik",
        &["--image", "hero.jpg", "--video", "short.mp4"],
    ));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("refused by preflight"), "{}", r.stdout);
    assert!(
        r.stdout.contains("V004") && r.stdout.contains("video-too-short"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("saved ~$"), "{}", r.stdout);
    assert!(mock.requests().is_empty(), "nothing was sent");
    assert!(!w.path().join("out").exists());
}

#[test]
fn a_missing_key_is_a_usage_error_that_names_the_variable() {
    let (mock, _) = freepik(Faults::default());
    let w = workdir();
    let mut c = submit_cmd(
        w.path(),
        &mock,
        "freepik",
        &["--image", "hero.jpg", "--video", "dance.mov"],
    );
    c.env_remove("FREEPIK_API_KEY");
    let r = run(c);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("FREEPIK_API_KEY"), "{}", r.stderr);
    assert!(mock.requests().is_empty());
}
