//! Checking and placing hard cuts found on a pass that skipped non-reference frames.
//!
//! The fast pass decodes reference frames only (a third to three quarters of the frames of a typical
//! x264 file). A hard cut it finds lies somewhere after the last decoded frame of
//! the old shot and at or before the first decoded frame of the new one. When frames were skipped
//! in between, this module decodes that stretch again at the full frame rate, with a few frames of
//! context on either side, and runs the same signal code and hard-cut test on it: the cut lands on
//! its exact frame, and a candidate that only came from the uneven steps between decoded frames
//! (fast motion looks like a jump when two frames are skipped, notes/cut-detection.md) is dropped.
//!
//! Up to each stretch the decoder reads reference frames only, from where it stopped for the
//! previous stretch when no keyframe lies in between, else from the keyframe before the stretch
//! (a seek). The cost is part of a keyframe interval plus a dozen full frames per candidate; x264's
//! default places a reference frame at every cut it sees, so on most files nothing comes here.

use std::path::Path;

use super::AnalyzeOptions;
use super::cuts;
use super::decode::{self, Flow, Pairs};
use super::signals::{Analyzer, FrameRec};

/// Frames of context decoded on either side of the ambiguous stretch (the hard-cut test compares
/// with two frames on each side and looks three back for flashes).
const CONTEXT: u64 = 4;

/// A hard cut between two decoded frames with skipped frames in between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    /// Frame number of the last decoded frame before the cut.
    pub before: u64,
    /// Frame number of the first decoded frame after it.
    pub after: u64,
}

/// The verdict on one candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// The cut, at this frame number (in `before + 1 ..= after`), with its full-rate score.
    Cut { at: u64, score: f64 },
    /// The full-rate frames show no cut there.
    NoCut,
    /// The stretch could not be decoded again; the fast pass's placement stands.
    Unknown,
}

/// The stream as the fast pass saw it: packet timestamps (sorted; frame number = index), keyframe
/// timestamps (sorted), and each frame's time in seconds (by frame number).
pub(crate) struct Clock<'a> {
    pub pts: &'a [i64],
    pub keyframes: &'a [i64],
    pub times: &'a [f64],
}

/// Decode each candidate's stretch at the full frame rate and judge it. Candidates are taken in
/// order; the decoder seeks to the keyframe before a stretch unless it can read on to it without
/// passing a keyframe (then reading on costs less than seeking back to the last one).
pub(crate) fn check(
    path: &Path,
    opts: &AnalyzeOptions,
    fps: f64,
    clock: &Clock<'_>,
    cands: &[Candidate],
) -> Vec<Verdict> {
    let pts = clock.pts;
    if cands.is_empty() || pts.is_empty() {
        return vec![Verdict::Unknown; cands.len()];
    }
    let mut src = match decode::open(path, opts.skip_loop_filter, true) {
        Ok(s) => s,
        Err(_) => return vec![Verdict::Unknown; cands.len()],
    };
    let last = pts.len() as u64 - 1;
    // Timestamp of the last frame the decoder handed out (None: nothing read yet).
    let mut at: Option<i64> = None;
    cands
        .iter()
        .map(|c| {
            // Four frames of context, or a second (plus four) where that misses the changes the
            // test compares with (repeated frames push them further away).
            let mut verdict = Verdict::Unknown;
            for ctx in [CONTEXT, CONTEXT + fps.ceil() as u64] {
                let lo = pts[c.before.saturating_sub(ctx) as usize];
                let hi = pts[(c.after + ctx).min(last) as usize];
                // No keyframe after the last frame read and at or before the stretch.
                let keyframes_upto = |t: i64| clock.keyframes.partition_point(|&k| k <= t);
                let read_on = at.is_some_and(|p| p < lo && keyframes_upto(p) == keyframes_upto(lo));
                if !read_on && src.seek(lo).is_err() {
                    at = None;
                    return Verdict::Unknown;
                }
                let (recs, last_seen) =
                    window_recs(&mut src, (fps, opts.freeze_noise), clock, (lo, hi));
                at = last_seen;
                let edges = (c.before < ctx, c.after + ctx >= last);
                verdict = judge(&recs, c, opts);
                if enough_context(&recs, c, edges) {
                    break;
                }
            }
            verdict
        })
        .collect()
}

/// Does the window hold the changes the hard-cut test compares a frame with: two real
/// (non-repeated) changes after the stretch and three before it (its first record has nothing
/// to compare with), unless the stream ends there (`edges`: start, end)?
fn enough_context(recs: &[FrameRec], c: &Candidate, (start, end): (bool, bool)) -> bool {
    let real = |r: &&FrameRec| r.mafd >= cuts::DUP;
    let before = recs
        .iter()
        .skip(1)
        .filter(|r| r.frame <= c.before)
        .filter(real);
    let after = recs.iter().filter(|r| r.frame > c.after).filter(real);
    (start || before.count() >= 3) && (end || after.count() >= 2)
}

/// The hard-cut test on the full-rate records of one window.
fn judge(recs: &[FrameRec], c: &Candidate, opts: &AnalyzeOptions) -> Verdict {
    // Every frame of the stretch must be there, or the placement would be a guess again.
    let covered = (c.before..=c.after).all(|f| recs.iter().any(|r| r.frame == f));
    if !covered {
        return Verdict::Unknown;
    }
    cuts::hard_cuts(recs, opts)
        .iter()
        .filter(|b| b.at > c.before && b.at <= c.after)
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .map_or(Verdict::NoCut, |b| Verdict::Cut {
            at: b.at,
            score: b.score,
        })
}

/// Decode the frames with timestamps `lo..=hi` at the full rate (reading on from where the decoder
/// is) and return their records, times filled in, and the timestamp of the last frame read.
fn window_recs(
    src: &mut decode::Source,
    (fps, noise): (f64, f64),
    clock: &Clock<'_>,
    (lo, hi): (i64, i64),
) -> (Vec<FrameRec>, Option<i64>) {
    src.set_skip_nonref(true);
    let mut an = Analyzer::new(fps, noise);
    let mut pairs = Pairs::default();
    let mut push = |cur: &decode::Picture<'_>, prev: Option<&decode::Picture<'_>>, _, n: u64| {
        an.push(cur, prev, n);
    };
    let mut last_seen = None;
    // Reference frames only up to the window, every frame from its first packet on.
    let mut full = false;
    src.run_until(
        |p| {
            if !full && p.is_some_and(|p| p >= lo) {
                full = true;
                return Flow::DecodeAll;
            }
            Flow::Continue
        },
        |frame, ts, _, _| {
            let Some(ts) = ts else {
                return Flow::Continue;
            };
            last_seen = Some(ts);
            if ts > hi {
                return Flow::Stop;
            }
            if ts >= lo
                && let Ok(i) = clock.pts.binary_search(&ts)
            {
                pairs.feed(frame, Some(ts), i as u64, &mut push);
            }
            Flow::Continue
        },
    );
    an.finish();
    let mut recs = an.recs;
    for r in &mut recs {
        r.t = clock.times[r.frame as usize];
    }
    (recs, last_seen)
}
