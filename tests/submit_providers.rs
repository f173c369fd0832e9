//! Provider clients against loopback fakes of their contracts, without preflight: retries (429
//! bursts with Retry-After, a 500 and a dropped connection while polling, malformed JSON), what is
//! never retried (400, 401, Kling 1102), FAILED reasons, and downloads (slow, truncated).

mod submit_support;

use std::time::{Duration, Instant};

use kling_preflight::profile::Orientation;
use kling_preflight::submit::{
    Http, Job, Provider, ProviderName, Reconciled, RetryPolicy, SubmitError, TaskState, Tier,
    download, provider_for,
};
use submit_support::*;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_total: Duration::from_secs(10),
    }
}

fn env(name: &str) -> Option<String> {
    Some(
        match name {
            "FREEPIK_API_KEY" => FREEPIK_KEY,
            "GPTPROTO_API_KEY" => GPTPROTO_KEY,
            "KLING_ACCESS_KEY" => KLING_AK,
            "KLING_SECRET_KEY" => KLING_SK,
            _ => return None,
        }
        .to_string(),
    )
}

fn client(p: ProviderName, mock: &Mock) -> Box<dyn Provider> {
    provider_for(p, &mock.base, Http::new(policy()), &env).unwrap()
}

fn job() -> Job {
    Job {
        image_url: Some("https://cdn.example.com/a/hero.jpg".into()),
        image_base64: None,
        video_url: "https://cdn.example.com/a/dance.mov".into(),
        prompt: Some("neon street at night, static camera".into()),
        orientation: Orientation::Video,
        tier: Tier::Std,
        cfg_scale: None,
        keep_sound: Some(true),
        webhook_url: None,
        external_id: "kp-test".into(),
    }
}

