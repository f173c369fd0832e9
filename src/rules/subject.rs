//! Warnings beyond the written limits, from the subject detectors' facts: the character image's face
//! size, missing face, blur and exposure (I010–I013) and people (I016), and the reference video's
//! camera motion, number of people and blur (V014–V016), cut-off body, hidden hands and missing person
//! (V017, V018, V020: the pose model's keypoints). Thresholds come from the profile's `[subject]` section (our own
//! calibration, `tests/subject_corpus.rs`); a rule whose threshold a profile removes stays silent.

use super::{Context, Sink};
use crate::detect::pose;
use crate::model::{Framing, ImageFacts, Person, VideoFacts, VideoPose};
use crate::profile::SubjectLimits;

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// I010–I013 for an image whose pixels were analysed.
pub fn check_image(sink: &mut Sink<'_>, ctx: &Context<'_>, f: &ImageFacts) {
    let Some(s) = &f.subject else { return };
    let lim = &ctx.profile.subject;
    let get = SubjectLimits::get;
    let tag = ctx.tag();
    let (_, shown_h) = f.display_size();
    match s.faces.first() {
        Some(face) => {
            let px = face.h * shown_h as f64;
            let small_frac = get(&lim.min_face_height).filter(|m| face.h < *m);
            let small_px = get(&lim.min_face_px).filter(|m| px < *m);
            if small_frac.is_some() || small_px.is_some() {
                let mut limits = Vec::new();
                if let Some(m) = small_frac {
                    limits.push(format!("{} < {}", pct(face.h), pct(m)));
                }
                if let Some(m) = small_px {
                    limits.push(format!("{px:.0} px < {m:.0} px"));
                }
                sink.emit(
                    "I010",
                    format!(
                        "largest face is {px:.0} px tall, {} of the image height: {} {tag}",
                        pct(face.h),
                        limits.join(", ")
                    ),
                );
            }
        }
        None => sink.emit("I011", format!("no frontal face found ({})", s.detector)),
    }
    if let Some(m) = get(&lim.min_sharpness_image)
        && s.quality.sharpness < m
    {
        sink.emit(
            "I012",
            format!("sharpness {:.0} < {m:.0} {tag}", s.quality.sharpness),
        );
    }
    let q = &s.quality;
    if matches!(f.color_model.as_str(), "cmyk" | "ycck") {
        // Decoders disagree on Adobe CMYK's inversion (I009): the measured level is not trustworthy.
        return;
    }
    let (level, what) = match q.face_mean_luma {
        Some(l) => (l, "face"),
        None => (q.mean_luma, "image"),
    };
    let clipped = format!(
        "{} of pixels crushed to black, {} blown to white",
        pct(q.dark_fraction),
        pct(q.bright_fraction)
    );
    if let Some(m) = get(&lim.min_mean_luma)
        && level < m
    {
        sink.emit(
            "I013",
            format!("too dark: {what} mean level {level:.0} < {m:.0} ({clipped}) {tag}"),
        );
    } else if let Some(m) = get(&lim.max_mean_luma)
        && level > m
    {
        sink.emit(
            "I013",
            format!("too bright: {what} mean level {level:.0} > {m:.0} ({clipped}) {tag}"),
        );
    }
}

/// I016 from the pose model's people in the character image.
pub fn check_image_people(sink: &mut Sink<'_>, ctx: &Context<'_>, f: &ImageFacts) {
    let Some(pose) = f.subject.as_ref().and_then(|s| s.pose.as_ref()) else {
        return;
    };
    let lim = &ctx.profile.subject;
    let (Some(score), Some(max)) = (
        SubjectLimits::get(&lim.min_person_score),
        SubjectLimits::get(&lim.max_people),
    ) else {
        return;
    };
    let people: Vec<&Person> = pose.people.iter().filter(|p| p.score >= score).collect();
    if people.len() as f64 > max {
        let scores: Vec<String> = people.iter().map(|p| format!("{:.2}", p.score)).collect();
        sink.emit(
            "I016",
            format!(
                "{} people (person scores {} ≥ {score}) > {max} {}",
                people.len(),
                scores.join(", "),
                ctx.tag()
            ),
        );
    }
}

