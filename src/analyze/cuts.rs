//! Shot-boundary decisions from the per-frame signals: hard cuts, flashes, dissolves and fades.
//!
//! Kling truncates its output at any cut, so this is the decision that costs users money when wrong.
//! It runs after the decode pass on the small `FrameRec` vectors (so it can look ahead), following
//! the measured recommendations in `notes/cut-detection.md`:
//! - hard cut: scdet's score min(mafd, |Δmafd|) on full-resolution luma, either high on its own or
//!   moderate and confirmed by an adaptive ratio against the ±2 neighbours; a chroma-only path for
//!   cuts that keep the luma; flashes (a frame or two that differ while the frames around them
//!   match) are suppressed; cuts closer than `min_shot_s` are merged;
//! - gradual cut (dissolve): over a window of L frames the middle frame is the average of the ends
//!   (linear blend), the change is coherent (end-to-end difference ≈ sum of steps), the structure
//!   changes (low correlation of the ends, so a fade or a lighting change within a shot does not
//!   count), no camera motion and no hard cut inside; linearity and coherence are also tested on
//!   block-averaged "tiny" frames, where a pixel-random dissolve becomes a crossfade;
//! - fade through black/white: a run of near-uniform frames whose surrounding pictures do not
//!   correlate is a gradual cut at the first frame after the run; a fade to black and back to the
//!   same picture is not, nor is a camera panning across a plain area (the shift stays tracked).

use super::AnalyzeOptions;
use super::signals::{BlankRun, DISSOLVE_MIN_D, FrameRec};

/// One boundary before it becomes a `model::Cut`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Boundary {
    /// Index of the record of the first frame of the new shot.
    pub frame: usize,
    /// Its frame number in the stream (the record's `frame`, or a skipped frame before it once
    /// `refine` has placed the cut exactly).
    pub at: u64,
    pub gradual: bool,
    pub score: f64,
}

/// Is record `i` camera-moving (global shift from the record before with a confident match)?
///
/// The same test whether frames were skipped before the record or not. Over a two-frame step the
/// match's residual moves both ways: on a 12 px/frame pan of a test pattern it rises (0.50–0.57
/// frame to frame, 0.57–0.64 over two), on a child's face moving in a static shot it falls (more
/// frames pass the test), so no correction for the gap is safe; this one errs towards "still".
pub(crate) fn camera_moving(recs: &[FrameRec], i: usize, width: usize, height: usize) -> bool {
    let r = &recs[i];
    let min_x = (0.002 * width as f32).max(1.0);
    let min_y = (0.002 * height as f32).max(1.0);
    (r.dx.abs() >= min_x && r.conf_x <= 0.6) || (r.dy.abs() >= min_y && r.conf_y <= 0.6)
}

fn flash_at(recs: &[FrameRec], i: usize) -> bool {
    let n = recs.len();
    let d1 = |j: usize| recs.get(j).map(|r| r.d1).unwrap_or(0.0);
    let low = |x: f32, ref_: f32| x.is_finite() && x < 0.35 * ref_ && ref_ > 0.5;
    // Frame i starts a one- or two-frame excursion that returns to frame i-1.
    if i + 1 < n && low(recs[i + 1].d2, d1(i).min(d1(i + 1))) {
        return true;
    }
    if i + 2 < n && low(recs[i + 2].d3, d1(i).min(d1(i + 2))) {
        return true;
    }
    // Frame i ends such an excursion (it matches the frame before the flash).
    if i >= 2 && low(recs[i].d2, d1(i).min(d1(i - 1))) {
        return true;
    }
    if i >= 3 && low(recs[i].d3, d1(i).min(d1(i - 2))) {
        return true;
    }
    false
}

/// Small-frame luma deviation below which a frame is too dim or flat to start or end a dissolve
/// window (0..255).
const DIM_STD: f32 = 10.0;

