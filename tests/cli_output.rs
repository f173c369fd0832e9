//! What a person reads: finding lines that name their severity in words (grep-able, colour only
//! when asked or on a terminal), footers that say what did not run, output paths checked before any
//! work, config profiles as first-class as the built-in ones, and the usual conventions
//! (`--version`, completions, a man page, `--fail-on`, grammar).
//!
//! Header facts only (`--no-analyze`) or images, so every test takes well under a second.

mod common;

use std::fs;
use std::path::Path;

use common::*;

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const LONG: &str = "fixtures/rejects/videos/too_long_35s.mp4";
const ROTATED: &str = "fixtures/rejects/videos/phone_rot90.mp4";

#[test]
fn plain_output_names_each_findings_severity() {
    let out = run_in(
        &root(),
        &["check", "--no-analyze", "--no-cache", LONG, ROTATED],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stdout.contains('\x1b'),
        "no colour off a terminal: {stdout:?}"
    );
    let line =
        regex::Regex::new(r"^\S+: (error|warning|info)\[[A-Z]\d{3}\] [a-z0-9-]+: .+$").unwrap();
    let findings: Vec<&str> = stdout.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(findings.len(), 2, "{stdout}");
    for l in &findings {
        assert!(
            line.is_match(l),
            "not in the `path: severity[CODE] name: message` shape: {l}"
        );
    }
    assert!(
        findings[0].starts_with(&format!("{LONG}: error[V005] video-too-long: ")),
        "{stdout}"
    );
    assert!(
        findings[1].starts_with(&format!(
            "{ROTATED}: warning[V008] video-rotation-metadata: "
        )),
        "{stdout}"
    );
}

#[test]
fn color_flag_forces_or_removes_colour() {
    let run = |args: &[&str], no_color: bool| {
        let mut cmd = bin();
        cmd.current_dir(root())
            .args(["check", "--no-analyze", "--no-cache", LONG])
            .args(args);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        String::from_utf8(cmd.output().unwrap().stdout).unwrap()
    };
    let always = run(&["--color", "always"], false);
    assert!(
        always.contains("\x1b[1;31merror[V005]\x1b[0m"),
        "{always:?}"
    );
    assert!(!run(&["--color", "never"], false).contains('\x1b'));
    assert!(!run(&["--color", "auto"], true).contains('\x1b'));
    // Global: accepted before the subcommand too.
    let out = bin()
        .current_dir(root())
        .args([
            "--color",
            "always",
            "check",
            "--no-analyze",
            "--no-cache",
            LONG,
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    let bad = run_in(&root(), &["check", "--color", "sometimes", LONG]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn fail_on_warning_fails_a_run_with_only_warnings() {
    let args = ["check", "--no-analyze", "--no-cache", ROTATED];
    assert_eq!(run_in(&root(), &args).status.code(), Some(0));
    let mut strict = args.to_vec();
    strict.extend(["--fail-on", "warning"]);
    assert_eq!(run_in(&root(), &strict).status.code(), Some(1));
    let mut lenient = args.to_vec();
    lenient.extend(["--fail-on", "error"]);
    assert_eq!(run_in(&root(), &lenient).status.code(), Some(0));
}

#[test]
fn rotation_is_stated_as_ffprobe_states_it() {
    let out = run_in(&root(), &["check", "--no-analyze", "--no-cache", ROTATED]);
    let (stdout, _) = text(&out);
    // What ffprobe prints for the same file, when it is installed (make setup installs it).
    if let Ok(probe) = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream_side_data=rotation",
        ])
        .args(["-of", "default=nw=1", ROTATED])
        .current_dir(root())
        .output()
    {
        let said = String::from_utf8_lossy(&probe.stdout);
        let said = said
            .lines()
            .find(|l| l.starts_with("rotation="))
            .unwrap()
            .trim();
        assert!(
            stdout.contains(&format!("display matrix {said} (as ffprobe prints it)")),
            "{said}: {stdout}"
        );
    }
    assert!(
        stdout.contains(
            "players turn the frames 90° counter-clockwise (stored 640x360, shown 360x640)"
        ),
        "{stdout}"
    );
}

#[test]
fn no_analyze_footer_says_what_did_not_run() {
    let out = run_in(&root(), &["check", "--no-analyze", "--no-cache", LONG]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("Analysis was skipped (--no-analyze): no video was decoded, so shot cuts"),
        "{stdout}"
    );
    // From the config file, the footer names its line.
    let dir = tempfile::tempdir().unwrap();
    fs::copy(root().join(LONG), dir.path().join("clip.mp4")).unwrap();
    fs::write(
        dir.path().join("kling-preflight.toml"),
        "\nanalyze = false\n",
    )
    .unwrap();
    let (stdout, _) = text(&run_in(dir.path(), &["check", "--no-cache", "clip.mp4"]));
    assert!(
        stdout.contains("Analysis was skipped (analyze = false at kling-preflight.toml:2)"),
        "{stdout}"
    );
    // An analysed run says nothing of the kind.
    let (stdout, _) = text(&run_in(
        &root(),
        &["check", "--no-cache", "fixtures/pairs/hopper/character.jpg"],
    ));
    assert!(!stdout.contains("Analysis was skipped"), "{stdout}");
}

#[test]
fn grammar_one_file_one_other_file_an_mp4() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(root().join(LONG), dir.path().join("clip.webm")).unwrap();
    fs::write(dir.path().join("notes.txt"), "not media").unwrap();
    let (stdout, _) = text(&run_in(
        dir.path(),
        &["check", "--no-analyze", "--no-cache", "."],
    ));
    assert!(
        stdout.contains("content is an MP4 container but the extension is .webm"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Checked 1 file (strict, orientation=video, 1 other file skipped)"),
        "{stdout}"
    );
}

/// A project whose cache would appear if any file were judged.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        root().join("fixtures/pairs/hopper/character.jpg"),
        dir.path().join("a.jpg"),
    )
    .unwrap();
    dir
}

