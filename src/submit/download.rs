//! Results to disk: each output is streamed into a temp file inside `--out-dir`, its size checked
//! against `Content-Length`, fsynced, then renamed into place, so a crash or a cut connection never
//! leaves a half video under the final name. Transient failures are retried like API calls.
//!
//! A paid result is only "downloaded" once it is known to be the complete video: a reply that
//! declares itself text (an expired signed URL answering 200 with an HTML page) is refused before a
//! byte is kept, and the temp file must pass the tool's own probe — a video stream, a duration
//! within tolerance of the reference's, and packets that reach that duration (a body cut short
//! without a Content-Length loses its tail or its index). Anything else leaves the task `completed`
//! in the ledger, so the next run fetches it again instead of creating a new task.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

use super::http::Http;

/// The output name for a pair: `<image stem>__<video stem>-<key prefix>.mp4` (the key keeps two
/// parameter sets of one pair apart).
pub fn output_name(image: &Path, video: &Path, key: &str, index: usize) -> String {
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "asset".into())
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    let short = key
        .trim_start_matches("kp-")
        .chars()
        .take(8)
        .collect::<String>();
    let n = if index > 0 {
        format!("-{}", index + 1)
    } else {
        String::new()
    };
    format!("{}__{}-{short}{n}.mp4", stem(image), stem(video))
}

/// Download `url` to `dir/name` atomically; returns the final path and its size. `expect_s` is the
/// output's expected duration (the reference video's).
pub fn download(
    http: &Http,
    url: &str,
    dir: &Path,
    name: &str,
    expect_s: f64,
) -> Result<(PathBuf, u64)> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow!("{}: cannot create the output folder: {e}", dir.display()))?;
    let policy = http.policy;
    let mut attempt = 1;
    loop {
        match once(http, url, dir, name, expect_s) {
            Ok(r) => return Ok(r),
            Err(Failure::Permanent(e)) => bail!("{e}"),
            Err(Failure::Transient(e)) if attempt >= policy.max_attempts => {
                bail!(
                    "{e} (gave up after {attempt} attempts; re-run to resume: the task is done and recorded)"
                )
            }
            Err(Failure::Transient(e)) => {
                let wait = policy.backoff(attempt);
                if http.verbose {
                    eprintln!(
                        "kling-preflight: download {name}: {e}; retrying in {:.2} s",
                        wait.as_secs_f64()
                    );
                }
                std::thread::sleep(wait);
                attempt += 1;
            }
        }
    }
}

enum Failure {
    Transient(String),
    Permanent(String),
}

fn once(
    http: &Http,
    url: &str,
    dir: &Path,
    name: &str,
    expect_s: f64,
) -> Result<(PathBuf, u64), Failure> {
    let (status, len, ctype, mut body) = http.get_stream(url).map_err(Failure::Transient)?;
    if status == 429 || status >= 500 {
        return Err(Failure::Transient(format!("HTTP {status}")));
    }
    if !(200..300).contains(&status) {
        return Err(Failure::Permanent(format!(
            "download of {name}: HTTP {status} (the provider's result URL may have expired; Kling keeps them 30 days)"
        )));
    }
    if let Some(t) = ctype.as_deref().filter(|t| !video_type(t)) {
        return Err(Failure::Permanent(format!(
            "download of {name}: the server answered 200 with Content-Type {t}, not a video (an error page; the result URL may have expired)"
        )));
    }
    let tmp = dir.join(format!(".{name}.part-{}", std::process::id()));
    let result = (|| -> Result<u64, Failure> {
        let mut f = std::fs::File::create(&tmp)
            .map_err(|e| Failure::Permanent(format!("{}: cannot write: {e}", tmp.display())))?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = body.read(&mut buf).map_err(|e| {
                Failure::Transient(format!("connection lost after {total} bytes: {e}"))
            })?;
            if n == 0 {
                break;
            }
            f.write_all(&buf[..n])
                .map_err(|e| Failure::Permanent(format!("{}: cannot write: {e}", tmp.display())))?;
            total += n as u64;
        }
        if let Some(want) = len.filter(|w| *w != total) {
            return Err(Failure::Transient(format!(
                "got {total} bytes, Content-Length said {want}"
            )));
        }
        if total == 0 {
            return Err(Failure::Transient("empty body".into()));
        }
        f.sync_all()
            .map_err(|e| Failure::Permanent(format!("{}: cannot fsync: {e}", tmp.display())))?;
        check_video(&tmp, total, expect_s)
            .map_err(|e| Failure::Transient(format!("download of {name}: {e}")))?;
        Ok(total)
    })();
    match result {
        Ok(total) => {
            let dest = dir.join(name);
            std::fs::rename(&tmp, &dest).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Failure::Permanent(format!("{}: cannot rename into place: {e}", dest.display()))
            })?;
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok((dest, total))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Content types a video may come with (CDNs often send a generic binary type).
fn video_type(t: &str) -> bool {
    let t = t
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    t.is_empty()
        || t.starts_with("video/")
        || matches!(
            t.as_str(),
            "application/octet-stream" | "binary/octet-stream" | "application/mp4"
        )
}