/// Luma histogram distance (half the L1 distance of 64-bin histograms, 0..1) at which a frame that
/// stands out from its neighbours is a cut even when its frame difference does not stand out.
const HIST_CUT: f32 = 0.5;

/// A repeated frame (exact duplicate from a frame-rate conversion or an encoder skip).
pub(crate) const DUP: f32 = 0.05;

/// What the return-to-an-earlier-picture test knows beyond the records it is given: when the
/// records are a stretch decoded again (`refine`), the cuts already decided before it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Earlier<'a> {
    /// Frame numbers of the hard cuts decided before `first`.
    pub cuts: &'a [u64],
    /// The first frame number at which a cut may be reported: the records before it are history
    /// for the tests (a window's first frames have too little context to be judged themselves).
    pub first: u64,
}

pub(crate) fn hard_cuts(recs: &[FrameRec], o: &AnalyzeOptions) -> Vec<Boundary> {
    scan(recs, o, 1.0, Some(&Earlier::default()))
}

/// The hard-cut test on a stretch decoded again at the full rate, `returns` as in `scan`.
pub(crate) fn window_cuts(
    recs: &[FrameRec],
    o: &AnalyzeOptions,
    returns: Option<&Earlier<'_>>,
) -> Vec<Boundary> {
    scan(recs, o, 1.0, returns)
}

/// Every frame that might be a hard cut once the frames skipped around it are decoded: the
/// hard-cut test with its thresholds halved and without the flash and return checks.
///
/// Steps over skipped frames carry up to four frames of motion, so the fast pass's scores are
/// not the full decode's: the record after a cut still changes at least as much as the cut, but
/// its neighbours (and the previous change the score subtracts) change more, which lowers both
/// the score and the ratio; halving the thresholds covered every cut of the montages in
/// `scripts/skip-equivalence.sh`. `refine` decides each candidate at the full rate.
pub(crate) fn candidates(recs: &[FrameRec], o: &AnalyzeOptions) -> Vec<Boundary> {
    scan(recs, o, 0.5, None)
}

