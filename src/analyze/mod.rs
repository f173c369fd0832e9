//! Decoded-frame analysis of a reference video: shot cuts, continuous motion, frozen stretches and
//! camera motion, in one streaming decode pass.
//!
//! Kling extracts motion only from continuous action: a cut truncates the output and less than 3 s of
//! moving footage fails the generation without a refund, so these signals decide whether a video is
//! worth paying for. `decode` turns the file into 8-bit planes (FFmpeg, analysis-only decoder
//! settings), `signals` reduces each frame to a few numbers while it is in cache, and `cuts` and
//! `motion` turn those numbers into cuts and spans once the pass is over. Memory stays bounded: one
//! previous frame, a ~1.2 s ring of small grey frames, and a small record per frame.
//!
//! The pass decodes reference frames only (FFmpeg's `skip_frame=nonref`): on x264/x265 files with
//! B-frames that is 25–67 % fewer frames and about 0.6–0.75× the decode time. Every frame still gets its
//! number and time, from the packets' timestamps, so cuts and spans are in the stream's own frame
//! numbering; the signal code measures windows and steps by frame number, not by record. A hard cut
//! whose new shot starts after skipped frames is decided and placed by `refine`, which decodes that
//! short stretch again at the full rate. Streams whose packets cannot number the frames (no
//! timestamps, repeated ones, ones that go back) or may carry one field per packet (interlaced)
//! are decoded in full.

mod cuts;
mod decode;
mod motion;
pub mod picture;
mod refine;
mod sample;
mod signals;
pub mod subject;

use std::path::Path;

use crate::model::{Cut, VideoAnalysis};

pub use sample::{Sample, SampleReason, SampleSpec, upright};
pub use signals::{BlankRun, DissolveRec, FrameRec};

/// Settings that change analysis results (they are part of the cache key).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AnalyzeOptions {
    /// Minimum still stretch reported as frozen, seconds.
    pub freeze_min_s: f64,
    /// Largest mean difference (fraction of full scale, on the 1/8-scale luma) to the first frame of
    /// a still stretch that still counts as frozen (freezedetect's noise, -60 dB = 0.001).
    pub freeze_noise: f64,
    /// Minimum shot length: boundaries closer than this are merged into one.
    pub min_shot_s: f64,
    /// Hard cut when scdet's score min(mafd, |Δmafd|) (0–100) reaches this on its own ...
    pub cut_threshold: f64,
    /// ... or reaches this and the frame's mafd is `adaptive_ratio` times its ±2 neighbours' mean.
    pub cut_threshold_low: f64,
    pub adaptive_ratio: f64,
    /// Chroma-only cut score (0–100, small-frame U/V difference) for cuts that keep the luma.
    pub chroma_threshold: f64,
    /// Detect gradual transitions (dissolves, fades through black between different shots).
    pub gradual: bool,
    /// Minimum duration of a reported camera-motion span, seconds.
    pub camera_min_s: f64,
    /// Decode without the in-loop deblocking filter (analysis only; about 15% less CPU).
    pub skip_loop_filter: bool,
    /// Decode reference frames only (0.6–0.75× the decode time on files with B-frames); hard
    /// cuts next to skipped frames are checked and placed by a full-rate decode of their stretch.
    pub skip_nonref: bool,
    /// Frames the fast pass may decode again to decide its unsure cuts, as a share of the clip's
    /// frames; past it the file is decoded in full instead (which costs less then, and makes the
    /// same decisions).
    pub refine_max_share: f64,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            freeze_min_s: 2.0,
            freeze_noise: 0.002,
            min_shot_s: 0.6,
            cut_threshold: 14.0,
            cut_threshold_low: 8.0,
            adaptive_ratio: 3.0,
            chroma_threshold: 6.0,
            gradual: true,
            camera_min_s: 0.5,
            skip_loop_filter: true,
            skip_nonref: true,
            refine_max_share: 1.0,
        }
    }
}

