//! Request rules: what is wrong with a submission beyond its two files — the prompt (R001, R002), the
//! cfg_scale (R003) — and whether the image and the video belong together (P001). They run at submit
//! time, on one pair, after each file has been probed.
//!
//! The judging functions are pure (strings and numbers in, a message out) so they are tested without
//! media; `check_request` and `check_pair` only route their messages into a `Sink`.

use super::{Context, Sink};
use crate::model::{ImageFacts, VideoFacts};

/// R001: the prompt's length in characters (Unicode scalar values, not bytes) against the cap.
pub fn prompt_too_long(prompt: &str, max_chars: u32) -> Option<String> {
    let n = prompt.chars().count();
    (n > max_chars as usize).then(|| {
        format!(
            "the prompt is {n} characters, over the limit of {max_chars} by {}",
            n - max_chars as usize
        )
    })
}

/// Motion verbs (base forms) and irregular past forms. Camera words (turn, roll, pan) are left out on
/// purpose: the prompt is supposed to describe the camera.
const MOTION_VERBS: &[&str] = &[
    "dance",
    "jump",
    "run",
    "walk",
    "wave",
    "spin",
    "kick",
    "punch",
    "twirl",
    "leap",
    "hop",
    "skip",
    "sprint",
    "jog",
    "climb",
    "crawl",
    "swing",
    "throw",
    "clap",
    "stomp",
    "squat",
    "lunge",
    "nod",
    "shake",
    "wiggle",
    "shimmy",
    "sway",
    "bounce",
    "flip",
    "cartwheel",
    "somersault",
    "march",
    "strut",
    "gesture",
    "dive",
    "swim",
    "fight",
    "pirouette",
    "moonwalk",
    "breakdance",
    "twerk",
    "salute",
    "shuffle",
    "stride",
    "tiptoe",
    "backflip",
    "headbang",
];
const IRREGULAR: &[&str] = &[
    "ran", "spun", "swung", "threw", "thrown", "shook", "shaken", "dove", "swam", "fought",
    "leapt", "strode",
];

/// A motion verb in any regular inflection: dance → dances, danced, dancing, dancer; run → runs,
/// running, runner (doubled consonant); plus the irregular forms.
fn is_motion_word(word: &str) -> bool {
    let w = word.to_lowercase();
    if IRREGULAR.contains(&w.as_str()) {
        return true;
    }
    MOTION_VERBS.iter().any(|base| {
        let Some(rest) = w.strip_prefix(base) else {
            // "dancing", "waving": the final e dropped before -ing/-er.
            return base.strip_suffix('e').is_some_and(|stem| {
                w.strip_prefix(stem)
                    .is_some_and(|r| matches!(r, "ing" | "ings"))
            });
        };
        if matches!(
            rest,
            "" | "s" | "es" | "ed" | "d" | "ing" | "er" | "ers" | "r" | "rs"
        ) {
            return true;
        }
        // "running", "hopped": the final consonant doubled.
        let last = base.chars().last().unwrap_or(' ');
        rest.strip_prefix(last)
            .is_some_and(|r| matches!(r, "ing" | "ed" | "er" | "ers"))
    })
}

/// R002: the motion words found in the prompt, in order, without repeats.
pub fn motion_words(prompt: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for word in prompt
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
    {
        let w = word.trim_matches('\'').to_lowercase();
        if is_motion_word(&w) && !found.contains(&w) {
            found.push(w);
        }
    }
    found
}

/// R003: a cfg_scale against the provider's range; `None` bounds mean the provider has no such field.
pub fn cfg_scale_problem(
    value: f64,
    min: Option<f64>,
    max: Option<f64>,
    profile: &str,
) -> Option<String> {
    if min.is_none() && max.is_none() {
        return Some(format!(
            "cfg_scale {value} was given, but {profile} has no cfg_scale field: drop --cfg-scale (only Freepik takes it)"
        ));
    }
    if !value.is_finite() {
        return Some(format!("cfg_scale {value} is not a number"));
    }
    let lo = min.unwrap_or(f64::NEG_INFINITY);
    let hi = max.unwrap_or(f64::INFINITY);
    (value < lo || value > hi).then(|| {
        format!(
            "cfg_scale {value} is outside {}–{}",
            min.map(|m| m.to_string()).unwrap_or("-∞".into()),
            max.map(|m| m.to_string()).unwrap_or("∞".into())
        )
    })
}

/// Portrait, landscape or neither (within 10% of square), from display width and height.
fn shape(w: u32, h: u32) -> Option<&'static str> {
    let (w, h) = (w as f64, h as f64);
    if h > w * 1.1 {
        Some("portrait")
    } else if w > h * 1.1 {
        Some("landscape")
    } else {
        None
    }
}

/// P001: a portrait image with a landscape video or the reverse, from display sizes (after EXIF
/// orientation and rotation metadata). Near-square frames (within 10%) match anything.
pub fn orientation_mismatch(image: (u32, u32), video: (u32, u32)) -> Option<String> {
    let (a, b) = (shape(image.0, image.1)?, shape(video.0, video.1)?);
    (a != b).then(|| {
        format!(
            "the image is {a} ({}x{}) but the video is {b} ({}x{}): the character is fitted to the video's frame, so the body is cropped or shrunk",
            image.0, image.1, video.0, video.1
        )
    })
}

