//! Broken files never pass the gate, and memory follows the work, not what a header claims (issue 15).
//! Every input is generated here (bit flips, cuts, huge headers over tiny files); nothing is downloaded.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The F001 message of the single file checked, or None.
fn f001(dir: &Path, args: &[&str]) -> Option<String> {
    let mut a = vec!["--no-cache", "--isolated"];
    a.extend_from_slice(args);
    let (_, v) = check_json(dir, &a);
    let f = &v["files"][0];
    f["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "F001")
        .map(|d| d["message"].as_str().unwrap().to_string())
}

/// A 256x256 picture with detail (so the entropy-coded data is not trivial).
fn picture() -> image::RgbImage {
    image::RgbImage::from_fn(256, 256, |x, y| {
        image::Rgb([(x ^ y) as u8, (x * 3 + y) as u8, (x * y / 7) as u8])
    })
}

/// CRC-32 (PNG's), for a chunk whose data we change on purpose.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Offset and length of the first IDAT chunk's data.
fn idat(png: &[u8]) -> (usize, usize) {
    let at = png.windows(4).position(|w| w == b"IDAT").unwrap();
    let len = u32::from_be_bytes(png[at - 4..at].try_into().unwrap()) as usize;
    (at + 4, len)
}

#[test]
fn bit_flipped_png_idat_is_unreadable() {
    let dir = tmp();
    let mut png = Vec::new();
    picture()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let (start, len) = idat(&png);
    // 1. A flipped bit in the chunk's checksum: the data inflates, the CRC does not match.
    let mut crc_bad = png.clone();
    crc_bad[start + len] ^= 0x10;
    std::fs::write(dir.path().join("crc.png"), &crc_bad).unwrap();
    let m = f001(dir.path(), &["crc.png"]).expect("a bad CRC is F001");
    assert!(
        m.contains("pixels do not decode") && m.contains("CRC"),
        "{m}"
    );
    // 2. Flipped bits in the compressed data, CRC recomputed: zlib fails (invalid distance...).
    let mut zlib_bad = png.clone();
    for i in (start + len / 3..start + len / 2).step_by(97) {
        zlib_bad[i] ^= 0x5A;
    }
    let crc = crc32(&zlib_bad[start - 4..start + len]);
    zlib_bad[start + len..start + len + 4].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(dir.path().join("zlib.png"), &zlib_bad).unwrap();
    let m = f001(dir.path(), &["zlib.png"]).expect("corrupt zlib data is F001");
    assert!(
        m.contains("pixels do not decode") && m.contains("deflate"),
        "{m}"
    );
    // The intact file passes that stage.
    std::fs::write(dir.path().join("ok.png"), &png).unwrap();
    assert_eq!(f001(dir.path(), &["ok.png"]), None);
}

#[test]
fn jpeg_entropy_data_ffmpeg_rejects_is_unreadable() {
    let dir = tmp();
    let mut jpg = Vec::new();
    picture()
        .write_to(
            &mut std::io::Cursor::new(&mut jpg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    std::fs::write(dir.path().join("ok.jpg"), &jpg).unwrap();
    let sos = jpg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    // Flip bytes inside the entropy-coded data (never creating a marker: 0xFF stays out).
    let mut bad = jpg.clone();
    let mut n = 0;
    for i in (sos + 40..bad.len() - 4).step_by(211) {
        if bad[i] != 0xFF && bad[i] ^ 0x55 != 0xFF && bad[i - 1] != 0xFF {
            bad[i] ^= 0x55;
            n += 1;
        }
    }
    assert!(n > 5);
    std::fs::write(dir.path().join("bad.jpg"), &bad).unwrap();
    // Precondition: FFmpeg's decoder, with error detection, rejects it.
    let ff = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-err_detect",
            "explode",
            "-i",
            "bad.jpg",
            "-f",
            "null",
            "-",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        !ff.status.success(),
        "the flipped JPEG should be rejected by FFmpeg"
    );
    let m = f001(dir.path(), &["bad.jpg"]).expect("a JPEG FFmpeg rejects is F001");
    assert!(m.contains("FFmpeg"), "{m}");
    assert_eq!(f001(dir.path(), &["ok.jpg"]), None);
}

#[test]
fn truncated_webm_fails_with_and_without_analysis() {
    let dir = tmp();
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x240:r=25:d=12",
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "300k",
        ]
        .into_iter()
        .chain([dir.path().join("full.webm").to_str().unwrap()])
        .collect::<Vec<_>>(),
    );
    let full = std::fs::read(dir.path().join("full.webm")).unwrap();
    std::fs::write(dir.path().join("cut.webm"), &full[..full.len() * 4 / 10]).unwrap();
    for extra in [&[][..], &["--no-analyze"][..]] {
        let mut a = vec!["-p", "freepik", "cut.webm"];
        a.extend_from_slice(extra);
        let m = f001(dir.path(), &a).expect("a WEBM cut to 40% is F001");
        assert!(m.contains("truncated") && m.contains("(40%)"), "{m}");
        let mut a = vec!["-p", "freepik", "full.webm"];
        a.extend_from_slice(extra);
        assert_eq!(
            f001(dir.path(), &a),
            None,
            "the whole file is not truncated"
        );
    }
}

