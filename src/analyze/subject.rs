//! The subject detectors over a video: the person/pose model on a small colour copy of the frames
//! the sampler kept from the analysis decode pass (`Sample::rgb`; no second decode), the faces from
//! its head keypoints, and sharpness and exposure on the grey frames, reduced to per-video figures
//! that do not flicker: people = the largest face count seen in at least 30% of the samples,
//! framing = the commonest one, sharpness and exposure = medians. The per-frame people are kept as
//! they are (`VideoPose`): the rules judge them against the profile's thresholds.

use image::{GrayImage, RgbImage};
use rayon::prelude::*;

use crate::detect::{self, pose};
use crate::model::{Framing, PictureFacts, PicturePose, PoseFrame, VideoPose, VideoSubject};

/// Share of samples a face count must reach to count as the number of people.
const PEOPLE_SHARE: f64 = 0.3;

/// Run the detectors on the samples' frames, shown upright (`rotation_deg` clockwise, from the
/// probe).
pub fn summarize(d: &super::DetailedAnalysis, rotation_deg: f64) -> Option<VideoSubject> {
    // Evenly spaced frames only: cut candidates are kept only for the visual report, and facts must
    // not depend on whether a report was asked for.
    let frames: Vec<(&GrayImage, Option<&RgbImage>)> = d
        .samples
        .iter()
        .filter(|s| s.reason == super::SampleReason::Even)
        .filter_map(|s| Some((s.luma.as_ref()?, s.rgb.as_ref())))
        .collect();
    let per: Vec<PictureFacts> = frames
        .par_iter()
        .map(|(g, c)| frame_facts(g, *c, rotation_deg))
        .collect();
    summarize_facts(&per, d)
}

/// The detectors on one sampled frame (`Sample::luma`, and `Sample::rgb` for the person model
/// when it was kept and the model is available; its head keypoints give the faces), shown upright.
pub fn frame_facts(luma: &GrayImage, rgb: Option<&RgbImage>, rotation_deg: f64) -> PictureFacts {
    let g = detect::fit_area(luma, detect::VIDEO_AREA);
    let pose = match (rgb, pose::model()) {
        (Some(c), Ok(m)) => m
            .detect(&super::sample::upright(c, rotation_deg))
            .ok()
            .map(picture_pose),
        _ => None,
    };
    detect::analyze_picture(&super::sample::upright(&full_range(&g), rotation_deg), pose)
}

/// The pose facts of one picture from the model's people.
pub fn picture_pose(people: Vec<crate::model::Person>) -> PicturePose {
    let framing = picture_framing(&people);
    PicturePose {
        model: pose::MODEL_NAME.into(),
        people,
        framing,
    }
}

/// The main subject's framing (the facts' own thresholds; rules apply the profile's).
pub fn picture_framing(people: &[crate::model::Person]) -> Option<Framing> {
    pose::main_subject(people, pose::PERSON_SCORE).map(|p| pose::framing(p, pose::KEYPOINT_VISIBLE))
}

/// The per-video figures from the per-frame facts (in frame order); None without frames.
pub fn summarize_facts(per: &[PictureFacts], d: &super::DetailedAnalysis) -> Option<VideoSubject> {
    if per.is_empty() {
        return None;
    }
    let mut s = reduce(per);
    s.camera_travel = camera_travel(d);
    let times: Vec<f64> = d
        .samples
        .iter()
        .filter(|s| s.reason == super::SampleReason::Even && s.luma.is_some())
        .map(|s| s.t)
        .collect();
    s.pose = video_pose(per, &times);
    Some(s)
}

/// The pose facts of every sampled frame with their times; None when the model ran on none.
fn video_pose(per: &[PictureFacts], times: &[f64]) -> Option<VideoPose> {
    let frames: Vec<PoseFrame> = per
        .iter()
        .zip(times)
        .filter_map(|(p, &t)| {
            let pp = p.pose.as_ref()?;
            Some(PoseFrame {
                t: detect::round4(t),
                people: pp.people.clone(),
                framing: pp.framing,
            })
        })
        .collect();
    if frames.is_empty() {
        return None;
    }
    let framing = commonest(frames.iter().filter_map(|f| f.framing));
    Some(VideoPose {
        model: pose::MODEL_NAME.into(),
        frames,
        framing,
    })
}

/// The commonest framing (ties go to the tighter one).
fn commonest(it: impl Iterator<Item = Framing>) -> Option<Framing> {
    commonest_framing(it, false)
}