/// The hard-cut test with every threshold times `k` (1: the verdict; below 1: a wider net whose
/// catches are decided elsewhere, flashes included). `returns`: run the return-to-an-earlier-
/// picture test, with the cuts decided before the records (None: leave it to the caller, whose
/// records may not reach back as far as the test looks).
fn scan(
    recs: &[FrameRec],
    o: &AnalyzeOptions,
    k: f64,
    returns: Option<&Earlier<'_>>,
) -> Vec<Boundary> {
    let n = recs.len();
    let within = |i: usize, j: usize| {
        let dt = recs[i].t - recs[j].t;
        !dt.is_finite() || dt.abs() <= 1.0
    };
    // Scores skip duplicated frames: with repeats, motion arrives in bursts that would look like
    // isolated jumps. `prev_real(i)` is the last non-duplicate frame before i (within 1 s).
    let prev_real = |i: usize| {
        (1..i)
            .rev()
            .take_while(|&j| within(i, j))
            .find(|&j| recs[j].mafd >= DUP)
    };
    let next_real = |i: usize| {
        (i + 1..n)
            .take_while(|&j| within(i, j))
            .find(|&j| recs[j].mafd >= DUP)
    };
    // Mean of `f` over up to two real frames before i (`back`) and two after.
    let neigh = |i: usize, back: bool, f: &dyn Fn(usize) -> f32| -> Option<f32> {
        let mut v = Vec::new();
        let steps: [&dyn Fn(usize) -> Option<usize>; 2] = [&prev_real, &next_real];
        for (s, step) in steps.iter().enumerate() {
            if s == 0 && !back {
                continue;
            }
            let mut j = i;
            for _ in 0..2 {
                match step(j) {
                    Some(p) => {
                        v.push(f(p));
                        j = p;
                    }
                    None => break,
                }
            }
        }
        (!v.is_empty()).then(|| v.iter().sum::<f32>() / v.len() as f32)
    };
    let m = |j: usize| recs[j].mafd;
    let c = |j: usize| recs[j].cmafd;
    let (kf, loose) = (k as f32, k < 1.0);
    let mut out: Vec<Boundary> = Vec::new();
    let first = returns.map_or(0, |e| e.first);
    for i in 1..n {
        if m(i) < DUP || recs[i].frame < first {
            continue;
        }
        let p = prev_real(i);
        // After a hold (stop motion, footage at a lower rate repeated up to this one), the
        // previous change is itself a burst of held-back motion: it says how far a burst moves,
        // not how much this frame should. Such a frame is compared with the smaller of the bursts
        // before and after it, and with the real changes after it only: a cut into a moving shot
        // is followed by small steps, a burst of repeated footage by bursts like it. The wider
        // net tries both readings (a hold may be among the frames the fast pass skipped).
        let held = p.is_some_and(|p| p + 1 < i);
        let readings: &[bool] = if loose { &[false, true] } else { &[held] };
        let test = |held: bool| -> Option<f64> {
            let q = if held { next_real(i) } else { None };
            let prev_change = |f: &dyn Fn(usize) -> f32| {
                let fp = p.map_or(0.0, f);
                q.map_or(fp, |q| fp.min(f(q)))
            };
            let (mp, cp) = (prev_change(&m), prev_change(&c));
            let sc = m(i).min((m(i) - mp).abs()) as f64;
            let ratio =
                neigh(i, !held, &m).map_or(f64::INFINITY, |a| m(i) as f64 / a.max(1.0) as f64);
            let luma = sc >= k * o.cut_threshold
                || (sc >= k * o.cut_threshold_low && ratio >= k * o.adaptive_ratio);
            let csc = c(i).min((c(i) - cp).abs()) as f64;
            let cratio =
                neigh(i, !held, &c).map_or(f64::INFINITY, |a| c(i) as f64 / a.max(0.5) as f64);
            let chroma = csc >= k * o.chroma_threshold
                && cratio >= k * 4.0
                && ratio >= k * 2.0
                && m(i) >= kf * 3.0;
            // A shot whose every frame already changes as much as a cut (noise, confetti, a
            // cellular automaton: mafd ≈ 42 % per frame) hides the cut from the scores above; its
            // luma histogram still jumps (cellauto → colour bars: 0.94, 47× its neighbours; at
            // most 0.24 on any non-cut frame of the corpus, fast motion included).
            let hist = recs[i].hist_d >= kf * HIST_CUT
                && neigh(i, true, &|j| recs[j].hist_d)
                    .is_none_or(|a| recs[i].hist_d >= kf * 8.0 * a.max(0.02))
                && m(i) >= kf * 3.0;
            if luma || chroma {
                Some(sc.max(csc))
            } else {
                hist.then_some(recs[i].hist_d as f64 * 100.0)
            }
        };
        let Some(score) = readings.iter().filter_map(|&h| test(h)).reduce(f64::max) else {
            continue;
        };
        if !loose && flash_at(recs, i) {
            continue;
        }
        // The picture went back to one seen shortly before, with no cut in between: the frames in
        // between were a flash, a glitch or a freeze, not another shot. Back in luma and chroma
        // together: a new shot whose brightness pattern resembles an earlier one (the same test
        // pattern flipped, in other colours) is still a new shot.
        let r = &recs[i];
        if let Some(e) = returns
            && r.ret.is_finite()
            && r.ret + r.cret < 0.6 * (r.d1 + r.cmafd)
        {
            let from = i.saturating_sub(r.ret_back as usize);
            let since = recs[from].frame;
            let cut_between = out.iter().any(|b| b.frame > from)
                || e.cuts.iter().any(|&f| f > since && f < r.frame);
            if !cut_between {
                continue;
            }
        }
        out.push(Boundary {
            frame: i,
            at: recs[i].frame,
            gradual: false,
            score,
        });
    }
    out
}

