//! Per-frame signals computed while decoding, in one streaming pass with bounded memory.
//!
//! Cut, motion and freeze decisions need a few numbers per frame, not the frames themselves. This
//! module reads each decoded luma plane once at full resolution (SAD against the previous frame, a
//! box-averaged 1/f "small" copy, row/column projections) and then works on the small copies: chroma
//! difference, a 64-bin histogram, differences to frames 2 and 3 back (flash test), the dissolve
//! linearity test over a few window lengths, the freeze reference comparison and the global-shift
//! estimate. Only a short ring of small grey frames is kept (about 1.2 s); everything else is a
//! `FrameRec` of a few dozen bytes per frame.

use super::decode::{Picture, Plane};

/// Window lengths (frames) of the dissolve detector, from the frame rate.
pub(crate) fn dissolve_windows(fps: f64) -> [usize; 3] {
    let even = |x: f64, min: usize| ((x.round() as usize).max(min) + 1) & !1;
    [even(0.3 * fps, 4), even(0.6 * fps, 8), even(1.2 * fps, 12)]
}

/// Frames of small grey pictures the analyzer keeps: the longest dissolve window, and 2 s for the
/// return-to-an-earlier-picture test (`FrameRec::ret`, which looks back `ring_len - 1` frames).
pub(crate) fn ring_len(fps: f64) -> usize {
    (dissolve_windows(fps)[2] + 2)
        .max((2.0 * fps).round() as usize)
        .min(240)
}

/// Dissolve-test numbers for one window ending at this frame (NaN when not available).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DissolveRec {
    /// Mean `|f[i] - f[i-L]|` in % of full scale.
    pub d: f32,
    /// Mean `|f[i-L/2] - (f[i] + f[i-L])/2|` in %: near 0 for a linear blend.
    pub r: f32,
    /// Normalised cross-correlation of `f[i]` and `f[i-L]` (1 = same structure).
    pub ncc: f32,
    /// `d` and `r` again on "tiny" frames (the small frame box-averaged to ~64 px wide). A
    /// pixel-random dissolve (each pixel switches from A to B at its own moment) has r ≈ d/2 per
    /// pixel, but averaged over a block its middle frame is the blend of the ends, like a crossfade.
    pub dt: f32,
    pub rt: f32,
    /// Records back to the window's first frame (L when every frame is decoded; fewer over
    /// skipped frames); 0 without a window.
    pub back: u32,
}

const NA: DissolveRec = DissolveRec {
    d: f32::NAN,
    r: f32::NAN,
    ncc: f32::NAN,
    dt: f32::NAN,
    rt: f32::NAN,
    back: 0,
};

/// Steps back from the frame numbered `cur` (to be appended after `recs`) to the decoded frame
/// whose number is nearest `target`, looking at most `max` steps back; None when the decoded
/// history does not reach back that far. With every frame decoded this is `cur - target`.
fn steps_back(recs: &[FrameRec], cur: u64, target: i64, max: usize) -> Option<usize> {
    let n = recs.len();
    if target < 0 || target as u64 > cur {
        return None;
    }
    for k in 1..=n.min(max) {
        let f = recs[n - k].frame as i64;
        if f <= target {
            let later = if k > 1 {
                recs[n - k + 1].frame as i64
            } else {
                cur as i64
            };
            return Some(if k > 1 && later - target < target - f {
                k - 1
            } else {
                k
            });
        }
    }
    None
}

/// Smallest difference (%) between a window's end frames that the gradual-cut test considers; below
/// it the window's linearity figures are not computed (NaN).
pub(crate) const DISSOLVE_MIN_D: f32 = 6.0;

/// Width the tiny frames of the dissolve test aim for.
const TINY_W: usize = 64;

/// Everything kept about one decoded frame. Differences refer to the previous decoded frame.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FrameRec {
    /// Best-effort timestamp in seconds from the stream start (filled in by `mod.rs`).
    pub t: f64,
    /// Presentation-order number of the frame in the stream. Equal to the record's index unless
    /// the decoder skipped non-reference frames (then the numbers have gaps).
    pub frame: u64,
    /// Full-resolution luma mean absolute frame difference, % of full scale (scdet's mafd).
    pub mafd: f32,
    /// Small-frame chroma (U and V averaged) mean absolute difference, %.
    pub cmafd: f32,
    /// Histogram distance to the previous frame (0..1, half the L1 distance of 64-bin histograms).
    pub hist_d: f32,
    /// Small-frame luma difference to frames 1, 2 and 3 back, %.
    pub d1: f32,
    pub d2: f32,
    pub d3: f32,
    /// Tiny-frame (dissolve test size) luma difference to the previous frame, %.
    pub t1: f32,
    /// Mean and standard deviation of the small luma frame (0..255).
    pub mean: f32,
    pub std: f32,
    /// Index of the first frame of the still stretch this frame belongs to (itself if it moved).
    pub freeze_ref: u32,
    /// Index of the first frame of the current "noisy still" run: frames whose tiny-frame
    /// difference to that frame stays within `NOISE_STILL_MAX` %.
    pub noise_ref: u32,
    /// Share of that difference held by the 10 % most-changed tiny pixels (NaN on the run's first
    /// frame). Noise spreads evenly (≈ 0.25–0.31), motion gathers where the subject moves.
    pub noise_share: f32,
    /// Global shift to the previous frame (full-resolution pixels) and its confidence
    /// (residual at the best shift / residual at zero shift; lower is more confident).
    pub dx: f32,
    pub dy: f32,
    pub conf_x: f32,
    pub conf_y: f32,
    pub dis: [DissolveRec; 3],
    /// On cut candidates only (else NaN): block-matched (motion-compensated) difference to the
    /// previous frame divided by the plain difference. Near 1 for a cut, well below for motion.
    pub mc: f32,
    /// On cut candidates only (else NaN): smallest difference (%) to a frame 3..~2 s back, and how
    /// many frames back it is. A low value means the picture returned to an earlier one (flash,
    /// glitch, freeze-and-resume), not a new shot.
    pub ret: f32,
    pub ret_back: u32,
    /// Small-frame chroma difference (%, U and V averaged) to that same earlier frame (0 without
    /// chroma, NaN when `ret` is).
    pub cret: f32,
}

