//! Decoded-frame analysis of a reference video: shot cuts, continuous motion, frozen stretches and
//! camera motion, in one streaming decode pass.
//!
//! Kling extracts motion only from continuous action: a cut truncates the output and less than 3 s of
//! moving footage fails the generation without a refund, so these signals decide whether a video is
//! worth paying for. `decode` turns the file into 8-bit planes (FFmpeg, analysis-only decoder
//! settings), `signals` reduces each frame to a few numbers while it is in cache, and `cuts` and
//! `motion` turn those numbers into cuts and spans once the pass is over. Memory stays bounded: one
//! previous frame, a ~1.2 s ring of small grey frames, and a small record per frame.

mod cuts;
mod decode;
mod motion;
pub mod picture;
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
    /// Opt-in: decode reference frames only (much faster, less exact; see notes/cut-detection.md).
    pub skip_nonref: bool,
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
            skip_nonref: false,
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
pub fn analyze_video_with(
    path: &Path,
    opts: &AnalyzeOptions,
    spec: &SampleSpec,
    mut on_even: impl FnMut(&Sample) + Send,
) -> Result<DetailedAnalysis, AnalyzeError> {
    let mut src = decode::open(path, opts.skip_loop_filter, opts.skip_nonref)?;
    let fps = src.fps;
    let mut an = signals::Analyzer::new(fps, opts.freeze_noise);
    let mut sampler = sample::Sampler::new(spec.clone(), fps, src.expected_frames, src.sar);
    let mut stamps: Vec<Option<i64>> = Vec::new();
    let mut dims = (0, 0);
    // Two decoded frames may wait for the signal thread (none above 1080p, for memory).
    let depth = if src.large() { 0 } else { 2 };
    let stats = decode::pipelined(&mut src, depth, |cur, prev, ts| {
        dims = (cur.y.width, cur.y.height);
        let idx = an.recs.len();
        an.push(cur, prev);
        let mafd = an.recs.last().map_or(0.0, |r| r.mafd);
        if let Some(s) = sampler.offer(idx, cur, mafd, fps) {
            on_even(s);
        }
        stamps.push(ts);
    });
    an.finish();
    if an.recs.is_empty() {
        return Err(match stats.fatal {
            Some(e) => AnalyzeError::Decode(e),
            None => AnalyzeError::NoFrames(stats.packet_errors),
        });
    }

    // Timestamps: best-effort pts relative to the stream start; gaps filled at the nominal rate.
    let tb = src.time_base;
    let start = src
        .start_ts
        .or_else(|| stamps.iter().flatten().copied().min());
    let mut last: Option<f64> = None;
    for (r, ts) in an.recs.iter_mut().zip(&stamps) {
        let t = match (ts, start) {
            (Some(ts), Some(s)) => (*ts - s) as f64 * tb,
            _ => last.map_or(0.0, |l| l + 1.0 / fps),
        };
        r.t = t;
        last = Some(t);
    }

    let samples = sampler.finish(|f| an.recs.get(f).map_or(0.0, |r| r.t));
    let recs = &an.recs;
    let n = recs.len();
    let wins = signals::dissolve_windows(fps);
    let bounds = cuts::detect(recs, &an.blanks, wins, dims, opts);
    let times = motion::Times::new(recs, fps);
    let shots = motion::shots(&bounds, n, &times);
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
            time_s: (recs[b.frame].t * 1000.0).round() / 1000.0,
            frame: b.frame as u64,
            kind: if b.gradual { "gradual" } else { "hard" }.into(),
            score: (b.score * 100.0).round() / 100.0,
        })
        .collect();
    let analysis = VideoAnalysis {
        cuts,
        shots,
        frozen,
        motion_segments,
        longest_motion_s,
        frames_decoded: n as u64,
        decoded_duration_s: Some(times.at(n) - times.at(0)),
        camera_motion,
        subject: None,
    };
    Ok(DetailedAnalysis {
        analysis,
        frames: an.recs,
        blank_runs: an.blanks,
        width: dims.0,
        height: dims.1,
        fps,
        decode_errors: stats.packet_errors,
        samples,
    })
}
