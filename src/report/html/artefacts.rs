//! What the visual report shows besides the `FileReport`: small JPEG thumbnails and a downsampled
//! motion-energy signal. They are made only when `--report` asks for them, from frames the analysis
//! pass already decoded (videos) or from one decode of the picture (images), and they never enter the
//! JSON report: the engine hands them back beside it.

use std::io::Cursor;
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

use crate::analyze::{DetailedAnalysis, Sample, SampleReason};
use crate::model::VideoFacts;

/// Long edge of a thumbnail, pixels: about 160 px tall for a portrait frame, 90 px for 16:9.
pub const THUMB_EDGE: u32 = 160;
/// JPEG quality of thumbnails: small (2–5 KB each) and still legible.
pub const THUMB_QUALITY: u8 = 70;
/// Evenly spaced filmstrip frames per video (plus one per shot), and the cap on the whole strip.
pub const EVEN_FRAMES: usize = 8;
pub const MAX_STRIP: usize = 16;
/// Points of the motion-energy polyline per video (the maximum of each bucket, so spikes survive).
pub const SIGNAL_POINTS: usize = 400;

/// One small picture, JPEG-encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    /// Seconds from the start (videos).
    pub t: Option<f64>,
    /// Presentation-order frame index (videos).
    pub frame: Option<u64>,
    /// The first kept frame of a shot (videos).
    pub shot: Option<usize>,
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

impl Thumb {
    /// Encode `img` (already small) as a thumbnail.
    pub fn encode(img: &RgbImage) -> Option<Thumb> {
        let mut buf = Cursor::new(Vec::new());
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, THUMB_QUALITY);
        img.write_with_encoder(enc).ok()?;
        Some(Thumb {
            t: None,
            frame: None,
            shot: None,
            width: img.width(),
            height: img.height(),
            jpeg: buf.into_inner(),
        })
    }

    /// `data:` URI of the JPEG.
    pub fn data_uri(&self) -> String {
        use base64::Engine as _;
        format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&self.jpeg)
        )
    }
}

/// Pictures and signals of one file for the visual report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Artefacts {
    /// Video: the filmstrip in time order. Image: the picture (EXIF orientation applied).
    pub thumbs: Vec<Thumb>,
    /// Video: (seconds, motion energy % = the frame's luma jump, the bucket's maximum).
    pub signal: Vec<(f32, f32)>,
    /// Video: seconds between the evenly spaced samples (the shortest step between two of them;
    /// None with fewer than two). A filmstrip frame shows the people of a pose frame within half
    /// of it (`people::frame_at`).
    pub interval_s: Option<f64>,
    /// Image: the decoded size as displayed (EXIF orientation applied).
    pub size: Option<(u32, u32)>,
    /// Why a picture is missing (decode failure), shown instead.
    pub note: Option<String>,
}

/// The filmstrip and signal of an analysed video: one thumbnail per shot (the first kept frame at
/// or after its start) plus the evenly spaced frames, at most `MAX_STRIP`, rotated upright.
pub fn from_video(d: &DetailedAnalysis, facts: &VideoFacts) -> Artefacts {
    let rotation = facts.video.as_ref().map_or(0.0, |v| v.rotation_deg);
    let mut chosen: Vec<(&Sample, Option<usize>)> = Vec::new();
    for (i, shot) in d.analysis.shots.iter().enumerate() {
        if chosen.len() >= MAX_STRIP {
            break;
        }
        let first = d.samples.iter().find(|s| {
            s.thumb.is_some()
                && s.frame as u64 >= shot.start_frame
                && (s.frame as u64) < shot.end_frame.max(shot.start_frame + 1)
        });
        if let Some(s) = first
            && !chosen.iter().any(|(c, _)| c.frame == s.frame)
        {
            chosen.push((s, Some(i)));
        }
    }
    for s in d
        .samples
        .iter()
        .filter(|s| s.reason == SampleReason::Even && s.thumb.is_some())
    {
        if chosen.len() >= MAX_STRIP {
            break;
        }
        if !chosen.iter().any(|(c, _)| c.frame == s.frame) {
            chosen.push((s, None));
        }
    }
    chosen.sort_by_key(|(s, _)| s.frame);
    let thumbs = chosen
        .into_iter()
        .filter_map(|(s, shot)| {
            let img = crate::analyze::upright(s.thumb.as_ref()?, rotation);
            let mut t = Thumb::encode(&img)?;
            t.t = Some(s.t);
            t.frame = Some(s.frame as u64);
            t.shot = shot;
            Some(t)
        })
        .collect();
    let points: Vec<(f64, f32)> = d.frames.iter().map(|f| (f.t, f.mafd)).collect();
    let evens: Vec<f64> = d
        .samples
        .iter()
        .filter(|s| s.reason == SampleReason::Even)
        .map(|s| s.t)
        .collect();
    Artefacts {
        thumbs,
        signal: downsample(&points, SIGNAL_POINTS),
        interval_s: evens
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|g| *g > 0.0)
            .min_by(f64::total_cmp),
        ..Artefacts::default()
    }
}

