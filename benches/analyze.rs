//! Bench/driver binary for `analyze_video`: analyses each file given on the command line and prints
//! one JSON line per file (cuts, spans, wall time), so `scripts/bench-analysis.sh` can time the
//! analysis on its own and compare it with ffmpeg and PySceneDetect.
//!
//! Usage: `cargo bench --bench analyze -- [--frames] [--full] FILE...` (`--frames` adds per-frame
//! signals, `--full` decodes every frame instead of reference frames plus the stretches around
//! hard cuts).

use std::path::Path;
use std::time::Instant;

use kling_preflight::analyze::{AnalyzeOptions, analyze_video_detailed};

fn main() {
    let mut frames = false;
    let mut files = Vec::new();
    let mut opts = AnalyzeOptions::default();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--frames" => frames = true,
            "--full" => opts.skip_nonref = false,
            "--bench" => {}
            _ => files.push(a),
        }
    }
    for f in files {
        let t0 = Instant::now();
        let r = analyze_video_detailed(Path::new(&f), &opts);
        let wall = t0.elapsed().as_secs_f64();
        let v = match r {
            Ok(d) => {
                let mut v = serde_json::json!({
                    "path": f, "wall_s": wall, "analysis": d.analysis,
                    "width": d.width, "height": d.height, "fps": d.fps,
                    "decode_errors": d.decode_errors, "blank_runs": d.blank_runs,
                    "frames_skipped": d.frames_skipped,
                });
                if frames {
                    v["frames"] = serde_json::to_value(&d.frames).unwrap_or_default();
                }
                v
            }
            Err(e) => serde_json::json!({"path": f, "wall_s": wall, "error": e.to_string()}),
        };
        println!("{v}");
    }
}
