//! The face region from the pose model's head keypoints (nose, eyes, ears), for the face rules (I010
//! face too small, I011 no face found), the face's own sharpness and exposure (I012, I013) and the
//! video's face facts. It replaces OpenCV's 2001 frontal-face Haar cascade: the pose model already
//! runs on the same pictures, finds heads the cascade missed (small, tilted, stylised), and knows
//! whose head it is, so the face measured is the main person's.
//!
//! A face is seen when at least `MIN_FACE_KEYPOINTS` of the five head keypoints score
//! `FACE_KEYPOINT` or more (a head seen from behind shows the ears at most). Its box is centred on
//! those keypoints and sized, like the box the cascade drew (brow to chin), from the widest spread
//! the visible keypoints give: ear to ear, else eye to eye, else eye to ear; the nose-to-shoulders
//! drop is a floor for a head turned aside, whose spreads shrink. The factors are the medians of
//! the cascade's face height over each spread on the calibration split of `people/` (ears 1.19,
//! eyes 2.66, eye-ear 3.26, half of the spread 0.05 around them), so the profile's face-size limits
//! keep their meaning. Frontal = both eyes and the nose seen.

use super::pose;
use crate::model::{FaceBox, Person};

/// A head keypoint at or above this score counts as seen (calibration split of `people/`: I010 and
/// I011 score the same from 0.2 to 0.3; 0.25 is the middle).
pub const FACE_KEYPOINT: f64 = 0.25;
/// Head keypoints (of nose, eyes, ears) that must be seen for a face to count as found.
pub const MIN_FACE_KEYPOINTS: usize = 3;
/// Face height per unit of each spread (distances in picture heights).
const K_EARS: f64 = 1.19;
const K_EYES: f64 = 2.66;
const K_EYE_EAR: f64 = 3.26;
/// The nose-to-shoulders drop times this is the smallest face height (a turned head).
const K_NECK: f64 = 0.8;
/// The box's centre sits this many face heights below the mean of the seen head keypoints.
const DROP: f64 = 0.03;

const NOSE: usize = 0;
const EYES: [usize; 2] = [1, 2];
const EARS: [usize; 2] = [3, 4];

/// The face of one person in a picture `aspect` = width / height, or None when it is not seen.
pub fn face_of(p: &Person, aspect: f64) -> Option<FaceBox> {
    let seen = |i: usize| p.keypoints.get(i).filter(|k| k[2] >= FACE_KEYPOINT);
    let head: Vec<[f64; 3]> = pose::HEAD
        .iter()
        .filter_map(|&i| seen(i).copied())
        .collect();
    if head.len() < MIN_FACE_KEYPOINTS {
        return None;
    }
    // Distances in picture heights: x fractions are stretched by the aspect.
    let d = |a: usize, b: usize| -> Option<f64> {
        let (a, b) = (seen(a)?, seen(b)?);
        Some(((a[0] - b[0]) * aspect).hypot(a[1] - b[1]))
    };
    let eye_ear = [d(EYES[0], EARS[0]), d(EYES[1], EARS[1])]
        .into_iter()
        .flatten()
        .reduce(f64::max);
    let spread = d(EARS[0], EARS[1])
        .map(|v| v * K_EARS)
        .or(d(EYES[0], EYES[1]).map(|v| v * K_EYES))
        .or(eye_ear.map(|v| v * K_EYE_EAR))
        .unwrap_or(0.0);
    let shoulders: Vec<f64> = pose::SHOULDERS
        .iter()
        .filter_map(|&i| seen(i).map(|k| k[1]))
        .collect();
    let neck = match seen(NOSE) {
        Some(n) if !shoulders.is_empty() => {
            (shoulders.iter().sum::<f64>() / shoulders.len() as f64 - n[1]).max(0.0)
        }
        _ => 0.0,
    };
    let size = spread.max(neck * K_NECK).min(1.0);
    if size <= 0.0 {
        return None;
    }
    let n = head.len() as f64;
    let cx = head.iter().map(|k| k[0]).sum::<f64>() / n;
    let cy = head.iter().map(|k| k[1]).sum::<f64>() / n + DROP * size;
    let (h, w) = (size, size / aspect.max(1e-6));
    let x0 = (cx - w / 2.0).clamp(0.0, 1.0);
    let y0 = (cy - h / 2.0).clamp(0.0, 1.0);
    let x1 = (cx + w / 2.0).clamp(0.0, 1.0);
    let y1 = (cy + h / 2.0).clamp(0.0, 1.0);
    let r4 = super::round4;
    let eyes = EYES.iter().filter(|&&i| seen(i).is_some()).count();
    Some(FaceBox {
        x: r4(x0),
        y: r4(y0),
        w: r4(x1 - x0),
        h: r4(y1 - y0),
        frontal: Some(eyes == 2 && seen(NOSE).is_some()),
    })
}