#[test]
fn bad_report_path_exits_2_before_any_work() {
    let dir = project();
    for (report, why) in [
        ("missing/r.html", "missing does not exist"),
        ("a.jpg/r.html", "a.jpg is not a folder"),
    ] {
        let out = run_in(dir.path(), &["check", "a.jpg", "--report", report]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{report}: {stdout} {stderr}");
        assert!(stdout.is_empty(), "no findings printed: {stdout}");
        assert!(
            stderr.contains(&format!("--report {report}: cannot write the report"))
                && stderr.contains(why),
            "{stderr}"
        );
        assert!(
            !dir.path().join(".kling-preflight-cache").exists(),
            "nothing was judged"
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no probe file left behind"
        );
    }
    // fix validates it before any work too (before planning or writing anything).
    let out = run_in(
        dir.path(),
        &[
            "fix",
            "a.jpg",
            "--out-dir",
            "out",
            "--report",
            "missing/r.html",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !dir.path().join("out").exists() && !dir.path().join(".kling-preflight-cache").exists()
    );
}

#[test]
fn submit_checks_its_output_folder_before_any_request() {
    let dir = project();
    let out = run_in(
        dir.path(),
        &[
            "submit",
            "--provider",
            "freepik",
            "--image",
            "a.jpg",
            "--video",
            "a.jpg",
            "--out-dir",
            "a.jpg/out",
        ],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--out-dir a.jpg/out: cannot write there: a.jpg is not a folder"),
        "{stderr}"
    );
}

#[test]
fn report_into_a_folder_writes_report_html_there() {
    let dir = project();
    fs::create_dir(dir.path().join("reports")).unwrap();
    let out = run_in(
        dir.path(),
        &["check", "a.jpg", "--no-cache", "--report", "reports"],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let page = dir.path().join("reports/report.html");
    assert!(fs::read_to_string(&page).unwrap().contains("a.jpg"));
    assert!(
        stderr.contains(&format!(
            "wrote the visual report {}",
            Path::new("reports").join("report.html").display()
        )),
        "{stderr}"
    );
}

const STUDIO: &str = "profile = \"studio\"\n\n[profiles.studio]\nextends = \"kling\"\ndescription = \"Kling, with our 12 s edit rule\"\nvideo.max_duration_s_video = 12.0\n";

#[test]
fn config_profiles_are_listed_shown_and_cited() {
    let dir = project();
    fs::write(dir.path().join("kling-preflight.toml"), STUDIO).unwrap();
    let (stdout, stderr) = text(&run_in(dir.path(), &["profiles"]));
    let studio = stdout
        .lines()
        .find(|l| l.starts_with("studio "))
        .unwrap_or_else(|| panic!("{stdout}{stderr}"));
    assert!(
        studio.contains("from kling-preflight.toml; default: kling-preflight.toml:1"),
        "{studio}"
    );
    let strict = stdout.lines().find(|l| l.starts_with("strict ")).unwrap();
    assert!(!strict.contains("default"), "{stdout}");
    // --isolated: the built-in default again, no config profile.
    let (stdout, _) = text(&run_in(dir.path(), &["profiles", "--isolated"]));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("strict ") && l.contains("default"))
            && !stdout.contains("studio"),
        "{stdout}"
    );

    let out = run_in(dir.path(), &["profiles", "show", "studio"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.contains("video.max_duration_s_video"))
        .unwrap();
    assert!(
        row.contains("12.0") && row.trim_end().ends_with("kling-preflight.toml:6"),
        "{row}"
    );
    let inherited = stdout
        .lines()
        .find(|l| l.contains("video.min_edge"))
        .unwrap();
    assert!(
        inherited.contains("https://") && inherited.contains("(read 20"),
        "{inherited}"
    );
}

#[test]
fn bad_config_limits_are_refused_at_their_line() {
    let dir = project();
    for (line6, needle) in [
        (
            "video.max_duration_s_video = -5\n",
            "kling-preflight.toml:6: profiles.studio: video.max_duration_s_video = -5: must be greater than 0",
        ),
        (
            "video.max_duraton_s_video = 12.0\n",
            "kling-preflight.toml:6: profiles.studio: video.max_duraton_s_video",
        ),
        (
            "image.max_aspect = 1000\n",
            "kling-preflight.toml:6: profiles.studio: image.max_aspect = 1000",
        ),
    ] {
        let cfg = STUDIO.replace("video.max_duration_s_video = 12.0\n", line6);
        fs::write(dir.path().join("kling-preflight.toml"), cfg).unwrap();
        for args in [&["check", "a.jpg"][..], &["profiles", "show", "studio"][..]] {
            let out = run_in(dir.path(), args);
            let (_, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(needle), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn version_completions_and_man_page() {
    let (stdout, _) = text(&run_in(&root(), &["--version"]));
    assert!(stdout.starts_with("kling-preflight 0."), "{stdout}");
    assert!(
        stdout.contains("FFmpeg ")
            && stdout.contains("libavformat ")
            && stdout.contains("libavcodec "),
        "{stdout}"
    );
    for (shell, marker) in [
        ("bash", "complete -F _kling__preflight"),
        ("zsh", "#compdef kling-preflight"),
        ("fish", "complete -c kling-preflight"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = run_in(&root(), &["completions", shell]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{shell}: {stderr}");
        assert!(
            stdout.contains(marker) && stdout.contains("no-analyze"),
            "{shell}: {stdout}"
        );
    }
    let (stdout, _) = text(&run_in(&root(), &["man"]));
    assert!(
        stdout.contains(".TH kling-preflight 1") && stdout.contains("completions"),
        "{stdout}"
    );
}