/// A stretch of near-uniform frames, compared before/after (for fades through black or white).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BlankRun {
    pub start: usize,
    /// First frame after the run (== frame count when the clip ends blank).
    pub end: usize,
    /// Best normalised correlation between the picture before the run and those after it
    /// (None when there is no picture on one side).
    pub ncc_across: Option<f32>,
}

pub(crate) struct Analyzer {
    pub recs: Vec<FrameRec>,
    pub blanks: Vec<BlankRun>,
    /// Box factor and small-frame size.
    f: usize,
    sw: usize,
    sh: usize,
    wins: [usize; 3],
    ring: Vec<Vec<u8>>,
    /// The chroma small frames (U then V) of the same frames as `ring`, slot for slot.
    cring: Vec<Vec<u8>>,
    /// Tiny copies (small frame / `tk`) of the last few frames, for the dissolve test.
    tiny: Vec<Vec<u8>>,
    tk: usize,
    chroma_prev: Option<(Vec<u8>, Vec<u8>)>,
    /// Chroma small frames of the current frame (swapped with `chroma_prev`), and box scratch.
    chroma_cur: (Vec<u8>, Vec<u8>),
    box_acc: Vec<u16>,
    /// Rounded-division tables, one per box size in use (small luma, chroma, tiny): a shared one
    /// was rebuilt twice a frame whenever the sizes differed.
    round_small: RoundDiv,
    round_chroma: RoundDiv,
    round_tiny: RoundDiv,
    hist_prev: [u32; 64],
    colacc: Vec<u16>,
    colproj: Vec<u32>,
    rowproj: Vec<u32>,
    proj_prev: Option<(Vec<f32>, Vec<f32>)>,
    freeze_ref: Option<(usize, Vec<u8>)>,
    freeze_noise: f32,
    /// First frame of the current noisy-still run and its tiny frame.
    noise_ref: Option<(usize, Vec<u8>)>,
    // blank-run state
    blank_std: f32,
    blank_start: Option<usize>,
    before_blank: Option<Vec<u8>>,
    pending_after: Option<(usize, usize, Option<Vec<u8>>, f32)>,
    geom: Option<(usize, usize)>,
    fps: f64,
    tmp: Vec<u8>,
}

/// Sum of |a - b| over two equal-length byte rows.
#[inline]
fn sad_row(a: &[u8], b: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let n = a.len().min(b.len());
        let mut i = 0;
        // SAFETY: SSE2 is part of the x86_64 baseline; loads are unaligned and in bounds.
        let mut total = unsafe {
            let mut acc = _mm_setzero_si128();
            while i + 16 <= n {
                let va = _mm_loadu_si128(a.as_ptr().add(i) as *const __m128i);
                let vb = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
                acc = _mm_add_epi64(acc, _mm_sad_epu8(va, vb));
                i += 16;
            }
            let lo = _mm_cvtsi128_si64(acc) as u64;
            let hi = _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc)) as u64;
            lo + hi
        };
        for j in i..n {
            total += a[j].abs_diff(b[j]) as u64;
        }
        total
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y) as u64).sum()
    }
}

/// Sum of a byte row.
#[inline]
fn sum_row(a: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let n = a.len();
        let mut i = 0;
        // SAFETY: as in `sad_row`.
        let mut total = unsafe {
            let zero = _mm_setzero_si128();
            let mut acc = _mm_setzero_si128();
            while i + 16 <= n {
                let va = _mm_loadu_si128(a.as_ptr().add(i) as *const __m128i);
                acc = _mm_add_epi64(acc, _mm_sad_epu8(va, zero));
                i += 16;
            }
            let lo = _mm_cvtsi128_si64(acc) as u64;
            let hi = _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc)) as u64;
            lo + hi
        };
        for &x in &a[i..] {
            total += x as u64;
        }
        total
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        a.iter().map(|&x| x as u64).sum()
    }
}

/// `acc[0..16] += bytes of v` (widened to u16).
///
/// # Safety
/// `acc` must point to 16 writable `u16`s.
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn widen_add16(acc: *mut u16, v: std::arch::x86_64::__m128i) {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees 16 u16s at `acc`; SSE2 is baseline on x86_64.
    unsafe {
        let zero = _mm_setzero_si128();
        let (pa, pb) = (acc as *mut __m128i, acc.add(8) as *mut __m128i);
        _mm_storeu_si128(
            pa,
            _mm_add_epi16(_mm_loadu_si128(pa), _mm_unpacklo_epi8(v, zero)),
        );
        _mm_storeu_si128(
            pb,
            _mm_add_epi16(_mm_loadu_si128(pb), _mm_unpackhi_epi8(v, zero)),
        );
    }
}

#[inline]
fn add_row(acc: &mut [u16], row: &[u8]) {
    let n = acc.len().min(row.len());
    #[allow(unused_mut)]
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is baseline on x86_64; every access is within `n` of both slices.
        unsafe {
            while i + 16 <= n {
                let v = _mm_loadu_si128(row.as_ptr().add(i) as *const __m128i);
                widen_add16(acc.as_mut_ptr().add(i), v);
                i += 16;
            }
        }
    }
    for j in i..n {
        acc[j] += row[j] as u16;
    }
}

