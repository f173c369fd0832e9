//! Build facts for `kling-preflight --version`: the commit, the Cargo profile and the compiler, so a
//! binary found in a container or a CI cache says what it is. The commit comes from
//! `KLING_PREFLIGHT_BUILD_COMMIT` (`make dist` sets it from git) rather than from git directly, so a
//! commit does not rebuild the crate for everyone; without it the binary says "not recorded".

use std::process::Command;

fn main() {
    let commit = std::env::var("KLING_PREFLIGHT_BUILD_COMMIT")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "not recorded".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc = Command::new(&rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc (unknown)".into());
    // Cargo tells build scripts only debug/release; the profile's own name (dist) is the folder
    // OUT_DIR sits in: target/<profile>/build/<pkg>/out.
    let out_dir = std::env::var("OUT_DIR").unwrap_or_default();
    let profile = std::path::Path::new(&out_dir)
        .ancestors()
        .nth(3)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| std::env::var("PROFILE").unwrap_or_default());
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=KLING_PREFLIGHT_BUILD_GIT={commit}");
    println!("cargo:rustc-env=KLING_PREFLIGHT_BUILD_PROFILE={profile}");
    println!("cargo:rustc-env=KLING_PREFLIGHT_BUILD_TARGET={target}");
    println!("cargo:rustc-env=KLING_PREFLIGHT_BUILD_RUSTC={rustc}");
    println!("cargo:rerun-if-env-changed=KLING_PREFLIGHT_BUILD_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
}