impl AnalyzeOptions {
    /// The defaults with the environment's overrides: `KLING_PREFLIGHT_FULL_DECODE=1` decodes
    /// every frame (the same cuts, 1.3–1.5× the time on files with B-frames).
    pub fn from_env() -> Self {
        let full =
            std::env::var("KLING_PREFLIGHT_FULL_DECODE").is_ok_and(|v| !v.is_empty() && v != "0");
        AnalyzeOptions {
            skip_nonref: !full,
            ..AnalyzeOptions::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("cannot open media: {0}")]
    Open(String),
    #[error("no video stream (audio-only, cover art only, or not a media file)")]
    NoVideoStream,
    #[error("cannot open the video decoder: {0}")]
    Decoder(String),
    #[error("no frame could be decoded ({0} decode errors)")]
    NoFrames(u64),
    /// Kept for callers matching the placeholder's variant.
    #[error("{0}")]
    Decode(String),
}

/// The analysis plus the per-frame signals it was derived from (for tuning and visual reports).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DetailedAnalysis {
    pub analysis: VideoAnalysis,
    pub frames: Vec<FrameRec>,
    pub blank_runs: Vec<BlankRun>,
    /// Size of the analysed luma plane.
    pub width: usize,
    pub height: usize,
    /// Nominal frame rate used for windows.
    pub fps: f64,
    /// Packets or frames the decoder rejected (the analysis covers what decoded).
    pub decode_errors: u64,
    /// Non-reference frames the fast pass did not decode (`frames` covers the others).
    pub frames_skipped: u64,
    /// Frames kept for detectors and thumbnails (empty unless a `SampleSpec` asked for them).
    #[serde(skip)]
    pub samples: Vec<Sample>,
}

/// Decode the video once and derive cuts, shots, frozen stretches and continuous motion.
pub fn analyze_video(path: &Path, opts: &AnalyzeOptions) -> Result<VideoAnalysis, AnalyzeError> {
    analyze_video_detailed(path, opts).map(|d| d.analysis)
}

/// Like `analyze_video`, and also returns the per-frame signals.
pub fn analyze_video_detailed(
    path: &Path,
    opts: &AnalyzeOptions,
) -> Result<DetailedAnalysis, AnalyzeError> {
    analyze_video_sampled(path, opts, &SampleSpec::default())
}

/// Like `analyze_video_detailed`, and also keeps the frames `spec` asks for (same decode pass).
pub fn analyze_video_sampled(
    path: &Path,
    opts: &AnalyzeOptions,
    spec: &SampleSpec,
) -> Result<DetailedAnalysis, AnalyzeError> {
    analyze_video_with(path, opts, spec, |_| {})
}

/// Like `analyze_video_sampled`, and hands each evenly spaced sample to `on_even` as soon as it is
/// kept (its time is not known yet: `t` is 0), so consumers can work while the decode goes on.
///
/// With `skip_nonref` (the default) the pass decodes reference frames only and numbers them by
/// their packets' timestamps; hard cuts with skipped frames before them are then checked and placed
/// on their exact frame by `refine`. A stream whose packets lack timestamps (or repeat them) is
/// decoded again in full.
pub fn analyze_video_with(
    path: &Path,
    opts: &AnalyzeOptions,
    spec: &SampleSpec,
    mut on_even: impl FnMut(&Sample) + Send,
) -> Result<DetailedAnalysis, AnalyzeError> {
    let mut sent = 0usize;
    if opts.skip_nonref {
        let mut count = |s: &Sample| {
            sent += 1;
            on_even(s)
        };
        if let Some(d) = pass(path, opts, spec, true, &mut count)? {
            return Ok(d);
        }
    }
    // Full decode; evenly spaced samples already handed out by an abandoned fast pass are not
    // handed out twice.
    let mut seen = 0usize;
    let skip_sent = |s: &Sample| {
        seen += 1;
        if seen > sent {
            on_even(s)
        }
    };
    pass(path, opts, spec, false, skip_sent)
        .map(|d| d.expect("a full pass always numbers its frames"))
}

