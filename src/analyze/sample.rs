//! Frames kept from the analysis decode pass for consumers that need pictures, not numbers: the
//! subject/blur/exposure detectors (a grey frame at detector size) and the visual report (a small
//! colour thumbnail). Nothing is decoded twice: the sampler sees each decoded picture once, right
//! after the signal code, and copies a downscaled version of the few it keeps.
//!
//! Which frames: evenly spaced ones (`every_s`, at most `max_even`, always including the first) and,
//! when asked, cut candidates (a frame whose luma jump is large), at most one per `min_gap_s` window
//! — the strongest wins — so every shot that starts with a hard cut has its first frame kept.
//! Sizes follow the display aspect (sample aspect ratio applied); rotation is left to the consumer,
//! which knows it from the probe (`VideoFacts::rotation`).

use image::{GrayImage, RgbImage};

use super::decode::{Picture, Plane};

/// What to keep from the decode pass. The default keeps nothing (and costs nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSpec {
    /// Keep a frame every this many seconds (0 = no evenly spaced frames).
    pub every_s: f64,
    /// Cap on evenly spaced frames: when the video is long the spacing grows to fit.
    pub max_even: usize,
    /// Also keep cut candidates (luma jump ≥ `candidate_mafd` % of full scale) ...
    pub candidates: bool,
    pub candidate_mafd: f32,
    /// ... at most one per this many seconds (the strongest).
    pub min_gap_s: f64,
    /// Long edge of the kept grey frame, pixels (0 = none).
    pub luma_edge: u32,
    /// Long edge of the kept colour thumbnail, pixels (0 = none).
    pub thumb_edge: u32,
    /// Long edge of the colour frame kept for the person detector (0 = none); evenly spaced
    /// frames only.
    pub pose_edge: u32,
    /// Keep the person detector's colour frame on only some of the evenly spaced samples: at
    /// least `pose_min` of them, and one per `pose_every_s` seconds of the clip (0 = on all),
    /// spread evenly over the samples the clip is expected to give, first and last included.
    /// The model costs about as much per frame as decoding a fifth of a second of 1080p video, so
    /// a 10 s clip sampled every second is judged on 6 of its 10 samples, a 16 s one on 8 of 12.
    pub pose_min: usize,
    pub pose_every_s: f64,
}

impl Default for SampleSpec {
    fn default() -> Self {
        SampleSpec {
            every_s: 0.0,
            max_even: 0,
            candidates: false,
            candidate_mafd: 8.0,
            min_gap_s: 0.5,
            luma_edge: 0,
            thumb_edge: 0,
            pose_edge: 0,
            pose_min: 0,
            pose_every_s: 0.0,
        }
    }
}

impl SampleSpec {
    pub fn is_empty(&self) -> bool {
        (self.luma_edge == 0 && self.thumb_edge == 0 && self.pose_edge == 0)
            || ((self.every_s <= 0.0 || self.max_even == 0) && !self.candidates)
    }
}

/// Why a frame was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SampleReason {
    Even,
    CutCandidate,
}

/// One kept frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Presentation-order index of the frame (same numbering as `Cut::frame`).
    pub frame: usize,
    /// Seconds from the stream start (filled in once the pass is over, like `FrameRec::t`).
    pub t: f64,
    pub reason: SampleReason,
    /// Luma jump to the previous frame, % of full scale (scdet's mafd).
    pub mafd: f32,
    /// Grey frame, long edge `SampleSpec::luma_edge` (never upscaled), display aspect.
    pub luma: Option<GrayImage>,
    /// Colour thumbnail, long edge `SampleSpec::thumb_edge` (never upscaled), display aspect.
    pub thumb: Option<RgbImage>,
    /// Colour frame for the person detector, long edge `SampleSpec::pose_edge`, display aspect.
    pub rgb: Option<RgbImage>,
}

/// Chooses and copies frames during the pass.
pub(crate) struct Sampler {
    spec: SampleSpec,
    /// Frames between evenly spaced samples.
    step: usize,
    /// Number of the frame at or after which the next evenly spaced sample is taken.
    next_even: usize,
    /// Sample aspect ratio (display width of one stored pixel).
    sar: f64,
    /// Ordinals (0 = first) of the evenly spaced samples that get the person detector's frame;
    /// None = all of them.
    pose_pick: Option<Vec<usize>>,
    /// Evenly spaced samples kept so far.
    evens: usize,
    pub samples: Vec<Sample>,
}

