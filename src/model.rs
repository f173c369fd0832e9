//! The data that flows through the pipeline: what a file is (`Kind`, formats), what we measured about
//! it (`Facts`), what the rules concluded (`Diagnostic`) and the per-file outcome (`FileReport`).
//!
//! Every stage (probe → analyse → rules → report / fix / submit / cache) speaks these types, so they are
//! plain data: serialisable, comparable, and free of file handles. The JSON shape of `FileReport` is the
//! public contract described in SPEC.md; add fields freely, never change the meaning of one.

use serde::{Deserialize, Serialize};

/// What a file is, decided from its content (magic bytes), never from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Image,
    Video,
    Unknown,
}

/// Still-image formats we can recognise by their signature.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Jpeg,
    Png,
    Gif,
    Webp,
    Bmp,
    Tiff,
    Heic,
    Avif,
    Jxl,
    Ico,
    Psd,
}

impl ImageFormat {
    pub const ALL: [ImageFormat; 11] = [
        Self::Jpeg,
        Self::Png,
        Self::Gif,
        Self::Webp,
        Self::Bmp,
        Self::Tiff,
        Self::Heic,
        Self::Avif,
        Self::Jxl,
        Self::Ico,
        Self::Psd,
    ];

    /// Lower-case name, as in JSON and profiles.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Gif => "gif",
            Self::Webp => "webp",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
            Self::Heic => "heic",
            Self::Avif => "avif",
            Self::Jxl => "jxl",
            Self::Ico => "ico",
            Self::Psd => "psd",
        }
    }

    /// File extensions that honestly describe this format (first is the preferred one).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            Self::Png => &["png", "apng"],
            Self::Gif => &["gif"],
            Self::Webp => &["webp"],
            Self::Bmp => &["bmp", "dib"],
            Self::Tiff => &["tif", "tiff"],
            Self::Heic => &["heic", "heif", "hif"],
            Self::Avif => &["avif"],
            Self::Jxl => &["jxl"],
            Self::Ico => &["ico", "cur"],
            Self::Psd => &["psd"],
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        let s = if s == "jpg" { "jpeg".to_string() } else { s };
        Self::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// Video containers, with the ISO-BMFF family told apart by brand (MP4 vs QuickTime MOV vs M4V).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    Mp4,
    Mov,
    M4v,
    /// Other ISO-BMFF brands: 3GP, 3G2, MJ2.
    #[serde(rename = "3gp")]
    ThreeGp,
    Webm,
    Mkv,
    Avi,
    Mpegts,
    Flv,
    Ogg,
    Mpeg,
    Asf,
    /// Audio-only or other container libavformat knows (mp3, wav, flac, ...).
    Other,
}