/// R001–R003 for one request.
pub fn check_request(sink: &mut Sink, ctx: &Context, prompt: Option<&str>, cfg_scale: Option<f64>) {
    let req = &ctx.profile.request;
    if let Some(p) = prompt {
        if let Some(m) = req
            .prompt_max_chars
            .as_ref()
            .and_then(|max| prompt_too_long(p, max.value))
        {
            sink.emit("R001", format!("{m} {}", ctx.tag()));
        }
        let words = motion_words(p);
        if !words.is_empty() {
            sink.emit(
                "R002",
                format!(
                    "the prompt describes motion ({}): the reference video supplies the motion; describe scene, lighting and camera instead",
                    words.join(", ")
                ),
            );
        }
    }
    if let Some(c) = cfg_scale {
        let min = req.cfg_scale_min.as_ref().map(|l| l.value);
        let max = req.cfg_scale_max.as_ref().map(|l| l.value);
        if let Some(m) = cfg_scale_problem(c, min, max, &ctx.profile.name) {
            sink.emit("R003", format!("{m} {}", ctx.tag()));
        }
    }
}

/// P001 for one pair of probed files: orientation from the sizes, framing from the subject facts
/// (when analysis ran on both).
pub fn check_pair(sink: &mut Sink, image: &ImageFacts, video: &VideoFacts) {
    if let Some(m) = video
        .display_size()
        .and_then(|v| orientation_mismatch(image.display_size(), v))
    {
        sink.emit("P001", m);
    }
    if let Some(m) = super::subject::framing_mismatch(image, video) {
        sink.emit("P001", m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_check_emits_p001_for_framing_and_for_orientation() {
        use crate::model::{
            FaceBox, ImageFormat, PictureFacts, VideoAnalysis, VideoSubject, samples,
        };
        use crate::profile::Orientation;
        let mut img = samples::image(ImageFormat::Jpeg, 1080, 1920);
        let face = FaceBox {
            x: 0.3,
            y: 0.1,
            w: 0.4,
            h: 0.4,
        };
        img.subject = Some(PictureFacts {
            detector: "t".into(),
            faces: vec![face],
            framing: Some(crate::detect::framing_of(&face)),
            quality: Default::default(),
            pose: None,
        });
        let mut vid = samples::video(1080, 1920, 8.0);
        let codes = |vid: &VideoFacts| {
            crate::rules::codes_with("strict", Orientation::Video, |sink, _| {
                check_pair(sink, &img, vid)
            })
        };
        assert!(codes(&vid).is_empty(), "same orientation, no video framing");
        vid.analysis = Some(VideoAnalysis {
            subject: Some(VideoSubject {
                framing: Some(crate::model::Framing::FullBody),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(codes(&vid), ["P001"], "head-shot image, full-body video");
        let landscape = samples::video(1920, 1080, 8.0);
        assert_eq!(
            codes(&landscape),
            ["P001"],
            "portrait image, landscape video"
        );
    }

    #[test]
    fn prompt_length_counts_characters_not_bytes() {
        assert_eq!(
            prompt_too_long(&"é".repeat(2500), 2500),
            None,
            "5000 bytes, 2500 chars"
        );
        let m = prompt_too_long(&"é".repeat(2501), 2500).unwrap();
        assert!(m.contains("2501 characters") && m.contains("by 1"), "{m}");
    }

    #[test]
    fn motion_verbs_in_their_inflections() {
        assert_eq!(
            motion_words("She dances, then JUMPS and keeps running; a wave. Spinning!"),
            ["dances", "jumps", "running", "wave", "spinning"]
        );
        assert_eq!(
            motion_words("ran, walked, kicked, hopping, waving"),
            ["ran", "walked", "kicked", "hopping", "waving"]
        );
        assert!(
            motion_words("soft window light, 35mm lens, static camera, city at dusk").is_empty()
        );
        assert!(
            motion_words("a runway, a stepladder, boxes").is_empty(),
            "stems inside other words"
        );
    }

    #[test]
    fn cfg_scale_range_and_missing_field() {
        assert_eq!(
            cfg_scale_problem(0.5, Some(0.0), Some(1.0), "freepik"),
            None
        );
        assert!(
            cfg_scale_problem(1.5, Some(0.0), Some(1.0), "freepik")
                .unwrap()
                .contains("outside 0–1")
        );
        assert!(cfg_scale_problem(-0.1, Some(0.0), Some(1.0), "freepik").is_some());
        assert!(cfg_scale_problem(f64::NAN, Some(0.0), Some(1.0), "freepik").is_some());
        let m = cfg_scale_problem(0.5, None, None, "kling").unwrap();
        assert!(m.contains("kling has no cfg_scale field"), "{m}");
    }

    #[test]
    fn framing_portrait_vs_landscape() {
        assert!(orientation_mismatch((1080, 1920), (1920, 1080)).is_some());
        assert!(orientation_mismatch((1920, 1080), (720, 1280)).is_some());
        assert_eq!(orientation_mismatch((1080, 1920), (720, 1280)), None);
        assert_eq!(
            orientation_mismatch((1000, 1050), (1920, 1080)),
            None,
            "near-square matches"
        );
    }
}
