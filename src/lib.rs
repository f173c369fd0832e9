//! kling-preflight: check and fix the inputs of Kling 3.0 Motion Control (one character image and one
//! reference video) on the user's machine, before any credits are spent.
//!
//! # Library use
//!
//! The entry points are [`check`] and [`fix`], with [`Settings`] built from a provider profile
//! ([`load_profile`], [`parse_profile`]). Nothing is read from environment variables or config files,
//! and FFmpeg's global log level is left alone unless [`Settings::host`] asks for one.
//!
//! ```
//! use kling_preflight::{Settings, Verdict, check, load_profile};
//!
//! let profile = load_profile("freepik")?;
//! let mut settings = Settings::new(profile).rule("V", "warning")?;
//! settings.analyze = false; // header facts only: fast, no frame decoding
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/pairs/hopper");
//! let report = check(&[dir], &settings)?;
//! assert_eq!(report.summary.files, 2);
//! for file in &report.files {
//!     if file.verdict == Verdict::Fail {
//!         for d in &file.diagnostics {
//!             println!("{}: {} {}: {}", file.path, d.code, d.name, d.message);
//!         }
//!     }
//! }
//! // The same JSON `kling-preflight check --format json` prints (docs/report.schema.json).
//! let json = serde_json::to_string(&report)?;
//! # assert!(json.contains("\"profile\":\"freepik\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! The modules follow the data flow: `sniff` (what is this file?) → `probe` (header facts, cheap) →
//! `analyze` (decoded-frame signals, videos only) → `rules` (facts + `profile` → diagnostics) →
//! `report` (human, json, ...). `engine` drives that flow over many files in parallel; `cli` is the
//! command-line front end the binary calls; `pixels` decodes images for analysis and fixes. Around the flow: `config` (the project's
//! `kling-preflight.toml`), `cache` (facts of unchanged files), `shard` (splitting inputs across
//! machines), `stable_hash` (the hash both of those need to agree across runs) and `open` (inputs
//! opened as regular files only, by descriptor, whatever bytes their names hold).
//!
//! Modules hidden from these docs are internal: public only so the binary, the tests and the
//! benches can reach them, with no stability promise. The documented items are the contract.

mod api;
pub mod host;
pub mod model;
pub mod profile;
pub mod version;

// Internal modules (see above): `#[doc(hidden)]` rather than `pub(crate)` so the binary, the
// integration tests and the benches keep their paths.
#[doc(hidden)]
pub mod analyze;
#[doc(hidden)]
pub mod cache;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod detect;
#[doc(hidden)]
pub mod engine;
#[doc(hidden)]
pub mod fix;
#[doc(hidden)]
pub mod open;
#[doc(hidden)]
pub mod pixels;
#[doc(hidden)]
pub mod probe;
#[doc(hidden)]
pub mod report;
#[doc(hidden)]
pub mod rules;
#[doc(hidden)]
pub mod shard;
#[doc(hidden)]
pub mod sniff;
#[doc(hidden)]
pub mod stable_hash;
#[doc(hidden)]
pub mod submit;

pub use api::{
    AspectMode, Error, FixReport, FixSettings, Settings, X264, check, fix, load_profile,
    parse_profile, profiles, report_schemas, severity,
};
pub use fix::{FileOutcome, Status as FixStatus};
pub use host::{FfmpegLog, Host};
pub use model::*;
pub use profile::{Orientation, Profile, ProfileError};
pub use rules::RuleSettings;
pub use shard::Shard;
