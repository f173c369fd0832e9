//! The SVG pictures of the visual report, as pure functions of the facts: a video's timeline (motion
//! energy, cuts, frozen stretches, camera motion, the longest continuous-motion stretch, the trim
//! window) and an image's thumbnail with the profile's edge and aspect limits drawn over it.
//!
//! Coordinates are in a fixed viewBox (the browser scales it); every element a test or a reader looks
//! for has a class (`cut`, `frozen`, `longest`, `trim`, `signal`) and a `<title>` tooltip.

use std::fmt::Write as _;

use super::esc;
use super::people::Thresholds;
use crate::model::{Cut, Person, Span};
use crate::profile::ImageLimits;

/// ViewBox width and height, and the plot area inside it.
const W: f64 = 1000.0;
const H: f64 = 150.0;
const X0: f64 = 8.0;
const X1: f64 = 992.0;
const TOP: f64 = 8.0;
/// Baseline of the motion-energy plot; the bands sit below it.
const BASE: f64 = 100.0;

/// Everything one video's timeline shows.
#[derive(Debug, Default)]
pub struct Timeline<'a> {
    /// Length of the time axis, seconds (at least the last cut and the last signal point).
    pub duration_s: f64,
    /// (seconds, motion energy %) points.
    pub signal: &'a [(f32, f32)],
    pub cuts: &'a [Cut],
    pub frozen: &'a [Span],
    pub camera: &'a [Span],
    /// The longest cut-free moving stretch.
    pub longest: Option<&'a Span>,
    /// After `fix`: the window kept (start, end seconds), and whether it was only planned.
    pub trim: Option<(f64, f64)>,
    pub trim_planned: bool,
    /// Times of the filmstrip frames (small ticks, so the strip can be read against the axis).
    pub thumbs: Vec<f64>,
    /// Shown instead of a signal (not analysed, not decodable).
    pub note: Option<&'a str>,
}

impl Timeline<'_> {
    fn x(&self, t: f64) -> f64 {
        let d = self.duration_s.max(1e-3);
        X0 + (t / d).clamp(0.0, 1.0) * (X1 - X0)
    }

    /// Motion energy on a square-root scale: 1–5 % (ordinary motion) stays visible next to a cut's
    /// 30–60 %.
    fn y(v: f32) -> f64 {
        let v = (v as f64).clamp(0.0, 100.0);
        BASE - (v / 100.0).sqrt() * (BASE - TOP)
    }

    /// The `<svg class="timeline">` element.
    pub fn svg(&self) -> String {
        let mut s = String::with_capacity(8 * 1024 + self.signal.len() * 14);
        let _ = write!(
            s,
            r#"<svg class="timeline" viewBox="0 0 {W} {H}" preserveAspectRatio="none" role="img" aria-label="timeline">"#
        );
        let _ = write!(
            s,
            r#"<rect class="plot" x="{X0}" y="{TOP}" width="{}" height="{}"/>"#,
            X1 - X0,
            BASE - TOP
        );
        for f in self.frozen {
            let (a, b) = (self.x(f.start_s), self.x(f.end_s));
            let _ = write!(
                s,
                r#"<rect class="frozen" x="{a:.1}" y="{TOP}" width="{:.1}" height="{}"><title>frozen {:.2}–{:.2} s ({:.2} s)</title></rect>"#,
                (b - a).max(1.0),
                BASE - TOP,
                f.start_s,
                f.end_s,
                f.duration_s()
            );
        }
        for c in self.camera {
            let (a, b) = (self.x(c.start_s), self.x(c.end_s));
            let _ = write!(
                s,
                r#"<rect class="camera" x="{a:.1}" y="{TOP}" width="{:.1}" height="5"><title>camera motion {:.2}–{:.2} s</title></rect>"#,
                (b - a).max(1.0),
                c.start_s,
                c.end_s
            );
        }
        if let Some((a, b)) = self.trim {
            let (xa, xb) = (self.x(a), self.x(b));
            let what = if self.trim_planned {
                "planned trim"
            } else {
                "trim window kept"
            };
            let _ = write!(
                s,
                r#"<rect class="trim" x="{xa:.1}" y="{TOP}" width="{:.1}" height="{}"><title>{what} {a:.2}–{b:.2} s ({:.2} s)</title></rect>"#,
                (xb - xa).max(1.0),
                BASE + 26.0 - TOP,
                b - a
            );
        }
        if !self.signal.is_empty() {
            s.push_str(r#"<polyline class="signal" points=""#);
            for (i, (t, v)) in self.signal.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                let _ = write!(s, "{:.1},{:.1}", self.x(*t as f64), Self::y(*v));
            }
            s.push_str(
                r#""><title>motion energy (luma change between frames, %)</title></polyline>"#,
            );
        } else if let Some(n) = self.note {
            let _ = write!(
                s,
                r#"<text class="note" x="{}" y="{}" text-anchor="middle">{}</text>"#,
                W / 2.0,
                (TOP + BASE) / 2.0,
                esc(n)
            );
        }
        if let Some(l) = self.longest {
            let (a, b) = (self.x(l.start_s), self.x(l.end_s));
            let _ = write!(
                s,
                r#"<rect class="longest" x="{a:.1}" y="{}" width="{:.1}" height="8"><title>longest continuous motion {:.2}–{:.2} s ({:.2} s)</title></rect>"#,
                BASE + 4.0,
                (b - a).max(1.0),
                l.start_s,
                l.end_s,
                l.duration_s()
            );
        }
        for t in &self.thumbs {
            let x = self.x(*t);
            let _ = write!(
                s,
                r#"<line class="frame" x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}"/>"#,
                BASE + 14.0,
                BASE + 20.0
            );
        }
        for c in self.cuts {
            let x = self.x(c.time_s);
            let _ = write!(
                s,
                r#"<line class="cut {}" data-t="{:.3}" data-frame="{}" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}"><title>{} cut at {:.3} s (frame {}), score {:.1}</title></line>"#,
                if c.kind == "gradual" {
                    "gradual"
                } else {
                    "hard"
                },
                c.time_s,
                c.frame,
                BASE + 12.0,
                esc(&c.kind),
                c.time_s,
                c.frame,
                c.score
            );
        }
        let step = tick_step(self.duration_s);
        let mut t = 0.0;
        while t <= self.duration_s + 1e-6 && step > 0.0 {
            let x = self.x(t);
            let anchor = if t == 0.0 {
                "start"
            } else if (self.duration_s - t) * (X1 - X0) / self.duration_s.max(1e-3) < 20.0 {
                "end"
            } else {
                "middle"
            };
            let _ = write!(
                s,
                r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{BASE}" y2="{}"/><text class="tick" x="{x:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
                BASE + 26.0,
                H - 6.0,
                fmt_s(t)
            );
            t += step;
        }
        s.push_str("</svg>");
        s
    }
}

