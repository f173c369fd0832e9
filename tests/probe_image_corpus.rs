//! The image prober against the shared real-world corpus: every fact MANIFEST.md states about the
//! files in `images/` (sizes, alpha, depth, CMYK, frames, EXIF orientation, arithmetic coding, and
//! the corrupt files refused as unreadable). The corpus is read in place, never copied; when it is
//! absent (a fresh clone elsewhere) the test says so and passes.

use std::path::{Path, PathBuf};

use kling_preflight::ImageFormat;
use kling_preflight::probe::ProbeError;
use kling_preflight::probe::image::probe_image;
use kling_preflight::sniff::{Sniffed, sniff_path};

const CORPUS: &str = "/work/shared/corpus/images";

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("KLING_CORPUS_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| CORPUS.into());
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("image corpus {} not found: skipping", dir.display());
        None
    }
}

fn probe(path: &Path) -> Result<kling_preflight::ImageFacts, ProbeError> {
    let format = match sniff_path(path).expect("readable") {
        Sniffed::Image(f) => f,
        other => panic!("{}: sniffed as {other:?}", path.display()),
    };
    let bytes = std::fs::metadata(path).unwrap().len();
    probe_image(path, format, bytes)
}

/// (file, format, width, height, check)
type Check = fn(&kling_preflight::ImageFacts);

#[test]
fn corpus_facts_match_the_manifest() {
    let Some(dir) = corpus() else { return };
    let cases: &[(&str, ImageFormat, u32, u32, Check)] = &[
        (
            "people/skimage_astronaut.png",
            ImageFormat::Png,
            512,
            512,
            |f| {
                assert!(!f.has_alpha);
                assert_eq!((f.color_model.as_str(), f.bit_depth), ("rgb", 8));
            },
        ),
        (
            "people/mpl_grace_hopper.jpg",
            ImageFormat::Jpeg,
            512,
            600,
            |f| {
                assert_eq!(f.jpeg_coding.as_deref(), Some("baseline"));
            },
        ),
        (
            "people/pillow_hopper_128.jpg",
            ImageFormat::Jpeg,
            128,
            128,
            |_| {},
        ),
        (
            "people/pillow_hopper_orientation_6.jpg",
            ImageFormat::Jpeg,
            128,
            128,
            |f| {
                assert_eq!(f.exif_orientation, Some(6));
                assert!(f.has_exif);
            },
        ),
        (
            "people/immich_portrait-orientation-6.jpg",
            ImageFormat::Jpeg,
            700,
            840,
            |f| {
                assert_eq!(f.exif_orientation, Some(6));
                assert_eq!(f.color_model, "gray");
                assert_eq!(f.display_size(), (840, 700));
            },
        ),
        (
            "people/immich_craft-beer_6000x4000.jpg",
            ImageFormat::Jpeg,
            6000,
            4000,
            |f| {
                assert_eq!(f.jpeg_coding.as_deref(), Some("progressive"));
            },
        ),
        (
            "people/lp_s9_mona_lisa.jpg",
            ImageFormat::Jpeg,
            720,
            1280,
            |f| {
                assert_eq!(f.exif_orientation, Some(1));
            },
        ),
        (
            "people/lp_s7_cartoon_boy.jpg",
            ImageFormat::Jpeg,
            852,
            852,
            |_| {},
        ),
        (
            "people/lp_s36_alpaca_wide.jpg",
            ImageFormat::Jpeg,
            1030,
            438,
            |_| {},
        ),
        (
            "people/lp_s30_png_named_jpg.jpg",
            ImageFormat::Png,
            256,
            256,
            |f| assert!(!f.has_alpha),
        ),
        (
            "people/mimicmotion_demo1_fullbody.jpg",
            ImageFormat::Jpeg,
            1080,
            1920,
            |f| {
                assert_eq!(f.jpeg_coding.as_deref(), Some("baseline"));
            },
        ),
        (
            "people/musepose_ref_jpeg_named_png.png",
            ImageFormat::Jpeg,
            704,
            1216,
            |_| {},
        ),
        (
            "people/wesnoth_konrad_rgba.png",
            ImageFormat::Png,
            400,
            400,
            |f| {
                assert!(f.has_alpha);
                assert_eq!(f.color_model, "rgba");
            },
        ),
        (
            "formats/pillow_pil_sample_cmyk.jpg",
            ImageFormat::Jpeg,
            100,
            100,
            |f| {
                // Four components with Adobe transform 2: CMYK stored as YCCK.
                assert_eq!(f.color_model, "ycck");
                assert_eq!(f.exif_orientation, Some(1));
            },
        ),
        (
            "formats/pillow_transparent.png",
            ImageFormat::Png,
            200,
            150,
            |f| {
                assert!(f.has_alpha);
                assert_eq!(f.color_model, "rgba");
            },
        ),
        (
            "formats/pillow_transparent.webp",
            ImageFormat::Webp,
            200,
            150,
            |f| assert!(f.has_alpha),
        ),
        (
            "formats/pillow_hopper.webp",
            ImageFormat::Webp,
            128,
            128,
            |f| {
                assert!(!f.has_alpha && !f.animated);
            },
        ),
        (
            "formats/pillow_iss634_animated.webp",
            ImageFormat::Webp,
            245,
            245,
            |f| {
                assert!(f.animated);
                assert_eq!(f.frames, Some(42));
            },
        ),
        (
            "formats/pillow_iss634_animated.gif",
            ImageFormat::Gif,
            245,
            245,
            |f| {
                assert!(f.animated);
                assert!(
                    !f.has_alpha,
                    "later frames' transparency composites deltas; the first frame is opaque"
                );
                assert_eq!(f.frames, Some(42));
            },
        ),
        (
            "formats/pillow_apng_mode_16bit.png",
            ImageFormat::Png,
            128,
            64,
            |f| {
                assert_eq!(f.bit_depth, 16);
                assert!(f.has_alpha && f.animated);
                assert!(f.frames.unwrap() > 1);
            },
        ),
        (
            "formats/ljt_monkey16.png",
            ImageFormat::Png,
            149,
            227,
            |f| {
                assert_eq!(f.bit_depth, 16);
                assert!(!f.has_alpha);
                // PNG stores the profile's name uncompressed in iCCP; this one says "ICCProfile".
                assert!(f.icc_profile.is_some());
            },
        ),
        (
            "formats/ljt_testimgari.jpg",
            ImageFormat::Jpeg,
            227,
            149,
            |f| {
                assert_eq!(f.jpeg_coding.as_deref(), Some("arithmetic"));
            },
        ),
        (
            "formats/skimage_no_time_for_that_tiny.gif",
            ImageFormat::Gif,
            14,
            25,
            |f| {
                assert!(f.animated);
                assert_eq!(f.frames, Some(24));
            },
        ),
        (
            "formats/pillow_tRNS_null_1x1.png",
            ImageFormat::Png,
            1,
            1,
            |f| {
                assert!(f.has_alpha);
                assert_eq!(f.color_model, "indexed");
            },
        ),
        (
            "formats/pillow_orientation_rectangle_2x1.jpg",
            ImageFormat::Jpeg,
            2,
            1,
            |f| {
                assert_eq!(f.exif_orientation, Some(8));
                assert_eq!(f.display_size(), (1, 2));
            },
        ),
    ];
    let mut failures = Vec::new();
    for (rel, format, w, h, check) in cases {
        let path = dir.join(rel);
        let result = std::panic::catch_unwind(|| {
            let f = probe(&path).unwrap_or_else(|e| panic!("unreadable: {e}"));
            eprintln!("{rel}: {f:?}");
            assert_eq!(f.format, *format);
            assert_eq!((f.width, f.height), (*w, *h));
            check(&f);
        });
        if result.is_err() {
            failures.push(*rel);
        }
    }
    assert!(
        failures.is_empty(),
        "facts differ from MANIFEST.md for {failures:?}"
    );
}