impl Sampler {
    /// `fps` is the nominal rate, `expected_frames` the container's estimate (0 if unknown).
    pub fn new(spec: SampleSpec, fps: f64, expected_frames: u64, sar: f64) -> Self {
        let mut step = ((spec.every_s * fps).round() as usize).max(1);
        if spec.max_even > 0 && expected_frames > 0 {
            let need = (expected_frames as usize).div_ceil(spec.max_even);
            step = step.max(need);
        }
        // Unknown length, or no cap on the samples (a header could claim any frame count): every
        // sample gets the detector's frame.
        let expected_even = match (expected_frames as usize).div_ceil(step) {
            0 => None,
            n if spec.max_even > 0 => Some(n.min(spec.max_even)),
            _ => None,
        };
        let pose_want = if spec.pose_every_s > 0.0 && fps > 0.0 {
            let per_time = (expected_frames as f64 / fps / spec.pose_every_s).ceil();
            spec.pose_min.max(per_time.min(usize::MAX as f64) as usize)
        } else {
            0
        };
        let pose_pick = expected_even
            .filter(|&n| pose_want > 0 && n > pose_want)
            .map(|n| spread(n, pose_want));
        Sampler {
            spec,
            step,
            next_even: 0,
            pose_pick,
            evens: 0,
            sar: if sar.is_finite() && sar > 0.0 {
                sar
            } else {
                1.0
            },
            samples: Vec::new(),
        }
    }

    /// Offer frame `idx` (its luma jump to the previous frame is `mafd`, %). Returns the sample
    /// when the frame was kept as an evenly spaced one (those are final; candidates may be replaced).
    pub fn offer(&mut self, idx: usize, pic: &Picture<'_>, mafd: f32, fps: f64) -> Option<&Sample> {
        if self.spec.is_empty() {
            return None;
        }
        // The first frame at or after each multiple of `step` (frame numbers have gaps when the
        // decoder skips non-reference frames). Kept frames are counted only there, not on every
        // frame; once the cap is reached no frame is due any more.
        if self.spec.every_s > 0.0 && idx >= self.next_even {
            if self.spec.max_even == 0 || self.evens < self.spec.max_even {
                self.next_even = (idx / self.step + 1) * self.step;
                let s = self.copy(idx, pic, mafd, SampleReason::Even);
                self.samples.push(s);
                self.evens += 1;
                return self.samples.last();
            }
            self.next_even = usize::MAX;
        }
        if !self.spec.candidates || idx == 0 || mafd < self.spec.candidate_mafd {
            return None;
        }
        let gap = ((self.spec.min_gap_s * fps).round() as usize).max(1);
        // The last candidate within the gap: replace it only when this jump is larger.
        if let Some(pos) = self
            .samples
            .iter()
            .rposition(|s| s.reason == SampleReason::CutCandidate)
        {
            let last = &self.samples[pos];
            if idx - last.frame < gap {
                if mafd > last.mafd {
                    self.samples[pos] = self.copy(idx, pic, mafd, SampleReason::CutCandidate);
                }
                return None;
            }
        }
        let s = self.copy(idx, pic, mafd, SampleReason::CutCandidate);
        self.samples.push(s);
        None
    }

    fn copy(&self, idx: usize, pic: &Picture<'_>, mafd: f32, reason: SampleReason) -> Sample {
        let (w, h) = (pic.y.width as f64 * self.sar, pic.y.height as f64);
        let luma = (self.spec.luma_edge > 0).then(|| {
            let (tw, th) = fit(w, h, self.spec.luma_edge);
            GrayImage::from_raw(tw, th, resize_plane(&pic.y, tw as usize, th as usize))
                .expect("buffer sized for the image")
        });
        let thumb = (self.spec.thumb_edge > 0).then(|| {
            let (tw, th) = fit(w, h, self.spec.thumb_edge);
            to_rgb(pic, tw, th)
        });
        let posed = self
            .pose_pick
            .as_ref()
            .is_none_or(|pick| pick.binary_search(&self.evens).is_ok());
        let rgb = (self.spec.pose_edge > 0 && reason == SampleReason::Even && posed).then(|| {
            let (tw, th) = fit(w, h, self.spec.pose_edge);
            to_rgb(pic, tw, th)
        });
        Sample {
            frame: idx,
            t: 0.0,
            reason,
            mafd,
            luma,
            thumb,
            rgb,
        }
    }

