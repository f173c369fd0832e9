//! Fuzz target: the image header prober must return (Ok or Unreadable) on any bytes, for every
//! format, without panicking, hanging or allocating wildly. The first byte picks the parser, so
//! the fuzzer drives each one on data shaped like its own format and on foreign data alike.
#![no_main]

use kling_preflight::ImageFormat;
use kling_preflight::probe::image::probe_image_bytes;
use kling_preflight::sniff::{Sniffed, sniff};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let format = ImageFormat::ALL[pick as usize % ImageFormat::ALL.len()];
    let _ = probe_image_bytes(rest, format);
    // The engine's real path: sniff first, probe what the signature says.
    if let Sniffed::Image(f) = sniff(rest) {
        let _ = probe_image_bytes(rest, f);
    }
});
