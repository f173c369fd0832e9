//! Debug helper: prints the probe facts of every corpus video as JSON (`cargo test --test probe_video_dump -- --ignored --nocapture`).

use std::path::Path;

#[test]
#[ignore]
fn dump_corpus() {
    for dir in ["/work/shared/corpus/videos", "/work/shared/corpus/audio"] {
        for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let e = e.unwrap();
            if !e.file_type().is_file() {
                continue;
            }
            let p = e.path();
            let bytes = std::fs::metadata(p).unwrap().len();
            let t = std::time::Instant::now();
            let r = kling_preflight::probe::probe_video(Path::new(p), bytes);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            match r {
                Ok(f) => println!(
                    "{} ({ms:.2} ms)\n  {}",
                    p.display(),
                    serde_json::to_string(&f).unwrap()
                ),
                Err(e) => println!("{} ({ms:.2} ms)\n  ERR {e}", p.display()),
            }
        }
    }
}