/// V015, V017, V018 and V020 from the pose model's people in the sampled frames.
fn check_people(sink: &mut Sink<'_>, ctx: &Context<'_>, pose: &VideoPose, faces: &[u32]) {
    let lim = &ctx.profile.subject;
    let get = SubjectLimits::get;
    let tag = ctx.tag();
    let Some(score) = get(&lim.min_person_score) else {
        return;
    };
    let n = pose.frames.len();
    let counts: Vec<usize> = pose
        .frames
        .iter()
        .map(|f| f.people.iter().filter(|p| p.score >= score).count())
        .collect();
    // A frame with a frontal face shows a person too (the pose model misses extreme close-ups).
    let with_person = if faces.len() == n {
        counts
            .iter()
            .zip(faces)
            .filter(|(c, f)| **c > 0 || **f > 0)
            .count()
    } else {
        counts.iter().filter(|&&c| c > 0).count()
    };
    if let Some(share) = get(&lim.min_person_share)
        && n > 0
        && (with_person as f64) < share * n as f64
    {
        sink.emit(
            "V020",
            format!(
                "a person (pose score ≥ {score}, or a frontal face) in {with_person} of {n} sampled frames, < {} {tag}",
                pct(share)
            ),
        );
    }
    if let (Some(max), Some(share)) = (get(&lim.max_people), get(&lim.min_people_share)) {
        let people = (1..=counts.iter().copied().max().unwrap_or(0))
            .rev()
            .find(|&k| counts.iter().filter(|&&c| c >= k).count() as f64 >= share * n as f64)
            .unwrap_or(0);
        if people as f64 > max {
            let with = counts.iter().filter(|&&c| c >= people).count();
            sink.emit(
                "V015",
                format!(
                    "{people} people together in {with} of {n} sampled frames (pose model) {tag}"
                ),
            );
        }
    }
    let Some(kp) = get(&lim.min_keypoint_score) else {
        return;
    };
    let mains: Vec<&Person> = pose
        .frames
        .iter()
        .filter_map(|f| pose::main_subject(&f.people, score))
        .collect();
    if mains.is_empty() {
        return;
    }
    let m = mains.len();
    if let Some(max) = get(&lim.max_cut_off_share) {
        let head = mains.iter().filter(|p| head_cut(p, kp)).count();
        let feet = mains.iter().filter(|p| feet_cut(p, kp)).count();
        let cut = mains
            .iter()
            .filter(|p| head_cut(p, kp) || feet_cut(p, kp))
            .count();
        if cut as f64 > max * m as f64 {
            sink.emit(
                "V017",
                format!(
                    "the main person is cut off in {cut} of {m} sampled frames that show them (head out in {head}, feet out in {feet}) > {} {tag}",
                    pct(max)
                ),
            );
        }
    }
    if let Some(max) = get(&lim.max_hands_hidden_share) {
        let hidden = mains.iter().filter(|p| hands_hidden(p, kp)).count();
        if hidden as f64 > max * m as f64 {
            sink.emit(
                "V018",
                format!(
                    "an elbow but neither wrist visible in {hidden} of {m} sampled frames that show the main person > {} {tag}",
                    pct(max)
                ),
            );
        }
    }
}

/// The body reaches the top edge and no head keypoint is visible.
pub fn head_cut(p: &Person, kp: f64) -> bool {
    p.y <= EDGE && !pose::any_visible(p, &pose::HEAD, kp)
}

/// The body reaches the bottom edge, a hip or knee is visible and no ankle is: the legs go on out
/// of frame (a chest-up shot, without hips, is a framing choice).
pub fn feet_cut(p: &Person, kp: f64) -> bool {
    p.y + p.h >= 1.0 - EDGE
        && (pose::any_visible(p, &pose::HIPS, kp) || pose::any_visible(p, &pose::KNEES, kp))
        && !pose::any_visible(p, &pose::ANKLES, kp)
}

/// An elbow is visible and neither wrist is: the arms are in view, the hands are not (behind the
/// back, in pockets, out of frame). A head-and-shoulders shot, without elbows, does not count.
pub fn hands_hidden(p: &Person, kp: f64) -> bool {
    pose::any_visible(p, &pose::ELBOWS, kp) && !pose::any_visible(p, &pose::WRISTS, kp)
}

