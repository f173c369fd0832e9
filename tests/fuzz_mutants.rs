//! The fuzz targets' entry points (`fuzz/`: video probe, whole check path) run deterministically in
//! `make test`: small generated media of every kind the gate reads, mutated many times each (bit
//! flips, byte runs overwritten, truncation, duplicated and deleted spans, planted lengths), all
//! judged by one `check` run with analysis and one without. Every mutant must get a verdict in the
//! report: no crash, no hang, no file dropped. `KLING_PREFLIGHT_MUTANTS=N` sets mutants per seed.

mod common;

use std::path::Path;

use common::*;

/// xorshift64*: the same mutants on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = m.len();
        if len == 0 {
            break;
        }
        match rng.below(6) {
            0 => {
                let i = rng.below(len);
                m[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len);
                let n = (1 + rng.below(64)).min(len - i);
                let v = rng.next() as u8;
                m[i..i + n].fill(v);
            }
            2 => m.truncate(rng.below(len + 1)),
            3 => {
                let i = rng.below(len);
                let n = (1 + rng.below(4096)).min(len - i);
                let span = m[i..i + n].to_vec();
                let at = rng.below(len);
                m.splice(at..at, span);
            }
            4 => {
                let i = rng.below(len);
                let n = (1 + rng.below(4096)).min(len - i);
                m.drain(i..i + n);
            }
            _ => {
                // A planted length or size field: 4 bytes of 0xFF or of a huge big-endian number.
                let i = rng.below(len.saturating_sub(4).max(1));
                let v: [u8; 4] = if rng.below(2) == 0 {
                    [0xFF; 4]
                } else {
                    [0x7F, 0xFF, 0xFF, 0xF0]
                };
                let end = (i + 4).min(len);
                m[i..end].copy_from_slice(&v[..end - i]);
            }
        }
    }
    m
}

/// Small seeds of every kind the gate reads (generated; 1 s clips at 160x120).
fn seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let clip = |name: &str, extra: &[&str]| {
        let p = dir.join(name);
        let mut a = vec!["-f", "lavfi", "-i", "testsrc2=s=160x120:r=15:d=1"];
        a.extend_from_slice(extra);
        a.push(p.to_str().unwrap());
        ffmpeg(&a);
        (name.to_string(), std::fs::read(&p).unwrap())
    };
    let mut s = vec![
        clip(
            "seed.mp4",
            &["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2"],
        ),
        clip(
            "seed.webm",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
            ],
        ),
        clip("seed.mkv", &["-c:v", "libx264", "-preset", "ultrafast"]),
        clip("seed.ts", &["-c:v", "mpeg2video"]),
    ];
    let img = image::RgbImage::from_fn(96, 96, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 2) as u8, (x ^ y) as u8])
    });
    for (name, fmt) in [
        ("seed.png", image::ImageFormat::Png),
        ("seed.jpg", image::ImageFormat::Jpeg),
        ("seed.webp", image::ImageFormat::WebP),
        ("seed.gif", image::ImageFormat::Gif),
    ] {
        let mut b = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut b), fmt)
            .unwrap();
        s.push((name.to_string(), b));
    }
    s
}

#[test]
fn mutated_media_always_get_a_verdict() {
    let n: usize = std::env::var("KLING_PREFLIGHT_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mutants");
    std::fs::create_dir(&out).unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut count = 0;
    for (name, bytes) in seeds(dir.path()) {
        for i in 0..n {
            let m = mutate(&bytes, &mut rng);
            std::fs::write(out.join(format!("{i:04}-{name}")), m).unwrap();
            count += 1;
        }
    }
    for extra in [&[][..], &["--no-analyze"][..]] {
        let mut a = vec!["--no-cache", "--isolated", "-j2"];
        a.extend_from_slice(extra);
        // Named one by one: a named file is always judged, whatever its content.
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path().to_str().unwrap().to_string())
            .collect();
        a.extend(names.iter().map(String::as_str));
        let (_, v) = check_json(&out, &a);
        let files = v["files"].as_array().unwrap();
        assert_eq!(files.len(), count, "every mutant is judged ({extra:?})");
        for f in files {
            assert!(f["verdict"].is_string(), "{f}");
        }
    }
}