fn dissolves(recs: &[FrameRec], hard: &[Boundary], dims: (usize, usize)) -> Vec<Boundary> {
    let n = recs.len();
    if n == 0 {
        return Vec::new();
    }
    // Prefix sums of the small-frame step differences, camera motion and blank frames.
    let mut step = vec![0f64; n + 1];
    let mut tstep = vec![0f64; n + 1];
    let mut cam = vec![0usize; n + 1];
    let mut dim = vec![0usize; n + 1];
    let mut cut = vec![0usize; n + 1];
    let mut is_cut = vec![false; n];
    for b in hard {
        is_cut[b.frame] = true;
    }
    for i in 0..n {
        // A step over skipped frames stands for several: weighted by the square root of the gap
        // (between a coherent change, whose steps add up, and a random one, whose difference
        // barely grows with the gap), so busy footage does not look coherent when thinned out.
        let gap = match i {
            0 => 1,
            _ => recs[i].frame.saturating_sub(recs[i - 1].frame).max(1),
        };
        let w = (gap as f64).sqrt();
        step[i + 1] = step[i] + recs[i].d1 as f64 * w;
        tstep[i + 1] = tstep[i] + recs[i].t1 as f64 * w;
        cam[i + 1] = cam[i] + camera_moving(recs, i, dims.0, dims.1) as usize;
        dim[i + 1] = dim[i] + (recs[i].std < DIM_STD) as usize;
        cut[i + 1] = cut[i] + is_cut[i] as usize;
    }
    // Candidate windows (start, end, score).
    let mut cands: Vec<(usize, usize, f64)> = Vec::new();
    for i in 0..n {
        for r in recs[i].dis {
            if !r.d.is_finite() {
                continue;
            }
            // The window's first record, the one the analyzer compared with.
            let back = r.back as usize;
            let a = i - back;
            // Linearity on the small frames, or on the tiny ones (a pixel-random dissolve is only a
            // blend once averaged over blocks); the tiny residual is rescaled to the small d.
            let (d, mut rr) = (r.d as f64, r.r as f64);
            let (dt, rt) = (r.dt as f64, r.rt as f64);
            if dt.is_finite() && rt.is_finite() && dt > 1.0 {
                rr = rr.min(rt * d / dt);
            }
            if d < DISSOLVE_MIN_D as f64 || rr > 0.3 * d || r.ncc > 0.6 {
                continue;
            }
            // Coherent change: the ends differ by at least half the sum of the steps (again on the
            // tiny frames too, where a pixel-random dissolve's per-frame switching averages out).
            let steps = step[i + 1] - step[a + 1];
            let tsteps = tstep[i + 1] - tstep[a + 1];
            if d < 0.5 * steps && !(dt.is_finite() && dt >= 0.5 * tsteps) {
                continue;
            }
            // No dim frame in the window. When frames were skipped right after a dim first one,
            // the full-rate window could have started on one of them that was no longer dim (a
            // dissolve out of a dark picture brightens from its first frame on): the window
            // stands if the last skipped frame, interpolated, is not dim.
            if cut[i + 1] - cut[a + 1] > 0 || dim[i + 1] - dim[a + 1] > 0 {
                continue;
            }
            if recs[a].std < DIM_STD {
                let (p, q) = (&recs[a], &recs[a + 1]);
                let gap = q.frame.saturating_sub(p.frame) as f32;
                let last_skipped = p.std + (q.std - p.std) * (gap - 1.0) / gap.max(1.0);
                if gap < 2.0 || last_skipped < DIM_STD {
                    continue;
                }
            }
            if (cam[i + 1] - cam[a + 1]) * 4 > back {
                continue;
            }
            cands.push((a, i, d - 2.0 * rr));
        }
    }
    cands.sort_by_key(|c| c.0);
    let mut out = Vec::new();
    let mut k = 0;
    while k < cands.len() {
        let (mut end, mut best) = (cands[k].1, cands[k]);
        let mut j = k + 1;
        while j < cands.len() && cands[j].0 <= end {
            end = end.max(cands[j].1);
            if cands[j].2 > best.2 {
                best = cands[j];
            }
            j += 1;
        }
        let mid = (recs[best.0].frame + recs[best.1].frame).div_ceil(2);
        // The record at or after the middle frame number.
        let frame = best.0 + recs[best.0..=best.1].partition_point(|r| r.frame < mid);
        out.push(Boundary {
            frame,
            at: mid,
            gradual: true,
            score: best.2,
        });
        k = j;
    }
    out
}