impl Container {
    pub const ALL: [Container; 13] = [
        Self::Mp4,
        Self::Mov,
        Self::M4v,
        Self::ThreeGp,
        Self::Webm,
        Self::Mkv,
        Self::Avi,
        Self::Mpegts,
        Self::Flv,
        Self::Ogg,
        Self::Mpeg,
        Self::Asf,
        Self::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Mp4 => "mp4",
            Self::Mov => "mov",
            Self::M4v => "m4v",
            Self::ThreeGp => "3gp",
            Self::Webm => "webm",
            Self::Mkv => "mkv",
            Self::Avi => "avi",
            Self::Mpegts => "mpegts",
            Self::Flv => "flv",
            Self::Ogg => "ogg",
            Self::Mpeg => "mpeg",
            Self::Asf => "asf",
            Self::Other => "other",
        }
    }

    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Mp4 => &["mp4"],
            Self::Mov => &["mov", "qt"],
            Self::M4v => &["m4v"],
            Self::ThreeGp => &["3gp", "3g2", "mj2"],
            Self::Webm => &["webm"],
            Self::Mkv => &["mkv", "mk3d"],
            Self::Avi => &["avi"],
            Self::Mpegts => &["ts", "m2ts", "mts"],
            Self::Flv => &["flv"],
            Self::Ogg => &["ogv", "ogg"],
            Self::Mpeg => &["mpg", "mpeg", "vob"],
            Self::Asf => &["wmv", "asf"],
            Self::Other => &[],
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Facts about a still image, read from its headers (no pixel decode on the fast path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImageFacts {
    pub format: ImageFormat,
    pub bytes: u64,
    /// Stored pixel width and height (before EXIF orientation).
    pub width: u32,
    pub height: u32,
    /// EXIF orientation tag (1–8) when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exif_orientation: Option<u16>,
    /// More than one frame (animated GIF, animated WEBP, APNG).
    pub animated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<u32>,
    /// An alpha channel or transparency chunk is present.
    pub has_alpha: bool,
    /// "rgb", "rgba", "gray", "gray-alpha", "indexed", "cmyk", "ycck", "yuv".
    pub color_model: String,
    /// Bits per channel sample.
    pub bit_depth: u8,
    /// Name of an embedded ICC profile, when one is present ("sRGB IEC61966-2.1", "Display P3", ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icc_profile: Option<String>,
    /// JPEG only: "baseline", "extended", "progressive", "lossless", "arithmetic".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jpeg_coding: Option<String>,
    /// EXIF GPS data is present (a privacy leak if sent to a provider).
    pub has_gps: bool,
    /// EXIF metadata of any kind is present.
    pub has_exif: bool,
    /// Faces, framing, sharpness and exposure from the decoded pixels (only when analysis is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<PictureFacts>,
}

impl ImageFacts {
    /// The JPEG coding most decoders, FFmpeg included, cannot read (arithmetic, lossless, or more
    /// than 8 bits a sample), when this is such a JPEG: I014 reports it, and a failed pixel decode
    /// of it is no separate F001.
    pub fn undecodable_jpeg_coding(&self) -> Option<&str> {
        self.jpeg_coding
            .as_deref()
            .filter(|c| matches!(*c, "arithmetic" | "lossless") || self.bit_depth > 8)
    }

    /// Facts before any header was read: no size, 8-bit RGB, no metadata. Parsers fill it in.
    pub fn blank(format: ImageFormat, bytes: u64) -> Self {
        ImageFacts {
            format,
            bytes,
            width: 0,
            height: 0,
            exif_orientation: None,
            animated: false,
            frames: None,
            has_alpha: false,
            color_model: "rgb".into(),
            bit_depth: 8,
            icc_profile: None,
            jpeg_coding: None,
            has_gps: false,
            has_exif: false,
            subject: None,
        }
    }

    /// Width and height as displayed, after applying the EXIF orientation (5–8 swap the axes).
    pub fn display_size(&self) -> (u32, u32) {
        match self.exif_orientation {
            Some(5..=8) => (self.height, self.width),
            _ => (self.width, self.height),
        }
    }
}

/// How much of the body a picture shows, judged from the largest face.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    HeadShot,
    HalfBody,
    FullBody,
}

impl Framing {
    pub fn name(self) -> &'static str {
        match self {
            Self::HeadShot => "head-shot",
            Self::HalfBody => "half-body",
            Self::FullBody => "full-body",
        }
    }
}

/// A face as fractions of the picture's width and height (x, y = top-left corner), from a person's
/// head keypoints (`detect::face`): about brow to chin, square in pixels, clipped to the picture.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaceBox {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Both eyes and the nose seen (facing the camera); false for a head turned aside. Absent in
    /// facts measured before faces came from keypoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontal: Option<bool>,
}

/// Sharpness and exposure of one grey picture (luma on a 0–255 full-range scale).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct PictureQuality {
    /// Variance of the Laplacian on the picture scaled to a 512 px long edge and normalised to a
    /// standard deviation of 50 grey levels; the larger of the whole picture's and the face's.
    pub sharpness: f64,
    /// Share of pixels at or below 5 (crushed shadows) and at or above 250 (blown highlights).
    pub dark_fraction: f64,
    pub bright_fraction: f64,
    pub mean_luma: f64,
    /// Mean level of the largest face, when one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_mean_luma: Option<f64>,
}

/// What the subject detectors measured on one picture (the character image, or one video frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PictureFacts {
    /// Which face detector ran ("movenet-multipose-256 head keypoints"; "none (...)" when the pose
    /// model could not run and no face was looked for).
    pub detector: String,
    /// Faces found: the main person's first, then the others', largest first.
    pub faces: Vec<FaceBox>,
    /// Framing of the main person, from the pose model (none without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framing: Option<Framing>,
    pub quality: PictureQuality,
    /// What the person/pose model found (absent when it did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pose: Option<PicturePose>,
}

