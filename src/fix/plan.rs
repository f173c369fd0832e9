//! Diagnostics → a `FixPlan`: what will be done to one file, in which tier, and with which concrete
//! parameters (target size, trim window, output format). Pure: it reads a `FileReport` and the
//! profile, never a file, so every decision (window choice, geometry, format) is unit-tested here and
//! `--dry-run` can print exactly what `apply` would do.
//!
//! Tiers follow ruff: safe fixes are lossless (rename, metadata strip, remux, stream-copy trim) and
//! always run; unsafe ones (re-encode, resize, pad, crop, format conversion) run only with
//! `--unsafe-fixes`, otherwise they are listed as `blocked` so the user learns what would help.

use serde::Serialize;

use crate::model::{Diagnostic, Facts, FileReport, ImageFacts, ImageFormat, Severity, VideoFacts};
use crate::profile::{Orientation, Profile};

/// How to bring an image into the aspect range: add bars or cut the long side.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AspectMode {
    #[default]
    Pad,
    Crop,
}

/// The inputs to planning besides the report.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub profile: Profile,
    pub orientation: Orientation,
    pub unsafe_fixes: bool,
    pub aspect: AspectMode,
    /// Background for flattening alpha and for padding, RGB.
    pub background: [u8; 3],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Safe,
    Unsafe,
}

/// One step of a plan, as shown to the user.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Action {
    /// The fix name from the rule catalogue ("trim", "remux", "downscale", ...).
    pub fix: String,
    pub tier: Tier,
    /// The codes this step resolves.
    pub codes: Vec<String>,
    /// What exactly it does: "trim to 2.00–11.80 s (9.80 s, longest moving shot)".
    pub detail: String,
}

/// What a diagnostic's fix could not do, and why.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Unresolved {
    pub code: String,
    pub severity: Severity,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageOut {
    Jpeg,
    Png,
}

impl ImageOut {
    pub fn ext(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }
}

/// How an image output is produced.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum ImageRecipe {
    /// Copy the bytes, dropping metadata segments/chunks (EXIF, XMP, IPTC, text) losslessly. An EXIF
    /// orientation other than 1 is kept (as a minimal EXIF block) so the picture still shows upright.
    LosslessCopy { format: ImageOut },
    /// Decode, transform, encode: never carries metadata.
    Reencode(Reencode),
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Reencode {
    pub format: ImageOut,
    /// Apply the EXIF orientation to the pixels.
    pub orient: bool,
    /// Flatten alpha onto this colour (None: keep alpha; only with PNG output).
    pub flatten: Option<[u8; 3]>,
    /// Geometry in displayed (oriented) pixels.
    pub geometry: Geometry,
    /// Byte cap the encoder must fit (JPEG: search the quality).
    pub max_bytes: Option<u64>,
    /// Highest JPEG quality tried.
    pub quality: u8,
}

/// Pad or crop the oriented image to `canvas` (centred), then resize to `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Geometry {
    pub source: (u32, u32),
    pub aspect: Option<AspectMode>,
    pub canvas: (u32, u32),
    pub size: (u32, u32),
}

/// Where the trim window may lie: inside `[lo_s, hi_s]`, `target_s` long, at least `min_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Window {
    pub lo_s: f64,
    pub hi_s: f64,
    pub target_s: f64,
    pub min_s: f64,
    /// How the people in it placed the window (when the pose model ran on the clip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<WindowSubject>,
}

/// The pose model's sampled frames in the planned window (`lo_s` to `lo_s + target_s`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct WindowSubject {
    /// Sampled frames in the window.
    pub samples: u32,
    /// Of those, the frames with the main person alone and fully in frame (head visible, framed at
    /// least as widely as the clip mostly is).
    pub alone_full: u32,
    /// The window left its default place (the start of the longest cut-free moving stretch, or of
    /// the clip when no motion was measured) for a better one.
    pub moved: bool,
}

