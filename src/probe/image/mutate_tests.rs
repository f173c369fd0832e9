//! Deterministic mutation fuzzing of every parser, run by `cargo test` in a few seconds.
//!
//! cargo-fuzz needs nightly and a long run; this catches the common panics (bad slicing, overflow,
//! runaway loops) on every test run: a seeded xorshift mutates synthesized headers of every format
//! and, when present, the real corpus files (byte flips, truncations, planted lengths, deleted and
//! duplicated ranges), and each mutant is probed as its sniffed format and as a random one. It
//! asserts only that the prober returns, quickly.

use std::time::{Duration, Instant};

use super::{gif, isobmff, jpeg, png, probe_image_bytes, tiff, webp};
use crate::model::ImageFormat;
use crate::sniff::{Sniffed, sniff};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut icc_body = b"ICC_PROFILE\0\x01\x01".to_vec();
    icc_body.extend(super::icc::tests::profile("Display P3", true));
    let mut icc_seg = vec![0xFF, 0xE2];
    icc_seg.extend_from_slice(&((icc_body.len() + 2) as u16).to_be_bytes());
    icc_seg.extend(icc_body);
    let mut actl = 5u32.to_be_bytes().to_vec();
    actl.extend_from_slice(&[0; 4]);
    let mut v = vec![
        jpeg::tests::jpeg(
            0xC2,
            640,
            480,
            3,
            &[jpeg::tests::app1_exif(6, true), icc_seg],
        ),
        jpeg::tests::jpeg(0xC9, 30, 20, 4, &[]),
        png::tests::png(
            300,
            200,
            16,
            6,
            &[
                png::tests::chunk(b"acTL", &actl),
                png::tests::chunk(b"iCCP", b"P3\0\0x"),
                png::tests::chunk(b"eXIf", &tiff::tests::exif_block(true, 8, true)),
            ],
        ),
        gif::tests::gif(20, 10, 3, true),
        webp::tests::simple_webp(),
        isobmff::tests::heif(b"heic", 4032, 3024, Some(1), true),
        tiff::tests::tiff_file(),
        bmp_seed(),
    ];
    if let Some(dir) = corpus_dir() {
        for sub in ["people", "formats", "corrupt"] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                // Small files only: mutating a 1.7 MB photo exercises nothing the headers do not.
                if std::fs::metadata(&p).is_ok_and(|m| m.len() <= 300_000)
                    && let Ok(b) = std::fs::read(&p)
                {
                    v.push(b);
                }
            }
        }
    }
    v
}

fn bmp_seed() -> Vec<u8> {
    let mut b = b"BM".to_vec();
    b.extend_from_slice(&(14u32 + 40 + 48).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&54u32.to_le_bytes());
    let mut d = vec![0u8; 40];
    d[0] = 40;
    d[4] = 4;
    d[8] = 4;
    d[12] = 1;
    d[14] = 24;
    b.extend(d);
    b.extend(vec![0u8; 48]);
    b
}

fn corpus_dir() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from("/work/shared/corpus/images");
    dir.is_dir().then_some(dir)
}

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let len = m.len();
        match rng.below(6) {
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(m.len());
                    if let Some(b) = m.get_mut(i) {
                        *b = rng.next() as u8;
                    }
                }
            }
            1 => m.truncate(rng.below(len + 1)),
            2 => {
                // Plant a length: huge, zero, or off by a little; 2 or 4 bytes, either byte order.
                let value: u32 = match rng.below(5) {
                    0 => u32::MAX,
                    1 => 0x7FFF_FFFF,
                    2 => 0,
                    3 => rng.next() as u32 & 0xFFFF,
                    _ => (len as u32)
                        .wrapping_add(rng.below(16) as u32)
                        .wrapping_sub(8),
                };
                let bytes = match rng.below(3) {
                    0 => value.to_be_bytes().to_vec(),
                    1 => value.to_le_bytes().to_vec(),
                    _ => (value as u16).to_be_bytes().to_vec(),
                };
                let i = rng.below(len.saturating_sub(bytes.len()) + 1);
                for (k, b) in bytes.into_iter().enumerate() {
                    if let Some(x) = m.get_mut(i + k) {
                        *x = b;
                    }
                }
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                m.drain(a..b);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                let dup = m[a..b].to_vec();
                let at = rng.below(len);
                m.splice(at..at, dup);
            }
            _ => m.extend((0..rng.below(32)).map(|_| rng.next() as u8)),
        }
    }
    m
}

#[test]
fn mutated_inputs_never_panic_or_hang() {
    let seeds = seeds();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let per_seed = (3000 / seeds.len()).max(40);
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut runs = 0;
    for seed in &seeds {
        for _ in 0..per_seed {
            let m = mutate(&mut rng, seed);
            let formats = [
                match sniff(&m) {
                    Sniffed::Image(f) => f,
                    _ => ImageFormat::Jpeg,
                },
                ImageFormat::ALL[rng.below(ImageFormat::ALL.len())],
            ];
            for f in formats {
                let t = Instant::now();
                let _ = probe_image_bytes(&m, f);
                slowest = slowest.max(t.elapsed());
                runs += 1;
            }
        }
    }
    eprintln!(
        "{runs} probes of mutants of {} seeds in {:?}, slowest {slowest:?}",
        seeds.len(),
        start.elapsed()
    );
    assert!(
        slowest < Duration::from_millis(500),
        "a probe took {slowest:?}"
    );
}
