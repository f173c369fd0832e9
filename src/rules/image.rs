//! Image rules I001–I009, I014, I015: format, bytes, edges, aspect, EXIF orientation, animation, alpha, colour,
//! JPEG coding and GPS metadata, judged from header facts against the profile.

use super::{Context, Sink, bytes};
use crate::model::ImageFacts;

/// ICC profile names that mean a gamut wider than sRGB.
const WIDE_GAMUT: [&str; 6] = [
    "p3",
    "adobe rgb",
    "adobergb",
    "prophoto",
    "2020",
    "wide gamut",
];

pub fn check(sink: &mut Sink<'_>, ctx: &Context<'_>, f: &ImageFacts) {
    let p = ctx.profile;
    let tag = ctx.tag();
    if !p.accepts_image(f.format) {
        let accepted = p
            .image
            .formats
            .as_ref()
            .map(|l| l.value.join(", "))
            .unwrap_or_default();
        sink.emit(
            "I001",
            format!(
                "{} is not accepted; {} accepts {accepted}",
                f.format.name().to_uppercase(),
                p.name
            ),
        );
    }
    if let Some(max) = &p.image.max_bytes
        && f.bytes > max.value
    {
        sink.emit(
            "I002",
            format!("{} > {} {tag}", bytes(f.bytes), bytes(max.value)),
        );
    }
    let (w, h) = f.display_size();
    if let Some(min) = &p.image.min_edge {
        let short = w.min(h);
        if short < min.value {
            sink.emit(
                "I003",
                format!("{w}x{h} px: {short} px < {} px {tag}", min.value),
            );
        }
    }
    if let Some(max) = &p.image.max_edge {
        let long = w.max(h);
        if long > max.value {
            sink.emit(
                "I004",
                format!("{w}x{h} px: {long} px > {} px {tag}", max.value),
            );
        }
    }
    if h > 0 {
        let aspect = w as f64 / h as f64;
        if let Some(min) = &p.image.min_aspect
            && aspect < min.value - 1e-9
        {
            sink.emit(
                "I005",
                format!("{w}x{h} px: aspect {aspect:.3} < {} {tag}", min.value),
            );
        }
        if let Some(max) = &p.image.max_aspect
            && aspect > max.value + 1e-9
        {
            sink.emit(
                "I005",
                format!("{w}x{h} px: aspect {aspect:.3} > {} {tag}", max.value),
            );
        }
    }
    if let Some(o) = f.exif_orientation
        && o != 1
    {
        sink.emit(
            "I006",
            format!(
                "EXIF orientation {o} ({}): stored {}x{}, shown {w}x{h}",
                orientation_words(o),
                f.width,
                f.height
            ),
        );
    }
    if f.animated {
        let frames = f
            .frames
            .map(|n| format!("{n} frames"))
            .unwrap_or_else(|| "several frames".into());
        sink.emit(
            "I007",
            format!("animated {}: {frames}", f.format.name().to_uppercase()),
        );
    }
    if f.has_alpha {
        sink.emit(
            "I008",
            format!(
                "{} with transparency ({})",
                f.format.name().to_uppercase(),
                f.color_model
            ),
        );
    }
    let mut unusual = Vec::new();
    match f.color_model.as_str() {
        "cmyk" | "ycck" => unusual.push(format!("{} colour", f.color_model.to_uppercase())),
        "gray" | "gray-alpha" => unusual.push("grayscale".to_string()),
        _ => {}
    }
    if f.bit_depth > 8 {
        unusual.push(format!("{}-bit samples", f.bit_depth));
    }
    if let Some(icc) = &f.icc_profile {
        let lower = icc.to_ascii_lowercase();
        if WIDE_GAMUT.iter().any(|w| lower.contains(w)) {
            unusual.push(format!("wide-gamut ICC profile \"{icc}\""));
        }
    }
    if !unusual.is_empty() {
        sink.emit(
            "I009",
            format!(
                "{} (8-bit sRGB is what every provider decodes alike)",
                unusual.join(", ")
            ),
        );
    }
    if let Some(coding) = f.undecodable_jpeg_coding() {
        sink.emit(
            "I014",
            format!("{coding}-coded JPEG with {}-bit samples: most decoders, FFmpeg included, cannot read it", f.bit_depth),
        );
    }
    if f.has_gps {
        sink.emit(
            "I015",
            "EXIF GPS position present; it would be uploaded with the image",
        );
    }
}

fn orientation_words(o: u16) -> &'static str {
    match o {
        2 => "mirrored",
        3 => "rotated 180°",
        4 => "flipped vertically",
        5 => "mirrored and rotated 90° counter-clockwise",
        6 => "rotated 90° clockwise",
        7 => "mirrored and rotated 90° clockwise",
        8 => "rotated 90° counter-clockwise",
        _ => "unknown value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImageFormat;
    use crate::profile::Orientation;

    fn facts(format: ImageFormat, w: u32, h: u32) -> ImageFacts {
        crate::model::samples::image(format, w, h)
    }

    fn codes(profile: &str, f: &ImageFacts) -> Vec<String> {
        crate::rules::codes_with(profile, Orientation::Video, |sink, ctx| check(sink, ctx, f))
    }

    #[test]
    fn a_good_portrait_passes() {
        assert!(codes("strict", &facts(ImageFormat::Jpeg, 1080, 1920)).is_empty());
    }

    #[test]
    fn edges_use_the_profile() {
        let f = facts(ImageFormat::Jpeg, 320, 480);
        assert_eq!(codes("strict", &f), ["I003"]);
        assert!(codes("kling", &f).is_empty(), "kling's minimum is 300 px");
        let f = facts(ImageFormat::Jpeg, 4000, 3000);
        assert_eq!(codes("strict", &f), ["I004"]);
        assert!(codes("kling", &f).is_empty());
    }

    #[test]
    fn aspect_is_judged_after_exif_rotation() {
        let mut f = facts(ImageFormat::Jpeg, 2000, 700); // 2.86 wide
        assert_eq!(codes("strict", &f), ["I005"]);
        f.exif_orientation = Some(6); // shown 700x2000: 0.35
        assert_eq!(codes("strict", &f), ["I005", "I006"]);
        let f = facts(ImageFormat::Png, 1000, 2500); // exactly 0.4
        assert!(codes("strict", &f).is_empty());
    }

    #[test]
    fn format_bytes_and_content_rules() {
        assert_eq!(
            codes("strict", &facts(ImageFormat::Webp, 800, 800)),
            ["I001"]
        );
        assert!(codes("freepik", &facts(ImageFormat::Webp, 800, 800)).is_empty());
        let mut f = facts(ImageFormat::Jpeg, 800, 800);
        f.bytes = 10_000_001;
        f.animated = true;
        f.has_alpha = true;
        f.color_model = "cmyk".into();
        f.has_gps = true;
        f.jpeg_coding = Some("arithmetic".into());
        assert_eq!(
            codes("strict", &f),
            ["I002", "I007", "I008", "I009", "I014", "I015"]
        );
    }

    #[test]
    fn wide_gamut_and_deep_colour_are_unusual() {
        let mut f = facts(ImageFormat::Png, 800, 800);
        f.icc_profile = Some("Display P3".into());
        assert_eq!(codes("strict", &f), ["I009"]);
        f.icc_profile = Some("sRGB IEC61966-2.1".into());
        assert!(codes("strict", &f).is_empty());
        f.bit_depth = 16;
        assert_eq!(codes("strict", &f), ["I009"]);
    }
}
