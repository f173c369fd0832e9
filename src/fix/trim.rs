//! Where a trim keeps the clip: by default from the start of the longest cut-free moving stretch;
//! with the pose model's frames (sampled in the analysis pass, so no second decode), the window
//! where the main person is alone and fully in frame. Motion Control copies one person's motion,
//! and a window with a second person or a cut-off body is the weaker reference even when it is the
//! longer one.
//!
//! Each sampled frame is good when exactly one person counts (the profile's person score) and that
//! person's head is visible and their framing is at least the clip's commonest (full body when the
//! clip is mostly full body: feet in frame). A window scores its good samples minus its other ones;
//! a window that scores no more than the default keeps the default. Pure: every decision is
//! unit-tested here.

use crate::detect::pose;
use crate::model::{Framing, Person, PoseFrame, Span, VideoPose};
use crate::profile::{Profile, SubjectLimits};

/// One sampled frame, judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub t: f64,
    /// The main person alone and fully in frame.
    pub good: bool,
}

/// The sampled frames judged with the profile's thresholds (the rules' own).
pub fn marks(p: &VideoPose, profile: &Profile) -> Vec<Mark> {
    let s = &profile.subject;
    let score = SubjectLimits::get(&s.min_person_score).unwrap_or(pose::PERSON_SCORE);
    let kp = SubjectLimits::get(&s.min_keypoint_score).unwrap_or(pose::KEYPOINT_VISIBLE);
    fn main(f: &PoseFrame, score: f64) -> Option<&Person> {
        pose::main_subject(&f.people, score)
    }
    let clip = commonest(
        p.frames
            .iter()
            .filter_map(|f| main(f, score))
            .map(|m| pose::framing(m, kp)),
    );
    p.frames
        .iter()
        .map(|f| {
            let alone = f.people.iter().filter(|q| q.score >= score).count() == 1;
            Mark {
                t: f.t,
                good: alone && main(f, score).is_some_and(|m| full(m, kp, clip)),
            }
        })
        .collect()
}

/// Head visible and framed at least as widely as the clip mostly is.
fn full(m: &Person, kp: f64, clip: Option<Framing>) -> bool {
    pose::any_visible(m, &pose::HEAD, kp) && clip.is_none_or(|c| pose::framing(m, kp) >= c)
}

/// The commonest framing (ties go to the wider one: asking more of a window, never less).
fn commonest(it: impl Iterator<Item = Framing>) -> Option<Framing> {
    crate::analyze::subject::commonest_framing(it, true)
}

/// A window `len` seconds long from `start`, and its samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    pub start: f64,
    pub len: f64,
    /// The stretch it lies in.
    pub stretch: (f64, f64),
    pub samples: usize,
    pub good: usize,
}

impl Pick {
    fn new(start: f64, len: f64, stretch: (f64, f64), marks: &[Mark]) -> Pick {
        let inside: Vec<&Mark> = marks
            .iter()
            .filter(|m| m.t >= start - 1e-6 && m.t < start + len - 1e-6)
            .collect();
        Pick {
            start,
            len,
            stretch,
            samples: inside.len(),
            good: inside.iter().filter(|m| m.good).count(),
        }
    }

    /// Good samples minus the others.
    fn score(&self) -> i64 {
        2 * self.good as i64 - self.samples as i64
    }
}

