//! Time spans derived from the per-frame signals: shots, frozen stretches, continuous motion and
//! camera motion.
//!
//! Kling needs at least 3 s of continuous, moving footage; these spans are what rules V011/V012 and the
//! trim fix read. A frozen stretch follows freezedetect's rule (every frame within a small noise of the
//! stretch's first frame, for at least `freeze_min_s`; two long still pieces joined by one small
//! step, as when an encoder refreshes a frozen picture at a keyframe, are one stretch); motion
//! segments are the cut-free parts of each shot with the frozen stretches removed; camera motion is a
//! run of frames whose global shift (from row/column projection matching) is confident.

use super::cuts::{Boundary, camera_moving};
use super::signals::FrameRec;
use crate::model::Span;

/// Frame times and numbers. Records are indexed `0..n` (`at(n)` is the end of the last frame); frame
/// numbers count every frame of the stream, including any the decoder skipped.
pub(crate) struct Times<'a> {
    recs: &'a [FrameRec],
    /// Time of every frame of the stream, by frame number.
    all: &'a [f64],
    pub frame_dur: f64,
}

impl<'a> Times<'a> {
    /// `all`: the time of every frame by number (the records' own times when every frame has one).
    pub fn new(recs: &'a [FrameRec], all: &'a [f64], fps: f64) -> Self {
        let mut gaps: Vec<f64> = all
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| d.is_finite() && *d > 0.0)
            .collect();
        gaps.sort_by(|a, b| a.total_cmp(b));
        let frame_dur = gaps.get(gaps.len() / 2).copied().unwrap_or(1.0 / fps);
        Times {
            recs,
            all,
            frame_dur,
        }
    }

    /// Frames in the stream.
    pub fn total(&self) -> u64 {
        self.all.len() as u64
    }

    /// Time of record `i` (the end of the stream for `i == n`).
    pub fn at(&self, i: usize) -> f64 {
        self.time_of(self.number(i))
    }

    /// Frame number of record `i` (the frame count for `i == n`).
    pub fn number(&self, i: usize) -> u64 {
        self.recs.get(i).map_or(self.total(), |r| r.frame)
    }

    /// Time of frame number `f` (the end of the stream for `f == total`).
    pub fn time_of(&self, f: u64) -> f64 {
        match self.all.get(f as usize) {
            Some(&t) => t,
            None => self.all.last().map_or(0.0, |t| t + self.frame_dur),
        }
    }

    /// Span from record `a` to record `b` (exclusive; `b == n` is the end).
    pub fn span(&self, a: usize, b: usize) -> Span {
        self.span_frames(self.number(a), self.number(b))
    }

    /// Span from frame number `a` to frame number `b` (exclusive).
    pub fn span_frames(&self, a: u64, b: u64) -> Span {
        Span {
            start_s: self.time_of(a),
            end_s: self.time_of(b),
            start_frame: a,
            end_frame: b,
        }
    }
}

pub(crate) fn shots(cuts: &[Boundary], t: &Times<'_>) -> Vec<Span> {
    let n = t.total();
    if n == 0 {
        return Vec::new();
    }
    let mut edges = vec![0];
    edges.extend(cuts.iter().map(|c| c.at).filter(|&f| f > 0 && f < n));
    edges.push(n);
    edges.dedup();
    edges
        .windows(2)
        .map(|w| t.span_frames(w[0], w[1]))
        .collect()
}

/// Still pieces (runs sharing one freeze reference), as [start, end) frame ranges.
fn still_pieces(recs: &[FrameRec]) -> Vec<(usize, usize)> {
    let n = recs.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let r = recs[i].freeze_ref as usize;
        let mut j = i + 1;
        while j < n && recs[j].freeze_ref as usize == r {
            j += 1;
        }
        out.push((r.min(i), j));
        i = j;
    }
    out
}

