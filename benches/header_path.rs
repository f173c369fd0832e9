//! Header-path throughput through the library API (no process start-up): `engine::check_all` with
//! analysis off over 1,000 generated JPEG and PNG files. `cargo bench --bench header_path`.
//! For the comparison with ffprobe and ImageMagick, see `benches/compare.sh` (`make bench`).

use std::collections::BTreeMap;
use std::time::Instant;

use kling_preflight::analyze::AnalyzeOptions;
use kling_preflight::engine::{CheckOptions, check_all, collect};
use kling_preflight::profile::{Orientation, lookup};
use kling_preflight::rules::RuleSettings;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let n: usize = 1000;
    for i in 0..n {
        let (w, h) = (600 + (i % 7) as u32 * 100, 900 + (i % 5) as u32 * 100);
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x as usize + i) as u8, y as u8, (x ^ y) as u8])
        });
        let name = if i % 2 == 0 {
            format!("img_{i:04}.jpg")
        } else {
            format!("img_{i:04}.png")
        };
        img.save(dir.path().join(name)).expect("write image");
    }
    let opts = CheckOptions {
        profile: lookup("strict", &BTreeMap::new()).unwrap(),
        orientation: Orientation::Video,
        rules: RuleSettings::default(),
        analyze: false,
        analyze_opts: AnalyzeOptions::default(),
        // Measures probing itself: a cache would answer from disk after the warm-up.
        cache: None,
        ignore: Default::default(),
    };
    let inputs = collect(&[dir.path().to_path_buf()]).inputs;
    let _ = check_all(&inputs, &opts, None); // warm the page cache
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let r = check_all(&inputs, &opts, None);
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(r.len(), n);
    }
    println!(
        "header path: {n} images in {:.1} ms (best of 5) = {:.0} images/s",
        best * 1e3,
        n as f64 / best
    );
}