/// Peak resident memory of the binary running `args` in `dir`, in MB (GNU time).
fn peak_mb(dir: &Path, args: &[&str]) -> (f64, String) {
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("PEAK_KB=%M")
        .arg(env!("CARGO_BIN_EXE_kling-preflight"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("GNU time is installed by `make setup`");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let kb: f64 = err
        .lines()
        .find_map(|l| l.strip_prefix("PEAK_KB="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in {err}"));
    (
        kb / 1024.0,
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn mkv_packet_scan_keeps_no_packets() {
    // A 100 MB Matroska stream without duration or cues (as piped): the probe reads every packet.
    let dir = tmp();
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "ffmpeg -v error -nostdin -f lavfi -i testsrc2=s=640x360:r=30:d=10 -c:v rawvideo \
             -pix_fmt yuv420p -f matroska pipe:1 > m0.mkv",
        )
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(out.success());
    for i in 1..10 {
        std::fs::hard_link(
            dir.path().join("m0.mkv"),
            dir.path().join(format!("m{i}.mkv")),
        )
        .unwrap();
    }
    let (mb, stdout) = peak_mb(
        dir.path(),
        &[
            "check",
            "--no-cache",
            "--isolated",
            "--no-analyze",
            "-j1",
            ".",
        ],
    );
    assert!(stdout.contains("Checked 10 files"), "{stdout}");
    assert!(mb < 300.0, "ten 100 MB MKVs peaked at {mb:.0} MB");
}

/// Write a `w`x`h` RGB PNG (a horizontal gradient) row by row.
fn huge_png(path: &Path, w: u32, h: u32) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(f, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row: Vec<u8> = (0..w).flat_map(|x| [(x * 255 / w) as u8; 3]).collect();
    for _ in 0..h {
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
}

#[test]
fn huge_png_is_decoded_reduced() {
    let dir = tmp();
    huge_png(&dir.path().join("big.png"), 14000, 14000);
    let (mb, stdout) = peak_mb(
        dir.path(),
        &["check", "--no-cache", "--isolated", "big.png"],
    );
    assert!(stdout.contains("I004"), "{stdout}");
    assert!(!stdout.contains("F001"), "{stdout}");
    assert!(mb < 600.0, "a 14000x14000 PNG peaked at {mb:.0} MB");
}

/// `fix` with every fix allowed, writing into `out/`.
fn fix_into_out(name: &str) -> [&str; 6] {
    [
        "fix",
        "--unsafe-fixes",
        "--isolated",
        "--out-dir",
        "out",
        name,
    ]
}

#[test]
fn fix_of_huge_wide_png_is_bounded() {
    let dir = tmp();
    huge_png(&dir.path().join("wide.png"), 65536, 3000);
    let (mb, stdout) = peak_mb(dir.path(), &fix_into_out("wide.png"));
    assert!(stdout.contains("wrote out/wide"), "{stdout}");
    assert!(mb < 600.0, "fix of a 65536x3000 PNG peaked at {mb:.0} MB");
}

#[test]
fn ycbcr_tiff_decodes_in_check_and_fix() {
    // FFmpeg writes 4:2:0 TIFFs with YCbCr photometric, which the image crate does not decode.
    let dir = tmp();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x480",
        "-frames:v",
        "1",
        "-pix_fmt",
        "yuv420p",
        dir.path().join("ycc.tif").to_str().unwrap(),
    ]);
    assert_eq!(f001(dir.path(), &["ycc.tif"]), None, "FFmpeg decodes it");
    let out = run_in(dir.path(), &fix_into_out("ycc.tif"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wrote out/ycc.jpg"), "{stdout}");
    let back = image::open(dir.path().join("out/ycc.jpg")).unwrap();
    assert_eq!((back.width(), back.height()), (640, 480));
}

#[test]
fn huge_gif_is_decoded_reduced_in_check_and_fix() {
    // A 14000x14000 GIF of under a megabyte: decoded whole, its RGBA canvas alone is 784 MB (the
    // check peaked at 1.9 GB, fix at 2.3 GB); read row by row it costs the reduced picture.
    let dir = tmp();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=14000x14000:d=1",
        "-frames:v",
        "1",
        "-pix_fmt",
        "rgb8",
        dir.path().join("big.gif").to_str().unwrap(),
    ]);
    let (mb, stdout) = peak_mb(
        dir.path(),
        &["check", "--no-cache", "--isolated", "big.gif"],
    );
    assert!(stdout.contains("I004"), "{stdout}");
    assert!(!stdout.contains("F001"), "{stdout}");
    assert!(
        mb < 600.0,
        "check of a 14000x14000 GIF peaked at {mb:.0} MB"
    );
    let (mb, stdout) = peak_mb(dir.path(), &fix_into_out("big.gif"));
    assert!(stdout.contains("wrote out/big"), "{stdout}");
    assert!(mb < 600.0, "fix of a 14000x14000 GIF peaked at {mb:.0} MB");
}