/// One full-resolution luma row in a single read: returns (SAD against `prev`, sum of the row) and
/// adds the row into `acc`. Same results as `sad_row`, `sum_row` and `add_row` one after another,
/// but the row is loaded once (the three passes were most of the per-frame cost on light footage).
#[inline]
fn row_pass(row: &[u8], prev: Option<&[u8]>, acc: Option<&mut [u16]>) -> (u64, u64) {
    match (prev, acc) {
        (Some(p), Some(a)) => row_pass_n::<true, true>(row, p, a),
        (Some(p), None) => row_pass_n::<true, false>(row, p, &mut []),
        (None, Some(a)) => row_pass_n::<false, true>(row, &[], a),
        (None, None) => (0, sum_row(row)),
    }
}

#[inline]
fn row_pass_n<const P: bool, const A: bool>(
    row: &[u8],
    prev: &[u8],
    acc: &mut [u16],
) -> (u64, u64) {
    let mut n = row.len();
    if P {
        n = n.min(prev.len());
    }
    if A {
        n = n.min(acc.len());
    }
    #[allow(unused_mut)]
    let mut i = 0;
    let (mut sad, mut sum) = (0u64, 0u64);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86_64 baseline; every load and store is within `n` bytes of
        // `row` (and of `prev` when P) and within `n` elements of `acc` (when A).
        unsafe {
            let zero = _mm_setzero_si128();
            let (mut vsad, mut vsum) = (_mm_setzero_si128(), _mm_setzero_si128());
            while i + 16 <= n {
                let v = _mm_loadu_si128(row.as_ptr().add(i) as *const __m128i);
                vsum = _mm_add_epi64(vsum, _mm_sad_epu8(v, zero));
                if P {
                    let q = _mm_loadu_si128(prev.as_ptr().add(i) as *const __m128i);
                    vsad = _mm_add_epi64(vsad, _mm_sad_epu8(v, q));
                }
                if A {
                    widen_add16(acc.as_mut_ptr().add(i), v);
                }
                i += 16;
            }
            let lanes = |x: __m128i| {
                _mm_cvtsi128_si64(x) as u64 + _mm_cvtsi128_si64(_mm_unpackhi_epi64(x, x)) as u64
            };
            sad += lanes(vsad);
            sum += lanes(vsum);
        }
    }
    for j in i..n {
        sum += row[j] as u64;
        if P {
            sad += row[j].abs_diff(prev[j]) as u64;
        }
        if A {
            acc[j] += row[j] as u16;
        }
    }
    // Bytes past `n` (only when the slices differ in length) still count towards the row sum.
    sum += row[n..].iter().map(|&x| x as u64).sum::<u64>();
    (sad, sum)
}

/// Sum of products of two byte slices (dot product).
fn dot_u8(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    #[allow(unused_mut)]
    let mut i = 0;
    let mut total = 0u64;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 baseline; loads stay within `n`. Each 32-bit lane gains at most
        // 4 * 255 * 255 per step, so it is flushed to `total` every 1024 steps.
        unsafe {
            let zero = _mm_setzero_si128();
            while i + 16 <= n {
                let mut acc = _mm_setzero_si128();
                let mut steps = 0;
                while i + 16 <= n && steps < 1024 {
                    let va = _mm_loadu_si128(a.as_ptr().add(i) as *const __m128i);
                    let vb = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
                    let lo =
                        _mm_madd_epi16(_mm_unpacklo_epi8(va, zero), _mm_unpacklo_epi8(vb, zero));
                    let hi =
                        _mm_madd_epi16(_mm_unpackhi_epi8(va, zero), _mm_unpackhi_epi8(vb, zero));
                    acc = _mm_add_epi32(acc, _mm_add_epi32(lo, hi));
                    i += 16;
                    steps += 1;
                }
                let mut lanes = [0u32; 4];
                _mm_storeu_si128(lanes.as_mut_ptr() as *mut __m128i, acc);
                total += lanes.iter().map(|&x| x as u64).sum::<u64>();
            }
        }
    }
    for j in i..n {
        total += a[j] as u64 * b[j] as u64;
    }
    total
}

/// Rounded average of two byte slices into `out`.
fn avg_u8(a: &[u8], b: &[u8], out: &mut Vec<u8>) {
    let n = a.len().min(b.len());
    out.clear();
    out.resize(n, 0);
    #[allow(unused_mut)]
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 baseline; all accesses within `n`.
        unsafe {
            while i + 16 <= n {
                let va = _mm_loadu_si128(a.as_ptr().add(i) as *const __m128i);
                let vb = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
                _mm_storeu_si128(
                    out.as_mut_ptr().add(i) as *mut __m128i,
                    _mm_avg_epu8(va, vb),
                );
                i += 16;
            }
        }
    }
    for j in i..n {
        out[j] = (a[j] as u16 + b[j] as u16).div_ceil(2) as u8;
    }
}

/// Rounded division `(s + d/2) / d` by a fixed `d` for every box sum `s` of 8-bit pixels, as a table:
/// the per-pixel hardware division was the single hottest instruction of the signal pass.
#[derive(Default)]
struct RoundDiv {
    div: u32,
    lut: Vec<u8>,
}

impl RoundDiv {
    fn for_div(&mut self, div: u32) -> &Self {
        if self.div != div || self.lut.is_empty() {
            let div = div.max(1);
            self.div = div;
            self.lut = (0..=255 * div)
                .map(|s| ((s + div / 2) / div) as u8)
                .collect();
        }
        self
    }

    /// Write the rounded means of consecutive `f`-wide groups of `acc` into `out`.
    #[inline]
    fn means(&self, acc: &[u16], f: usize, out: &mut [u8]) {
        // Fixed group widths let the compiler unroll and vectorise the sums.
        match f {
            1 => self.means_n::<1>(acc, out),
            2 => self.means_n::<2>(acc, out),
            3 => self.means_n::<3>(acc, out),
            4 => self.means_n::<4>(acc, out),
            5 => self.means_n::<5>(acc, out),
            6 => self.means_n::<6>(acc, out),
            8 => self.means_n::<8>(acc, out),
            _ => {
                for (o, g) in out.iter_mut().zip(acc.chunks_exact(f)) {
                    let s: u32 = g.iter().map(|&v| v as u32).sum();
                    *o = self.lut.get(s as usize).copied().unwrap_or(255);
                }
            }
        }
    }