/// One decode pass and the analysis. Ok(None) when `fast` and the frames cannot be numbered from
/// the packet timestamps, or when deciding its unsure cuts again would cost more than a full decode
/// (`refine_max_share`).
fn pass(
    path: &Path,
    opts: &AnalyzeOptions,
    spec: &SampleSpec,
    fast: bool,
    mut on_even: impl FnMut(&Sample) + Send,
) -> Result<Option<DetailedAnalysis>, AnalyzeError> {
    let mut src = decode::open(path, opts.skip_loop_filter, fast)?;
    let fps = src.fps;
    let mut an = signals::Analyzer::new(fps, opts.freeze_noise);
    let mut sampler = sample::Sampler::new(spec.clone(), fps, src.expected_frames, src.sar);
    let mut stamps: Vec<Option<i64>> = Vec::new();
    let mut dims = (0, 0);
    // Two decoded frames may wait for the signal thread (none above 1080p, for memory).
    let depth = if src.large() { 0 } else { 2 };
    let stats = decode::pipelined(&mut src, depth, |cur, prev, ts, number| {
        dims = (cur.y.width, cur.y.height);
        an.push(cur, prev, number);
        let mafd = an.recs.last().map_or(0.0, |r| r.mafd);
        if let Some(s) = sampler.offer(number as usize, cur, mafd, fps) {
            on_even(s);
        }
        stamps.push(ts);
    });
    an.finish();
    if fast && stats.packets_without_pts > 0 {
        return Ok(None);
    }
    if an.recs.is_empty() {
        return Err(match stats.fatal {
            Some(e) => AnalyzeError::Decode(e),
            None => AnalyzeError::NoFrames(stats.packet_errors),
        });
    }

    let (tb, start_ts) = (src.time_base, src.start_ts);
    // The decoder's buffers go before any stretch is decoded again (4K stays under 200 MB).
    drop(src);
    let skipped = fast && stats.packet_pts.len() as u64 != stats.frames;
    // The time of every frame of the stream, by frame number.
    let all: Vec<f64> = if skipped {
        // Number every frame by its packet's timestamp: every packet needs one, once, in order.
        let pts = &stats.packet_pts;
        if pts.windows(2).any(|w| w[0] >= w[1]) {
            return Ok(None);
        }
        for (r, ts) in an.recs.iter_mut().zip(&stamps) {
            match ts.and_then(|ts| pts.binary_search(&ts).ok()) {
                Some(f) => r.frame = f as u64,
                None => return Ok(None),
            }
        }
        // Timestamps that go back (joined recordings, a wrapped MPEG-TS clock) number frames out
        // of order.
        if an.recs.windows(2).any(|w| w[1].frame <= w[0].frame) {
            return Ok(None);
        }
        let start = start_ts.unwrap_or(pts[0]);
        let all: Vec<f64> = pts.iter().map(|&p| (p - start) as f64 * tb).collect();
        for r in &mut an.recs {
            r.t = all[r.frame as usize];
        }
        all
    } else {
        // Timestamps: best-effort pts relative to the stream start; gaps filled at the nominal rate.
        // Every frame was decoded: frames are numbered in decode-output order.
        let start = start_ts.or_else(|| stamps.iter().flatten().copied().min());
        // Times follow the frame order: a timestamp that goes back (joined recordings, a wrapped
        // MPEG-TS clock) or repeats continues at the nominal rate instead.
        let mut last: Option<f64> = None;
        for (i, (r, ts)) in an.recs.iter_mut().zip(&stamps).enumerate() {
            let next = last.map_or(0.0, |l| l + 1.0 / fps);
            let t = match (ts, start) {
                (Some(ts), Some(s)) => (*ts - s) as f64 * tb,
                _ => next,
            };
            let t = match last {
                Some(l) if t <= l => next,
                _ => t,
            };
            r.t = t;
            r.frame = i as u64;
            last = Some(t);
        }
        an.recs.iter().map(|r| r.t).collect()
    };

    let times = motion::Times::new(&an.recs, &all, fps);
    let samples = sampler.finish(|f| times.time_of(f as u64));
    let recs = &an.recs;
    let n = recs.len();
    let wins = signals::dissolve_windows(fps);
    let clock = refine::Clock {
        pts: &stats.packet_pts,
        keyframes: &stats.keyframe_pts,
        times: &all,
    };
    // Deciding the unsure stretches again can cost more than decoding the rest of the clip (cuts
    // on skipped frames in long keyframe intervals): then the full decode decides instead.
    if skipped {
        let decoded: Vec<u64> = recs.iter().map(|r| r.frame).collect();
        let cost = refine::cost(&clock, fps, &decoded, &unsure(recs, opts).1);
        if cost as f64 > opts.refine_max_share * all.len() as f64 {
            return Ok(None);
        }
    }
    let mut settle = |b: &mut Vec<cuts::Boundary>| {
        if skipped {
            refine_cuts(path, opts, fps, recs, &clock, b);
        }
    };
    let bounds = cuts::detect(recs, &an.blanks, wins, dims, opts, &mut settle);
    let shots = motion::shots(&bounds, &times);
    let frozen = motion::frozen(
        recs,
        &times,
        opts.freeze_min_s,
        (opts.freeze_noise * 100.0) as f32,
    );
    let motion_segments = motion::motion_segments(&shots, &frozen, &times);
    let longest_motion_s = motion_segments
        .iter()
        .map(|s| s.duration_s())
        .fold(0.0, f64::max);
    let camera_motion = motion::camera_spans(recs, &bounds, dims, &times, opts.camera_min_s);
    let cuts = bounds
        .iter()
        .map(|b| Cut {
            time_s: (times.time_of(b.at) * 1000.0).round() / 1000.0,
            frame: b.at,
            kind: if b.gradual { "gradual" } else { "hard" }.into(),
            score: (b.score * 100.0).round() / 100.0,
        })
        .collect();
    let total = times.total();
    // Ticks of one frame, for the end of the last one.
    let frame_ticks = (1.0 / (fps * tb)).round() as i64;
    let end = stats
        .packet_pts
        .last()
        .map_or(0, |&p| p.saturating_add(frame_ticks));
    let damaged = decode::damaged_ticks(&stats.damaged_pts, &stats.keyframe_pts, end);
    let analysis = VideoAnalysis {
        cuts,
        shots,
        frozen,
        motion_segments,
        longest_motion_s,
        frames_decoded: total,
        decoded_duration_s: Some(times.at(n) - times.at(0)),
        camera_motion,
        subject: None,
        decode_errors: stats.damaged,
        damaged_s: (damaged as f64 * tb * 1000.0).round() / 1000.0,
    };
    Ok(Some(DetailedAnalysis {
        analysis,
        frames: an.recs,
        blank_runs: an.blanks,
        width: dims.0,
        height: dims.1,
        fps,
        decode_errors: stats.packet_errors,
        frames_skipped: total - n as u64,
        samples,
    }))
}