impl Window {
    /// The exact window when cutting anywhere is allowed (re-encode): from the segment start.
    pub fn exact(&self) -> (f64, f64) {
        (self.lo_s, (self.lo_s + self.target_s).min(self.hi_s))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Transcode {
    /// Output frame size (even), after rotation and square-pixel scaling.
    pub size: (u32, u32),
    /// Clockwise rotation to bake into the pixels (0, 90, 180, 270).
    pub rotate: u32,
    /// Constant output frame rate, when the input's rate varies.
    pub cfr: Option<f64>,
    /// Average video bitrate to hit (bits/s) when the byte cap binds; CRF otherwise.
    pub video_bitrate: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct VideoRecipe {
    pub window: Option<Window>,
    /// None: stream copy (remux); Some: re-encode with libx264.
    pub transcode: Option<Transcode>,
    /// Re-encode only if no keyframe allows a good enough stream-copy trim (needs unsafe fixes).
    pub reencode_if_keyframes_bad: bool,
    pub keep_audio: bool,
    pub max_bytes: Option<u64>,
    /// Expected output duration (for bitrate retries).
    pub duration_s: f64,
    /// Frame size for a re-encoded trim when no keyframe allows a stream copy.
    pub reencode_size: (u32, u32),
}

/// Slack that a stream-copy trim needs over the minimum: the frames lost to B-frame reordering at
/// the end and container rounding.
const COPY_SLACK_S: f64 = 0.25;

/// The stream-copy window: from the earliest keyframe inside the allowed stretch, `target_s` long
/// (clipped to the stretch). `None` when no keyframe gives at least `min_s`, or, when re-encoding is
/// allowed (`strict`), when the keyframe window is under 90% of what re-encoding would keep.
pub fn choose_copy_window(w: &Window, keyframes: &[f64], strict: bool) -> Option<(f64, f64)> {
    let k = keyframes
        .iter()
        .copied()
        .find(|k| *k >= w.lo_s - 0.02 && *k + w.min_s + COPY_SLACK_S <= w.hi_s)?;
    let k = k.max(0.0);
    let end = (k + w.target_s).min(w.hi_s);
    let ideal = w.target_s.min(w.hi_s - w.lo_s);
    if strict && end - k < 0.9 * ideal {
        return None;
    }
    Some((k, end))
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Recipe {
    Nothing,
    Image(ImageRecipe),
    Video(VideoRecipe),
}

/// The plan for one file.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FixPlan {
    pub actions: Vec<Action>,
    /// Unsafe fixes that would help but need `--unsafe-fixes`.
    pub blocked: Vec<Action>,
    /// Findings no fix resolves (or none that can be applied here).
    pub unresolved: Vec<Unresolved>,
    pub recipe: Recipe,
    /// Extension of the output (without the dot).
    pub output_ext: Option<String>,
}

impl FixPlan {
    /// Nothing to do (already passes, or nothing fixable).
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Whether the plan, applied, should leave no error-level finding.
    pub fn can_pass(&self) -> bool {
        !self
            .unresolved
            .iter()
            .any(|u| u.severity == Severity::Error)
    }

    /// One sentence on why this plan cannot make the file pass, if it cannot.
    pub fn failure_reason(&self) -> Option<String> {
        let errs: Vec<&Unresolved> = self
            .unresolved
            .iter()
            .filter(|u| u.severity == Severity::Error)
            .collect();
        if errs.is_empty() {
            return None;
        }
        Some(
            errs.iter()
                .map(|u| format!("{}: {}", u.code, u.reason))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

struct Builder<'a> {
    opts: &'a PlanOptions,
    diags: &'a [Diagnostic],
    actions: Vec<Action>,
    blocked: Vec<Action>,
    unresolved: Vec<Unresolved>,
}

impl<'a> Builder<'a> {
    fn has(&self, code: &str) -> bool {
        self.diags.iter().any(|d| d.code == code)
    }

    fn diag(&self, code: &str) -> Option<&'a Diagnostic> {
        self.diags.iter().find(|d| d.code == code)
    }

    /// Codes among `codes` that were reported.
    fn present(&self, codes: &[&str]) -> Vec<String> {
        codes
            .iter()
            .filter(|c| self.has(c))
            .map(|c| c.to_string())
            .collect()
    }

    fn severity_of(&self, codes: &[String]) -> Severity {
        self.diags
            .iter()
            .filter(|d| codes.contains(&d.code))
            .map(|d| d.severity)
            .max()
            .unwrap_or(Severity::Info)
    }

    /// Record an action; an unsafe one without `--unsafe-fixes` is blocked and its codes stay open.
    /// Returns whether it will run.
    fn act(&mut self, fix: &str, tier: Tier, codes: Vec<String>, detail: String) -> bool {
        let a = Action {
            fix: fix.into(),
            tier,
            codes: codes.clone(),
            detail,
        };
        if tier == Tier::Unsafe && !self.opts.unsafe_fixes {
            let sev = self.severity_of(&codes);
            for c in &codes {
                self.unresolved.push(Unresolved {
                    code: c.clone(),
                    severity: sev,
                    reason: format!("needs --unsafe-fixes ({fix})"),
                });
            }
            self.blocked.push(a);
            false
        } else {
            self.actions.push(a);
            true
        }
    }

    fn unresolved(&mut self, code: &str, reason: impl Into<String>) {
        if let Some(d) = self.diag(code) {
            self.unresolved.push(Unresolved {
                code: code.into(),
                severity: d.severity,
                reason: reason.into(),
            });
        }
    }

    fn finish(self, recipe: Recipe, ext: Option<&str>) -> FixPlan {
        let mut unresolved = self.unresolved;
        unresolved.sort_by(|a, b| a.code.cmp(&b.code));
        unresolved.dedup_by(|a, b| a.code == b.code);
        FixPlan {
            recipe: if self.actions.is_empty() {
                Recipe::Nothing
            } else {
                recipe
            },
            output_ext: if self.actions.is_empty() {
                None
            } else {
                ext.map(str::to_string)
            },
            actions: self.actions,
            blocked: self.blocked,
            unresolved,
        }
    }
}

/// Plan the fixes for one checked file.
pub fn plan(report: &FileReport, opts: &PlanOptions) -> FixPlan {
    let mut b = Builder {
        opts,
        diags: &report.diagnostics,
        actions: Vec::new(),
        blocked: Vec::new(),
        unresolved: Vec::new(),
    };
    // Findings whose rule has no fix at all.
    for d in &report.diagnostics {
        if d.fix.is_none() && d.severity > Severity::Info {
            b.unresolved.push(Unresolved {
                code: d.code.clone(),
                severity: d.severity,
                reason: format!("{}: no automatic fix", d.name),
            });
        }
    }
    match &report.facts {
        Facts::Image(f) => plan_image(b, f),
        Facts::Video(f) => plan_video(b, f),
        Facts::Other { .. } => b.finish(Recipe::Nothing, None),
    }
}

fn plan_image(mut b: Builder<'_>, f: &ImageFacts) -> FixPlan {
    let p = &b.opts.profile;
    let (w, h) = f.display_size();
    // Geometry: aspect first (pad or crop), then scale into the edge limits.
    let geo = match fit_geometry((w, h), p, b.opts.aspect) {
        Ok(g) => Some(g),
        Err(reason) => {
            for c in ["I003", "I004", "I005"] {
                b.unresolved(c, reason.clone());
            }
            None
        }
    };
    let accepted = p.accepts_image(f.format);
    let flatten = b.has("I008");
    let alpha_kept = f.has_alpha && !flatten;
    // Which unsafe steps are needed, each with the codes it resolves.
    let mut steps: Vec<(&str, Vec<String>, String)> = Vec::new();
    if b.has("I001") {
        let to = if alpha_kept { "PNG" } else { "JPEG" };
        steps.push((
            "convert",
            vec!["I001".into()],
            format!("convert {} to {to}", f.format.name().to_uppercase()),
        ));
    }
    if b.has("I007") {
        steps.push((
            "first-frame",
            vec!["I007".into()],
            "keep the first frame of the animation".into(),
        ));
    }
    if b.has("I006") {
        steps.push((
            "rotate",
            vec!["I006".into()],
            format!(
                "apply EXIF orientation {} to the pixels",
                f.exif_orientation.unwrap_or(1)
            ),
        ));
    }
    if flatten {
        let [r, g, bl] = b.opts.background;
        steps.push((
            "flatten",
            vec!["I008".into()],
            format!("flatten transparency onto #{r:02x}{g:02x}{bl:02x}"),
        ));
    }
    if b.has("I009") {
        steps.push((
            "convert-color",
            vec!["I009".into()],
            format!(
                "convert {} {}-bit to 8-bit sRGB",
                f.color_model, f.bit_depth
            ),
        ));
    }
    if let Some(g) = geo {
        if g.canvas != g.source {
            let (fix, verb) = match g.aspect {
                Some(AspectMode::Crop) => ("crop", "crop"),
                _ => ("pad", "pad"),
            };
            steps.push((
                fix,
                b.present(&["I005"]),
                format!(
                    "{verb} {}x{} to {}x{} (aspect {:.3})",
                    g.source.0,
                    g.source.1,
                    g.canvas.0,
                    g.canvas.1,
                    g.canvas.0 as f64 / g.canvas.1 as f64
                ),
            ));
        }
        if g.size != g.canvas {
            let up = g.size.0 > g.canvas.0;
            steps.push((
                if up { "upscale" } else { "downscale" },
                b.present(if up { &["I003"] } else { &["I004"] }),
                format!(
                    "{} {}x{} to {}x{} (Lanczos3)",
                    if up { "upscale" } else { "downscale" },
                    g.canvas.0,
                    g.canvas.1,
                    g.size.0,
                    g.size.1
                ),
            ));
        }
    }
    let max_bytes = p.image.max_bytes.as_ref().map(|l| l.value);
    if b.has("I002") {
        steps.push((
            "reencode",
            vec!["I002".into()],
            format!(
                "re-encode to fit {} bytes (search the JPEG quality)",
                max_bytes.unwrap_or(0)
            ),
        ));
    }
    // Output format: keep an accepted JPEG/PNG; otherwise JPEG unless alpha must survive. A PNG that
    // would not fit the byte cap becomes JPEG (when it has no alpha to keep).
    let mut out = match f.format {
        ImageFormat::Jpeg if accepted => ImageOut::Jpeg,
        ImageFormat::Png if accepted => ImageOut::Png,
        _ if alpha_kept => ImageOut::Png,
        _ => ImageOut::Jpeg,
    };
    // Only when re-encoding anyway: a passing PNG is never converted just for being large.
    if out == ImageOut::Png
        && !alpha_kept
        && !steps.is_empty()
        && let (Some(cap), Some(g)) = (max_bytes, geo)
    {
        let ratio = (g.size.0 as f64 * g.size.1 as f64) / (w.max(1) as f64 * h.max(1) as f64);
        if b.has("I002") || f.bytes as f64 * ratio > cap as f64 * 0.8 {
            out = ImageOut::Jpeg;
            if let Some(s) = steps.iter_mut().find(|s| s.0 == "reencode") {
                s.2 = format!("re-encode PNG as JPEG to fit {cap} bytes (search the quality)");
            } else {
                steps.push((
                    "convert",
                    vec![],
                    "convert PNG to JPEG so it fits the byte cap".into(),
                ));
            }
        }
    }
    let needs_reencode = !steps.is_empty();
    if needs_reencode {
        let mut all_ran = true;
        for (fix, codes, detail) in &steps {
            all_ran &= b.act(fix, Tier::Unsafe, codes.clone(), detail.clone());
        }
        if all_ran {
            let geometry = geo.unwrap_or(Geometry {
                source: (w, h),
                aspect: None,
                canvas: (w, h),
                size: (w, h),
            });
            b.act(
                "strip-metadata",
                Tier::Safe,
                b.present(&["I015"]),
                "the re-encoded file carries no EXIF, GPS, XMP or ICC metadata".into(),
            );
            if b.has("F002") {
                b.act(
                    "rename",
                    Tier::Safe,
                    vec!["F002".into()],
                    format!("name the output for its format (.{})", out.ext()),
                );
            }
            let recipe = ImageRecipe::Reencode(Reencode {
                format: out,
                orient: true,
                flatten: flatten.then_some(b.opts.background),
                geometry,
                max_bytes,
                quality: 90,
            });
            return b.finish(Recipe::Image(recipe), Some(out.ext()));
        }
    }
    // Lossless only: rename (F002) and metadata strip (I011) on JPEG/PNG content.
    let lossless_ok = matches!(f.format, ImageFormat::Jpeg | ImageFormat::Png);
    let mut lossless = Vec::new();
    if b.has("F002") && lossless_ok {
        lossless.push((
            "rename",
            vec!["F002".to_string()],
            format!(
                "copy under the extension of its content (.{})",
                f.format.extensions()[0]
            ),
        ));
    }
    if (b.has("I015") || (f.has_exif && !lossless.is_empty())) && lossless_ok {
        lossless.push((
            "strip-metadata",
            b.present(&["I015"]),
            "drop EXIF/GPS, XMP, IPTC and text metadata without re-encoding (orientation kept)"
                .into(),
        ));
    }
    if !lossless_ok {
        for c in ["F002", "I015"] {
            b.unresolved(
                c,
                "only JPEG and PNG can be copied losslessly; needs --unsafe-fixes",
            );
        }
    }
    // Without unsafe fixes, a lossless copy is only worth writing if no error stays open.
    let format = if f.format == ImageFormat::Png {
        ImageOut::Png
    } else {
        ImageOut::Jpeg
    };
    for (fix, codes, detail) in lossless {
        b.act(fix, Tier::Safe, codes, detail);
    }
    let ext = f.format.extensions()[0];
    b.finish(
        Recipe::Image(ImageRecipe::LosslessCopy { format }),
        Some(ext),
    )
}

/// Fit an image's displayed size into the profile: first the aspect range (pad or crop, centred),
/// then a uniform scale into the edge limits. Errors when no size meets every limit.
pub fn fit_geometry((w, h): (u32, u32), p: &Profile, mode: AspectMode) -> Result<Geometry, String> {
    if w == 0 || h == 0 {
        return Err("image has no pixels".into());
    }
    let min_a = p.image.min_aspect.as_ref().map(|l| l.value);
    let max_a = p.image.max_aspect.as_ref().map(|l| l.value);
    let min_e = p.image.min_edge.as_ref().map(|l| l.value).unwrap_or(1);
    let max_e = p
        .image
        .max_edge
        .as_ref()
        .map(|l| l.value)
        .unwrap_or(u32::MAX);
    let a = w as f64 / h as f64;
    let (mut cw, mut ch) = (w, h);
    let mut aspect = None;
    if let Some(min) = min_a.filter(|m| a < *m - 1e-9) {
        aspect = Some(mode);
        match mode {
            AspectMode::Pad => cw = (h as f64 * min).ceil() as u32,
            AspectMode::Crop => ch = ((w as f64 / min).floor() as u32).max(1),
        }
    } else if let Some(max) = max_a.filter(|m| a > *m + 1e-9) {
        aspect = Some(mode);
        match mode {
            AspectMode::Pad => ch = (w as f64 / max).ceil() as u32,
            AspectMode::Crop => cw = ((h as f64 * max).floor() as u32).max(1),
        }
    }
    let (long, short) = (cw.max(ch) as f64, cw.min(ch) as f64);
    let mut s = 1.0f64;
    if long > max_e as f64 {
        s = max_e as f64 / long;
    }
    if short * s < min_e as f64 {
        s = min_e as f64 / short;
    }
    let round = |v: u32, s: f64| ((v as f64 * s).round() as u32).max(1);
    let (mut sw, mut sh) = if s == 1.0 {
        (cw, ch)
    } else {
        (round(cw, s), round(ch, s))
    };
    // Rounding may leave an edge one pixel outside a limit: clamp, then re-check everything.
    let clamp = |v: u32| v.clamp(min_e, max_e);
    sw = clamp(sw);
    sh = clamp(sh);
    let ok = |w: u32, h: u32| {
        let a = w as f64 / h as f64;
        w.min(h) >= min_e
            && w.max(h) <= max_e
            && min_a.is_none_or(|m| a >= m - 1e-9)
            && max_a.is_none_or(|m| a <= m + 1e-9)
    };
    if !ok(sw, sh) {
        // Nudge the short side by a pixel towards the range, once.
        let a = sw as f64 / sh as f64;
        if min_a.is_some_and(|m| a < m) {
            sw += 1;
        } else if max_a.is_some_and(|m| a > m) {
            sh += 1;
        }
    }
    if !ok(sw, sh) {
        return Err(format!(
            "no size fits {w}x{h} into edges {min_e}–{max_e} px with the aspect range"
        ));
    }
    Ok(Geometry {
        source: (w, h),
        aspect,
        canvas: (cw, ch),
        size: (sw, sh),
    })
}

/// Margin under the duration cap: container rounding and the last frame's duration must not push
/// the output over it.
const CAP_MARGIN_S: f64 = 0.2;

/// The trim window and the plan's sentence for it: `default` (from the start of the stretch named
/// `why`) unless the pose model's sampled frames show a better window, where the main person is
/// alone and fully in frame (`trim`).
fn place_trim(
    default: Window,
    why: &str,
    f: &VideoFacts,
    p: &Profile,
    cap: Option<f64>,
) -> (Window, String) {
    let copy = "stream copy from a keyframe when one allows it";
    let (lo, hi, target) = (default.lo_s, default.hi_s, default.target_s);
    let plain = format!("trim to {target:.2} s within {lo:.2}–{hi:.2} s ({why}); {copy}");
    let a = f.analysis.as_ref();
    let Some(pose) = a.and_then(|a| a.subject.as_ref()?.pose.as_ref()) else {
        return (default, plain);
    };
    let marks = super::trim::marks(pose, p);
    if marks.is_empty() {
        return (default, plain);
    }
    let span = |a: f64, b: f64| crate::model::Span {
        start_s: a,
        end_s: b,
        start_frame: 0,
        end_frame: 0,
    };
    let stretches = match a {
        Some(a) if !a.motion_segments.is_empty() => a.motion_segments.clone(),
        _ => vec![span(lo, hi)],
    };
    let len_of = |s: &crate::model::Span| match cap {
        Some(c) => s.duration_s().min(c - CAP_MARGIN_S),
        None => s.duration_s(),
    };
    let (pick, moved) =
        super::trim::choose(&span(lo, hi), &stretches, &marks, len_of, default.min_s);
    let subject = Some(WindowSubject {
        samples: pick.samples as u32,
        alone_full: pick.good as u32,
        moved,
    });
    let (a0, b0) = (pick.start, pick.start + pick.len);
    let (g, n) = (pick.good, pick.samples);
    if moved {
        let w = Window {
            lo_s: a0,
            hi_s: b0,
            target_s: pick.len,
            min_s: default.min_s,
            subject,
        };
        let (sa, sb) = pick.stretch;
        let text = format!(
            "trim to {:.2} s: {a0:.2}–{b0:.2} s, where the person is alone and fully in frame ({g}/{n} sampled frames), within the cut-free moving stretch {sa:.2}–{sb:.2} s; {copy}",
            pick.len
        );
        return (w, text);
    }
    let all = marks.len();
    let why = if marks.iter().all(|m| !m.good) {
        format!(
            "{why}; no stretch with the person alone and fully in frame: none of the {all} sampled frames shows that"
        )
    } else {
        format!(
            "{why}; the person is alone and fully in frame in {g}/{n} sampled frames of {a0:.2}–{b0:.2} s, and no other window does better"
        )
    };
    let w = Window { subject, ..default };
    (
        w,
        format!("trim to {target:.2} s within {lo:.2}–{hi:.2} s ({why}); {copy}"),
    )
}

fn plan_video(mut b: Builder<'_>, f: &VideoFacts) -> FixPlan {
    let Some(v) = f.video.as_ref() else {
        return b.finish(Recipe::Nothing, None);
    };
    let p = b.opts.profile.clone();
    let duration = f
        .duration_s
        .or_else(|| f.analysis.as_ref().and_then(|a| a.decoded_duration_s))
        .unwrap_or(0.0);
    let min_cont = p
        .video
        .min_continuous_s
        .as_ref()
        .map(|l| l.value)
        .or(p.video.min_duration_s.as_ref().map(|l| l.value))
        .unwrap_or(3.0);
    let cap = p.max_duration(b.opts.orientation).map(|l| l.value);
    let max_bytes = p.video.max_bytes.as_ref().map(|l| l.value);

    // Trim: to the longest cut-free moving stretch, capped under the duration limit.
    let mut trim_codes = b.present(&["V005", "V010", "V012"]);
    let mut window = None;
    let mut out_duration = duration;
    if !trim_codes.is_empty() {
        // Cuts and freezes go only by keeping a measured moving stretch; without one, trimming
        // could only shorten the clip (V005), never remove them.
        let moving = f
            .analysis
            .as_ref()
            .is_some_and(|a| !a.motion_segments.is_empty());
        if !moving {
            for c in ["V010", "V012"] {
                b.unresolved(c, "no cut-free moving stretch to trim to");
            }
            trim_codes.retain(|c| c == "V005");
        }
        let (lo, hi, why) = match &f.analysis {
            Some(a) if !a.motion_segments.is_empty() => {
                let best = a
                    .motion_segments
                    .iter()
                    .max_by(|x, y| x.duration_s().total_cmp(&y.duration_s()))
                    .cloned()
                    .unwrap_or_else(|| a.motion_segments[0].clone());
                (best.start_s, best.end_s, "longest cut-free moving stretch")
            }
            Some(a) if !a.shots.is_empty() && a.cuts.is_empty() => {
                (0.0, duration, "whole clip (no motion measured)")
            }
            _ => (0.0, duration, "start of the clip"),
        };
        let avail = hi - lo;
        let target = match cap {
            Some(c) => avail.min(c - CAP_MARGIN_S),
            None => avail,
        };
        if trim_codes.is_empty() {
            // Nothing a trim can resolve.
        } else if avail + 1e-3 < min_cont {
            for c in &trim_codes {
                b.unresolved(
                    c,
                    format!(
                        "the longest usable stretch is {avail:.2} s, under the {min_cont} s minimum"
                    ),
                );
            }
        } else {
            let default = Window {
                lo_s: lo,
                hi_s: hi,
                target_s: target,
                min_s: min_cont,
                subject: None,
            };
            let (w, detail) = place_trim(default, why, f, &p, cap);
            b.act("trim", Tier::Safe, trim_codes.clone(), detail);
            window = Some(w);
            out_duration = w.target_s;
        }
    }

    // Re-encode triggers (unsafe), each with the codes it resolves.
    let v002_transcode = b
        .diag("V002")
        .is_some_and(|d| d.fix.as_deref() == Some("transcode"));
    let mut steps: Vec<(&str, Vec<String>, String)> = Vec::new();
    let mut codec_codes = b.present(&["V003"]);
    if v002_transcode {
        codec_codes.push("V002".into());
    }
    if !codec_codes.is_empty() {
        steps.push((
            "transcode",
            codec_codes,
            format!(
                "transcode {} {} to H.264 8-bit 4:2:0 (libx264)",
                v.codec,
                v.pix_fmt.as_deref().unwrap_or("")
            ),
        ));
    }
    // V004 for a container that declares no duration (the clip itself is long enough): any MP4
    // written carries one. A stream copy when the codec goes into MP4 as it is, else a transcode.
    let copyable = matches!(v.codec.as_str(), "h264" | "hevc");
    let min_dur = p.video.min_duration_s.as_ref().map(|l| l.value);
    let header_only = f.duration_source.as_deref() == Some("packets")
        && min_dur.is_none_or(|m| duration + 1e-3 >= m);
    if b.has("V004") && !header_only {
        b.unresolved("V004", "video-too-short: no fix can lengthen a clip");
    }
    let header_v004 = b.has("V004") && header_only;
    // With a duration declared, the output is judged for continuous motion, which `check` leaves
    // unsaid while V004 stands: a clip without 3 s of it would still fail.
    if header_v004
        && let Some(a) = &f.analysis
        && a.longest_motion_s + 1e-3 < min_cont
        && !b.has("V011")
    {
        b.unresolved.push(Unresolved {
            code: "V011".into(),
            severity: crate::rules::find("V011").map_or(Severity::Error, |r| r.severity),
            reason: format!(
                "once the duration is declared: longest cut-free moving stretch {:.1} s < {min_cont} s",
                a.longest_motion_s
            ),
        });
    }
    if header_v004 && !copyable {
        match steps.first_mut() {
            Some(s) => s.1.push("V004".into()),
            None => steps.push((
                "transcode",
                vec!["V004".into()],
                format!(
                    "transcode {} to H.264 so the MP4 header declares the duration",
                    v.codec
                ),
            )),
        }
    }
    let rotate = ((v.rotation_deg.round() as i64).rem_euclid(360)) as u32;
    let rotate = if b.has("V008") {
        (rotate + 45) / 90 * 90 % 360
    } else {
        0
    };
    if b.has("V008") {
        steps.push((
            "rotate",
            vec!["V008".into()],
            format!("bake the {rotate}° display rotation into the pixels"),
        ));
    }
    // Display size → square pixels → rotated → fitted into the edge limits, even.
    let mut dw = v.width as f64;
    if b.has("V013") && v.sar_num > 0 && v.sar_den > 0 {
        dw = dw * v.sar_num as f64 / v.sar_den as f64;
        steps.push((
            "transcode",
            vec!["V013".into()],
            format!("rescale to square pixels (SAR {}:{})", v.sar_num, v.sar_den),
        ));
    }
    let (mut ow, mut oh) = (dw, v.height as f64);
    if rotate == 90 || rotate == 270 {
        std::mem::swap(&mut ow, &mut oh);
    }
    let min_e = p.video.min_edge.as_ref().map(|l| l.value as f64);
    let max_e = p.video.max_edge.as_ref().map(|l| l.value as f64);
    let mut s = 1.0;
    if let Some(m) = max_e
        && ow.max(oh) > m
    {
        s = m / ow.max(oh);
    }
    if let Some(m) = min_e
        && ow.min(oh) * s < m
    {
        s = m / ow.min(oh);
    }
    let even_down = |x: f64| ((x.floor() as u32) / 2 * 2).max(2);
    let even_up = |x: f64| (x.ceil() as u32).div_ceil(2) * 2;
    let (mut sw, mut sh) = (even_down(ow * s), even_down(oh * s));
    if let Some(m) = min_e {
        if (sw as f64) < m {
            sw = even_up(m);
        }
        if (sh as f64) < m {
            sh = even_up(m);
        }
    }
    if let Some(m) = max_e
        && (sw.max(sh) as f64 > m || (sw.min(sh) as f64) < min_e.unwrap_or(0.0))
    {
        b.unresolved(
            "V007",
            format!(
                "no even size fits {}x{} into {m} px edges",
                v.width, v.height
            ),
        );
    }
    if b.has("V007") {
        let up = sw.min(sh) as f64 > ow.min(oh);
        steps.push((
            if up { "upscale" } else { "downscale" },
            vec!["V007".into()],
            format!("{} to {sw}x{sh}", if up { "upscale" } else { "downscale" }),
        ));
    }
    let cfr = if b.has("V009") {
        let fps = v
            .fps_nominal
            .or(v.fps_avg)
            .unwrap_or(30.0)
            .clamp(1.0, 120.0);
        steps.push((
            "transcode",
            vec!["V009".into()],
            format!("constant {fps:.3} fps"),
        ));
        Some(fps)
    } else {
        None
    };
    // Bytes: a stream-copy trim scales the size with the kept duration; otherwise lower the bitrate.
    let mut video_bitrate = None;
    if b.has("V006")
        && let Some(cap) = max_bytes
    {
        let kept = if duration > 0.0 {
            f.bytes as f64 * out_duration / duration
        } else {
            f.bytes as f64
        };
        if kept > cap as f64 * 0.9 {
            let audio = if f.audio.is_some() { 160_000.0 } else { 0.0 };
            let br = (cap as f64 * 8.0 * 0.9 / out_duration.max(0.1) - audio).max(100_000.0);
            video_bitrate = Some(br as u64);
            steps.push((
                "reencode",
                vec!["V006".into()],
                format!(
                    "re-encode with the rate capped at {:.2} Mbit/s to fit {cap} bytes",
                    br / 1e6
                ),
            ));
        } else if window.is_some() {
            // The trim itself resolves it.
            if let Some(a) = b.actions.iter_mut().find(|a| a.fix == "trim") {
                a.codes.push("V006".into());
            }
        }
    }
    let mut transcode = None;
    if !steps.is_empty() {
        let mut all_ran = true;
        for (fix, codes, detail) in &steps {
            all_ran &= b.act(fix, Tier::Unsafe, codes.clone(), detail.clone());
        }
        if all_ran {
            transcode = Some(Transcode {
                size: (sw, sh),
                rotate,
                cfr,
                video_bitrate,
            });
        }
    }
    // Container: remux (safe) when the codec can be copied.
    if b.has("V002") && !v002_transcode && transcode.is_none() {
        b.act(
            "remux",
            Tier::Safe,
            vec!["V002".into()],
            format!(
                "remux {} into MP4 (stream copy, +faststart)",
                f.container.name()
            ),
        );
    } else if b.has("V002") && transcode.is_some() {
        b.act("remux", Tier::Safe, vec![], "write MP4 (+faststart)".into());
    }
    if header_v004 && copyable {
        match b.actions.first_mut() {
            Some(a) => a.codes.push("V004".into()),
            None => {
                b.act(
                    "remux",
                    Tier::Safe,
                    vec!["V004".into()],
                    format!(
                        "remux {} into MP4 (stream copy), whose header declares the duration",
                        f.container.name()
                    ),
                );
            }
        }
    }
    if b.has("F002") && b.actions.is_empty() {
        b.act(
            "rename",
            Tier::Safe,
            vec!["F002".into()],
            "remux into MP4 under the .mp4 extension".into(),
        );
    } else if b.has("F002")
        && let Some(a) = b.actions.first_mut()
    {
        a.codes.push("F002".into());
    }
    let keep_audio = f.audio.as_ref().is_some_and(|a| a.codec == "aac");
    if let Some(a) = &f.audio
        && !keep_audio
        && !b.actions.is_empty()
    {
        b.actions.push(Action {
            fix: "drop-audio".into(),
            tier: Tier::Safe,
            codes: vec![],
            detail: format!(
                "drop the {} audio (only AAC is copied into MP4; Motion Control ignores audio)",
                a.codec
            ),
        });
    }
    let reencode_if_keyframes_bad = b.opts.unsafe_fixes && transcode.is_none();
    let recipe = VideoRecipe {
        window,
        transcode,
        reencode_if_keyframes_bad,
        keep_audio,
        max_bytes,
        duration_s: out_duration,
        reencode_size: {
            let (w, h) = (v.width, v.height);
            ((w / 2 * 2).max(2), (h / 2 * 2).max(2))
        },
    };
    b.finish(Recipe::Video(recipe), Some("mp4"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Container, Kind, Verdict, VideoAnalysis};
    use crate::profile::lookup;
    use crate::rules::{self, Context, RuleSettings};
    use std::collections::BTreeMap;
    use std::path::Path;

    fn opts(unsafe_fixes: bool) -> PlanOptions {
        PlanOptions {
            profile: lookup("strict", &BTreeMap::new()).unwrap(),
            orientation: Orientation::Video,
            unsafe_fixes,
            aspect: AspectMode::Pad,
            background: [255, 255, 255],
        }
    }

    fn report(name: &str, facts: Facts, o: &PlanOptions) -> FileReport {
        let settings = RuleSettings::default();
        let ctx = Context {
            profile: &o.profile,
            orientation: o.orientation,
            settings: &settings,
        };
        let diagnostics = rules::evaluate(&ctx, Path::new(name), &facts);
        FileReport {
            path: name.into(),
            path_base64: None,
            kind: Kind::Image,
            format: None,
            verdict: Verdict::of(&diagnostics),
            facts,
            diagnostics,
        }
    }

    fn image(format: ImageFormat, w: u32, h: u32) -> ImageFacts {
        crate::model::samples::image(format, w, h)
    }

    fn video(w: u32, h: u32, duration: f64) -> VideoFacts {
        crate::model::samples::video(w, h, duration)
    }

    use crate::model::samples::span;

    fn fixes(p: &FixPlan) -> Vec<&str> {
        p.actions.iter().map(|a| a.fix.as_str()).collect()
    }

    #[test]
    fn passing_files_get_an_empty_plan() {
        let o = opts(true);
        let p = plan(
            &report(
                "a.jpg",
                Facts::Image(image(ImageFormat::Jpeg, 800, 1000)),
                &o,
            ),
            &o,
        );
        assert!(p.is_empty() && p.can_pass() && p.recipe == Recipe::Nothing);
        let p = plan(
            &report("a.mp4", Facts::Video(video(720, 1280, 8.0)), &o),
            &o,
        );
        assert!(p.is_empty() && p.can_pass());
    }

    #[test]
    fn oversized_image_downscales_only_with_unsafe_fixes() {
        let f = Facts::Image(image(ImageFormat::Jpeg, 6000, 4000));
        let safe = opts(false);
        let p = plan(&report("cam.jpg", f.clone(), &safe), &safe);
        assert!(!p.can_pass());
        assert_eq!(p.blocked.len(), 1);
        assert_eq!(p.blocked[0].fix, "downscale");
        assert!(p.failure_reason().unwrap().contains("--unsafe-fixes"));
        let o = opts(true);
        let p = plan(&report("cam.jpg", f, &o), &o);
        assert!(p.can_pass(), "{p:?}");
        match &p.recipe {
            Recipe::Image(ImageRecipe::Reencode(r)) => {
                assert_eq!(r.geometry.size, (3850, 2567));
                assert_eq!(r.format, ImageOut::Jpeg);
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn webp_with_alpha_becomes_png_only_when_alpha_is_kept() {
        let mut f = image(ImageFormat::Webp, 800, 800);
        f.has_alpha = true;
        let o = opts(true);
        let p = plan(&report("a.webp", Facts::Image(f), &o), &o);
        // I008 is reported (flatten), so the output is a JPEG on the background.
        assert_eq!(p.output_ext.as_deref(), Some("jpg"));
        assert!(fixes(&p).contains(&"flatten"));
    }

    #[test]
    fn gps_strip_and_rename_are_safe_and_lossless() {
        let mut f = image(ImageFormat::Png, 800, 800);
        f.has_gps = true;
        f.has_exif = true;
        let o = opts(false);
        let p = plan(&report("photo.jpg", Facts::Image(f), &o), &o);
        assert_eq!(fixes(&p), ["rename", "strip-metadata"]);
        assert_eq!(p.output_ext.as_deref(), Some("png"));
        assert!(matches!(
            p.recipe,
            Recipe::Image(ImageRecipe::LosslessCopy {
                format: ImageOut::Png
            })
        ));
    }

    #[test]
    fn geometry_always_lands_inside_the_limits() {
        let p = lookup("strict", &BTreeMap::new()).unwrap();
        for mode in [AspectMode::Pad, AspectMode::Crop] {
            for (w, h) in [
                (6000, 4000),
                (3000, 1000),
                (100, 2000),
                (128, 64),
                (4000, 100),
                (339, 339),
                (3851, 1541),
                (20000, 19999),
                (1, 1),
                (7, 3000),
            ] {
                let g = fit_geometry((w, h), &p, mode).unwrap();
                let (sw, sh) = g.size;
                let a = sw as f64 / sh as f64;
                assert!(
                    sw.min(sh) >= 340 && sw.max(sh) <= 3850,
                    "{w}x{h} {mode:?} → {sw}x{sh}"
                );
                assert!(
                    (0.4 - 1e-9..=2.5 + 1e-9).contains(&a),
                    "{w}x{h} {mode:?} → {sw}x{sh}"
                );
            }
        }
        let g = fit_geometry((3000, 1000), &p, AspectMode::Pad).unwrap();
        assert_eq!(g.canvas, (3000, 1200));
        let g = fit_geometry((3000, 1000), &p, AspectMode::Crop).unwrap();
        assert_eq!(g.canvas, (2500, 1000));
    }

    #[test]
    fn trim_picks_the_longest_moving_stretch_under_the_cap() {
        let mut f = video(720, 1280, 40.0);
        f.analysis = Some(VideoAnalysis {
            motion_segments: vec![span(0.0, 3.0), span(3.0, 38.0), span(38.0, 40.0)],
            longest_motion_s: 35.0,
            ..Default::default()
        });
        let o = opts(false);
        let p = plan(&report("long.mp4", Facts::Video(f.clone()), &o), &o);
        assert!(p.can_pass(), "{p:?}");
        let Recipe::Video(r) = &p.recipe else {
            panic!()
        };
        let w = r.window.unwrap();
        assert_eq!((w.lo_s, w.hi_s), (3.0, 38.0));
        assert!((w.target_s - 29.8).abs() < 1e-9);
        assert!(r.transcode.is_none());
        // Orientation image caps at 10 s.
        let mut o = opts(false);
        o.orientation = Orientation::Image;
        let p = plan(&report("long.mp4", Facts::Video(f), &o), &o);
        let Recipe::Video(r) = &p.recipe else {
            panic!()
        };
        assert!((r.window.unwrap().target_s - 9.8).abs() < 1e-9);
    }

    /// A 40 s clip sampled every 2 s: two people until 20 s, then one, fully in frame.
    fn two_then_one(one_from: f64) -> VideoFacts {
        use crate::model::{Person, PoseFrame, VideoPose, VideoSubject};
        let person = |x: f64| Person {
            score: 0.5,
            x,
            y: 0.05,
            w: 0.3,
            h: 0.9,
            keypoints: vec![[x + 0.1, 0.5, 0.9]; 17],
        };
        let frames = (0..20)
            .map(|i| {
                let t = 2.0 * i as f64;
                let mut people = vec![person(0.1)];
                if t < one_from {
                    people.push(person(0.6));
                }
                PoseFrame {
                    t,
                    people,
                    framing: None,
                }
            })
            .collect();
        let mut f = video(720, 1280, 40.0);
        f.analysis = Some(VideoAnalysis {
            motion_segments: vec![span(0.0, 40.0)],
            longest_motion_s: 40.0,
            subject: Some(VideoSubject {
                pose: Some(VideoPose {
                    model: "m".into(),
                    frames,
                    framing: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        f
    }

    fn trim_of(p: &FixPlan) -> (Window, &str) {
        let Recipe::Video(r) = &p.recipe else {
            panic!("{p:?}")
        };
        let a = p.actions.iter().find(|a| a.fix == "trim").unwrap();
        (r.window.unwrap(), a.detail.as_str())
    }

    #[test]
    fn trim_prefers_the_window_where_the_person_is_alone_and_fully_in_frame() {
        let o = opts(false);
        let p = plan(
            &report("long.mp4", Facts::Video(two_then_one(20.0)), &o),
            &o,
        );
        let (w, detail) = trim_of(&p);
        assert_eq!((w.lo_s, w.hi_s, w.target_s), (10.2, 40.0, 29.8), "{detail}");
        assert_eq!(
            w.subject,
            Some(WindowSubject {
                samples: 14,
                alone_full: 10,
                moved: true
            })
        );
        assert!(
            detail.starts_with(
                "trim to 29.80 s: 10.20–40.00 s, where the person is alone and fully in frame (10/14 sampled frames)"
            ),
            "{detail}"
        );
        // Alone throughout: today's window, and the plan says why.
        let p = plan(&report("long.mp4", Facts::Video(two_then_one(0.0)), &o), &o);
        let (w, detail) = trim_of(&p);
        assert_eq!(
            (w.lo_s, w.hi_s, w.subject.unwrap().moved),
            (0.0, 40.0, false)
        );
        assert!(
            detail.contains("alone and fully in frame in 15/15 sampled frames of 0.00–29.80 s"),
            "{detail}"
        );
        // Never alone: today's window, said so.
        let p = plan(
            &report("long.mp4", Facts::Video(two_then_one(99.0)), &o),
            &o,
        );
        let (w, detail) = trim_of(&p);
        assert_eq!((w.lo_s, w.hi_s), (0.0, 40.0));
        assert!(
            detail.contains("no stretch with the person alone and fully in frame: none of the 20 sampled frames shows that"),
            "{detail}"
        );
    }

    #[test]
    fn copy_window_starts_at_the_earliest_usable_keyframe() {
        let w = Window {
            lo_s: 3.0,
            hi_s: 38.0,
            target_s: 29.8,
            min_s: 3.0,
            subject: None,
        };
        let kfs: Vec<f64> = (0..40).map(|i| i as f64 * 2.0).collect();
        assert_eq!(choose_copy_window(&w, &kfs, true), Some((4.0, 33.8)));
        // Sparse keyframes: only a short window is left; acceptable without re-encoding only.
        let kfs = [0.0, 34.0];
        assert_eq!(choose_copy_window(&w, &kfs, false), Some((34.0, 38.0)));
        assert_eq!(choose_copy_window(&w, &kfs, true), None);
        assert_eq!(choose_copy_window(&w, &[0.0, 36.0], false), None);
    }

    /// Issue 16: V012 was shown `[fixable: trim]` on a clip frozen from end to end; a trim to the
    /// whole clip cannot remove a freeze.
    #[test]
    fn frozen_clip_without_a_moving_stretch_gets_no_trim() {
        let mut f = video(720, 1280, 4.9);
        f.analysis = Some(VideoAnalysis {
            shots: vec![span(0.0, 4.9)],
            frozen: vec![span(0.0, 4.9)],
            ..Default::default()
        });
        let o = opts(true);
        let p = plan(&report("still.mp4", Facts::Video(f), &o), &o);
        assert!(p.actions.iter().all(|a| a.fix != "trim"), "{p:?}");
        assert!(p.unresolved.iter().any(|u| u.code == "V012"), "{p:?}");
    }

    /// Issue 16: V004 "declares no duration" was `[fixable: remux]` in check and "cannot fix" in fix.
    #[test]
    fn missing_header_duration_is_remuxed_and_a_short_clip_is_not() {
        let mut f = video(720, 1280, 6.0);
        f.container = Container::Mkv;
        f.duration_source = Some("packets".into());
        let o = opts(false);
        let p = plan(&report("rec.mkv", Facts::Video(f.clone()), &o), &o);
        assert!(p.can_pass(), "{p:?}");
        assert!(
            p.actions
                .iter()
                .any(|a| a.fix == "remux" && a.codes.contains(&"V004".to_string())),
            "{p:?}"
        );
        f.video.as_mut().unwrap().codec = "vp8".into();
        let p = plan(&report("rec.mkv", Facts::Video(f.clone()), &o), &o);
        assert!(!p.can_pass(), "vp8 needs a transcode: {p:?}");
        let u = opts(true);
        let p = plan(&report("rec.mkv", Facts::Video(f), &u), &u);
        assert!(p.can_pass(), "{p:?}");
        assert!(
            p.actions
                .iter()
                .any(|a| a.fix == "transcode" && a.codes.contains(&"V004".to_string()))
        );
        let p = plan(
            &report("s.mp4", Facts::Video(video(720, 1280, 2.0)), &u),
            &u,
        );
        assert!(p.unresolved.iter().any(|x| x.code == "V004"), "{p:?}");
    }

    #[test]
    fn too_short_and_no_motion_cannot_be_fixed() {
        let o = opts(true);
        let p = plan(
            &report("s.mp4", Facts::Video(video(720, 1280, 2.0)), &o),
            &o,
        );
        assert!(!p.can_pass());
        assert!(p.failure_reason().unwrap().contains("V004"));
    }

    #[test]
    fn vp9_webm_needs_a_transcode_and_rotation_is_baked() {
        let mut f = video(1080, 1920, 8.0);
        f.container = Container::Webm;
        f.video.as_mut().unwrap().codec = "vp9".into();
        let o = opts(false);
        let p = plan(&report("c.webm", Facts::Video(f.clone()), &o), &o);
        assert!(!p.can_pass());
        let o = opts(true);
        let p = plan(&report("c.webm", Facts::Video(f), &o), &o);
        assert!(p.can_pass(), "{p:?}");
        assert_eq!(p.output_ext.as_deref(), Some("mp4"));
        let mut f = video(1920, 1080, 8.0);
        f.video.as_mut().unwrap().rotation_deg = 90.0;
        let p = plan(&report("r.mp4", Facts::Video(f), &o), &o);
        let Recipe::Video(r) = &p.recipe else {
            panic!()
        };
        let t = r.transcode.as_ref().unwrap();
        assert_eq!((t.rotate, t.size), (90, (1080, 1920)));
    }

    #[test]
    fn cinema_4k_downscales_even_and_anamorphic_gets_square_pixels() {
        let o = opts(true);
        let p = plan(
            &report("k.mp4", Facts::Video(video(4096, 2160, 5.0)), &o),
            &o,
        );
        let Recipe::Video(r) = &p.recipe else {
            panic!()
        };
        let (w, h) = r.transcode.as_ref().unwrap().size;
        assert!(w <= 3850 && w % 2 == 0 && h % 2 == 0, "{w}x{h}");
        let mut f = video(720, 480, 5.0);
        let v = f.video.as_mut().unwrap();
        (v.sar_num, v.sar_den) = (4, 3);
        let p = plan(&report("a.mp4", Facts::Video(f), &o), &o);
        let Recipe::Video(r) = &p.recipe else {
            panic!()
        };
        assert_eq!(r.transcode.as_ref().unwrap().size, (960, 480));
    }

    #[test]
    fn oversized_video_gets_a_bitrate_for_its_duration() {
        let mut f = video(1920, 1080, 20.0);
        f.bytes = 300_000_000;
        let o = opts(true);
        let p = plan(&report("big.mp4", Facts::Video(f), &o), &o);
        let Recipe::Video(r) = &p.recipe else {
            panic!()
        };
        let br = r.transcode.as_ref().unwrap().video_bitrate.unwrap();
        assert!((br as f64 * 20.0 / 8.0) < 100_000_000.0 * 0.95, "{br}");
    }
}