    /// Sorted by frame, times filled from `time_of(frame)`.
    pub fn finish(mut self, time_of: impl Fn(usize) -> f64) -> Vec<Sample> {
        self.samples.sort_by_key(|s| s.frame);
        self.samples.dedup_by_key(|s| s.frame);
        for s in &mut self.samples {
            s.t = time_of(s.frame);
        }
        self.samples
    }
}

/// `k` of the ordinals `0..n`, evenly spread, first and last included (`k` ≥ 1, `n` > `k`).
fn spread(n: usize, k: usize) -> Vec<usize> {
    if k == 1 {
        return vec![0];
    }
    let mut v: Vec<usize> = (0..k)
        .map(|i| (i as f64 * (n - 1) as f64 / (k - 1) as f64).round() as usize)
        .collect();
    v.dedup();
    v
}

/// Size with long edge `edge` (never larger than the source), at least 1×1.
fn fit(w: f64, h: f64, edge: u32) -> (u32, u32) {
    let long = w.max(h).max(1.0);
    let k = (edge as f64 / long).min(1.0);
    (
        ((w * k).round() as u32).max(1),
        ((h * k).round() as u32).max(1),
    )
}

/// Area-average resize of a plane (nearest neighbour where it enlarges, which only chroma planes do).
fn resize_plane(p: &Plane<'_>, tw: usize, th: usize) -> Vec<u8> {
    crate::detect::quality::area_resize_raw(p.data, p.stride, p.width, p.height, tw, th)
}

/// `img` as displayed: turned by the display matrix's clockwise rotation, to the nearest quarter turn.
pub fn upright<P: image::Pixel + 'static>(
    img: &image::ImageBuffer<P, Vec<P::Subpixel>>,
    rotation_deg: f64,
) -> image::ImageBuffer<P, Vec<P::Subpixel>> {
    match (rotation_deg.rem_euclid(360.0) / 90.0).round() as i32 % 4 {
        1 => image::imageops::rotate90(img),
        2 => image::imageops::rotate180(img),
        3 => image::imageops::rotate270(img),
        _ => img.clone(),
    }
}

