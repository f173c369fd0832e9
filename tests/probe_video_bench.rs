//! Throughput check for the video prober (ignored by default; run on purpose):
//! `PROBE_BENCH_DIR=/tmp/vbench cargo test --release --test probe_video_bench -- --ignored --nocapture`
//! probes every file in the directory on a 2-thread rayon pool, like the engine does.

use rayon::prelude::*;
use std::path::PathBuf;

#[test]
#[ignore]
fn probes_per_second() {
    let Some(dir) = std::env::var_os("PROBE_BENCH_DIR") else {
        eprintln!("set PROBE_BENCH_DIR to a directory of videos");
        return;
    };
    let mut files: Vec<(PathBuf, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let n = std::fs::metadata(&p).unwrap().len();
            (p, n)
        })
        .collect();
    files.sort();
    let threads: usize = std::env::var("PROBE_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    kling_preflight::probe::video::ensure_ffmpeg();
    // Per-extension cost, one thread, to see where time goes.
    let mut by_ext: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for (p, n) in &files {
        let t = std::time::Instant::now();
        let _ = kling_preflight::probe::probe_video(p, *n);
        let ext = p
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let e = by_ext.entry(ext).or_default();
        e.0 += t.elapsed().as_secs_f64();
        e.1 += 1;
    }
    for (ext, (secs, n)) in &by_ext {
        println!(
            "{ext}: {n} files, {:.2} ms per probe",
            secs * 1000.0 / *n as f64
        );
    }
    for round in 0..3 {
        let t = std::time::Instant::now();
        let ok = pool.install(|| {
            files
                .par_iter()
                .filter(|(p, n)| kling_preflight::probe::probe_video(p, *n).is_ok())
                .count()
        });
        let s = t.elapsed().as_secs_f64();
        println!(
            "round {round}: {} files ({ok} ok) in {:.3} s on {threads} threads = {:.0} probes/s",
            files.len(),
            s,
            files.len() as f64 / s
        );
    }
}
