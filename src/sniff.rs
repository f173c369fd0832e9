//! Sniffing: decide what a file is from its first bytes, never from its extension.
//!
//! This is the first step for every file, so it reads at most `SNIFF_LEN` bytes. It only recognises
//! signatures; whether the rest of the file is sound is the probe's job.

use std::io::Read;
use std::path::Path;

use crate::model::ImageFormat;

/// How many leading bytes sniffing looks at (MPEG-TS needs three 188-byte packets).
pub const SNIFF_LEN: usize = 600;

/// What the leading bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// Zero bytes long.
    Empty,
    Image(ImageFormat),
    /// A container family that usually carries video (ISO-BMFF, Matroska/WebM, AVI, MPEG-TS/PS, FLV,
    /// Ogg, ASF). Audio-only files in these containers are found out by the probe.
    Video,
    /// An audio-only format (MP3, WAV, FLAC, ...): media, but never a usable reference video.
    Audio,
    Unknown,
}

/// Read the head of `path` and sniff it.
pub fn sniff_path(path: &Path) -> std::io::Result<Sniffed> {
    // Regular files only, opened without blocking (a FIFO would hang here): `crate::open`.
    let mut f = crate::open::regular(path)?;
    let mut buf = [0u8; SNIFF_LEN];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(sniff(&buf[..n]))
}

/// Sniff a buffer holding the first bytes of a file.
pub fn sniff(b: &[u8]) -> Sniffed {
    if b.is_empty() {
        return Sniffed::Empty;
    }
    let starts = |sig: &[u8]| b.starts_with(sig);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Image(ImageFormat::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Image(ImageFormat::Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Sniffed::Image(ImageFormat::Gif);
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" {
        return match &b[8..12] {
            b"WEBP" => Sniffed::Image(ImageFormat::Webp),
            b"AVI " | b"AVIX" => Sniffed::Video,
            b"WAVE" => Sniffed::Audio,
            _ => Sniffed::Unknown,
        };
    }
    if starts(b"BM") && b.len() >= 26 && bmp_header_plausible(b) {
        return Sniffed::Image(ImageFormat::Bmp);
    }
    if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        return Sniffed::Image(ImageFormat::Tiff);
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Sniffed::Image(ImageFormat::Jxl);
    }
    if starts(b"8BPS") {
        return Sniffed::Image(ImageFormat::Psd);
    }
    if starts(&[0, 0, 1, 0]) && b.len() >= 6 && b[4] != 0 && b[5] == 0 {
        return Sniffed::Image(ImageFormat::Ico);
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return sniff_ftyp(b);
    }
    // QuickTime files from old cameras may start with other atoms (moov, mdat, wide, free, skip).
    if b.len() >= 8
        && matches!(
            &b[4..8],
            b"moov" | b"mdat" | b"wide" | b"free" | b"skip" | b"pnot"
        )
    {
        return Sniffed::Video;
    }
    if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Sniffed::Video;
    }
    if starts(b"FLV\x01") || starts(b"OggS") {
        return Sniffed::Video;
    }
    if starts(&[0x00, 0x00, 0x01, 0xBA]) || starts(&[0x00, 0x00, 0x01, 0xB3]) {
        return Sniffed::Video;
    }
    if starts(&[0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9]) {
        return Sniffed::Video;
    }
    if is_mpegts(b) {
        return Sniffed::Video;
    }
    if starts(b"ID3") || starts(b"fLaC") || starts(b"#!AMR") || is_mpeg_audio_sync(b) {
        return Sniffed::Audio;
    }
    Sniffed::Unknown
}

fn sniff_ftyp(b: &[u8]) -> Sniffed {
    let box_len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let end = box_len.clamp(12, b.len());
    // Major brand, then compatible brands from offset 16.
    let mut brands: Vec<&[u8]> = vec![&b[8..12]];
    let mut i = 16;
    while i + 4 <= end {
        brands.push(&b[i..i + 4]);
        i += 4;
    }
    let major = brands[0];
    let is = |x: &[u8]| brands.contains(&x);
    // Image sequences (avis, msf1, hevc) are still "images" to a provider that asks for a still.
    if matches!(major, b"avif" | b"avis") {
        return Sniffed::Image(ImageFormat::Avif);
    }
    if matches!(
        major,
        b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1"
    ) {
        // mif1 with an avif compatible brand is AVIF.
        if is(b"avif") {
            return Sniffed::Image(ImageFormat::Avif);
        }
        return Sniffed::Image(ImageFormat::Heic);
    }
    if matches!(major, b"M4A " | b"M4B " | b"M4P " | b"F4A " | b"F4B ") {
        return Sniffed::Audio;
    }
    Sniffed::Video
}

fn bmp_header_plausible(b: &[u8]) -> bool {
    let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
    matches!(dib, 12 | 40 | 52 | 56 | 64 | 108 | 124)
}

fn is_mpegts(b: &[u8]) -> bool {
    // Plain TS (188-byte packets) or M2TS (192 bytes: 4-byte timestamp first).
    let check = |start: usize, stride: usize| {
        b.len() > start + 2 * stride && (0..3).all(|k| b[start + k * stride] == 0x47)
    };
    check(0, 188) || check(4, 192)
}

fn is_mpeg_audio_sync(b: &[u8]) -> bool {
    // MPEG audio frame header: 11 sync bits, a valid version/layer, a valid bitrate index.
    b.len() >= 4
        && b[0] == 0xFF
        && (b[1] & 0xE0) == 0xE0
        && (b[1] & 0x06) != 0
        && (b[1] & 0x18) != 0x08
        && (b[2] & 0xF0) != 0xF0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_by_signature() {
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0rest"),
            Sniffed::Image(ImageFormat::Jpeg)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n...."),
            Sniffed::Image(ImageFormat::Png)
        );
        assert_eq!(sniff(b"GIF89a......"), Sniffed::Image(ImageFormat::Gif));
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Sniffed::Image(ImageFormat::Webp)
        );
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Sniffed::Image(ImageFormat::Tiff));
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Sniffed::Image(ImageFormat::Heic)
        );
        assert_eq!(
            sniff(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
            Sniffed::Image(ImageFormat::Avif)
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmif1\0\0\0\0mif1avif"),
            Sniffed::Image(ImageFormat::Avif)
        );
    }

    #[test]
    fn videos_and_audio_by_signature() {
        assert_eq!(sniff(b"\0\0\0\x18ftypisom\0\0\0\0isomavc1"), Sniffed::Video);
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\0\0qt  "), Sniffed::Video);
        assert_eq!(sniff(b"\0\0\0\x18ftypM4A \0\0\0\0M4A mp42"), Sniffed::Audio);
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]), Sniffed::Video);
        assert_eq!(sniff(b"RIFF\0\0\0\0AVI LIST"), Sniffed::Video);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Sniffed::Audio);
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\0"), Sniffed::Audio);
        let mut ts = vec![0u8; 600];
        ts[0] = 0x47;
        ts[188] = 0x47;
        ts[376] = 0x47;
        assert_eq!(sniff(&ts), Sniffed::Video);
    }

    #[test]
    fn empty_and_unknown() {
        assert_eq!(sniff(b""), Sniffed::Empty);
        assert_eq!(sniff(b"hello, world"), Sniffed::Unknown);
        assert_eq!(sniff(b"BM not really a bitmap header"), Sniffed::Unknown);
        assert_eq!(sniff(b"\0"), Sniffed::Unknown);
    }
}