/// One person found by the pose model, in fractions of the upright picture's width and height.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Person {
    /// The model's person score (0–1).
    pub score: f64,
    /// Box: top-left corner, width, height.
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// The 17 COCO keypoints as `[x, y, score]`, in the order of `detect::pose::KEYPOINTS` (nose,
    /// eyes, ears, shoulders, elbows, wrists, hips, knees, ankles; left before right).
    pub keypoints: Vec<[f64; 3]>,
}

/// The people in one picture, largest box first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PicturePose {
    pub model: String,
    pub people: Vec<Person>,
    /// Framing of the main subject (the largest person) from its visible keypoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framing: Option<Framing>,
}

/// The people in one sampled video frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PoseFrame {
    /// Seconds from the stream start.
    pub t: f64,
    /// Largest box first.
    pub people: Vec<Person>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framing: Option<Framing>,
}

/// The pose model over the sampled frames of a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VideoPose {
    pub model: String,
    pub frames: Vec<PoseFrame>,
    /// The main subject's commonest framing over the frames that show one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framing: Option<Framing>,
}

/// The subject detectors over frames sampled from a video's decode pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct VideoSubject {
    pub detector: String,
    /// Frames looked at (sharpness and exposure are measured on all of them).
    pub samples: u32,
    /// Faces found in each sampled frame the person model ran on (`pose.frames`, the same
    /// order and number), in time order; every sampled frame when the model did not run.
    pub faces_per_sample: Vec<u32>,
    /// People in the video: the largest face count seen in at least 30% of those frames
    /// (flicker-proof).
    pub people: u32,
    /// Median height of the largest face over the samples that have one (fraction of frame height).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face_height: Option<f64>,
    /// The commonest framing over samples with a face.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framing: Option<Framing>,
    /// Median sharpness of the samples (same scale as `PictureQuality::sharpness`).
    pub sharpness: f64,
    /// Sharpness of each sampled frame, in time order.
    pub sharpness_per_sample: Vec<f64>,
    /// Median exposure figures over the samples.
    pub dark_fraction: f64,
    pub bright_fraction: f64,
    pub mean_luma: f64,
    /// Median face mean level over samples with a face.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_mean_luma: Option<f64>,
    /// How far the camera travelled during its moving stretches (`camera_motion`), in frame widths
    /// and heights (the larger), from the per-frame global shift.
    pub camera_travel: f64,
    /// The person/pose model on the same sampled frames (absent when it did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pose: Option<VideoPose>,
}

/// The video stream that a provider would use (the first real video stream, never cover art).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VideoStreamFacts {
    pub index: usize,
    /// libavcodec short name: "h264", "hevc", "vp9", "mpeg4", ...
    pub codec: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// libavutil pixel format name: "yuv420p", "yuv420p10le", ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pix_fmt: Option<String>,
    /// Bits per component of the pixel format (8, 10, 12, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_depth: Option<u8>,
    /// Chroma subsampling: "4:2:0", "4:2:2", "4:4:4", "4:0:0" (gray), or "rgb".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chroma: Option<String>,
    /// Coded (stored) frame size.
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio; 1:1 is square pixels.
    pub sar_num: u32,
    pub sar_den: u32,
    /// Clockwise display rotation from the display matrix, in degrees (0, 90, 180, 270, or odd values).
    pub rotation_deg: f64,
    /// Nominal frame rate (r_frame_rate) and average frame rate (avg_frame_rate), frames per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps_nominal: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps_avg: Option<f64>,
    /// Frame count when known (from the container or by counting packets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<u64>,
    /// Variable frame rate: frame intervals far from constant.
    pub vfr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<u64>,
    /// Duration the header declares for this stream, seconds: the stream's own duration, its
    /// Matroska `DURATION` tag, or the container's when the file has no other stream and it was not
    /// guessed from the bit rate. What the decoded frames are held to (truncation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_duration_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AudioStreamFacts {
    pub index: usize,
    pub codec: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
}