/// How close to the frame's edge a box must reach to be cut by it (fraction of the frame).
const EDGE: f64 = 0.03;

/// V014–V016 for a video whose sampled frames were analysed.
pub fn check_video(sink: &mut Sink<'_>, ctx: &Context<'_>, f: &VideoFacts) {
    let Some(a) = &f.analysis else { return };
    let Some(s) = &a.subject else { return };
    let lim = &ctx.profile.subject;
    let get = SubjectLimits::get;
    let tag = ctx.tag();
    let moving: f64 = a.camera_motion.iter().map(|s| s.duration_s()).sum();
    if let (Some(min_s), Some(travel)) =
        (get(&lim.min_camera_motion_s), get(&lim.max_camera_travel))
        && moving >= min_s
        && s.camera_travel >= travel
    {
        let spans = a
            .camera_motion
            .iter()
            .map(|s| format!("{:.1}–{:.1} s", s.start_s, s.end_s))
            .collect::<Vec<_>>()
            .join(", ");
        sink.emit(
            "V014",
            format!(
                "the camera moves for {moving:.1} s ({spans}) and travels {:.2} frames ≥ {travel} {tag}",
                s.camera_travel
            ),
        );
    }
    match &s.pose {
        Some(pose) => check_people(sink, ctx, pose, &s.faces_per_sample),
        None => {
            if let Some(m) = get(&lim.max_people)
                && s.people as f64 > m
            {
                let with = s
                    .faces_per_sample
                    .iter()
                    .filter(|&&c| c >= s.people)
                    .count();
                sink.emit(
                    "V015",
                    format!(
                        "{} people: {} faces together in {with} of {} sampled frames {tag}",
                        s.people, s.people, s.samples
                    ),
                );
            }
        }
    }
    if let Some(m) = get(&lim.min_sharpness_video)
        && s.samples > 0
        && s.sharpness < m
    {
        sink.emit(
            "V016",
            format!(
                "median sharpness {:.0} < {m:.0} over {} sampled frames {tag}",
                s.sharpness, s.samples
            ),
        );
    }
}

