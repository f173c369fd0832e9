//! Frame-timing arithmetic on a video stream's timestamps: the cadence (median frame interval) and
//! whether the frame rate is variable.
//!
//! Kept apart from the FFmpeg calls so the decision is pure and unit-tested: the prober collects the
//! timestamps (from the MP4 sample index or by reading packets, bounded) and this module judges them.

/// Timestamps (in stream time-base units) of at most this many frames are judged.
pub const MAX_FRAMES: usize = 3000;

/// The shape of the frame intervals, from timestamps sorted into presentation order.
#[derive(Debug, Clone, PartialEq)]
pub struct Cadence {
    /// Number of intervals measured.
    pub intervals: usize,
    /// Intervals deviating from the median by more than the tolerance.
    pub deviating_count: usize,
    /// Median interval, in time-base units.
    pub median: f64,
    /// 10th-percentile interval: the frame spacing of a stream that drops frames.
    pub short: f64,
    /// Share of intervals deviating from the median by more than the tolerance.
    pub deviating: f64,
    /// First and last timestamp.
    pub first: i64,
    pub last: i64,
}

/// A relative deviation of an interval from the median above this is "irregular"...
const REL_TOL: f64 = 0.25;
/// ...provided it is also more than this many time-base ticks (rounding in coarse time bases, such
/// as Matroska's 1 ms, makes 29.97 fps alternate 33/34 ms: that is not VFR).
const ABS_TOL_TICKS: f64 = 1.5;
/// More than this share of irregular intervals makes the stream VFR.
const VFR_SHARE: f64 = 0.10;

/// Measure the cadence of `ts` (sorted in place). `None` with fewer than two distinct timestamps.
pub fn cadence(ts: &mut [i64]) -> Option<Cadence> {
    if ts.len() < 2 {
        return None;
    }
    ts.sort_unstable();
    let mut deltas: Vec<i64> = ts
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .filter(|&d| d > 0)
        .collect();
    if deltas.is_empty() {
        return None;
    }
    let intervals = deltas.len();
    deltas.sort_unstable();
    let median = if intervals % 2 == 1 {
        deltas[intervals / 2] as f64
    } else {
        (deltas[intervals / 2 - 1] as f64 + deltas[intervals / 2] as f64) / 2.0
    };
    let tol = (median * REL_TOL).max(ABS_TOL_TICKS);
    let off = deltas
        .iter()
        .filter(|&&d| (d as f64 - median).abs() > tol)
        .count();
    Some(Cadence {
        intervals,
        deviating_count: off,
        median,
        short: deltas[intervals / 10] as f64,
        deviating: off as f64 / intervals as f64,
        first: ts[0],
        last: ts[ts.len() - 1],
    })
}

impl Cadence {
    /// Variable frame rate: more than 10% of the intervals, and at least two of them, are more than
    /// 25% (and 1.5 ticks) away from the median. One odd interval (a glitch in a truncated stream, a
    /// single shifted timestamp) is not a variable rate.
    pub fn is_vfr(&self) -> bool {
        self.deviating_count >= 2 && self.deviating > VFR_SHARE
    }

    /// Nominal frames per second (like FFmpeg's r_frame_rate): the rate of the short intervals, so a
    /// stream that drops every third frame of 23.976 fps still reads 23.976.
    pub fn nominal_fps(&self, time_base: f64) -> Option<f64> {
        let secs = self.short * time_base;
        (secs > 0.0).then(|| 1.0 / secs)
    }

    /// Average frames per second over the measured span.
    pub fn average_fps(&self, time_base: f64) -> Option<f64> {
        let span = (self.last - self.first) as f64 * time_base;
        (span > 0.0).then(|| self.intervals as f64 / span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_cfr() {
        let mut ts: Vec<i64> = (0..300).map(|i| i * 512).collect();
        ts.reverse();
        let c = cadence(&mut ts).unwrap();
        assert_eq!(c.median, 512.0);
        assert!(!c.is_vfr());
        assert!((c.nominal_fps(1.0 / 15360.0).unwrap() - 30.0).abs() < 1e-9);
    }

    #[test]
    fn millisecond_rounding_is_cfr() {
        // 29.97 fps in a 1 ms time base: 33, 33, 34, ...
        let mut ts: Vec<i64> = (0..300)
            .map(|i| (i as f64 * 1001.0 / 30.0).round() as i64)
            .collect();
        assert!(!cadence(&mut ts).unwrap().is_vfr());
    }

    #[test]
    fn dropped_frames_are_vfr() {
        // Every third frame dropped: intervals 1, 2, 1, 2, ...
        let mut ts: Vec<i64> = (0..300).filter(|i| i % 3 != 2).map(|i| i * 1001).collect();
        let c = cadence(&mut ts).unwrap();
        assert!(c.is_vfr());
        assert_eq!(c.nominal_fps(1.0 / 24000.0), Some(24000.0 / 1001.0));
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(cadence(&mut []), None);
        assert_eq!(cadence(&mut [5]), None);
        assert_eq!(cadence(&mut [5, 5, 5]), None);
        let c = cadence(&mut [0, 10, 20]).unwrap();
        assert!(!c.is_vfr(), "too few intervals to judge");
        // The truncated TS in the corpus: one short interval among eight.
        let mut ts = [0, 3780, 7560, 11250, 11610, 15030, 18810, 22500, 26280];
        assert!(!cadence(&mut ts).unwrap().is_vfr());
    }
}