fn fades(
    recs: &[FrameRec],
    blanks: &[BlankRun],
    hard: &[Boundary],
    look: usize,
    dims: (usize, usize),
) -> Vec<Boundary> {
    let n = recs.len();
    blanks
        .iter()
        .filter(|b| b.start > 0 && b.end < n)
        // A camera moving across a plain area (sky, wall): the "blank" frames still carry a
        // confidently tracked global shift from the frame before to the frame after the run,
        // which a fade through black/white (flat projections, no trackable shift) never has.
        .filter(|b| {
            !(b.start..=b.end)
                .filter(|&i| i < n)
                .all(|i| camera_moving(recs, i, dims.0, dims.1))
        })
        // A hard cut into or out of the run already marks this transition.
        .filter(|b| {
            !hard
                .iter()
                .any(|h| h.frame + look >= b.start && h.frame <= b.end + look)
        })
        .filter_map(|b| {
            let c = b.ncc_across?;
            (c < 0.5).then_some(Boundary {
                frame: b.end,
                at: recs[b.end].frame,
                gradual: true,
                score: (1.0 - c as f64) * 50.0,
            })
        })
        .collect()
}

/// All boundaries, sorted, with cuts closer than `min_shot_s` merged (hard beats gradual, then score).
/// With every frame decoded `settle` has nothing to do (`|_| {}`).
pub(crate) fn detect(
    recs: &[FrameRec],
    blanks: &[BlankRun],
    wins: [usize; 3],
    dims: (usize, usize),
    o: &AnalyzeOptions,
    settle: &mut dyn FnMut(&mut Vec<Boundary>),
) -> Vec<Boundary> {
    // `settle` decides the hard cuts a pass over skipped frames is unsure of (`refine`) before
    // the gradual tests, which leave out windows and fades next to a hard cut.
    let mut hard = hard_cuts(recs, o);
    settle(&mut hard);
    let mut all = hard.clone();
    if o.gradual {
        all.extend(dissolves(recs, &hard, dims));
        all.extend(fades(recs, blanks, &hard, wins[1], dims));
    }
    // A sliver at either end shorter than a shot (≤ 2 frames, or blank) is not a shot of its own.
    let n = recs.len();
    let blank = |r: &FrameRec| r.std < 4.0 || (r.mean < 24.0 && r.std < 10.0);
    all.retain(|b| {
        let head = recs[b.frame].t - recs[0].t;
        let tail = recs[n - 1].t - recs[b.frame].t;
        let head_short = head.is_finite() && head < o.min_shot_s;
        let tail_short = tail.is_finite() && tail < o.min_shot_s;
        let drop_head = b.frame <= 2 || (head_short && recs[..b.frame].iter().all(blank));
        let drop_tail = n - b.frame <= 2 || (tail_short && recs[b.frame..].iter().all(blank));
        !(drop_head || drop_tail)
    });
    all.sort_by_key(|b| b.frame);
    let mut out: Vec<Boundary> = Vec::new();
    for b in all {
        if let Some(last) = out.last_mut() {
            let dt = recs[b.frame].t - recs[last.frame].t;
            let too_close = if dt.is_finite() {
                dt < o.min_shot_s
            } else {
                b.frame - last.frame < 15
            };
            if too_close {
                let rank = |x: &Boundary| (!x.gradual, x.score);
                if rank(&b).partial_cmp(&rank(last)) == Some(std::cmp::Ordering::Greater) {
                    *last = b;
                }
                continue;
            }
        }
        out.push(b);
    }
    out
}