/// The faces of the people in a picture: the main person's first (the largest scoring at least
/// `pose::PERSON_SCORE`), then the others', largest first.
pub fn faces(people: &[Person], aspect: f64) -> Vec<FaceBox> {
    let main = people.iter().position(|p| p.score >= pose::PERSON_SCORE);
    let mut rest: Vec<FaceBox> = people
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != main)
        .filter_map(|(_, p)| face_of(p, aspect))
        .collect();
    rest.sort_by(|a, b| (b.w * b.h).total_cmp(&(a.w * a.h)));
    let mut out: Vec<FaceBox> = main
        .and_then(|i| face_of(&people[i], aspect))
        .into_iter()
        .collect();
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A person facing the camera in a square picture: eyes 0.1 apart, ears 0.24 apart.
    fn frontal() -> Person {
        let mut kp = vec![[0.5, 0.9, 0.0]; 17];
        kp[0] = [0.5, 0.35, 0.9];
        kp[1] = [0.45, 0.3, 0.9];
        kp[2] = [0.55, 0.3, 0.9];
        kp[3] = [0.38, 0.32, 0.8];
        kp[4] = [0.62, 0.32, 0.8];
        kp[5] = [0.35, 0.55, 0.9];
        kp[6] = [0.65, 0.55, 0.9];
        Person {
            score: 0.8,
            x: 0.2,
            y: 0.1,
            w: 0.6,
            h: 0.9,
            keypoints: kp,
        }
    }

    #[test]
    fn a_frontal_face_is_boxed_around_its_keypoints() {
        let f = face_of(&frontal(), 1.0).unwrap();
        assert_eq!(f.frontal, Some(true));
        assert!((f.h - 0.24 * K_EARS).abs() < 1e-3, "the ear spread: {f:?}");
        let (cx, cy) = (f.x + f.w / 2.0, f.y + f.h / 2.0);
        assert!((cx - 0.5).abs() < 0.01 && cy > 0.3 && cy < 0.4, "{f:?}");
    }

    #[test]
    fn a_back_view_or_a_faint_head_is_no_face() {
        let mut back = frontal();
        for i in [0, 1, 2] {
            back.keypoints[i][2] = 0.1;
        }
        assert_eq!(face_of(&back, 1.0), None, "ears alone");
        let mut faint = frontal();
        for k in faint.keypoints.iter_mut().take(5) {
            k[2] = FACE_KEYPOINT - 0.01;
        }
        assert_eq!(face_of(&faint, 1.0), None);
    }

    #[test]
    fn a_turned_head_is_a_face_but_not_frontal_and_keeps_its_size() {
        let mut side = frontal();
        side.keypoints[2][2] = 0.1; // far eye hidden
        side.keypoints[4][2] = 0.1; // far ear hidden
        let f = face_of(&side, 1.0).unwrap();
        assert_eq!(f.frontal, Some(false));
        // Nose to shoulders (0.2) keeps the size when the spreads shrink.
        assert!(f.h >= 0.2 * K_NECK - 1e-9, "{f:?}");
    }

    #[test]
    fn the_box_is_clipped_and_square_in_pixels() {
        let mut p = frontal();
        for k in p.keypoints.iter_mut() {
            k[1] -= 0.3; // head at the top edge
        }
        let f = face_of(&p, 2.0).unwrap();
        assert_eq!(f.y, 0.0);
        assert!(f.x >= 0.0 && f.x + f.w <= 1.0);
        let wide = face_of(&frontal(), 2.0).unwrap();
        assert!((wide.w * 2.0 - wide.h).abs() < 1e-3, "{wide:?}");
    }

    #[test]
    fn the_main_persons_face_comes_first() {
        let mut small = frontal();
        small.score = 0.15; // under PERSON_SCORE: not the main person
        let mut big = frontal();
        big.keypoints[3][0] = 0.1;
        big.keypoints[4][0] = 0.9;
        let main = frontal();
        let f = faces(&[small, main.clone(), big], 1.0);
        // `small` comes first in the list but scores too low to be the main person.
        assert_eq!(f.len(), 3);
        assert_eq!(f[0], face_of(&main, 1.0).unwrap());
        assert!(f[1].h > f[2].h);
    }
}