    #[inline]
    fn means_n<const N: usize>(&self, acc: &[u16], out: &mut [u8]) {
        if self.div.is_power_of_two() {
            // (s + d/2) / d as a shift: no table lookups, so the loop vectorises.
            let (half, sh) = (self.div / 2, self.div.trailing_zeros());
            for (o, g) in out.iter_mut().zip(acc.chunks_exact(N)) {
                let s: u32 = g.iter().map(|&v| v as u32).sum();
                *o = ((s + half) >> sh).min(255) as u8;
            }
            return;
        }
        let lut = &self.lut[..];
        for (o, g) in out.iter_mut().zip(acc.chunks_exact(N)) {
            let s: u32 = g.iter().map(|&v| v as u32).sum();
            *o = lut.get(s as usize).copied().unwrap_or(255);
        }
    }
}

/// Box-average a plane by (fx, fy) into `out` (ow × oh); `acc` is scratch.
fn box_reduce(
    p: &Plane<'_>,
    (fx, fy): (usize, usize),
    (ow, oh): (usize, usize),
    acc: &mut Vec<u16>,
    rd: &mut RoundDiv,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.resize(ow * oh, 0);
    acc.clear();
    acc.resize(ow * fx, 0);
    let rd = rd.for_div((fx * fy) as u32);
    for (by, orow) in out.chunks_exact_mut(ow).enumerate() {
        acc.fill(0);
        for y in by * fy..(by * fy + fy).min(p.height) {
            add_row(acc, &p.row(y)[..ow * fx]);
        }
        rd.means(acc, fx, orow);
    }
}

/// Mean absolute difference of two small frames, in % of full scale.
/// Largest tiny-frame difference (%) to its first frame that a noisy still run may reach.
pub(crate) const NOISE_STILL_MAX: f32 = 0.8;

/// Share of the difference between `a` and `b` held by the 10 % most-changed pixels, or None when
/// the difference exceeds `NOISE_STILL_MAX` (or the frames are too small to tell).
fn spread_share(a: &[u8], b: &[u8], tmp: &mut Vec<u8>) -> Option<f32> {
    if a.len() != b.len() || a.len() < 100 || mad_pct(a, b) > NOISE_STILL_MAX {
        return None;
    }
    tmp.clear();
    tmp.extend(a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y)));
    let total: u32 = tmp.iter().map(|&v| v as u32).sum();
    if total == 0 {
        return Some(0.0);
    }
    let k = tmp.len() / 10;
    tmp.select_nth_unstable_by(k, |x, y| y.cmp(x));
    let top: u32 = tmp[..k].iter().map(|&v| v as u32).sum();
    Some(top as f32 / total as f32)
}

fn mad_pct(a: &[u8], b: &[u8]) -> f32 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    (sad_row(a, b) as f64 * 100.0 / (a.len() as f64 * 255.0)) as f32
}

fn mean_std(a: &[u8]) -> (f32, f32) {
    if a.is_empty() {
        return (0.0, 0.0);
    }
    let n = a.len() as f64;
    let s = sum_row(a) as f64;
    let s2 = dot_u8(a, a);
    let m = s / n;
    let var = (s2 as f64 / n - m * m).max(0.0);
    (m as f32, var.sqrt() as f32)
}

/// Normalised cross-correlation of two equal-size small frames (0 when either is flat).
pub(crate) fn ncc(a: &[u8], b: &[u8]) -> f32 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    let n = a.len() as f64;
    let (sa, sb) = (sum_row(a), sum_row(b));
    let (saa, sbb, sab) = (dot_u8(a, a), dot_u8(b, b), dot_u8(a, b));
    let (ma, mb) = (sa as f64 / n, sb as f64 / n);
    let va = saa as f64 / n - ma * ma;
    let vb = sbb as f64 / n - mb * mb;
    if va < 1.0 || vb < 1.0 {
        return 0.0;
    }
    ((sab as f64 / n - ma * mb) / (va * vb).sqrt()) as f32
}

fn histogram(a: &[u8]) -> [u32; 64] {
    // Four partial histograms: consecutive equal pixels no longer wait on one counter.
    let mut hs = [[0u32; 64]; 4];
    let mut chunks = a.chunks_exact(4);
    for c in &mut chunks {
        for (h, &x) in hs.iter_mut().zip(c) {
            h[(x >> 2) as usize] += 1;
        }
    }
    for &x in chunks.remainder() {
        hs[0][(x >> 2) as usize] += 1;
    }
    std::array::from_fn(|i| hs[0][i] + hs[1][i] + hs[2][i] + hs[3][i])
}

/// Decimate a projection by `k`, convert to mean values and remove its mean.
fn prepare_proj(raw: &[u32], k: usize, per: f32) -> Vec<f32> {
    let mut v: Vec<f32> = raw
        .chunks(k)
        .map(|c| c.iter().map(|&x| x as f32).sum::<f32>() / (c.len() as f32 * per))
        .collect();
    let m = v.iter().sum::<f32>() / v.len().max(1) as f32;
    v.iter_mut().for_each(|x| *x -= m);
    v
}

