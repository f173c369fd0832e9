//! Fuzz target: the whole `check` path on arbitrary bytes (sniff → probe → pixel decode or video
//! analysis → rules), as the engine runs it for one named file. Whatever the bytes, the result is a
//! report (often F001 `file-unreadable`), never a panic, a hang or unbounded memory. The first byte
//! picks the file name's extension, since a named file is judged whatever it is called.
#![no_main]

use kling_preflight::engine::{CheckOptions, Input, check_file};
use kling_preflight::profile::lookup;
use libfuzzer_sys::fuzz_target;

const EXT: [&str; 8] = ["png", "jpg", "webp", "gif", "mp4", "webm", "mkv", "ts"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let dir = std::env::temp_dir().join(format!("kp-fuzz-check-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("input.{}", EXT[pick as usize % EXT.len()]));
    if std::fs::write(&path, rest).is_err() {
        return;
    }
    let Ok(profile) = lookup("strict", &Default::default()) else { return };
    let input = Input {
        display: path.display().to_string(),
        path,
        explicit: true,
    };
    let report = check_file(&input, &CheckOptions::new(profile));
    assert!(report.is_some(), "a named file always gets a report");
});