/// The commonest framing; a tie goes to the wider framing when `wider` (asking more of a trim
/// window, never less), else to the tighter one.
pub fn commonest_framing(it: impl Iterator<Item = Framing>, wider: bool) -> Option<Framing> {
    let mut counts = [0usize; 3];
    for f in it {
        counts[f as usize] += 1;
    }
    [Framing::HeadShot, Framing::HalfBody, Framing::FullBody]
        .into_iter()
        .zip(counts)
        .filter(|(_, c)| *c > 0)
        .max_by_key(|&(f, c)| (c, if wider { f as i8 } else { -(f as i8) }))
        .map(|(f, _)| f)
}

/// Decode and analyse the video once (`analyze_video_with`) while a second thread runs the
/// detectors on each evenly spaced grey frame as soon as the pass keeps it. The detectors used to
/// wait for the end of the decode; on light footage the decoder leaves a core partly idle, and this
/// fills it. Same facts as `analyze_video_sampled` followed by `summarize`.
pub fn analyze_with_subject(
    path: &std::path::Path,
    opts: &super::AnalyzeOptions,
    spec: &super::SampleSpec,
    rotation_deg: f64,
) -> Result<(super::DetailedAnalysis, Option<VideoSubject>), super::AnalyzeError> {
    if spec.luma_edge == 0 {
        return super::analyze_video_sampled(path, opts, spec).map(|d| (d, None));
    }
    let (tx, rx) = std::sync::mpsc::channel::<(GrayImage, Option<RgbImage>)>();
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("subject".into())
            .spawn_scoped(scope, move || {
                rx.iter()
                    .map(|(g, c)| frame_facts(&g, c.as_ref(), rotation_deg))
                    .collect::<Vec<_>>()
            });
        let d = super::analyze_video_with(path, opts, spec, |s| {
            if let (Ok(_), Some(l)) = (&worker, &s.luma) {
                let _ = tx.send((l.clone(), s.rgb.clone()));
            }
        });
        drop(tx);
        let d = d?;
        // The detectors ran on the thread; a panic there leaves no facts. Only a thread that
        // never started means running them here, on the frames the pass kept.
        let subject = match worker {
            Ok(w) => w.join().ok().and_then(|per| summarize_facts(&per, &d)),
            Err(_) => summarize(&d, rotation_deg),
        };
        Ok((d, subject))
    })
}

/// How far the camera travelled over the frames inside `analysis.camera_motion`, in frame widths
/// (horizontal) or heights (vertical), whichever is larger.
pub fn camera_travel(d: &super::DetailedAnalysis) -> f64 {
    let (w, h) = (d.width.max(1) as f64, d.height.max(1) as f64);
    let (mut x, mut y) = (0.0f64, 0.0f64);
    for s in &d.analysis.camera_motion {
        // Records by frame number (numbers skip the frames a fast pass did not decode); each
        // record's shift is measured from the record before it.
        let a = d.frames.partition_point(|r| r.frame <= s.start_frame);
        let b = d.frames.partition_point(|r| r.frame < s.end_frame);
        for r in d.frames.get(a..b).unwrap_or(&[]) {
            x += r.dx.abs() as f64;
            y += r.dy.abs() as f64;
        }
    }
    ((x / w).max(y / h) * 1000.0).round() / 1000.0
}

/// Reduce per-frame facts to the video's figures. Faces come from the person model, which runs on
/// some of the samples only (`SampleSpec::pose_min`): the face and people figures are taken over
/// those frames (over all when the model ran on none), sharpness and exposure over every sample.
pub fn reduce(per: &[PictureFacts]) -> VideoSubject {
    let n = per.len();
    let posed: Vec<&PictureFacts> = per.iter().filter(|p| p.pose.is_some()).collect();
    let judged: Vec<&PictureFacts> = if posed.is_empty() {
        per.iter().collect()
    } else {
        posed
    };
    let faces_per_sample: Vec<u32> = judged.iter().map(|p| p.faces.len() as u32).collect();
    let people = (1..=faces_per_sample.iter().copied().max().unwrap_or(0))
        .rev()
        .find(|&k| {
            let hits = faces_per_sample.iter().filter(|&&c| c >= k).count();
            hits as f64 >= PEOPLE_SHARE * judged.len() as f64
        })
        .unwrap_or(0);
    let face_height = median(
        judged
            .iter()
            .filter_map(|p| p.faces.first().map(|f| f.h))
            .collect(),
    );
    let framing = commonest(judged.iter().filter_map(|p| p.framing));
    let sharpness_per_sample: Vec<f64> = per.iter().map(|p| p.quality.sharpness).collect();
    let q = |f: fn(&PictureFacts) -> f64| median(per.iter().map(f).collect()).unwrap_or(0.0);
    VideoSubject {
        detector: judged
            .first()
            .map(|p| p.detector.clone())
            .unwrap_or_default(),
        samples: n as u32,
        faces_per_sample,
        people,
        face_height,
        framing,
        sharpness: q(|p| p.quality.sharpness),
        sharpness_per_sample,
        dark_fraction: q(|p| p.quality.dark_fraction),
        bright_fraction: q(|p| p.quality.bright_fraction),
        mean_luma: q(|p| p.quality.mean_luma),
        face_mean_luma: median(
            per.iter()
                .filter_map(|p| p.quality.face_mean_luma)
                .collect(),
        ),
        camera_travel: 0.0,
        pose: None,
    }
}

