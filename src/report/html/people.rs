//! The people the pose model found, drawn over the report's pictures: the main subject's box and
//! skeleton (only keypoints the rules count as visible) and the other people's boxes, thinner and
//! dimmer. A user then sees why a people warning fired (two boxes: several people; no ankle dots:
//! feet out of frame; an elbow without a wrist: hands hidden) instead of trusting a number.
//!
//! Pure functions of the facts: pose coordinates are fractions of the upright picture (EXIF
//! orientation, display rotation and sample aspect ratio already applied by the analysis), so they
//! map onto the upright thumbnails by scaling alone. A filmstrip frame gets the pose frame sampled
//! nearest to it in time, within half the sampling interval and not across a cut; without one (the
//! model runs on some of a clip's samples only) it gets no overlay rather than another moment's
//! people.

use std::fmt::Write as _;

use super::esc;
use crate::detect::pose;
use crate::model::{Cut, Person, PoseFrame};
use crate::profile::{Profile, SubjectLimits};

/// The thresholds the rules judge people by: who counts as a person, which keypoint as visible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub person: f64,
    pub keypoint: f64,
}

impl Thresholds {
    /// The profile's (the facts' own when a profile removes them).
    pub fn of(p: &Profile) -> Thresholds {
        Thresholds {
            person: SubjectLimits::get(&p.subject.min_person_score).unwrap_or(pose::PERSON_SCORE),
            keypoint: SubjectLimits::get(&p.subject.min_keypoint_score)
                .unwrap_or(pose::KEYPOINT_VISIBLE),
        }
    }
}

/// The pose frame shown with a filmstrip frame at `t` seconds: the nearest one within half the
/// sampling interval `interval` (seconds between the evenly spaced samples; 0 = only a frame at
/// the same time), with no cut between the two times. The model runs on some of the evenly spaced
/// samples only: the picture of a sample it skipped is a whole interval from any pose frame and
/// gets no overlay, rather than a neighbour's people.
pub fn frame_at<'a>(
    frames: &'a [PoseFrame],
    t: f64,
    interval: f64,
    cuts: &[Cut],
) -> Option<&'a PoseFrame> {
    let nearest = frames
        .iter()
        .min_by(|a, b| (a.t - t).abs().total_cmp(&(b.t - t).abs()))?;
    let half = interval.max(0.0) / 2.0;
    // Pose times are rounded to 4 decimals; filmstrip times are not.
    if (nearest.t - t).abs() > half + 1e-3 {
        return None;
    }
    let (lo, hi) = (nearest.t.min(t), nearest.t.max(t));
    let across = cuts
        .iter()
        .any(|c| c.time_s > lo + 1e-6 && c.time_s <= hi + 1e-6);
    (!across).then_some(nearest)
}

/// The marks for `people` over a picture drawn at `(x0, y0)` with size `(w, h)` in the enclosing
/// SVG's units: other people first (dashed boxes), the main subject last, on top.
pub fn marks(people: &[Person], (x0, y0, w, h): (f64, f64, f64, f64), th: Thresholds) -> String {
    let mut s = String::new();
    // The rules' main subject; every other person they count is drawn as another person.
    let Some(p) = pose::main_subject(people, th.person) else {
        return s;
    };
    let others = people
        .iter()
        .filter(|o| o.score >= th.person && !std::ptr::eq(*o, p));
    let px = |f: f64| x0 + f * w;
    let py = |f: f64| y0 + f * h;
    let rect = |s: &mut String, class: &str, p: &Person, title: String| {
        let _ = write!(
            s,
            r#"<rect class="person {class}" data-score="{sc}" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}"><title>{}</title></rect>"#,
            px(p.x),
            py(p.y),
            p.w * w,
            p.h * h,
            esc(&title),
            sc = p.score
        );
    };
    s.push_str("<g class=\"people\">");
    for o in others {
        rect(
            &mut s,
            "other",
            o,
            format!("another person, score {:.2}", o.score),
        );
    }
    let seen = p.keypoints.iter().filter(|k| k[2] >= th.keypoint).count();
    let title = format!(
        "main subject, score {:.2} ({seen} of 17 keypoints visible)",
        p.score
    );
    rect(&mut s, "main", p, title);
    let visible = |i: usize| p.keypoints.get(i).filter(|k| k[2] >= th.keypoint);
    for &(a, b) in &pose::SKELETON {
        if let (Some(ka), Some(kb)) = (visible(a), visible(b)) {
            let _ = write!(
                s,
                r#"<line class="bone" x1="{:.2}" y1="{:.2}" x2="{:.2}" y2="{:.2}"/>"#,
                px(ka[0]),
                py(ka[1]),
                px(kb[0]),
                py(kb[1])
            );
        }
    }
    let r = (w.min(h) * 0.018).max(0.5);
    for (i, name) in pose::KEYPOINTS.iter().enumerate() {
        if let Some(k) = visible(i) {
            let _ = write!(
                s,
                r#"<circle class="kp" cx="{:.2}" cy="{:.2}" r="{r:.2}"><title>{} {:.2}</title></circle>"#,
                px(k[0]),
                py(k[1]),
                esc(&name.replace('_', " ")),
                k[2]
            );
        }
    }
    s.push_str("</g>");
    s
}

