//! Results to disk: each output is streamed into a temp file inside `--out-dir`, its size checked
//! against `Content-Length`, fsynced, then renamed into place, so a crash or a cut connection never
//! leaves a half video under the final name. Transient failures are retried like API calls.

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

/// Download `url` to `dir/name` atomically; returns the final path and its size.
pub fn download(http: &Http, url: &str, dir: &Path, name: &str) -> Result<(PathBuf, u64)> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow!("{}: cannot create the output folder: {e}", dir.display()))?;
    let policy = http.policy;
    let mut attempt = 1;
    loop {
        match once(http, url, dir, name) {
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

fn once(http: &Http, url: &str, dir: &Path, name: &str) -> Result<(PathBuf, u64), Failure> {
    let (status, len, mut body) = http.get_stream(url).map_err(Failure::Transient)?;
    if status == 429 || status >= 500 {
        return Err(Failure::Transient(format!("HTTP {status}")));
    }
    if !(200..300).contains(&status) {
        return Err(Failure::Permanent(format!(
            "download of {name}: HTTP {status} (the provider's result URL may have expired; Kling keeps them 30 days)"
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

#[cfg(test)]
mod tests {
    use super::*;

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