/// Best shift of `cur` against `prev` within ±max_s: (shift, residual(best)/residual(0)).
fn best_shift(cur: &[f32], prev: &[f32], max_s: usize) -> (f32, f32) {
    let n = cur.len().min(prev.len());
    if n < 8 {
        return (0.0, 1.0);
    }
    let max_s = max_s.min(n / 3) as isize;
    let err = |s: isize| -> f32 {
        let (lo, hi) = ((s.max(0)) as usize, (n as isize + s.min(0)) as usize);
        let (a, b) = (
            &cur[lo..hi],
            &prev[(lo as isize - s) as usize..(hi as isize - s) as usize],
        );
        // Eight partial sums so the loop vectorises (one running f32 sum cannot be reordered).
        let mut acc = [0.0f32; 8];
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for k in 0..8 {
                acc[k] += (x[k] - y[k]).abs();
            }
        }
        let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y).abs()).sum();
        (acc.iter().sum::<f32>() + tail) / (hi - lo).max(1) as f32
    };
    let errs: Vec<f32> = (-max_s..=max_s).map(err).collect();
    let e0 = errs[max_s as usize];
    if e0 < 0.05 {
        return (0.0, 1.0);
    }
    let (bi, &be) = errs
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap_or((max_s as usize, &e0));
    let mut shift = bi as f32 - max_s as f32;
    if bi > 0 && bi + 1 < errs.len() {
        let (l, c, r) = (errs[bi - 1], be, errs[bi + 1]);
        let den = l - 2.0 * c + r;
        if den > 1e-6 {
            shift += (0.5 * (l - r) / den).clamp(-0.5, 0.5);
        }
    }
    (shift, be / e0)
}

/// Halve a small frame (2×2 average).
fn halve(a: &[u8], w: usize, h: usize) -> (Vec<u8>, usize, usize) {
    let (hw, hh) = (w / 2, h / 2);
    let mut out = vec![0u8; hw * hh];
    for y in 0..hh {
        for x in 0..hw {
            let s = a[2 * y * w + 2 * x] as u16
                + a[2 * y * w + 2 * x + 1] as u16
                + a[(2 * y + 1) * w + 2 * x] as u16
                + a[(2 * y + 1) * w + 2 * x + 1] as u16;
            out[y * hw + x] = ((s + 2) / 4) as u8;
        }
    }
    (out, hw, hh)
}

/// Block-matching residual / plain residual between two small frames (8×8 blocks, ±3 px around
/// zero and around the global shift `g`, on a ≤ ~170 px wide copy).
fn mc_ratio(cur: &[u8], prev: &[u8], w: usize, h: usize, g: (isize, isize)) -> f32 {
    let (c, p, w, h, g) = if w >= 200 {
        let (c, hw, hh) = halve(cur, w, h);
        let (p, _, _) = halve(prev, w, h);
        (c, p, hw, hh, (g.0 / 2, g.1 / 2))
    } else {
        (cur.to_vec(), prev.to_vec(), w, h, g)
    };
    const B: usize = 8;
    const R: isize = 3;
    if w < 2 * B || h < 2 * B {
        return 1.0;
    }
    let sad = |bx: usize, by: usize, ox: usize, oy: usize| -> u32 {
        let mut s = 0u32;
        for y in 0..B {
            let a = &c[(by + y) * w + bx..(by + y) * w + bx + B];
            let b = &p[(oy + y) * w + ox..(oy + y) * w + ox + B];
            for k in 0..B {
                s += a[k].abs_diff(b[k]) as u32;
            }
        }
        s
    };
    let seeds: &[(isize, isize)] = if g == (0, 0) { &[(0, 0)] } else { &[(0, 0), g] };
    let (mut raw, mut best_sum) = (0u64, 0u64);
    for by in (0..=h - B).step_by(B) {
        for bx in (0..=w - B).step_by(B) {
            let r0 = sad(bx, by, bx, by);
            let mut best = r0;
            for &(gx, gy) in seeds {
                for sy in -R..=R {
                    for sx in -R..=R {
                        let ox = bx as isize + gx + sx;
                        let oy = by as isize + gy + sy;
                        if ox < 0 || oy < 0 || ox as usize + B > w || oy as usize + B > h {
                            continue;
                        }
                        best = best.min(sad(bx, by, ox as usize, oy as usize));
                    }
                }
            }
            raw += r0 as u64;
            best_sum += best as u64;
        }
    }
    if raw == 0 {
        return 0.0;
    }
    best_sum as f32 / raw as f32
}

impl Analyzer {
    pub fn new(fps: f64, freeze_noise: f64) -> Self {
        let wins = dissolve_windows(fps);
        Analyzer {
            recs: Vec::new(),
            blanks: Vec::new(),
            f: 1,
            sw: 0,
            sh: 0,
            wins,
            ring: Vec::new(),
            cring: Vec::new(),
            tiny: Vec::new(),
            tk: 1,
            chroma_prev: None,
            chroma_cur: (Vec::new(), Vec::new()),
            box_acc: Vec::new(),
            round_small: RoundDiv::default(),
            round_chroma: RoundDiv::default(),
            round_tiny: RoundDiv::default(),
            hist_prev: [0; 64],
            colacc: Vec::new(),
            colproj: Vec::new(),
            rowproj: Vec::new(),
            proj_prev: None,
            freeze_ref: None,
            freeze_noise: (freeze_noise * 100.0) as f32,
            noise_ref: None,
            blank_std: 4.0,
            blank_start: None,
            before_blank: None,
            pending_after: None,
            geom: None,
            fps,
            tmp: Vec::new(),
        }
    }

    fn ring_get(&self, back: usize) -> Option<&Vec<u8>> {
        let i = self.recs.len();
        if back > i || back >= self.ring.len() {
            return None;
        }
        let slot = (i - back) % self.ring.len();
        let v = &self.ring[slot];
        (v.len() == self.sw * self.sh && !v.is_empty()).then_some(v)
    }