/// An SVG laid over a `w`×`h` px filmstrip thumbnail with the people of pose frame `f`; empty when
/// nobody there counts as a person.
pub fn strip_overlay(f: &PoseFrame, (w, h): (u32, u32), th: Thresholds) -> String {
    let (w, h) = (w.max(1) as f64, h.max(1) as f64);
    let m = marks(&f.people, (0.0, 0.0, w, h), th);
    if m.is_empty() {
        return m;
    }
    format!(
        r#"<svg class="pose" data-t="{:.4}" viewBox="0 0 {w} {h}" preserveAspectRatio="none" aria-hidden="true">{m}</svg>"#,
        f.t
    )
}

/// The legend's line for the people marks.
pub const LEGEND: &str = concat!(
    "<br/>People (pose model, over the pictures): ",
    "<svg width=\"14\" height=\"10\"><rect class=\"person main\" x=\"1\" y=\"1\" width=\"12\" height=\"8\"/></svg> main subject (the largest person), ",
    "<svg width=\"14\" height=\"10\"><line class=\"bone\" x1=\"1\" y1=\"9\" x2=\"13\" y2=\"1\"/><circle class=\"kp\" cx=\"13\" cy=\"1\" r=\"1.5\"/></svg> its visible keypoints and bones (a missing dot is a keypoint out of frame or hidden), ",
    "<svg width=\"14\" height=\"10\"><rect class=\"person other\" x=\"1\" y=\"1\" width=\"12\" height=\"8\"/></svg> other people. ",
    "A frame without marks had no person counted, or the person model did not run on it."
);

#[cfg(test)]
mod tests {
    use super::*;

    fn person(score: f64, x: f64, kp: f64) -> Person {
        Person {
            score,
            x,
            y: 0.1,
            w: 0.3,
            h: 0.8,
            keypoints: (0..17).map(|j| [x + 0.01 * j as f64, 0.2, kp]).collect(),
        }
    }

    fn frame(t: f64) -> PoseFrame {
        PoseFrame {
            t,
            people: vec![person(0.5, 0.1, 0.9)],
            framing: None,
        }
    }

    fn cut(t: f64) -> Cut {
        Cut {
            time_s: t,
            frame: 0,
            kind: "hard".into(),
            score: 40.0,
        }
    }

    /// Regression: the matching window was half the shortest gap between pose frames, which is
    /// the sampling interval only while two posed samples are adjacent. A 12 s clip posed on 6 of
    /// its 12 samples (0, 2, 4, 7, 9, 11) had no adjacent pair, so the picture of sample 1 got
    /// sample 0's people, a second away.
    #[test]
    fn a_sample_the_model_skipped_gets_no_overlay_when_no_posed_samples_are_adjacent() {
        let posed: Vec<PoseFrame> = [0.0, 2.0, 4.0, 7.0, 9.0, 11.0]
            .into_iter()
            .map(frame)
            .collect();
        for skipped in [1.0, 3.0, 5.0, 6.0, 8.0, 10.0] {
            assert!(frame_at(&posed, skipped, 1.0, &[]).is_none(), "{skipped}");
        }
        for (t, want) in [(0.0, 0.0), (7.0, 7.0), (4.4, 4.0), (10.6, 11.0)] {
            assert_eq!(frame_at(&posed, t, 1.0, &[]).unwrap().t, want, "{t}");
        }
    }