/// BT.601 limited-range YUV → RGB at `tw`×`th` (grey when the picture has no planar chroma).
fn to_rgb(pic: &Picture<'_>, tw: u32, th: u32) -> RgbImage {
    let (tw, th) = (tw as usize, th as usize);
    let y = resize_plane(&pic.y, tw, th);
    let uv = match (pic.u, pic.v) {
        (Some(u), Some(v)) => Some((resize_plane(&u, tw, th), resize_plane(&v, tw, th))),
        _ => None,
    };
    let mut buf = Vec::with_capacity(tw * th * 3);
    for i in 0..tw * th {
        let c = (y[i] as f32 - 16.0) * 1.164;
        let (d, e) = uv.as_ref().map_or((0.0, 0.0), |(u, v)| {
            (u[i] as f32 - 128.0, v[i] as f32 - 128.0)
        });
        let px = [c + 1.596 * e, c - 0.392 * d - 0.813 * e, c + 2.017 * d];
        buf.extend(px.iter().map(|v| v.round().clamp(0.0, 255.0) as u8));
    }
    RgbImage::from_raw(tw as u32, th as u32, buf).expect("buffer sized for the image")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[u8], w: usize, h: usize) -> Plane<'_> {
        Plane {
            data,
            stride: w,
            width: w,
            height: h,
        }
    }

    /// A picture with a luma plane only.
    fn grey(data: &[u8], w: usize, h: usize) -> Picture<'_> {
        Picture {
            y: plane(data, w, h),
            u: None,
            v: None,
        }
    }

    #[test]
    fn resize_averages_blocks() {
        let data = [0, 100, 200, 255, 0, 100, 200, 255];
        let out = resize_plane(&plane(&data, 4, 2), 2, 1);
        assert_eq!(out, vec![50, 228]);
    }

    #[test]
    fn fit_keeps_aspect_and_never_upscales() {
        assert_eq!(fit(1920.0, 1080.0, 640), (640, 360));
        assert_eq!(fit(100.0, 50.0, 640), (100, 50));
        assert_eq!(fit(1080.0, 1920.0, 320), (180, 320));
    }

    #[test]
    fn even_samples_respect_the_cap_and_candidates_keep_the_strongest() {
        let y = vec![128u8; 64 * 32];
        let pic = grey(&y, 64, 32);
        let spec = SampleSpec {
            every_s: 1.0,
            max_even: 3,
            candidates: true,
            luma_edge: 32,
            thumb_edge: 16,
            ..Default::default()
        };
        let mut s = Sampler::new(spec, 10.0, 100, 1.0);
        for i in 0..100 {
            let mafd = match i {
                41 => 20.0,
                43 => 30.0, // same window as 41, stronger: replaces it
                44 => 25.0,
                70 => 9.0,
                _ => 1.0,
            };
            s.offer(i, &pic, mafd, 10.0);
        }
        let out = s.finish(|f| f as f64 / 10.0);
        let frames: Vec<_> = out.iter().map(|s| (s.frame, s.reason)).collect();
        assert_eq!(
            frames,
            vec![
                (0, SampleReason::Even),
                (34, SampleReason::Even),
                (43, SampleReason::CutCandidate),
                (68, SampleReason::Even),
                (70, SampleReason::CutCandidate),
            ]
        );
        assert_eq!(out[2].t, 4.3);
        let l = out[0].luma.as_ref().unwrap();
        assert_eq!((l.width(), l.height()), (32, 16));
        let t = out[0].thumb.as_ref().unwrap();
        assert_eq!((t.width(), t.height()), (16, 8));
        // Grey 128 (limited range) → about 130 in RGB, equal channels.
        let p = t.get_pixel(0, 0).0;
        assert!(p[0] == p[1] && p[1] == p[2] && (125..=135).contains(&p[0]));
    }

    #[test]
    fn spread_picks_evenly_first_and_last() {
        assert_eq!(spread(10, 6), vec![0, 2, 4, 5, 7, 9]);
        assert_eq!(spread(12, 6), vec![0, 2, 4, 7, 9, 11]);
        assert_eq!(spread(7, 6), vec![0, 1, 2, 4, 5, 6]);
        assert_eq!(spread(5, 1), vec![0]);
    }

    #[test]
    fn the_detector_frame_is_kept_on_some_samples_only() {
        let y = vec![128u8; 64 * 32];
        let pic = grey(&y, 64, 32);
        let spec = |pose_min, pose_every_s| SampleSpec {
            every_s: 1.0,
            max_even: 12,
            luma_edge: 32,
            pose_edge: 16,
            pose_min,
            pose_every_s,
            ..Default::default()
        };
        // 10 fps, 100 frames (10 s): a sample a second.
        let posed = |(pose_min, every), expected| {
            let mut s = Sampler::new(spec(pose_min, every), 10.0, expected, 1.0);
            for i in 0..100 {
                s.offer(i, &pic, 1.0, 10.0);
            }
            let out = s.finish(|f| f as f64 / 10.0);
            assert_eq!(out.len(), 10, "every sample keeps its grey frame");
            assert!(out.iter().all(|s| s.luma.is_some()));
            out.iter()
                .filter(|s| s.rgb.is_some())
                .map(|s| s.frame)
                .collect::<Vec<_>>()
        };
        assert_eq!(posed((6, 2.0), 100), vec![0, 20, 40, 50, 70, 90]);
        assert_eq!(
            posed((4, 2.0), 100).len(),
            5,
            "one per 2 s beats the minimum"
        );
        assert_eq!(posed((6, 0.0), 100).len(), 10, "no cap");
        assert_eq!(
            posed((10, 2.0), 100).len(),
            10,
            "minimum not below the samples"
        );
        assert_eq!(posed((6, 2.0), 0).len(), 10, "length unknown: all");
        // No cap on the samples: a header claiming 10^18 frames must not make a pick list that
        // long.
        let s = Sampler::new(
            SampleSpec {
                max_even: 0,
                ..spec(6, 2.0)
            },
            10.0,
            1_000_000_000_000_000_000,
            1.0,
        );
        assert!(s.pose_pick.is_none());
    }

    #[test]
    fn empty_spec_keeps_nothing() {
        let y = vec![0u8; 4];
        let pic = grey(&y, 2, 2);
        let mut s = Sampler::new(SampleSpec::default(), 30.0, 10, 1.0);
        for i in 0..10 {
            s.offer(i, &pic, 50.0, 30.0);
        }
        assert!(s.finish(|_| 0.0).is_empty());
    }
}