/// At most `n` points: each bucket of consecutive frames becomes (its first time, its maximum), so a
/// one-frame spike (a cut) is never averaged away. The first frame (no predecessor) is skipped.
pub fn downsample(points: &[(f64, f32)], n: usize) -> Vec<(f32, f32)> {
    let pts = points.get(1..).unwrap_or_default();
    if pts.is_empty() || n == 0 {
        return Vec::new();
    }
    let buckets = n.min(pts.len());
    (0..buckets)
        .map(|b| {
            let lo = b * pts.len() / buckets;
            let hi = ((b + 1) * pts.len() / buckets).max(lo + 1);
            let max = pts[lo..hi].iter().map(|p| p.1).fold(0.0f32, f32::max);
            (pts[lo].0 as f32, max)
        })
        .collect()
}

/// The picture of an image file, upright, first frame, flattened onto white, `THUMB_EDGE` long.
pub fn from_image(path: &Path) -> Artefacts {
    from_decoded(crate::pixels::decode_for_analysis(path))
}

/// `from_image` on a decode already made (`pixels::decode_for_analysis`'s result; the size shown
/// is the stored picture's, upright, even when the decode was reduced).
pub fn from_decoded(
    decoded: Result<crate::pixels::Decoded, crate::pixels::PixelError>,
) -> Artefacts {
    match decoded {
        Ok(d) => {
            let mut img = d.img;
            img.apply_orientation(d.orientation);
            use Orientation as O;
            let turned = matches!(
                d.orientation,
                O::Rotate90 | O::Rotate270 | O::Rotate90FlipH | O::Rotate270FlipH
            );
            let (w, h) = if turned { (d.full.1, d.full.0) } else { d.full };
            match (w, h, image_thumb(img)) {
                (w, h, Some(t)) => Artefacts {
                    thumbs: vec![t],
                    size: Some((w, h)),
                    ..Artefacts::default()
                },
                (_, _, None) => Artefacts {
                    note: Some("cannot encode the thumbnail".into()),
                    ..Artefacts::default()
                },
            }
        }
        Err(e) => Artefacts {
            note: Some(e.to_string()),
            ..Artefacts::default()
        },
    }
}

fn image_thumb(img: DynamicImage) -> Option<Thumb> {
    let small = img.thumbnail(THUMB_EDGE, THUMB_EDGE).to_rgba8();
    let mut rgb = RgbImage::new(small.width(), small.height());
    for (o, p) in rgb.pixels_mut().zip(small.pixels()) {
        let a = p[3] as u32;
        for c in 0..3 {
            o[c] = ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    Thumb::encode(&rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_keeps_spikes_and_caps_points() {
        let mut pts: Vec<(f64, f32)> = (0..1000).map(|i| (i as f64 / 25.0, 1.0)).collect();
        pts[537].1 = 60.0;
        let d = downsample(&pts, 400);
        assert_eq!(d.len(), 400);
        assert!(d.iter().any(|p| p.1 == 60.0));
        assert_eq!(downsample(&pts[..5], 400).len(), 4);
        assert!(downsample(&pts[..1], 400).is_empty());
    }

    #[test]
    fn thumbnails_are_small() {
        let img = RgbImage::from_fn(160, 90, |x, y| {
            image::Rgb([(x * 3) as u8, (y * 5) as u8, 90])
        });
        let t = Thumb::encode(&img).unwrap();
        assert!(t.jpeg.len() < 8_000, "{} bytes", t.jpeg.len());
        assert!(t.data_uri().starts_with("data:image/jpeg;base64,/9j/"));
    }
}
