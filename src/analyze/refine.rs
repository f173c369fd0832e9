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
use super::signals::{self, Analyzer, FrameRec};

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
/// passing a keyframe (then reading on costs less than seeking back to the last one). `known`:
/// frame numbers of the hard cuts decided without a second look (the return test asks whether a
/// cut lies between a frame and the earlier picture it returns to).
pub(crate) fn check(
    path: &Path,
    opts: &AnalyzeOptions,
    fps: f64,
    clock: &Clock<'_>,
    cands: &[Candidate],
    known: &[u64],
) -> Vec<Verdict> {
    let pts = clock.pts;
    if cands.is_empty() || pts.is_empty() {
        return vec![Verdict::Unknown; cands.len()];
    }
    let Ok(src) = decode::open(path, opts.skip_loop_filter, true) else {
        return vec![Verdict::Unknown; cands.len()];
    };
    let mut w = Windows {
        src,
        clock,
        fps,
        noise: opts.freeze_noise,
        at: None,
    };
    let mut cuts = known.to_vec();
    cands
        .iter()
        .map(|c| {
            let v = one(&mut w, c, opts, &cuts);
            if let Verdict::Cut { at, .. } = v {
                cuts.push(at);
            }
            v
        })
        .collect()
}

/// Frames `check` would decode for `cands` at most: per candidate, the reference frames from the
/// keyframe before its window to the window, then the window at the full rate, once for the
/// four-frame window and once for the window with the return test's history (a second look that
/// most cuts get). `decoded`: the frame numbers the fast pass decoded (its reference frames).
/// Reading on between nearby candidates makes the real count smaller.
pub(crate) fn cost(clock: &Clock<'_>, fps: f64, decoded: &[u64], cands: &[Candidate]) -> u64 {
    let pts = clock.pts;
    let Some(last) = (pts.len() as u64).checked_sub(1) else {
        return 0;
    };
    // Frame number of the last keyframe at or before frame `f` (0 when none is known).
    let keyframe_before = |f: u64| {
        let t = pts[f.min(last) as usize];
        let k = clock.keyframes.partition_point(|&k| k <= t);
        k.checked_sub(1)
            .and_then(|k| pts.binary_search(&clock.keyframes[k]).ok())
            .map_or(0, |i| i as u64)
    };
    let refs = |a: u64, b: u64| {
        (decoded.partition_point(|&f| f < b) - decoded.partition_point(|&f| f < a)) as u64
    };
    let back = (signals::ring_len(fps) as u64 - 1).max(CONTEXT);
    let window = |c: &Candidate, before: u64| {
        let lo = c.before.saturating_sub(before);
        let hi = (c.after + CONTEXT).min(last);
        refs(keyframe_before(lo), lo) + hi.saturating_sub(lo) + 1
    };
    cands
        .iter()
        .map(|c| window(c, CONTEXT) + window(c, back))
        .sum()
}

/// The decoder and what a window needs to number and time its frames.
struct Windows<'a> {
    src: decode::Source,
    clock: &'a Clock<'a>,
    fps: f64,
    noise: f64,
    /// Timestamp of the last frame the decoder handed out (None: nothing read yet).
    at: Option<i64>,
}

impl Windows<'_> {
    /// The full-rate records of frames `first..=last` (frame numbers, clamped to the stream).
    fn decode(&mut self, first: u64, last: u64) -> Option<Vec<FrameRec>> {
        let pts = self.clock.pts;
        let lo = pts[first as usize];
        let hi = pts[last.min(pts.len() as u64 - 1) as usize];
        // No keyframe after the last frame read and at or before the stretch.
        let keyframes_upto = |t: i64| self.clock.keyframes.partition_point(|&k| k <= t);
        let read_on = self
            .at
            .is_some_and(|p| p < lo && keyframes_upto(p) == keyframes_upto(lo));
        if !read_on && self.src.seek(lo).is_err() {
            self.at = None;
            return None;
        }
        let (recs, last_seen) =
            window_recs(&mut self.src, (self.fps, self.noise), self.clock, (lo, hi));
        self.at = last_seen;
        Some(recs)
    }
}

/// One candidate: four frames of context, or a second (plus four) where that misses the changes
/// the test compares with (repeated frames push them further away); then, if a cut stands and
/// might be a return to an earlier picture, the stretch again with the 2 s of history that test
/// reads in a full decode.
fn one(w: &mut Windows<'_>, c: &Candidate, opts: &AnalyzeOptions, known: &[u64]) -> Verdict {
    let last = w.clock.pts.len() as u64 - 1;
    let mut verdict = (Verdict::Unknown, false);
    let mut ctx = CONTEXT;
    for x in [CONTEXT, CONTEXT + w.fps.ceil() as u64] {
        ctx = x;
        let Some(recs) = w.decode(c.before.saturating_sub(ctx), c.after + ctx) else {
            return Verdict::Unknown;
        };
        verdict = judge(&recs, c, opts, None);
        if enough_context(&recs, c, (c.before < ctx, c.after + ctx >= last)) {
            break;
        }
    }
    let (v, returns) = verdict;
    if !returns {
        return v;
    }
    // The return test looks back `ring_len - 1` frames from each frame of the stretch.
    let back = (signals::ring_len(w.fps) as u64 - 1).max(ctx);
    match w.decode(c.before.saturating_sub(back), c.after + ctx) {
        Some(recs) => {
            let earlier = cuts::Earlier {
                cuts: known,
                first: c.before + 1,
            };
            judge(&recs, c, opts, Some(&earlier)).0
        }
        None => v,
    }
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

/// The hard-cut test on the full-rate records of one window, with the return test when `returns`
/// says what came before (else without it, and whether a cut of the stretch is one that test
/// could drop: it runs on frames whose motion-compensated difference was measured).
fn judge(
    recs: &[FrameRec],
    c: &Candidate,
    opts: &AnalyzeOptions,
    returns: Option<&cuts::Earlier<'_>>,
) -> (Verdict, bool) {
    // Every frame of the stretch must be there, or the placement would be a guess again.
    let covered = (c.before..=c.after).all(|f| recs.iter().any(|r| r.frame == f));
    if !covered {
        return (Verdict::Unknown, false);
    }
    let found: Vec<cuts::Boundary> = cuts::window_cuts(recs, opts, returns)
        .into_iter()
        .filter(|b| b.at > c.before && b.at <= c.after)
        .collect();
    let may_return = found.iter().any(|b| recs[b.frame].mc.is_finite());
    let v = found
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .map_or(Verdict::NoCut, |b| Verdict::Cut {
            at: b.at,
            score: b.score,
        });
    (v, may_return)
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