/// Facts about a video file, from libavformat (container, streams) without decoding pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VideoFacts {
    pub container: Container,
    /// libavformat's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", ...).
    pub format_name: String,
    /// ISO-BMFF major brand ("isom", "qt  ", "M4V ", ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub major_brand: Option<String>,
    pub bytes: u64,
    /// Duration in seconds; from the container when it has one, else from the stream, else from packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Where `duration_s` came from: "container", "stream" or "packets".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoStreamFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioStreamFacts>,
    /// Number of video streams that are attached pictures (cover art), not video.
    pub cover_art_streams: usize,
    /// Bytes the container structure declares when that is more than the file has (an MP4 box or a
    /// Matroska segment running past the end: the file was cut off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_bytes: Option<u64>,
    /// Decoded-frame signals (cuts, motion, freezes); absent until analysis ran.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<VideoAnalysis>,
}

impl VideoFacts {
    /// Width and height as displayed: rotation by ±90° swaps them, and a non-square SAR stretches width.
    pub fn display_size(&self) -> Option<(u32, u32)> {
        let v = self.video.as_ref()?;
        let mut w = v.width as f64;
        if v.sar_num > 0 && v.sar_den > 0 {
            w = w * v.sar_num as f64 / v.sar_den as f64;
        }
        let (w, h) = (w.round() as u32, v.height);
        let quarter = ((v.rotation_deg.rem_euclid(180.0)) - 90.0).abs() < 1.0;
        Some(if quarter { (h, w) } else { (w, h) })
    }
}

/// A shot boundary: `frame` is the 0-based presentation-order index of the first frame of the new
/// shot, `time_s` that frame's timestamp (SPEC.md's convention).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cut {
    pub time_s: f64,
    pub frame: u64,
    /// "hard" or "gradual" (dissolve, fade between shots).
    #[serde(default = "hard")]
    pub kind: String,
    /// Detector score, for tuning and the visual report.
    #[serde(default)]
    pub score: f64,
}

fn hard() -> String {
    "hard".into()
}

/// A time span in a video: [start_s, end_s) and the frames it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Span {
    pub start_s: f64,
    pub end_s: f64,
    pub start_frame: u64,
    pub end_frame: u64,
}

impl Span {
    pub fn duration_s(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}

/// What decoding the video told us. Produced by `analyze`, read by rules, fixes and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct VideoAnalysis {
    pub cuts: Vec<Cut>,
    pub shots: Vec<Span>,
    /// Stretches with no motion (frozen or static frames).
    pub frozen: Vec<Span>,
    /// Cut-free stretches with motion.
    pub motion_segments: Vec<Span>,
    /// Longest stretch of continuous motion without a cut, in seconds.
    pub longest_motion_s: f64,
    /// Frames of the stream the analysis pass accounted for: decoded, or (by default) read and
    /// skipped as non-reference frames. For sanity (truncation) and speed figures.
    pub frames_decoded: u64,
    /// Duration measured from decoded frame timestamps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded_duration_s: Option<f64>,
    /// Stretches with strong global camera motion (pan, tilt, zoom), when measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub camera_motion: Vec<Span>,
    /// People, framing, blur and exposure on sampled frames, when the detectors ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<VideoSubject>,
    /// Frames the decoder flagged as damaged and packets it rejected, in the analysis pass.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub decode_errors: u64,
    /// Seconds shown damaged: from each damaged frame to the next keyframe, merged.
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub damaged_s: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_f(n: &f64) -> bool {
    *n == 0.0
}

/// Everything measured about one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
// Reports hold one Facts per file and move them rarely; boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
pub enum Facts {
    Image(ImageFacts),
    Video(VideoFacts),
    /// Nothing could be read beyond the size (unknown or unreadable content).
    Other {
        bytes: u64,
    },
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Some(Self::Info),
            "warning" | "warn" => Some(Self::Warning),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// One finding of one rule about one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Diagnostic {
    pub code: String,
    pub name: String,
    pub severity: Severity,
    pub message: String,
    /// The fix that would resolve it ("trim", "remux", "resize", ...), or null when none exists.
    pub fix: Option<String>,
    /// Whether that fix is lossless ("safe") or lossy ("unsafe").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_safety: Option<String>,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn of(diags: &[Diagnostic]) -> Verdict {
        match diags.iter().map(|d| d.severity).max() {
            Some(Severity::Error) => Verdict::Fail,
            Some(Severity::Warning) => Verdict::Warn,
            _ => Verdict::Pass,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// The outcome for one file: the unit every report, fix and cache entry is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileReport {
    pub path: String,
    /// The name's exact bytes in standard base64, present only when they are not UTF-8: `path` then
    /// shows each invalid sequence as U+FFFD, so this is the lossless form (as ripgrep's JSON does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_base64: Option<String>,
    pub kind: Kind,
    /// Format or container name, when known ("jpeg", "mp4", ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    pub verdict: Verdict,
    pub facts: Facts,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileReport {
    pub fn fixable(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error && d.fix.is_some())
    }

    /// Findings (errors and warnings) whose fix is in `tier` ("safe" or "unsafe").
    pub fn fixable_in(&self, tier: &str) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| {
                d.severity > Severity::Info
                    && d.fix.is_some()
                    && d.fix_safety.as_deref() == Some(tier)
            })
            .count()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    pub files: usize,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    /// Files with at least one error that `fix` (with `--unsafe-fixes` if need be) removes.
    pub fixable: usize,
    /// Findings (errors and warnings) that `fix` removes without `--unsafe-fixes`.
    #[serde(default)]
    pub fixable_safe: usize,
    /// Further findings that only `fix --unsafe-fixes` removes.
    #[serde(default)]
    pub fixable_unsafe: usize,
    /// Files found in folders that are neither images nor videos (not judged).
    pub skipped: usize,
    pub errors: usize,
    pub warnings: usize,
}

/// The whole `check` result, as printed by `--format json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    pub tool: String,
    pub version: String,
    pub profile: String,
    pub orientation: String,
    pub files: Vec<FileReport>,
    pub summary: Summary,
    /// The part of the inputs this report covers (`check --shard K/N`); absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
}