/// Tolerance on the output's duration: providers may shorten the output (fast motion), never
/// lengthen it much.
fn duration_ok(got: f64, expect: f64) -> bool {
    let low = (expect.min(3.0) * 0.5).max(0.5);
    let high = expect * 1.1 + 1.0;
    got.is_finite() && got >= low && got <= high
}

/// The file is a complete video: it probes, has a video stream and a plausible duration, and its
/// packets reach that duration.
fn check_video(path: &Path, bytes: u64, expect_s: f64) -> Result<(), String> {
    let facts = crate::probe::probe_video(path, bytes)
        .map_err(|e| format!("not a readable video ({e})"))?;
    if facts.video.is_none() {
        return Err("the file has no video stream".into());
    }
    let Some(d) = facts.duration_s else {
        return Err("the video has no duration".into());
    };
    if !duration_ok(d, expect_s) {
        return Err(format!(
            "the video lasts {d:.2} s, the reference {expect_s:.2} s: not the expected output"
        ));
    }
    let end = packets_end(path)?;
    if end + (d * 0.05).max(0.5) < d {
        return Err(format!(
            "the video's data ends at {end:.2} s of {d:.2} s (cut short)"
        ));
    }
    Ok(())
}

/// Where the video stream's packets end, in seconds (demuxing only, no decoding).
fn packets_end(path: &Path) -> Result<f64, String> {
    use ffmpeg_next as ff;
    crate::probe::video::ensure_ffmpeg();
    let mut ictx = crate::open::av_input(path).map_err(|e| format!("cannot demux ({e})"))?;
    let index = ictx
        .streams()
        .best(ff::media::Type::Video)
        .map(|s| s.index())
        .ok_or("no video stream")?;
    let tb = f64::from(
        ictx.stream(index)
            .map(|s| s.time_base())
            .ok_or("no video stream")?,
    );
    let start = ictx
        .stream(index)
        .map(|s| s.start_time())
        .filter(|t| *t != ff::ffi::AV_NOPTS_VALUE)
        .unwrap_or(0);
    let mut end = 0i64;
    for (st, p) in ictx.packets() {
        if st.index() != index || p.size() == 0 {
            continue;
        }
        if let Some(t) = p.pts().or(p.dts()) {
            end = end.max(t - start + p.duration().max(0));
        }
    }
    Ok(end as f64 * tb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_and_duration_tolerance() {
        assert!(video_type("video/mp4") && video_type("application/octet-stream"));
        assert!(video_type("") && video_type("Video/QuickTime; x=1"));
        assert!(!video_type("text/html; charset=utf-8") && !video_type("application/json"));
        assert!(duration_ok(4.0, 4.0) && duration_ok(3.0, 4.0) && duration_ok(5.2, 4.0));
        assert!(!duration_ok(0.2, 4.0) && !duration_ok(9.0, 4.0) && !duration_ok(f64::NAN, 4.0));
    }

    #[test]
    fn names_follow_the_pair() {
        let n = output_name(
            Path::new("a/hero one.jpg"),
            Path::new("b/dance.mov"),
            "kp-0123456789abcdef",
            0,
        );
        assert_eq!(n, "hero_one__dance-01234567.mp4");
        let n = output_name(Path::new("h.png"), Path::new("d.mp4"), "kp-ffffffff00", 1);
        assert_eq!(n, "h__d-ffffffff-2.mp4");
    }
}