/// The median, rounded to 4 decimals (facts must read back from the cache's JSON bit for bit).
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    let x = if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    };
    Some(detect::round4(x))
}

/// Video luma is limited range (16–235): stretch it to 0–255 so exposure thresholds mean the same as
/// on photos.
fn full_range(g: &GrayImage) -> GrayImage {
    let mut out = g.clone();
    for v in out.iter_mut() {
        *v = ((*v as f32 - 16.0) * (255.0 / 219.0))
            .round()
            .clamp(0.0, 255.0) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FaceBox, PicturePose, PictureQuality};

    fn pic(faces: usize, framing: Option<Framing>, sharpness: f64) -> PictureFacts {
        PictureFacts {
            detector: "t".into(),
            faces: vec![
                FaceBox {
                    x: 0.1,
                    y: 0.1,
                    w: 0.1,
                    h: 0.1,
                    frontal: Some(true),
                };
                faces
            ],
            framing,
            quality: PictureQuality {
                sharpness,
                ..Default::default()
            },
            pose: None,
        }
    }

    #[test]
    fn people_ignore_flicker() {
        let hb = Some(Framing::HalfBody);
        // 10 samples: one face throughout, a false second face in 2 of them.
        let mut per: Vec<_> = (0..10).map(|_| pic(1, hb, 100.0)).collect();
        per[3] = pic(2, hb, 100.0);
        per[7] = pic(2, hb, 100.0);
        assert_eq!(reduce(&per).people, 1);
        per[8] = pic(2, hb, 100.0);
        assert_eq!(reduce(&per).people, 2, "3 of 10 samples");
        let none: Vec<_> = (0..4).map(|_| pic(0, None, 5.0)).collect();
        let s = reduce(&none);
        assert_eq!((s.people, s.framing, s.sharpness), (0, None, 5.0));
    }

    #[test]
    fn faces_are_counted_over_the_frames_the_person_model_ran_on() {
        let hb = Some(Framing::HalfBody);
        // 10 samples, the model ran on every other one and saw two faces there; the frames it
        // skipped have no faces (nobody looked), and must not dilute the count.
        let per: Vec<_> = (0..10)
            .map(|i| {
                let mut p = pic(if i % 2 == 0 { 2 } else { 0 }, None, i as f64);
                if i % 2 == 0 {
                    p.framing = hb;
                    p.pose = Some(PicturePose {
                        model: "m".into(),
                        people: vec![],
                        framing: hb,
                    });
                }
                p
            })
            .collect();
        let s = reduce(&per);
        assert_eq!(s.samples, 10);
        assert_eq!(s.faces_per_sample, vec![2; 5], "one count per posed frame");
        assert_eq!(s.people, 2);
        assert_eq!(s.sharpness_per_sample.len(), 10, "quality on every sample");
        assert_eq!(s.sharpness, 4.5);
    }

    #[test]
    fn framing_is_the_commonest() {
        let per = vec![
            pic(1, Some(Framing::FullBody), 1.0),
            pic(1, Some(Framing::HalfBody), 1.0),
            pic(1, Some(Framing::FullBody), 1.0),
            pic(0, None, 1.0),
        ];
        assert_eq!(reduce(&per).framing, Some(Framing::FullBody));
    }

    #[test]
    fn rotation_and_range() {
        let g = GrayImage::from_raw(2, 1, vec![16, 235]).unwrap();
        assert_eq!(full_range(&g).as_raw(), &vec![0, 255]);
        assert_eq!(super::super::sample::upright(&g, 90.0).dimensions(), (1, 2));
        assert_eq!(super::super::sample::upright(&g, 0.0).dimensions(), (2, 1));
    }
}