/// The hard cuts of a pass that skipped frames, as a full decode finds them: every frame the
/// wider net of `cuts::candidates` catches is decided at the full frame rate (`refine`), unless
/// the fast pass saw all the frames the test looks at (then its own verdict, `bounds`, stands).
/// Cuts that were not cuts are dropped, the others moved to their exact frame.
fn refine_cuts(
    path: &Path,
    opts: &AnalyzeOptions,
    fps: f64,
    recs: &[FrameRec],
    clock: &refine::Clock<'_>,
    bounds: &mut Vec<cuts::Boundary>,
) {
    let strict = std::mem::take(bounds);
    let fast_verdict = |i: usize| strict.iter().find(|b| b.frame == i).cloned();
    let (unsure, cands) = unsure(recs, opts);
    let mut out: Vec<cuts::Boundary> = strict
        .iter()
        .filter(|b| !unsure.iter().any(|u| u.frame == b.frame))
        .cloned()
        .collect();
    let known: Vec<u64> = out.iter().map(|b| b.at).collect();
    let verdicts = refine::check(path, opts, fps, clock, &cands, &known);
    for (u, v) in unsure.iter().zip(verdicts) {
        match v {
            refine::Verdict::Cut { at, score } => out.push(cuts::Boundary {
                at,
                score,
                ..u.clone()
            }),
            refine::Verdict::NoCut => {}
            refine::Verdict::Unknown => out.extend(fast_verdict(u.frame)),
        }
    }
    out.sort_by_key(|b| b.frame);
    *bounds = out;
}

/// The frames of a pass that skipped frames that `refine` must decide (the wider net of
/// `cuts::candidates`, where the fast pass lacks a frame the hard-cut test looks at), and the
/// stretch of each.
fn unsure(
    recs: &[FrameRec],
    opts: &AnalyzeOptions,
) -> (Vec<cuts::Boundary>, Vec<refine::Candidate>) {
    let n = recs.len();
    // The hard-cut test compares a frame with up to three records on either side; when those are
    // consecutive frames and none repeats the one before (repeats make it look further back),
    // the fast pass had every frame a full decode would use.
    let sure = |i: usize| {
        let (a, b) = (i.saturating_sub(3), (i + 3).min(n - 1));
        recs[b].frame - recs[a].frame == (b - a) as u64
            && recs[a + 1..=b].iter().all(|r| r.mafd >= cuts::DUP)
    };
    let unsure: Vec<cuts::Boundary> = cuts::candidates(recs, opts)
        .into_iter()
        .filter(|b| b.frame > 0 && !sure(b.frame))
        .collect();
    let cands = unsure
        .iter()
        .map(|b| refine::Candidate {
            before: recs[b.frame - 1].frame,
            after: recs[b.frame].frame,
        })
        .collect();
    (unsure, cands)
}