/// The window to keep: `default` (the start of today's stretch) unless a window of another usable
/// stretch, or later in the same one, scores strictly higher. `len_of` gives a stretch's window
/// length (its duration capped under the limit); stretches shorter than `min_s` are not used.
pub fn choose(
    default: &Span,
    stretches: &[Span],
    marks: &[Mark],
    len_of: impl Fn(&Span) -> f64,
    min_s: f64,
) -> (Pick, bool) {
    let span = |s: &Span| (s.start_s, s.end_s);
    let mut best = Pick::new(default.start_s, len_of(default), span(default), marks);
    let mut moved = false;
    for s in stretches {
        let len = len_of(s);
        if s.duration_s() + 1e-3 < min_s || len + 1e-3 < min_s {
            continue;
        }
        let last = s.end_s - len;
        let starts = std::iter::once(s.start_s)
            .chain(
                marks
                    .iter()
                    .map(|m| m.t)
                    .filter(|t| *t > s.start_s && *t < last),
            )
            .chain(std::iter::once(last.max(s.start_s)));
        for start in starts {
            let p = Pick::new(start, len, span(s), marks);
            // A window nobody was seen in is unknown, not better.
            if p.good > 0 && p.score() > best.score() {
                best = p;
                moved = true;
            }
        }
    }
    (best, moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::samples::span;

    fn person(score: f64, ankles: f64) -> Person {
        let mut kp = vec![[0.5, 0.5, 0.9]; 17];
        for &i in &pose::ANKLES {
            kp[i][2] = ankles;
        }
        Person {
            score,
            x: 0.3,
            y: 0.05,
            w: 0.3,
            h: 0.9,
            keypoints: kp,
        }
    }

    fn frame(t: f64, people: Vec<Person>) -> PoseFrame {
        PoseFrame {
            t,
            people,
            framing: None,
        }
    }

    fn strict() -> Profile {
        crate::profile::lookup("strict", &Default::default()).unwrap()
    }

    #[test]
    fn a_sample_is_good_with_one_person_fully_in_frame() {
        let one = person(0.5, 0.9);
        let frames = vec![
            frame(0.0, vec![one.clone()]),
            frame(1.0, vec![one.clone(), person(0.4, 0.9)]),
            frame(2.0, vec![one.clone(), person(0.15, 0.9)]), // under the person score
            frame(3.0, vec![person(0.5, 0.1)]),               // feet out, clip is full-body
            frame(4.0, vec![]),
        ];
        let v = VideoPose {
            model: "m".into(),
            frames,
            framing: None,
        };
        let good: Vec<bool> = marks(&v, &strict()).iter().map(|m| m.good).collect();
        assert_eq!(good, [true, false, true, false, false]);
    }

    #[test]
    fn the_window_moves_only_for_a_strictly_better_one() {
        // 0–12 s: two people; 12–20 s: one person, fully in frame; one stretch 0–20 s.
        let marks: Vec<Mark> = (0..20)
            .map(|i| Mark {
                t: i as f64,
                good: i >= 12,
            })
            .collect();
        let whole = span(0.0, 20.0);
        let cap = |s: &Span| s.duration_s().min(9.8);
        let (p, moved) = choose(&whole, std::slice::from_ref(&whole), &marks, cap, 3.0);
        assert!(moved);
        assert_eq!((p.start, p.len, p.samples, p.good), (10.2, 9.8, 9, 8));
        // Two stretches, the longer first: the shorter one where the person is alone wins.
        let a = span(0.0, 12.0);
        let b = span(12.0, 17.0);
        let (p, moved) = choose(&a, &[a.clone(), b.clone()], &marks, cap, 3.0);
        assert!(moved);
        assert_eq!((p.start, p.len, p.stretch), (12.0, 5.0, (12.0, 17.0)));
        // All good, or nothing known: the default stays.
        let all: Vec<Mark> = marks.iter().map(|m| Mark { good: true, ..*m }).collect();
        assert!(!choose(&whole, std::slice::from_ref(&whole), &all, cap, 3.0).1);
        assert!(!choose(&whole, std::slice::from_ref(&whole), &[], cap, 3.0).1);
        // A stretch under the minimum is never used.
        let short = span(12.0, 14.5);
        assert!(!choose(&a, &[a.clone(), short], &marks, cap, 3.0).1);
    }

    #[test]
    fn commonest_framing_ties_to_the_wider() {
        use Framing::*;
        assert_eq!(commonest([HalfBody, FullBody].into_iter()), Some(FullBody));
        assert_eq!(
            commonest([HeadShot, HeadShot, FullBody].into_iter()),
            Some(HeadShot)
        );
        assert_eq!(commonest(std::iter::empty()), None);
    }
}
