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
    if let Some(why) = truncation(f, v) {
        sink.emit("F001", why);
    }
    if let Some(a) = &f.analysis {
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

/// Why the file looks cut off, if it does: the container declares more bytes than the file has
/// (no decode needed), far fewer frames decode than its index lists, or the decoded frames stop
/// well short of the duration its header declares for the video stream.
fn truncation(f: &VideoFacts, v: &crate::model::VideoStreamFacts) -> Option<String> {
    if let Some(d) = f.declared_bytes.filter(|&d| d > f.bytes) {
        let pct = 100.0 * f.bytes as f64 / d as f64;
        return Some(format!(
            "truncated: the container declares {d} bytes but the file ends after {} ({pct:.0}%)",
            f.bytes
        ));
    }
    let a = f.analysis.as_ref()?;
    let decoded_s = a.decoded_duration_s;
    if let Some(declared) = v.frames
        && truncated(declared, a.frames_decoded)
    {
        let d = decoded_s
            .map(|d| format!(" ({})", secs(d)))
            .unwrap_or_default();
        return Some(format!(
            "truncated or corrupt: the container indexes {declared} frames but only {}{d} decode",
            a.frames_decoded
        ));
    }
    if let Some(d) = decoded_s.filter(|&d| damaged(a.damaged_s, d)) {
        return Some(format!(
            "decode errors ({} damaged frames or rejected packets): the picture is damaged over {} of {} ({:.0}%; damage in a reference frame lasts to the next keyframe)",
            a.decode_errors,
            secs(a.damaged_s),
            secs(d),
            100.0 * a.damaged_s / d.max(1e-9)
        ));
    }
    let (declared, decoded) = (v.declared_duration_s?, decoded_s?);
    // The decoded span runs from the first frame's start to the last frame's: add one frame.
    let frame = v
        .fps_avg
        .or(v.fps_nominal)
        .filter(|r| *r > 0.0)
        .map_or(0.0, |r| 1.0 / r);
    short_of(declared, decoded + frame).then(|| {
        format!(
            "truncated or corrupt: the header declares {} of video but the frames decode to {} ({:.0}%)",
            secs(declared),
            secs(decoded + frame),
            100.0 * (decoded + frame) / declared
        )
    })
}

/// Whether the decoded frames (`decoded` seconds) stop well short of the `declared` duration: under
/// `TRUNCATED_SHARE` of it and at least `TRUNCATED_GAP_S` short. Healthy files decode to within a
/// frame or two of their header (all 44 timed videos of the corpus and fixtures: 100% or more), so neither can fire on
/// them; a cut-off upload loses a large part.
fn short_of(declared: f64, decoded: f64) -> bool {
    declared > 0.0 && decoded < TRUNCATED_SHARE * declared && declared - decoded >= TRUNCATED_GAP_S
}

/// Whether decode errors spoil too much of the clip: damaged pictures (concealed blocks, smears
/// that persist until the next keyframe) over at least `DAMAGED_SHARE` of the decoded duration and
/// `DAMAGED_MIN_S`. Motion Control copies the reference motion, so a long damaged stretch is damaged
/// output; one glitch that the next keyframe clears within a second stays below this.
fn damaged(damaged_s: f64, decoded_s: f64) -> bool {
    damaged_s >= DAMAGED_MIN_S && damaged_s >= DAMAGED_SHARE * decoded_s.max(0.0)
}

/// Share of the clip shown damaged from which decode errors make the file unreadable ...
const DAMAGED_SHARE: f64 = 0.1;
/// ... when that is also at least this long, seconds.
const DAMAGED_MIN_S: f64 = 1.0;

/// Share of the declared duration below which decoded video counts as truncated.
const TRUNCATED_SHARE: f64 = 0.9;
/// Smallest shortfall reported as truncation, seconds.
const TRUNCATED_GAP_S: f64 = 1.0;

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
    #[test]
    fn truncation_and_damage_thresholds() {
        use super::{damaged, short_of};
        // The WEBM cut to 40%: header 12.0 s, frames to 4.8 s.
        assert!(short_of(12.0, 4.8));
        // Healthy files decode to their header within a frame; short clips never reach the gap.
        assert!(!short_of(12.0, 11.96));
        assert!(!short_of(2.0, 1.2));
        // One damaged GOP of 0.76 s in 8 s passes; 6.3 s of 8 s fails.
        assert!(!damaged(0.76, 8.0));
        assert!(damaged(6.3, 8.0));
        assert!(!damaged(1.5, 30.0));
    }

    use super::*;
    use crate::model::{Container, Cut};
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

    use crate::model::samples::span;

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