    /// Feed one decoded frame numbered `number` in presentation order (`prev` is the previous
    /// decoded frame at the same size, if any).
    pub fn push(&mut self, cur: &Picture<'_>, prev: Option<&Picture<'_>>, number: u64) {
        let (w, h) = (cur.y.width, cur.y.height);
        if self.geom != Some((w, h)) {
            // First frame (sizes never change afterwards: decode.rs converts to the first size).
            self.geom = Some((w, h));
            self.f = (w / 240).max(1);
            self.sw = (w / self.f).max(1);
            self.sh = (h / self.f).max(1);
            self.ring = vec![Vec::new(); ring_len(self.fps)];
            self.cring = vec![Vec::new(); ring_len(self.fps)];
            self.tk = (self.sw / TINY_W).max(1);
            self.tiny = vec![Vec::new(); self.wins[2] + 2];
            self.colacc = vec![0; w];
            self.colproj = vec![0; w];
            self.rowproj = vec![0; h];
        }
        let (f, sw, sh) = (self.f, self.sw, self.sh);
        let idx = self.recs.len();
        let slot = idx % self.ring.len();
        let mut small = std::mem::take(&mut self.ring[slot]);
        small.clear();
        small.resize(sw * sh, 0);

        // Full-resolution pass: SAD, box sums, projections.
        let mut sad = 0u64;
        self.colacc.fill(0);
        self.colproj.fill(0);
        let rd = self.round_small.for_div((f * f) as u32);
        let usable_h = (sh * f).min(h);
        for y in 0..h {
            let row = cur.y.row(y);
            let acc = (y < usable_h).then_some(&mut self.colacc[..]);
            let (d, total) = row_pass(row, prev.map(|p| p.y.row(y)), acc);
            sad += d;
            self.rowproj[y] = total as u32;
            if y < usable_h && (y + 1) % f == 0 {
                let by = y / f;
                rd.means(&self.colacc, f, &mut small[by * sw..by * sw + sw]);
                for (c, &a) in self.colproj.iter_mut().zip(&self.colacc) {
                    *c += a as u32;
                }
                self.colacc.fill(0);
            }
        }
        let mafd = if prev.is_some() {
            (sad as f64 * 100.0 / ((w * h) as f64 * 255.0)) as f32
        } else {
            0.0
        };

        // Chroma, small.
        let mut cmafd = 0.0;
        if let (Some(u), Some(v)) = (cur.u, cur.v) {
            let fx = (f * u.width / w).max(1);
            let fy = (f * u.height / h).max(1);
            let (ow, oh) = ((u.width / fx).max(1), (u.height / fy).max(1));
            let (mut us, mut vs) = std::mem::take(&mut self.chroma_cur);
            box_reduce(
                &u,
                (fx, fy),
                (ow, oh),
                &mut self.box_acc,
                &mut self.round_chroma,
                &mut us,
            );
            box_reduce(
                &v,
                (fx, fy),
                (ow, oh),
                &mut self.box_acc,
                &mut self.round_chroma,
                &mut vs,
            );
            if let (true, Some((pu, pv))) = (prev.is_some(), &self.chroma_prev)
                && pu.len() == us.len()
            {
                cmafd = 0.5 * (mad_pct(&us, pu) + mad_pct(&vs, pv));
            }
            let c = &mut self.cring[slot];
            c.clear();
            c.extend_from_slice(&us);
            c.extend_from_slice(&vs);
            if let Some(old) = self.chroma_prev.replace((us, vs)) {
                self.chroma_cur = old;
            }
        }

        let hist = histogram(&small);
        let hist_d = if idx > 0 && prev.is_some() {
            let l1: u32 = hist
                .iter()
                .zip(&self.hist_prev)
                .map(|(a, b)| a.abs_diff(*b))
                .sum();
            l1 as f32 / (2.0 * small.len() as f32)
        } else {
            0.0
        };
        self.hist_prev = hist;

        let back = |k: usize| self.ring_get(k).map(|p| mad_pct(&small, p));
        let d1 = back(1).unwrap_or(0.0);
        let d2 = back(2).unwrap_or(f32::NAN);
        let d3 = back(3).unwrap_or(f32::NAN);
        let (mean, std) = mean_std(&small);

        // Dissolve linearity over the windows, on the small and on the tiny frames.
        let tslot = idx % self.tiny.len();
        let mut tiny = std::mem::take(&mut self.tiny[tslot]);
        let small_plane = Plane {
            data: &small,
            stride: sw,
            width: sw,
            height: sh,
        };
        let tk = self.tk;
        box_reduce(
            &small_plane,
            (tk, tk),
            ((sw / tk).max(1), (sh / tk).max(1)),
            &mut self.box_acc,
            &mut self.round_tiny,
            &mut tiny,
        );
        let tiny_get = |back: usize| -> Option<&Vec<u8>> {
            if back > idx || back >= self.tiny.len() {
                return None;
            }
            let v = &self.tiny[(idx - back) % self.tiny.len()];
            (v.len() == tiny.len()).then_some(v)
        };
        let t1 = tiny_get(1).map_or(0.0, |p| mad_pct(&tiny, p));
        let mut dis = [NA; 3];
        let mut tmp = std::mem::take(&mut self.tmp);
        for (k, &l) in self.wins.iter().enumerate() {
            // The window's far end, and the frame nearest the middle between the two ends (by
            // frame number: with skipped frames the steps are uneven).
            let Some(back) = steps_back(&self.recs, number, number as i64 - l as i64, l) else {
                continue;
            };
            let far = self.recs[idx - back].frame as i64;
            let mid = steps_back(&self.recs, number, (number as i64 + far) / 2, back);
            if let (Some(a), Some(m)) = (self.ring_get(back), mid.and_then(|b| self.ring_get(b))) {
                let d = mad_pct(&small, a);
                if d < DISSOLVE_MIN_D {
                    // The ends barely differ: the gradual-cut test skips this window whatever the
                    // rest says, so the rest (most of the per-frame work on calm footage) is not
                    // computed.
                    dis[k] = DissolveRec {
                        d,
                        back: back as u32,
                        ..NA
                    };
                    continue;
                }
                avg_u8(&small, a, &mut tmp);
                let r = mad_pct(m, &tmp);
                let (mut dt, mut rt) = (f32::NAN, f32::NAN);
                if let (Some(ta), Some(tm)) = (tiny_get(back), mid.and_then(tiny_get)) {
                    dt = mad_pct(&tiny, ta);
                    avg_u8(&tiny, ta, &mut tmp);
                    rt = mad_pct(tm, &tmp);
                }
                dis[k] = DissolveRec {
                    d,
                    r,
                    ncc: ncc(&small, a),
                    dt,
                    rt,
                    back: back as u32,
                };
            }
        }
        self.tmp = tmp;

        // Noisy-still run: compare the tiny frame with the run's first one.
        let share = match &self.noise_ref {
            Some((_, r)) => spread_share(&tiny, r, &mut self.tmp),
            None => None,
        };
        let (noise_ref, noise_share) = match (&mut self.noise_ref, share) {
            (Some((r, _)), Some(sh)) => (*r, sh),
            (slot, _) => {
                let mut img = slot.take().map(|(_, v)| v).unwrap_or_default();
                img.clear();
                img.extend_from_slice(&tiny);
                *slot = Some((idx, img));
                (idx, f32::NAN)
            }
        };
        self.tiny[tslot] = tiny;

        // Freeze: compare with the first frame of the current still stretch.
        let freeze_ref = match &mut self.freeze_ref {
            Some((r, refimg)) if mad_pct(&small, refimg) <= self.freeze_noise => *r,
            slot => {
                let mut img = slot.take().map(|(_, v)| v).unwrap_or_default();
                img.clear();
                img.extend_from_slice(&small);
                *slot = Some((idx, img));
                idx
            }
        } as u32;

        // Global shift from projections.
        let kx = w.div_ceil(480).max(1);
        let ky = h.div_ceil(480).max(1);
        let px = prepare_proj(&self.colproj, kx, usable_h.max(1) as f32);
        let py = prepare_proj(&self.rowproj, ky, w as f32);
        let (mut dx, mut dy, mut conf_x, mut conf_y) = (0.0, 0.0, 1.0, 1.0);
        if let (Some((ppx, ppy)), true) = (&self.proj_prev, prev.is_some()) {
            // A step over skipped frames moves further: the search grows with the gap (best_shift
            // caps it at a third of the projection).
            let gap = self
                .recs
                .last()
                .map_or(1, |r| number.saturating_sub(r.frame).clamp(1, 4) as usize);
            let range = |len: usize| (len / 12).max(4) * gap;
            let (sx, cx) = best_shift(&px, ppx, range(px.len()));
            let (sy, cy) = best_shift(&py, ppy, range(py.len()));
            dx = sx * kx as f32;
            dy = sy * ky as f32;
            conf_x = cx;
            conf_y = cy;
        }
        self.proj_prev = Some((px, py));

        // Motion-compensated difference, only where a cut is plausible.
        let mut mc = f32::NAN;
        if let (true, Some(p)) = (
            prev.is_some() && (mafd >= 4.0 || cmafd >= 3.0),
            self.ring_get(1),
        ) {
            let g = (
                (dx / f as f32).round() as isize,
                (dy / f as f32).round() as isize,
            );
            mc = mc_ratio(&small, p, sw, sh, g);
        }

        let (mut ret, mut ret_back) = (f32::NAN, 0u32);
        if mc.is_finite() {
            // The frames 3, 5, 7... back, as far as the ring reaches with every frame decoded
            // (about 2 s), by frame number: with skipped frames the ring holds older pictures (a
            // new shot that resembles one from further back is still a new shot), and only those
            // of the frames a full decode compares with, so the fast pass never finds a closer
            // match than a full decode would.
            let reach = self.ring.len() as u64;
            let mut k = 1;
            while let Some(p) = self.ring_get(k) {
                let back = number.saturating_sub(self.recs[idx - k].frame);
                if back >= reach {
                    break;
                }
                if back >= 3 && back % 2 == 1 {
                    let d = mad_pct(&small, p);
                    if ret.is_nan() || d < ret {
                        ret = d;
                        ret_back = k as u32;
                    }
                }
                k += 1;
            }
        }
        // The same earlier frame in colour: a return is a return in chroma too.
        let cret = match self
            .cring
            .get((idx + self.cring.len() - ret_back as usize) % self.cring.len().max(1))
        {
            _ if ret.is_nan() => f32::NAN,
            Some(old) if !old.is_empty() && old.len() == self.cring[slot].len() => {
                mad_pct(&self.cring[slot], old)
            }
            _ => 0.0,
        };

        // Blank runs (near-uniform frames) and what surrounds them.
        // Near-uniform, or near video black (a dark card with a little text still separates shots).
        let blank = std < self.blank_std || (mean < 24.0 && std < 2.5 * self.blank_std);
        self.track_blank(idx, blank, std, &small);

        self.ring[slot] = small;
        self.recs.push(FrameRec {
            t: f64::NAN,
            frame: number,
            mafd,
            cmafd,
            hist_d,
            d1,
            d2,
            d3,
            t1,
            mean,
            std,
            freeze_ref,
            noise_ref: noise_ref as u32,
            noise_share,
            dx,
            dy,
            conf_x,
            conf_y,
            dis,
            mc,
            ret,
            ret_back,
            cret,
        });
    }

