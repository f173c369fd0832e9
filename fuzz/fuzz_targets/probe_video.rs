//! Fuzz target: the video prober (libavformat through our unsafe glue: stream selection, SPS
//! parsing, the packet scan, the Matroska and MP4 byte-count readers) must return Ok or Unreadable
//! on any bytes without panicking, hanging or growing without bound. libavformat reads files, so the
//! input goes through a temporary file; the first byte picks the extension the sniffer would see.
#![no_main]

use kling_preflight::probe::video::probe_video;
use libfuzzer_sys::fuzz_target;

const EXT: [&str; 6] = ["mp4", "mov", "webm", "mkv", "ts", "avi"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let dir = std::env::temp_dir().join(format!("kp-fuzz-video-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("input.{}", EXT[pick as usize % EXT.len()]));
    if std::fs::write(&path, rest).is_ok() {
        let _ = probe_video(&path, rest.len() as u64);
    }
});