    #[test]
    fn frames_match_by_time_within_half_an_interval_and_not_across_cuts() {
        let frames: Vec<PoseFrame> = (0..5).map(|i| frame(i as f64)).collect();
        assert_eq!(frame_at(&frames, 2.0, 1.0, &[]).unwrap().t, 2.0);
        assert_eq!(frame_at(&frames, 2.4, 1.0, &[]).unwrap().t, 2.0);
        assert_eq!(frame_at(&frames, 4.45, 1.0, &[]).unwrap().t, 4.0);
        assert!(
            frame_at(&frames, 4.6, 1.0, &[]).is_none(),
            "past the last sample"
        );
        assert!(
            frame_at(&frames, 2.3, 1.0, &[cut(2.2)]).is_none(),
            "a cut between"
        );
        assert_eq!(frame_at(&frames, 2.1, 1.0, &[cut(2.2)]).unwrap().t, 2.0);
        // The first frame of a shot (at the cut) shows another scene than the sample before it.
        assert!(frame_at(&frames, 2.2, 1.0, &[cut(2.2)]).is_none());
        // A sample taken at the cut belongs to the new shot, as does a frame just after it.
        assert_eq!(frame_at(&frames, 3.1, 1.0, &[cut(3.0)]).unwrap().t, 3.0);
        assert!(frame_at(&frames[..1], 0.0, 0.0, &[]).is_some());
        assert!(frame_at(&frames[..1], 0.3, 0.0, &[]).is_none());
        assert!(frame_at(&[], 0.0, 1.0, &[]).is_none());
        // The model ran on samples 0, 2, 4, 5 of 1-s samples: the pictures of samples 1 and 3
        // get no overlay (their neighbours' people are a second away).
        let some: Vec<PoseFrame> = [0.0, 2.0, 4.0, 5.0].into_iter().map(frame).collect();
        assert!(frame_at(&some, 1.0, 1.0, &[]).is_none());
        assert!(frame_at(&some, 3.0, 1.0, &[]).is_none());
        assert_eq!(frame_at(&some, 2.0, 1.0, &[]).unwrap().t, 2.0);
        assert_eq!(frame_at(&some, 4.4, 1.0, &[]).unwrap().t, 4.0);
    }

    #[test]
    fn marks_scale_fractions_and_skip_what_does_not_count() {
        let th = Thresholds {
            person: 0.25,
            keypoint: 0.3,
        };
        let mut main = person(0.5, 0.1, 0.9);
        main.keypoints[15][2] = 0.1; // left ankle hidden
        let people = vec![main, person(0.3, 0.5, 0.9), person(0.2, 0.7, 0.9)];
        let m = marks(&people, (10.0, 20.0, 200.0, 100.0), th);
        assert_eq!(m.matches(r#"class="person main""#).count(), 1);
        assert_eq!(
            m.matches(r#"class="person other""#).count(),
            1,
            "0.2 < 0.25"
        );
        assert!(m.contains(r#"x="30.00" y="30.00" width="60.00" height="80.00""#));
        assert_eq!(m.matches("<circle").count(), 16);
        assert!(!m.contains("left ankle"));
        // Bones touching the hidden ankle are not drawn: 16 - 1.
        assert_eq!(m.matches("<line").count(), 15);
        assert!(marks(&people[2..], (0.0, 0.0, 1.0, 1.0), th).is_empty());
        // The largest box scores under the threshold: the main subject is the largest counted
        // person (`pose::main_subject`, as the rules judge), and nobody else is drawn.
        let faint_first = [people[2].clone(), people[1].clone()];
        let m = marks(&faint_first, (0.0, 0.0, 100.0, 100.0), th);
        assert!(
            m.contains(r#"class="person main" data-score="0.3" x="50.00""#),
            "{m}"
        );
        assert!(!m.contains("person other"), "{m}");
    }
}