    fn track_blank(&mut self, idx: usize, blank: bool, std: f32, small: &[u8]) {
        let clear = 3.0 * self.blank_std;
        let look = self.wins[0].max(4);
        // Finish a pending after-run comparison.
        if let Some((start, end, before, best)) = self.pending_after.as_mut() {
            if let (false, Some(b)) = (blank, before.as_ref())
                && (std >= clear || idx + 1 >= *end + look)
            {
                *best = best.max(ncc(b, small));
            }
            if blank || idx + 1 >= *end + look {
                let run = BlankRun {
                    start: *start,
                    end: *end,
                    ncc_across: before.as_ref().filter(|_| *best > -0.99).map(|_| *best),
                };
                self.blanks.push(run);
                self.pending_after = None;
            }
        }
        match (blank, self.blank_start) {
            (true, None) => {
                // Entering a blank run: remember the clearest recent picture before it.
                self.blank_start = Some(idx);
                let mut before = None;
                for k in 1..=look.min(self.ring.len() - 1) {
                    let Some(r) = self
                        .recs
                        .len()
                        .checked_sub(k)
                        .and_then(|j| self.recs.get(j))
                    else {
                        break;
                    };
                    if r.std >= clear {
                        before = self.ring_get(k).cloned();
                        break;
                    }
                }
                self.before_blank = before;
            }
            (false, Some(start)) => {
                self.blank_start = None;
                let before = self.before_blank.take();
                let mut best = -1.0f32;
                if let Some(b) = before.as_ref().filter(|_| std >= clear) {
                    best = ncc(b, small);
                }
                self.pending_after = Some((start, idx, before, best));
            }
            _ => {}
        }
    }