impl Report {
    pub fn new(profile: &str, orientation: &str, files: Vec<FileReport>, skipped: usize) -> Self {
        let mut s = Summary {
            files: files.len(),
            skipped,
            ..Summary::default()
        };
        for f in &files {
            match f.verdict {
                Verdict::Pass => s.pass += 1,
                Verdict::Warn => s.warn += 1,
                Verdict::Fail => s.fail += 1,
            }
            if f.fixable() {
                s.fixable += 1;
            }
            s.fixable_safe += f.fixable_in("safe");
            s.fixable_unsafe += f.fixable_in("unsafe");
            for d in &f.diagnostics {
                match d.severity {
                    Severity::Error => s.errors += 1,
                    Severity::Warning => s.warnings += 1,
                    Severity::Info => {}
                }
            }
        }
        Report {
            tool: "kling-preflight".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            profile: profile.into(),
            orientation: orientation.into(),
            files,
            summary: s,
            shard: None,
        }
    }
}

/// Ready-made facts for unit tests of rules and fix plans: a plain image and a plain H.264 clip that
/// pass every profile; each test changes the one field it is about.
#[cfg(test)]
pub(crate) mod samples {
    use super::*;

    /// A stretch from `a` to `b` seconds, frames numbered at 30 fps.
    pub(crate) fn span(a: f64, b: f64) -> Span {
        Span {
            start_s: a,
            end_s: b,
            start_frame: (a * 30.0) as u64,
            end_frame: (b * 30.0) as u64,
        }
    }

    pub(crate) fn image(format: ImageFormat, width: u32, height: u32) -> ImageFacts {
        ImageFacts {
            width,
            height,
            ..ImageFacts::blank(format, 500_000)
        }
    }

    pub(crate) fn video(width: u32, height: u32, duration: f64) -> VideoFacts {
        VideoFacts {
            container: Container::Mp4,
            format_name: "mov,mp4,m4a,3gp,3g2,mj2".into(),
            major_brand: Some("isom".into()),
            bytes: 5_000_000,
            duration_s: Some(duration),
            duration_source: Some("container".into()),
            bit_rate: None,
            video: Some(VideoStreamFacts {
                index: 0,
                codec: "h264".into(),
                profile: Some("High".into()),
                pix_fmt: Some("yuv420p".into()),
                bit_depth: Some(8),
                chroma: Some("4:2:0".into()),
                width,
                height,
                sar_num: 1,
                sar_den: 1,
                rotation_deg: 0.0,
                fps_nominal: Some(30.0),
                fps_avg: Some(30.0),
                frames: None,
                vfr: false,
                bit_rate: None,
                declared_duration_s: None,
            }),
            audio: None,
            cover_art_streams: 0,
            declared_bytes: None,
            analysis: None,
        }
    }
}
