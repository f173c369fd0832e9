//! Video rules: container and stream limits from the probe (V001–V009, V013) and the decoded-frame
//! signals from analysis (V010 cuts, V011 continuous motion, V012 frozen stretches).

use std::path::Path;

use super::file::{extension, extension_fits_container};
use super::{Context, FixSafety, Sink, bytes, secs};
use crate::model::{VideoAnalysis, VideoFacts};

/// Slack when comparing durations with limits: container rounding is a few milliseconds.
const DURATION_EPS_S: f64 = 0.0005;

pub fn check(sink: &mut Sink<'_>, ctx: &Context<'_>, f: &VideoFacts, path: &Path) {
    let p = ctx.profile;
    let tag = ctx.tag();
    let Some(v) = &f.video else {
        let what = match (&f.audio, f.cover_art_streams) {
            (Some(a), n) if n > 0 => format!("audio only ({}) with cover art", a.codec),
            (Some(a), _) => format!("audio only ({})", a.codec),
            (None, n) if n > 0 => "only cover art".to_string(),
            (None, _) => "no streams".to_string(),
        };
        sink.emit("V001", format!("no video stream: {what}"));
        return;
    };
    if !p.accepts_container(f.container) {
        // An M4V/3GP-branded file named .mp4 is delivered as MP4: the bytes are the same family.
        let by_name = extension(path).is_some_and(|ext| {
            p.video.containers.as_ref().is_some_and(|l| {
                l.value.iter().any(|c| {
                    crate::model::Container::from_name(c).is_some_and(|c| {
                        c.extensions().contains(&ext.as_str())
                            && extension_fits_container(&ext, f.container)
                    })
                })
            })
        });
        if !by_name {
            let accepted = p
                .video
                .containers
                .as_ref()
                .map(|l| l.value.join(", "))
                .unwrap_or_default();
            let fix = if matches!(v.codec.as_str(), "h264" | "hevc") {
                None
            } else {
                Some(Some(("transcode", FixSafety::Unsafe)))
            };
            sink.emit_with_fix(
                "V002",
                format!(
                    "{} container is not accepted; {} accepts {accepted}",
                    f.container.name().to_uppercase(),
                    p.name
                ),
                fix,
            );
        }
    }
    let mut unusual = Vec::new();
    if v.codec != "h264" {
        unusual.push(v.codec.clone());
    }
    if let Some(bd) = v.bit_depth
        && bd != 8
    {
        unusual.push(format!("{bd}-bit"));
    }
    if let Some(c) = &v.chroma
        && c != "4:2:0"
    {
        unusual.push(c.clone());
    }
    if !unusual.is_empty() {
        let detail = [v.profile.as_deref(), v.pix_fmt.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        sink.emit(
            "V003",
            format!(
                "{} ({detail}); H.264 8-bit 4:2:0 is what every provider decodes",
                unusual.join(", ")
            ),
        );
    }
    let duration = f
        .duration_s
        .or_else(|| f.analysis.as_ref().and_then(|a| a.decoded_duration_s));
    let mut too_short = false;
    if f.duration_source.as_deref() == Some("packets")
        && let Some(d) = f.duration_s
    {
        // MediaRecorder WEBMs and raw Matroska dumps: a validator that reads the header sees 0 s.
        too_short = true;
        sink.emit_with_fix(
            "V004",
            format!(
                "the container declares no duration: 0 s to a provider that reads the header ({} measured from packets) {tag}",
                secs(d)
            ),
            Some(Some(("remux", FixSafety::Safe))),
        );
    }
    if let Some(d) = duration {
        if let Some(min) = &p.video.min_duration_s
            && !too_short
            && d < min.value - DURATION_EPS_S
        {
            too_short = true;
            // Too short is never fixable (the catalogue's remux is for a missing header duration).
            sink.emit_with_fix(
                "V004",
                format!("{} < {} {tag}", secs(d), secs(min.value)),
                Some(None),
            );
        }
        if let Some(max) = p.max_duration(ctx.orientation)
            && d > max.value + DURATION_EPS_S
        {
            sink.emit(
                "V005",
                format!(
                    "{} > {} {}",
                    secs(d),
                    secs(max.value),
                    ctx.tag_orientation()
                ),
            );
        }
    }
    if let Some(max) = &p.video.max_bytes
        && f.bytes > max.value
    {
        sink.emit(
            "V006",
            format!("{} > {} {tag}", bytes(f.bytes), bytes(max.value)),
        );
    }
    let (w, h) = (v.width, v.height);
    if let Some(min) = &p.video.min_edge
        && w.min(h) < min.value
    {
        sink.emit_with_fix(
            "V007",
            format!("{w}x{h} px: {} px < {} px {tag}", w.min(h), min.value),
            Some(Some(("upscale", FixSafety::Unsafe))),
        );
    }
    if let Some(max) = &p.video.max_edge
        && w.max(h) > max.value
    {
        sink.emit_with_fix(
            "V007",
            format!("{w}x{h} px: {} px > {} px {tag}", w.max(h), max.value),
            Some(Some(("downscale", FixSafety::Unsafe))),
        );
    }
    if v.rotation_deg.abs() > 0.5 && (v.rotation_deg - 360.0).abs() > 0.5 {
        let shown = f
            .display_size()
            .map(|(a, b)| format!(", shown {a}x{b}"))
            .unwrap_or_default();
        sink.emit(
            "V008",
            format!(
                "{} (stored {w}x{h}{shown})",
                describe_rotation(v.rotation_deg)
            ),
        );
    }
    if v.vfr {
        let rates = match (v.fps_avg, v.fps_nominal) {
            (Some(a), Some(n)) => format!(": average {a:.2} fps vs nominal {n:.2} fps"),
            _ => String::new(),
        };
        sink.emit("V009", format!("variable frame rate{rates}"));
    }
    if v.sar_num > 0 && v.sar_den > 0 && v.sar_num != v.sar_den {
        let shown = f
            .display_size()
            .map(|(a, b)| format!(" (shown as {a}x{b})"))
            .unwrap_or_default();
        sink.emit(
            "V013",
            format!("sample aspect ratio {}:{}{shown}", v.sar_num, v.sar_den),
        );
    }
    if let Some(a) = &f.analysis {
        if let Some(declared) = v.frames
            && truncated(declared, a.frames_decoded)
        {
            let decoded_s = a
                .decoded_duration_s
                .map(|d| format!(" ({})", secs(d)))
                .unwrap_or_default();
            sink.emit(
                "F001",
                format!(
                    "truncated or corrupt: the container indexes {declared} frames but only {}{decoded_s} decode",
                    a.frames_decoded
                ),
            );
        }
        check_analysis(sink, ctx, a, too_short);
    }
}

/// The display matrix's rotation as ffprobe prints it (`rotation=90`: libavutil's counter-clockwise
/// angle in (-180, 180]) and what a player does with it, from our clockwise angle in [0, 360).
fn describe_rotation(cw: f64) -> String {
    let mut ccw = (-cw).rem_euclid(360.0);
    if ccw > 180.0 {
        ccw -= 360.0;
    }
    let turn = if (ccw.abs() - 180.0).abs() < 0.5 {
        "upside down (180°)".to_string()
    } else if ccw > 0.0 {
        format!("{ccw:.0}° counter-clockwise")
    } else {
        format!("{:.0}° clockwise", -ccw)
    };
    format!(
        "display matrix rotation={ccw:.0} (as ffprobe prints it): players turn the frames {turn}"
    )
}

/// Whether far fewer frames decode than the container's index declares: the data was cut off (an
/// upload or copy that stopped early) while the header still promises the whole clip. Small gaps (a few
/// undecodable leading frames, edit lists) are normal and not reported.
fn truncated(declared: u64, decoded: u64) -> bool {
    declared >= 10 && decoded * 10 < declared * 9 && declared - decoded >= 10
}

/// V010–V012 from decoded-frame signals.
fn check_analysis(sink: &mut Sink<'_>, ctx: &Context<'_>, a: &VideoAnalysis, too_short: bool) {
    let min_motion = ctx.profile.video.min_continuous_s.as_ref().map(|l| l.value);
    if !a.cuts.is_empty() {
        let list = a
            .cuts
            .iter()
            .map(|c| {
                let kind = if c.kind == "hard" {
                    String::new()
                } else {
                    format!(", {}", c.kind)
                };
                format!("{:.3} s (frame {}{kind})", c.time_s, c.frame)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let n = a.cuts.len();
        let plural = if n == 1 { "cut" } else { "cuts" };
        let usable = min_motion.is_none_or(|m| a.longest_motion_s + DURATION_EPS_S >= m);
        let fix = if usable { None } else { Some(None) };
        sink.emit_with_fix(
            "V010",
            format!(
                "{n} {plural} at {list}; longest continuous motion {}",
                secs(a.longest_motion_s)
            ),
            fix,
        );
    }
    if let Some(m) = min_motion
        && !too_short
        && a.longest_motion_s + DURATION_EPS_S < m
    {
        sink.emit(
            "V011",
            format!(
                "longest cut-free moving stretch {} < {} {}",
                secs(a.longest_motion_s),
                secs(m),
                ctx.tag()
            ),
        );
    }
    if !a.frozen.is_empty() {
        let total: f64 = a.frozen.iter().map(|s| s.duration_s()).sum();
        let list = a
            .frozen
            .iter()
            .map(|s| format!("{:.1}–{:.1} s", s.start_s, s.end_s))
            .collect::<Vec<_>>()
            .join(", ");
        sink.emit(
            "V012",
            format!("no motion for {} in all: {list}", secs(total)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Container, Cut, Span};
    use crate::profile::Orientation;

    fn facts(w: u32, h: u32, duration: f64) -> VideoFacts {
        crate::model::samples::video(w, h, duration)
    }

    fn codes_in(profile: &str, o: Orientation, f: &VideoFacts, name: &str) -> Vec<String> {
        crate::rules::codes_with(profile, o, |sink, ctx| check(sink, ctx, f, Path::new(name)))
    }

    fn codes(f: &VideoFacts) -> Vec<String> {
        codes_in("strict", Orientation::Video, f, "clip.mp4")
    }

    #[test]
    fn a_good_clip_passes() {
        assert!(codes(&facts(1080, 1920, 8.0)).is_empty());
    }

    #[test]
    fn duration_cap_follows_orientation() {
        let f = facts(1080, 1920, 12.0);
        assert!(codes_in("strict", Orientation::Video, &f, "a.mp4").is_empty());
        assert_eq!(
            codes_in("strict", Orientation::Image, &f, "a.mp4"),
            ["V005"]
        );
        assert_eq!(codes(&facts(1080, 1920, 31.0)), ["V005"]);
        assert_eq!(codes(&facts(1080, 1920, 2.9)), ["V004"]);
        assert!(codes(&facts(1080, 1920, 30.0)).is_empty());
    }

    #[test]
    fn a_container_without_duration_reads_as_zero_seconds() {
        let mut f = facts(1080, 1920, 4.9);
        f.duration_source = Some("packets".into());
        assert_eq!(codes(&f), ["V004"]);
        f.duration_s = Some(35.2);
        assert_eq!(codes(&f), ["V004", "V005"]);
    }

    #[test]
    fn stream_properties() {
        assert_eq!(codes(&facts(176, 144, 5.0)), ["V007"]);
        assert_eq!(codes(&facts(4096, 2160, 5.0)), ["V007"]);
        assert!(
            codes(&facts(3840, 2160, 5.0)).is_empty(),
            "UHD is within 3850"
        );
        let mut f = facts(1920, 1080, 5.0);
        let v = f.video.as_mut().unwrap();
        v.codec = "hevc".into();
        v.bit_depth = Some(10);
        v.rotation_deg = 90.0;
        v.vfr = true;
        v.sar_num = 4;
        v.sar_den = 3;
        f.bytes = 150_000_000;
        assert_eq!(codes(&f), ["V003", "V006", "V008", "V009", "V013"]);
    }

    #[test]
    fn containers_by_brand_and_name() {
        let mut f = facts(1080, 1920, 5.0);
        f.container = Container::Webm;
        assert_eq!(
            codes_in("strict", Orientation::Video, &f, "a.webm"),
            ["V002"]
        );
        assert!(codes_in("freepik", Orientation::Video, &f, "a.webm").is_empty());
        f.container = Container::M4v;
        assert_eq!(
            codes_in("strict", Orientation::Video, &f, "a.m4v"),
            ["V002"]
        );
        assert!(
            codes_in("strict", Orientation::Video, &f, "a.mp4").is_empty(),
            "M4V bytes named .mp4 are MP4"
        );
        f.video = None;
        assert_eq!(codes(&f), ["V001"]);
    }

    fn span(a: f64, b: f64) -> Span {
        Span {
            start_s: a,
            end_s: b,
            start_frame: (a * 30.0) as u64,
            end_frame: (b * 30.0) as u64,
        }
    }

    #[test]
    fn far_fewer_decoded_frames_than_indexed_is_a_truncated_file() {
        let mut f = facts(1080, 1920, 5.0);
        f.video.as_mut().unwrap().frames = Some(150);
        f.analysis = Some(VideoAnalysis {
            frames_decoded: 11,
            longest_motion_s: 0.4,
            ..Default::default()
        });
        assert_eq!(codes(&f), ["F001", "V011"]);
        f.analysis = Some(VideoAnalysis {
            frames_decoded: 147,
            longest_motion_s: 4.9,
            ..Default::default()
        });
        assert!(codes(&f).is_empty(), "a few missing frames are normal");
        assert!(!truncated(5, 0) && truncated(100, 50) && !truncated(100, 95));
    }

    #[test]
    fn rotation_is_stated_as_ffprobe_states_it() {
        // ffprobe prints rotation=90 for our phone_rot90.mp4 fixture (we store 270 clockwise).
        assert_eq!(
            describe_rotation(270.0),
            "display matrix rotation=90 (as ffprobe prints it): players turn the frames 90° counter-clockwise"
        );
        assert!(
            describe_rotation(90.0).contains("rotation=-90 ")
                && describe_rotation(90.0).ends_with("90° clockwise")
        );
        assert!(describe_rotation(180.0).contains("upside down"));
    }

    #[test]
    fn analysis_rules() {
        let mut f = facts(1080, 1920, 10.0);
        f.analysis = Some(VideoAnalysis {
            cuts: vec![Cut {
                time_s: 4.0,
                frame: 120,
                kind: "hard".into(),
                score: 30.0,
            }],
            shots: vec![span(0.0, 4.0), span(4.0, 10.0)],
            frozen: vec![span(6.0, 9.0)],
            motion_segments: vec![span(0.0, 4.0), span(4.0, 6.0)],
            longest_motion_s: 4.0,
            ..Default::default()
        });
        assert_eq!(codes(&f), ["V010", "V012"]);
        f.analysis.as_mut().unwrap().longest_motion_s = 2.0;
        assert_eq!(codes(&f), ["V010", "V011", "V012"]);
    }
}
