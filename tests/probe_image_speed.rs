//! Throughput of the image header prober on generated JPEGs and PNGs (ignored by default: it is a
//! measurement, not a check). Run with
//! `cargo test --release --test probe_image_speed -- --ignored --nocapture`.

use std::time::Instant;

use image::{ImageBuffer, Rgb};
use kling_preflight::probe::image::probe_image;
use kling_preflight::sniff::{Sniffed, sniff_path};
use rayon::prelude::*;

#[test]
#[ignore = "measurement; run explicitly"]
fn probe_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    // 10 distinct JPEGs and 10 PNGs (photo-like noise, 1200x900 and 800x600), 50 copies of each:
    // 1,000 files whose headers are real encoder output.
    for k in 0..10u32 {
        let img = ImageBuffer::from_fn(1200, 900, |x, y| {
            let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ k)
                .wrapping_mul(2_246_822_519);
            Rgb([
                (x / 5) as u8 ^ (n >> 28) as u8,
                (y / 4) as u8,
                (n >> 24) as u8 / 4 + k as u8,
            ])
        });
        let jpg = dir.path().join(format!("base{k}.jpg"));
        img.save(&jpg).unwrap();
        let small = image::imageops::thumbnail(&img, 800, 600);
        let png = dir.path().join(format!("base{k}.png"));
        small.save(&png).unwrap();
        for (base, ext) in [(&jpg, "jpg"), (&png, "png")] {
            let bytes = std::fs::read(base).unwrap();
            for c in 0..50 {
                let p = dir.path().join(format!("img{k}_{c}.{ext}"));
                std::fs::write(&p, &bytes).unwrap();
                paths.push(p);
            }
        }
    }
    let total_bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let probe = |p: &std::path::PathBuf| {
        let Ok(Sniffed::Image(f)) = sniff_path(p) else {
            panic!("not an image")
        };
        let bytes = std::fs::metadata(p).unwrap().len();
        probe_image(p, f, bytes).unwrap()
    };
    // Warm the page cache, then measure sniff + stat + probe per file, as the engine does.
    paths.iter().for_each(|p| {
        probe(p);
    });
    for ext in ["jpg", "png"] {
        let some: Vec<_> = paths
            .iter()
            .filter(|p| p.extension().unwrap() == ext)
            .collect();
        let t = Instant::now();
        some.iter().for_each(|p| {
            probe(p);
        });
        eprintln!(
            "{ext}: {:.1} µs/file (1 thread)",
            t.elapsed().as_secs_f64() * 1e6 / some.len() as f64
        );
    }
    for round in 0..3 {
        let t = Instant::now();
        paths.iter().for_each(|p| {
            probe(p);
        });
        let one = t.elapsed();
        let t = Instant::now();
        paths.par_iter().for_each(|p| {
            probe(p);
        });
        let par = t.elapsed();
        eprintln!(
            "round {round}: {} files ({} MB): 1 thread {:.0} files/s ({:.1} µs/file), rayon {:.0} files/s",
            paths.len(),
            total_bytes / 1_000_000,
            paths.len() as f64 / one.as_secs_f64(),
            one.as_secs_f64() * 1e6 / paths.len() as f64,
            paths.len() as f64 / par.as_secs_f64(),
        );
    }
}

#[test]
#[ignore = "measurement; run explicitly"]
fn probe_one_file_repeatedly() {
    let p =
        std::path::Path::new("/work/shared/corpus/images/people/immich_craft-beer_6000x4000.jpg");
    if !p.exists() {
        return;
    }
    let bytes = std::fs::metadata(p).unwrap().len();
    let data = std::fs::read(p).unwrap();
    let t = Instant::now();
    for _ in 0..1000 {
        probe_image(p, kling_preflight::ImageFormat::Jpeg, bytes).unwrap();
    }
    eprintln!("file: {:.1} µs/probe", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    for _ in 0..1000 {
        kling_preflight::probe::image::probe_image_bytes(&data, kling_preflight::ImageFormat::Jpeg)
            .unwrap();
    }
    eprintln!("memory: {:.1} µs/probe", t.elapsed().as_secs_f64() * 1e3);
}