/// A tick spacing giving at most about 12 labels.
fn tick_step(d: f64) -> f64 {
    const STEPS: [f64; 11] = [
        0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ];
    if !d.is_finite() || d <= 0.0 {
        return 0.0;
    }
    STEPS
        .into_iter()
        .find(|s| d / s <= 12.0)
        .unwrap_or(d / 10.0)
}

fn fmt_s(t: f64) -> String {
    if t.fract() == 0.0 {
        format!("{t:.0} s")
    } else {
        format!("{t:.1} s")
    }
}

/// An image thumbnail with the profile's limits drawn as guides, in displayed pixels of the full
/// image: the minimum-size outline (outside the picture when it is too small), the maximum-size
/// outline (inside when it is too large), and the widest and tallest allowed aspect boxes centred in
/// the picture (the crop a fix would keep when the aspect is out of range). Red = violated.
/// `people`, when given, are drawn over the picture (`people::marks`).
pub fn image_guides(
    uri: &str,
    (w, h): (u32, u32),
    limits: &ImageLimits,
    height_px: u32,
    people: Option<(&[Person], Thresholds)>,
) -> String {
    let (w, h) = (w.max(1) as f64, h.max(1) as f64);
    let short = w.min(h);
    let long = w.max(h);
    let mut boxes: Vec<(f64, f64, bool, String)> = Vec::new(); // (width, height, violated, label)
    if let Some(min) = &limits.min_edge {
        let k = min.value as f64 / short;
        boxes.push((w * k, h * k, k > 1.0, format!("min edge {} px", min.value)));
    }
    if let Some(max) = &limits.max_edge
        && long > max.value as f64
    {
        let k = max.value as f64 / long;
        boxes.push((w * k, h * k, true, format!("max edge {} px", max.value)));
    }
    let aspect = w / h;
    if let Some(a) = &limits.max_aspect {
        // The widest allowed shape: full width when the picture is too wide, else full height.
        let (bw, bh) = if aspect > a.value {
            (h * a.value, h)
        } else {
            (w, w / a.value)
        };
        boxes.push((bw, bh, aspect > a.value, format!("aspect ≤ {}", a.value)));
    }
    if let Some(a) = &limits.min_aspect {
        let (bw, bh) = if aspect < a.value {
            (w, w / a.value)
        } else {
            (h * a.value, h)
        };
        boxes.push((bw, bh, aspect < a.value, format!("aspect ≥ {}", a.value)));
    }
    let cw = boxes.iter().map(|b| b.0).fold(w, f64::max);
    let ch = boxes.iter().map(|b| b.1).fold(h, f64::max);
    let (ox, oy) = ((cw - w) / 2.0, (ch - h) / 2.0);
    let px_w = (height_px as f64 * cw / ch)
        .round()
        .clamp(40.0, 4.0 * height_px as f64);
    let font = ch / 14.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="guides" width="{px_w}" height="{height_px}" viewBox="0 0 {cw:.1} {ch:.1}" role="img" aria-label="picture with limits">"#
    );
    let _ = write!(
        s,
        r#"<image class="thumb" x="{ox:.1}" y="{oy:.1}" width="{w:.1}" height="{h:.1}" preserveAspectRatio="none" href="{uri}"/>"#
    );
    if let Some((people, th)) = people {
        s.push_str(&super::people::marks(people, (ox, oy, w, h), th));
    }
    for (bw, bh, bad, label) in &boxes {
        let (x, y) = ((cw - bw) / 2.0, (ch - bh) / 2.0);
        let class = if *bad { "guide bad" } else { "guide" };
        let _ = write!(
            s,
            r#"<rect class="{class}" x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}"><title>{}</title></rect>"#,
            esc(label)
        );
        if *bad {
            let _ = write!(
                s,
                r#"<text class="guide bad" x="{:.1}" y="{:.1}" font-size="{font:.1}">{}</text>"#,
                x + font * 0.3,
                y + font * 1.1,
                esc(label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Limit;

    fn cut(t: f64, frame: u64) -> Cut {
        Cut {
            time_s: t,
            frame,
            kind: "hard".into(),
            score: 40.0,
        }
    }

    #[test]
    fn every_cut_has_a_marker_at_its_time() {
        let cuts = [cut(0.0, 0), cut(3.754, 90), cut(8.0, 200), cut(12.5, 300)];
        let signal = [(0.04f32, 1.0f32), (3.754, 50.0), (9.9, 2.0)];
        let tl = Timeline {
            duration_s: 10.0,
            signal: &signal,
            cuts: &cuts,
            ..Timeline::default()
        };
        let svg = tl.svg();
        assert_eq!(svg.matches(r#"<line class="cut hard""#).count(), 4);
        // 3.754 s of 10 s → x = 8 + 0.3754 * 984.
        assert!(
            svg.contains(r#"data-t="3.754" data-frame="90" x1="377.4""#),
            "{svg}"
        );
        // A cut past the end is clamped onto the axis, not dropped.
        assert!(svg.contains(r#"data-t="12.500" data-frame="300" x1="992.0""#));
        assert!(svg.starts_with(r#"<svg class="timeline""#) && svg.ends_with("</svg>"));
    }

    #[test]
    fn bands_and_ticks() {
        let span = |a: f64, b: f64| Span {
            start_s: a,
            end_s: b,
            start_frame: (a * 30.0) as u64,
            end_frame: (b * 30.0) as u64,
        };
        let frozen = [span(6.0, 9.0)];
        let longest = span(0.5, 5.5);
        let tl = Timeline {
            duration_s: 9.0,
            frozen: &frozen,
            longest: Some(&longest),
            trim: Some((0.5, 5.5)),
            note: Some("not analysed <--no-analyze>"),
            ..Timeline::default()
        };
        let svg = tl.svg();
        for class in [r#"class="frozen""#, r#"class="longest""#, r#"class="trim""#] {
            assert_eq!(svg.matches(class).count(), 1, "{class}");
        }
        assert!(svg.contains("not analysed &lt;--no-analyze&gt;"));
        assert_eq!(svg.matches(r#"<text class="tick""#).count(), 10); // 0..9 s
        assert_eq!(tick_step(35.0), 5.0);
        assert_eq!(tick_step(0.0), 0.0);
    }

    #[test]
    fn guides_mark_what_is_out_of_range() {
        let limits = ImageLimits {
            min_edge: Some(lim(340u32)),
            max_edge: Some(lim(3850)),
            min_aspect: Some(lim(0.4)),
            max_aspect: Some(lim(2.5)),
            ..ImageLimits::default()
        };
        let fine = image_guides("data:x", (1000, 1000), &limits, 160, None);
        assert!(!fine.contains("guide bad"));
        assert_eq!(fine.matches(r#"<image class="thumb""#).count(), 1);
        let small = image_guides("data:x", (128, 100), &limits, 160, None);
        assert!(small.contains("min edge 340 px</text>"));
        let wide = image_guides("data:x", (3000, 1000), &limits, 160, None);
        assert!(wide.contains("aspect ≤ 2.5</text>"));
        assert!(!wide.contains("min edge 340 px</text>"));
    }

    fn lim<T>(value: T) -> Limit<T> {
        Limit {
            value,
            source: "https://example.com".into(),
            read: "2026-11-21".into(),
            note: None,
        }
    }
}