fn poll_to_end(p: &dyn Provider, job: &Job, id: &str) -> TaskState {
    for _ in 0..50 {
        match p.get(job, id) {
            Ok(TaskState::Running { .. }) | Err(SubmitError::Transient(_)) => {}
            Ok(s) => return s,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("never finished")
}

#[test]
fn freepik_429_bursts_with_retry_after_are_retried_and_honoured() {
    let (mock, _) = freepik(Faults {
        create: vec![(429, None), (429, Some("1"))],
        polls_before_done: 1,
        ..Faults::default()
    });
    let p = client(ProviderName::Freepik, &mock);
    let t = Instant::now();
    let id = p.create(&job()).unwrap();
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(mock.count("POST", "motion-control-std"), 3);
    match poll_to_end(p.as_ref(), &job(), &id) {
        TaskState::Succeeded { urls } => assert!(urls[0].ends_with("/files/out.mp4")),
        s => panic!("{s:?}"),
    }
}

#[test]
fn freepik_never_retries_401_or_400_and_names_the_cause() {
    let (mock, _) = freepik(Faults::default());
    let bad = |n: &str| {
        if n == "FREEPIK_API_KEY" {
            Some("wrong-key".to_string())
        } else {
            None
        }
    };
    let p = provider_for(ProviderName::Freepik, &mock.base, Http::new(policy()), &bad).unwrap();
    match p.create(&job()) {
        Err(SubmitError::Rejected(m)) => {
            assert!(m.contains("401") && m.contains("Invalid API key"), "{m}")
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(mock.count("POST", ""), 1, "401 not retried");
    let p = client(ProviderName::Freepik, &mock);
    let mut j = job();
    j.cfg_scale = Some(3.0);
    match p.create(&j) {
        Err(SubmitError::Rejected(m)) => {
            assert!(m.contains("cfg_scale: must be between 0 and 1"), "{m}")
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(mock.count("POST", ""), 2, "400 not retried");
}

#[test]
fn freepik_polling_survives_500_malformed_json_and_a_dropped_connection() {
    let (mock, _) = freepik(Faults {
        poll: vec![
            PollFault::Status(500, None),
            PollFault::Malformed,
            PollFault::Drop,
        ],
        ..Faults::default()
    });
    let p = client(ProviderName::Freepik, &mock);
    let id = p.create(&job()).unwrap();
    // The 500 and the dropped connection are retried inside one call; the malformed reply surfaces
    // as a transient error that the poll loop tries again.
    assert!(
        matches!(p.get(&job(), &id), Err(SubmitError::Transient(m)) if m.contains("unreadable"))
    );
    assert!(matches!(
        p.get(&job(), &id),
        Ok(TaskState::Succeeded { .. })
    ));
    assert_eq!(mock.count("GET", "fp-task-1"), 4);
}

#[test]
fn a_dropped_connection_on_create_is_ambiguous_not_retried() {
    let (mock, _) = freepik(Faults::default());
    // A fake that drops every create.
    let dropper = Mock::start(|_, _| Reply::Drop);
    let p = client(ProviderName::Freepik, &dropper);
    match p.create(&job()) {
        Err(SubmitError::Ambiguous(m)) => assert!(m.contains("may exist"), "{m}"),
        r => panic!("{r:?}"),
    }
    assert_eq!(
        dropper.count("POST", ""),
        1,
        "a create that may have landed is not blindly re-sent"
    );
    drop(mock);
}

#[test]
fn regression_a_5xx_on_create_is_ambiguous_never_resent_by_the_client() {
    for status in [500, 502, 503, 504] {
        let (mock, _) = freepik(Faults {
            charge_then: vec![status],
            ..Faults::default()
        });
        let p = client(ProviderName::Freepik, &mock);
        match p.create(&job()) {
            Err(SubmitError::Ambiguous(m)) => {
                assert!(m.contains(&format!("HTTP {status}")), "{m}")
            }
            r => panic!("{status}: {r:?}"),
        }
        assert_eq!(
            mock.count("POST", ""),
            1,
            "{status}: one POST, no blind retry"
        );
    }
}

#[test]
fn regression_a_request_that_cannot_be_built_is_not_sent() {
    let (mock, _) = freepik(Faults::default());
    let p = client(ProviderName::Freepik, &mock);
    let mut j = job();
    j.tier = kling_preflight::submit::Tier::Std;
    let bad = provider_for(
        ProviderName::Freepik,
        "http://127.0.0.1:99999",
        Http::new(policy()),
        &env,
    )
    .unwrap();
    match bad.create(&j) {
        Err(SubmitError::NotSent(m)) => assert!(m.contains("not sent"), "{m}"),
        r => panic!("{r:?}"),
    }
    drop(p);
    assert!(mock.requests().is_empty());
}

#[test]
fn retries_are_capped() {
    let (mock, _) = freepik(Faults {
        create: vec![(429, Some("0")); 10],
        ..Faults::default()
    });
    let p = client(ProviderName::Freepik, &mock);
    match p.create(&job()) {
        Err(SubmitError::Transient(m)) => assert!(m.contains("gave up after 4 attempts"), "{m}"),
        r => panic!("{r:?}"),
    }
    assert_eq!(mock.count("POST", ""), 4);
}

#[test]
fn freepik_failed_task_reports_the_reason_and_list_reconciles_on_echo() {
    let (mock, _) = freepik(Faults {
        fail_with: Some("The video contains no person".into()),
        list_echoes_inputs: true,
        ..Faults::default()
    });
    let p = client(ProviderName::Freepik, &mock);
    let id = p.create(&job()).unwrap();
    assert_eq!(
        poll_to_end(p.as_ref(), &job(), &id),
        TaskState::Failed {
            reason: "The video contains no person".into()
        }
    );
    assert_eq!(
        p.find(&job(), &Default::default()).unwrap(),
        Reconciled::Found(id)
    );
    let mut other = job();
    other.video_url = "https://cdn.example.com/other.mp4".into();
    assert_eq!(
        p.find(&other, &Default::default()).unwrap(),
        Reconciled::NotFound
    );
}

#[test]
fn kling_jwt_external_id_and_failed_reason() {
    let (mock, _) = kling(Faults {
        create: vec![(429, Some("0"))],
        fail_with: Some("motion too fast".into()),
        ..Faults::default()
    });
    let p = client(ProviderName::Kling, &mock);
    let j = job();
    assert_eq!(
        p.find(&j, &Default::default()).unwrap(),
        Reconciled::NotFound
    );
    let id = p.create(&j).unwrap();
    assert_eq!(
        p.find(&j, &Default::default()).unwrap(),
        Reconciled::Found(id.clone()),
        "found by external_task_id"
    );
    let body = mock
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.body.contains("model_name"))
        .unwrap()
        .json();
    assert_eq!(body["model_name"], "kling-v3");
    assert_eq!(body["mode"], "std");
    assert_eq!(body["keep_original_sound"], "yes");
    assert_eq!(body["external_task_id"], "kp-test");
    // A second create with the same external id is refused by Kling, never billed twice.
    assert!(matches!(p.create(&j), Err(SubmitError::Rejected(m)) if m.contains("already exists")));
    assert_eq!(
        poll_to_end(p.as_ref(), &j, &id),
        TaskState::Failed {
            reason: "motion too fast".into()
        }
    );
    for r in mock.requests() {
        assert!(
            !format!("{r:?}").contains(KLING_SK),
            "the secret key never travels"
        );
    }
}

#[test]
fn kling_depleted_resource_pack_is_not_retried() {
    let m = Mock::start(|_, _| {
        Reply::Json(
            429,
            serde_json::json!({"code": 1102, "message": "resource pack exhausted"}),
        )
    });
    let p = client(ProviderName::Kling, &m);
    match p.create(&job()) {
        Err(SubmitError::Rejected(msg)) => {
            assert!(msg.contains("1102") && msg.contains("buy credits"), "{msg}")
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(m.count("POST", ""), 1, "429 with code 1102 is not retried");
}

#[test]
fn gptproto_contract_and_unreconcilable_crash() {
    let (mock, _) = gptproto(Faults {
        create: vec![(429, Some("0"))],
        polls_before_done: 1,
        ..Faults::default()
    });
    let p = client(ProviderName::Gptproto, &mock);
    let id = p.create(&job()).unwrap();
    assert!(matches!(
        poll_to_end(p.as_ref(), &job(), &id),
        TaskState::Succeeded { .. }
    ));
    let create = mock
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/motion-control"))
        .unwrap();
    assert_eq!(create.path, "/api/v3/kwaivgi/kling-v3.0-std/motion-control");
    assert_eq!(
        create.header("authorization"),
        Some(GPTPROTO_KEY),
        "no Bearer prefix"
    );
    assert!(matches!(
        p.find(&job(), &Default::default()).unwrap(),
        Reconciled::Unknown(_)
    ));
}

#[test]
fn downloads_are_atomic_size_checked_and_survive_slow_and_cut_transfers() {
    let (mock, _) = freepik(Faults {
        truncate_first_download: true,
        slow_download: true,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let http = Http::new(policy());
    let url = format!("{}/files/out.mp4", mock.base);
    let (path, n) = download::download(&http, &url, dir.path(), "a__b-1234.mp4", 4.0).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        output_bytes(),
        "intact after a cut and a slow transfer"
    );
    assert_eq!(n as usize, output_bytes().len());
    assert_eq!(mock.count("GET", "/files/out.mp4"), 2);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp file left: {leftovers:?}");
    // A 404 is permanent and leaves nothing behind.
    let e = download::download(
        &http,
        &format!("{}/files/gone.mp4", mock.base),
        dir.path(),
        "x.mp4",
        4.0,
    )
    .unwrap_err();
    assert!(e.to_string().contains("HTTP 404"), "{e}");
    assert!(!dir.path().join("x.mp4").exists());
}

#[test]
fn kling_rate_limit_burst_1302_with_retry_after_is_retried() {
    let (mock, _) = kling(Faults::default());
    let mut left = 3;
    let base = mock.base.clone();
    // A front that answers the first creates with 429/1302 and passes the rest to the fake.
    let front = Mock::start(move |req, _| {
        if req.method == "POST" && left > 0 {
            left -= 1;
            return Reply::Raw(
                429,
                vec![("Retry-After".into(), "0".into())],
                br#"{"code":1302,"message":"rate limit"}"#.to_vec(),
            );
        }
        let url = format!("{base}{}", req.path);
        let mut r = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
            .post(&url)
            .header("authorization", req.header("authorization").unwrap_or(""))
            .header("content-type", "application/json")
            .send(req.body.as_bytes())
            .unwrap();
        Reply::Raw(
            r.status().as_u16(),
            vec![],
            r.body_mut().read_to_vec().unwrap(),
        )
    });
    let p = client(ProviderName::Kling, &front);
    let id = p.create(&job()).unwrap();
    assert_eq!(id, "kl-task-1");
    assert_eq!(
        front.count("POST", "motion-control"),
        4,
        "three 429s, then the create"
    );
    assert_eq!(mock.count("POST", "motion-control"), 1);
}

#[test]
fn api_redirects_are_not_followed_with_the_key_but_downloads_are() {
    let (target, _) = freepik(Faults::default());
    let to = target.base.clone();
    let redirector = Mock::start(move |req, _| {
        Reply::Raw(
            302,
            vec![("Location".into(), format!("{to}{}", req.path))],
            Vec::new(),
        )
    });
    let p = client(ProviderName::Freepik, &redirector);
    match p.create(&job()) {
        Err(SubmitError::Rejected(m)) => {
            assert!(m.contains("302") && m.contains("redirect"), "{m}")
        }
        r => panic!("{r:?}"),
    }
    assert!(
        target.requests().is_empty(),
        "the key never reached the redirect target"
    );
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/files/out.mp4", redirector.base);
    let (path, _) =
        download::download(&Http::new(policy()), &url, dir.path(), "o.mp4", 4.0).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), output_bytes());
}
