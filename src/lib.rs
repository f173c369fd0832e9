//! kling-preflight: check and fix the inputs of Kling 3.0 Motion Control (one character image and one
//! reference video) on the user's machine, before any credits are spent.
//!
//! The modules follow the data flow: `sniff` (what is this file?) → `probe` (header facts, cheap) →
//! `analyze` (decoded-frame signals, videos only) → `rules` (facts + `profile` → diagnostics) →
//! `report` (human, json, ...). `engine` drives that flow over many files in parallel; `cli` is the
//! command-line front end the binary calls. Around the flow: `config` (the project's
//! `kling-preflight.toml`), `cache` (facts of unchanged files), `shard` (splitting inputs across
//! machines) and `stable_hash` (the hash both of those need to agree across runs).

pub mod analyze;
pub mod cache;
pub mod cli;
pub mod config;
pub mod detect;
pub mod engine;
pub mod fix;
pub mod model;
pub mod probe;
pub mod profile;
pub mod report;
pub mod rules;
pub mod shard;
pub mod sniff;
pub mod stable_hash;
pub mod submit;
pub mod version;

pub use model::*;