#[test]
fn corrupt_corpus_files_are_unreadable() {
    let Some(dir) = corpus() else { return };
    let cases = [
        (
            "corrupt/pillow_truncated_jpeg.jpg",
            "truncated JPEG: no end-of-image marker (file ends after 6698 bytes)",
        ),
        ("corrupt/pillow_truncated_image.png", "truncated PNG"),
        ("corrupt/pillow_broken.png", "PNG"),
        (
            "corrupt/pillow_zero_width.gif",
            "GIF declares a 0 x 32 image",
        ),
        (
            "corrupt/pillow_decompression_bomb.gif",
            "decompression bomb",
        ),
    ];
    for (rel, expected) in cases {
        match probe(&dir.join(rel)) {
            Err(ProbeError::Unreadable(msg)) => {
                eprintln!("{rel}: {msg}");
                assert!(msg.contains(expected), "{rel}: {msg:?} lacks {expected:?}");
            }
            other => panic!("{rel}: expected Unreadable, got {other:?}"),
        }
    }
}

#[test]
fn every_corpus_image_probes_without_panic() {
    let Some(dir) = corpus() else { return };
    let mut n = 0;
    for sub in ["people", "formats", "corrupt"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(Sniffed::Image(format)) = sniff_path(&e.path()) {
                let bytes = e.metadata().unwrap().len();
                let _ = probe_image(&e.path(), format, bytes);
                n += 1;
            }
        }
    }
    assert!(n >= 25, "only {n} images found");
}