/// P001's framing half: a head-shot image with a full-body video or the reverse (half-body matches
/// either). `None` when either side has no framing (no face found, or analysis off).
pub fn framing_mismatch(image: &ImageFacts, video: &VideoFacts) -> Option<String> {
    let img = image.subject.as_ref()?;
    let vid = video.analysis.as_ref()?.subject.as_ref()?;
    // The pose model's framing when it ran on both; the faces' otherwise.
    let (a, b) = match (&img.pose, &vid.pose) {
        (Some(p), Some(q)) => (p.framing?, q.framing?),
        _ => (img.framing?, vid.framing?),
    };
    let far = matches!(
        (a, b),
        (Framing::HeadShot, Framing::FullBody) | (Framing::FullBody, Framing::HeadShot)
    );
    far.then(|| {
        format!(
            "the image is a {} but the video is {}: the model must invent the body the image does not show, or shrink the character",
            a.name(),
            b.name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        FaceBox, ImageFormat, PictureFacts, PictureQuality, Span, VideoAnalysis, VideoSubject,
    };
    use crate::profile::Orientation;

    fn picture(face_h: Option<f64>, sharpness: f64, level: f64) -> PictureFacts {
        PictureFacts {
            detector: "test".into(),
            faces: face_h
                .map(|h| FaceBox {
                    x: 0.4,
                    y: 0.1,
                    w: h,
                    h,
                })
                .into_iter()
                .collect(),
            framing: face_h.map(|h| {
                crate::detect::framing_of(&FaceBox {
                    x: 0.4,
                    y: 0.1,
                    w: h,
                    h,
                })
            }),
            quality: PictureQuality {
                sharpness,
                mean_luma: level,
                face_mean_luma: face_h.map(|_| level),
                ..Default::default()
            },
            pose: None,
        }
    }

    fn image_codes(p: PictureFacts) -> Vec<String> {
        image_codes_at(p, 1000, 1500)
    }

    fn image_codes_at(p: PictureFacts, w: u32, h: u32) -> Vec<String> {
        let mut f = crate::model::samples::image(ImageFormat::Jpeg, w, h);
        f.subject = Some(p);
        crate::rules::codes_with("strict", Orientation::Video, |sink, ctx| {
            check_image(sink, ctx, &f)
        })
    }

    #[test]
    fn image_warnings() {
        assert!(image_codes(picture(Some(0.3), 800.0, 120.0)).is_empty());
        assert_eq!(image_codes(picture(Some(0.04), 800.0, 120.0)), ["I010"]);
        assert_eq!(
            image_codes(picture(Some(0.03), 800.0, 120.0)),
            ["I010"],
            "45 px"
        );
        // The pixel limit on its own: 7 % of a 600 px tall image is 42 px (< 48 px), above 6 %.
        assert_eq!(
            image_codes_at(picture(Some(0.07), 800.0, 120.0), 400, 600),
            ["I010"],
            "42 px"
        );
        assert!(image_codes_at(picture(Some(0.07), 800.0, 120.0), 800, 1200).is_empty());
        assert_eq!(image_codes(picture(None, 800.0, 120.0)), ["I011"]);
        assert_eq!(image_codes(picture(Some(0.3), 20.0, 120.0)), ["I012"]);
        assert_eq!(image_codes(picture(Some(0.3), 800.0, 20.0)), ["I013"]);
        assert_eq!(image_codes(picture(Some(0.3), 800.0, 240.0)), ["I013"]);
    }

    #[test]
    fn framing_mismatch_needs_head_shot_against_full_body() {
        let mut img = crate::model::samples::image(ImageFormat::Jpeg, 1000, 1500);
        let mut vid = crate::model::samples::video(1080, 1920, 8.0);
        let with = |f: Framing| VideoSubject {
            framing: Some(f),
            ..Default::default()
        };
        img.subject = Some(picture(Some(0.4), 800.0, 120.0)); // head-shot
        assert_eq!(
            framing_mismatch(&img, &vid),
            None,
            "no analysis on the video"
        );
        vid.analysis = Some(VideoAnalysis {
            subject: Some(with(Framing::FullBody)),
            ..Default::default()
        });
        let m = framing_mismatch(&img, &vid).unwrap();
        assert!(m.contains("head-shot") && m.contains("full-body"), "{m}");
        vid.analysis.as_mut().unwrap().subject = Some(with(Framing::HalfBody));
        assert_eq!(
            framing_mismatch(&img, &vid),
            None,
            "half-body matches either"
        );
    }

    fn video_codes(s: VideoSubject, camera: Vec<Span>) -> Vec<String> {
        let mut f = crate::model::samples::video(1080, 1920, 8.0);
        f.analysis = Some(VideoAnalysis {
            camera_motion: camera,
            subject: Some(s),
            longest_motion_s: 8.0,
            ..Default::default()
        });
        crate::rules::codes_with("strict", Orientation::Video, |sink, ctx| {
            check_video(sink, ctx, &f)
        })
    }

    #[test]
    fn video_warnings() {
        let good = VideoSubject {
            samples: 8,
            faces_per_sample: vec![1; 8],
            people: 1,
            sharpness: 300.0,
            ..Default::default()
        };
        let span = |a: f64, b: f64| Span {
            start_s: a,
            end_s: b,
            start_frame: (a * 30.0) as u64,
            end_frame: (b * 30.0) as u64,
        };
        assert!(video_codes(good.clone(), vec![]).is_empty());
        let pan = VideoSubject {
            camera_travel: 1.2,
            ..good.clone()
        };
        assert_eq!(video_codes(pan.clone(), vec![span(1.0, 3.0)]), ["V014"]);
        assert!(video_codes(pan, vec![span(1.0, 1.5)]).is_empty(), "brief");
        let shake = VideoSubject {
            camera_travel: 0.1,
            ..good.clone()
        };
        assert!(
            video_codes(shake, vec![span(0.0, 8.0)]).is_empty(),
            "hand-held jitter"
        );
        let two = VideoSubject {
            people: 2,
            faces_per_sample: vec![2, 2, 2, 1, 1, 1, 1, 1],
            ..good.clone()
        };
        assert_eq!(video_codes(two, vec![]), ["V015"]);
        let soft = VideoSubject {
            sharpness: 8.0,
            ..good
        };
        assert_eq!(video_codes(soft, vec![]), ["V016"]);
    }
}