/// Frozen stretches of at least `min_s`. `noise` is the freeze noise in % (small-frame MAD).
///
/// A still picture re-encoded at a keyframe steps by a few tenths of a percent once and then is
/// exactly still again; that splits one freeze into still pieces. Two pieces that are each still
/// for at least `PIECE_S` and joined by one small step (≤ 4 × noise) are one frozen stretch: real
/// slow motion changes a little on every frame and never stays still for that long.
pub(crate) fn frozen(recs: &[FrameRec], t: &Times<'_>, min_s: f64, noise: f32) -> Vec<Span> {
    const PIECE_S: f64 = 0.3;
    let long = |p: &(usize, usize)| t.at(p.1) - t.at(p.0) >= PIECE_S - 1e-6;
    let mut merged: Vec<(usize, usize)> = Vec::new();
    let mut last_long = false;
    for p in still_pieces(recs) {
        let this_long = long(&p);
        if let Some(m) = merged.last_mut()
            && last_long
            && this_long
            && m.1 == p.0
            && recs[p.0].d1 <= 4.0 * noise
        {
            m.1 = p.1;
            continue;
        }
        merged.push(p);
        last_long = this_long;
    }
    // Noisy stills (sensor grain, film grain): runs whose difference to their first frame stays
    // small and evenly spread. Judged on the run's median share, not frame by frame: one uneven
    // frame in a noisy still or one even frame in slow motion must not decide.
    // A noisy still re-anchors now and then (a keyframe refresh moves the grain); consecutive
    // noise-like runs are one stretch.
    let long_enough = |&(a, b): &(usize, usize)| t.at(b) - t.at(a) >= min_s - 1e-6;
    merged.retain(long_enough);
    let mut noisy = union(noisy_stills(recs));
    noisy.retain(long_enough);
    merged.extend(noisy);
    union(merged)
        .into_iter()
        .map(|(a, b)| t.span(a, b))
        .collect()
}

/// Sorted union of half-open frame ranges (touching ranges join).
fn union(mut v: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    v.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Largest median spread share of a noisy-still run. Measured on the analysis's own 64-px frames:
/// x264-encoded temporal grain (uniform ±12 and ±25 on a still) has medians 0.28 and 0.31; in the
/// corpus people clips the frames that stayed within 0.5 % of a run's first frame have medians
/// 0.48–0.95 (10th percentiles 0.36–0.94), even where the subject barely moved.
const NOISE_SHARE_MAX: f32 = 0.33;

/// Runs of frames sharing a noise reference whose median spread share says "noise".
fn noisy_stills(recs: &[FrameRec]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut shares = Vec::new();
    while i < recs.len() {
        let r = recs[i].noise_ref as usize;
        let mut j = i + 1;
        while j < recs.len() && recs[j].noise_ref as usize == r {
            j += 1;
        }
        shares.clear();
        shares.extend(
            recs[i..j]
                .iter()
                .map(|x| x.noise_share)
                .filter(|v| v.is_finite()),
        );
        if shares.len() >= 8 {
            let mid = shares.len() / 2;
            let (_, m, _) = shares.select_nth_unstable_by(mid, f32::total_cmp);
            if *m <= NOISE_SHARE_MAX {
                out.push((r.min(i), j));
            }
        }
        i = j;
    }
    out
}

/// Shots minus frozen stretches.
pub(crate) fn motion_segments(shots: &[Span], frozen: &[Span], t: &Times<'_>) -> Vec<Span> {
    let mut out = Vec::new();
    for s in shots {
        let (a, b) = (s.start_frame, s.end_frame);
        let mut cur = a;
        for f in frozen {
            let (fa, fb) = (f.start_frame, f.end_frame);
            if fb <= cur || fa >= b {
                continue;
            }
            // Keep the first frozen frame with the motion before it (it ends that motion).
            let stop = (fa + 1).min(b);
            if stop > cur + 1 {
                out.push(t.span_frames(cur, stop));
            }
            cur = cur.max(fb);
        }
        if b > cur + 1 {
            out.push(t.span_frames(cur, b));
        }
    }
    out
}

/// Runs of camera-moving frames of at least `min_s`, bridging gaps of up to 2 frames, split at cuts.
pub(crate) fn camera_spans(
    recs: &[FrameRec],
    cuts: &[Boundary],
    dims: (usize, usize),
    t: &Times<'_>,
    min_s: f64,
) -> Vec<Span> {
    let n = recs.len();
    let mut moving: Vec<bool> = (0..n)
        .map(|i| camera_moving(recs, i, dims.0, dims.1))
        .collect();
    for c in cuts {
        if c.frame < n {
            moving[c.frame] = false;
        }
    }
    // Bridge short gaps.
    let mut i = 0;
    while i < n {
        if !moving[i] {
            let mut j = i;
            while j < n && !moving[j] {
                j += 1;
            }
            let is_cut = cuts.iter().any(|c| c.frame >= i && c.frame < j);
            // At most two still frames (by number: records may skip frames).
            let still = recs
                .get(j)
                .map_or(usize::MAX, |r| (r.frame - recs[i].frame) as usize);
            if i > 0 && j < n && still <= 2 && !is_cut {
                moving[i..j].iter_mut().for_each(|m| *m = true);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if moving[i] {
            let mut j = i;
            while j < n && moving[j] {
                j += 1;
            }
            // The shift at frame i is measured against i-1: the motion spans [i-1, j).
            let a = i.saturating_sub(1);
            if t.at(j) - t.at(a) >= min_s {
                out.push(t.span(a, j));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}
