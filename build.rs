//! Build facts for `kling-preflight --version`: the git commit, the Cargo profile and the compiler,
//! so a binary found in a container or a CI cache says what it is. Nothing here is needed to build.

use std::process::Command;

fn main() {
    let run = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let git = run("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc = run(&rustc, &["-V"]).unwrap_or_else(|| "rustc (unknown)".into());
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
    println!("cargo:rustc-env=KLING_PREFLIGHT_BUILD_GIT={git}");
    println!("cargo:rustc-env=KLING_PREFLIGHT_BUILD_PROFILE={profile}");
    println!("cargo:rustc-env=KLING_PREFLIGHT_BUILD_TARGET={target}");
    println!("cargo:rustc-env=KLING_PREFLIGHT_BUILD_RUSTC={rustc}");
    // Rebuild the facts when a commit or checkout moves HEAD (worktrees keep these outside `.git`).
    for what in ["HEAD", "logs/HEAD"] {
        if let Some(p) = run("git", &["rev-parse", "--git-path", what])
            && std::path::Path::new(&p).exists()
        {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