    /// Flush state at the end of the stream.
    pub fn finish(&mut self) {
        let n = self.recs.len();
        if let Some((start, end, before, best)) = self.pending_after.take() {
            self.blanks.push(BlankRun {
                start,
                end,
                ncc_across: before.filter(|_| best > -0.99).map(|_| best),
            });
        }
        if let Some(start) = self.blank_start.take() {
            self.blanks.push(BlankRun {
                start,
                end: n,
                ncc_across: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn row_pass_equals_the_three_separate_passes() {
        for (n, m) in [
            (0, 0),
            (7, 7),
            (16, 16),
            (33, 33),
            (1280, 1280),
            (100, 90),
            (90, 100),
        ] {
            let row = bytes(n, n as u64 + 1);
            let prev = bytes(m, m as u64 + 99);
            let mut acc = vec![3u16; m];
            let mut want_acc = acc.clone();
            let (sad, sum) = row_pass(&row, Some(&prev), Some(&mut acc));
            add_row(&mut want_acc, &row);
            let k = n.min(m);
            assert_eq!(sad, sad_row(&row[..k], &prev[..k]), "sad {n}x{m}");
            assert_eq!(sum, sum_row(&row), "sum {n}x{m}");
            assert_eq!(acc, want_acc, "acc {n}x{m}");
            assert_eq!(row_pass(&row, None, None), (0, sum_row(&row)));
            assert_eq!(row_pass(&row, Some(&prev), None).0, sad);
        }
    }

    #[test]
    fn table_division_rounds_like_integer_division() {
        let mut rd = RoundDiv::default();
        for f in 1..=10usize {
            for fy in [1usize, 2, f] {
                let div = (f * fy) as u32;
                let acc: Vec<u16> = bytes(f * 50, f as u64)
                    .iter()
                    .map(|&b| b as u16 * fy as u16)
                    .collect();
                let mut out = vec![0u8; 50];
                rd.for_div(div).means(&acc, f, &mut out);
                for (i, &o) in out.iter().enumerate() {
                    let s: u32 = acc[i * f..i * f + f].iter().map(|&v| v as u32).sum();
                    assert_eq!(o as u32, (s + div / 2) / div, "f {f} fy {fy} at {i}");
                }
            }
        }
    }

    #[test]
    fn split_histogram_counts_every_pixel() {
        for n in [0usize, 1, 5, 36_864] {
            let a = bytes(n, 7);
            let mut want = [0u32; 64];
            a.iter().for_each(|&x| want[(x >> 2) as usize] += 1);
            assert_eq!(histogram(&a), want);
        }
    }

    fn numbered(frames: &[u64]) -> Vec<FrameRec> {
        frames
            .iter()
            .map(|&f| FrameRec {
                t: f as f64 / 25.0,
                frame: f,
                mafd: 0.0,
                cmafd: 0.0,
                hist_d: 0.0,
                d1: 0.0,
                d2: 0.0,
                d3: 0.0,
                t1: 0.0,
                mean: 0.0,
                std: 0.0,
                freeze_ref: 0,
                noise_ref: 0,
                noise_share: f32::NAN,
                dx: 0.0,
                dy: 0.0,
                conf_x: 1.0,
                conf_y: 1.0,
                dis: [NA; 3],
                mc: f32::NAN,
                ret: f32::NAN,
                ret_back: 0,
                cret: f32::NAN,
            })
            .collect()
    }

    #[test]
    fn steps_back_finds_the_nearest_decoded_frame() {
        // Every frame decoded: `back` steps are `back` frames.
        let all = numbered(&(0..20).collect::<Vec<_>>());
        assert_eq!(steps_back(&all, 20, 10, 10), Some(10));
        assert_eq!(steps_back(&all, 20, 2, 10), None, "more than max steps");
        assert_eq!(steps_back(&all[..5], 5, -1, 10), None, "before the stream");
        // Frames 0, 2, 4, 5, 8, 9 decoded; the next one is 12.
        let some = numbered(&[0, 2, 4, 5, 8, 9]);
        assert_eq!(steps_back(&some, 12, 8, 10), Some(2), "exact");
        assert_eq!(steps_back(&some, 12, 7, 10), Some(2), "8 is nearer than 5");
        assert_eq!(steps_back(&some, 12, 6, 10), Some(3), "5 is nearer than 8");
        assert_eq!(
            steps_back(&some, 12, 3, 10),
            Some(5),
            "tie: the earlier frame, a longer window"
        );
        assert_eq!(
            steps_back(&some, 12, 11, 10),
            Some(1),
            "at least one step back"
        );
        assert_eq!(steps_back(&some, 12, 0, 3), None);
    }

    #[test]
    fn shift_search_finds_a_known_shift() {
        let base: Vec<f32> = (0..300).map(|i| ((i as f32) * 0.37).sin() * 20.0).collect();
        let moved: Vec<f32> = (0..300).map(|i| base[(i + 300 - 6) % 300]).collect();
        let (s, conf) = best_shift(&moved[10..290], &base[10..290], 20);
        assert!((s - 6.0).abs() < 0.3, "shift {s}");
        assert!(conf < 0.2, "confidence {conf}");
    }
}
