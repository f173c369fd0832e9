//! The visual report (`--report PATH.html`): one self-contained page per run that shows what the tool
//! saw, for a person deciding whether to re-shoot, trim or pay. Per video a filmstrip and an SVG
//! timeline (motion energy, cuts, frozen stretches, the longest continuous-motion stretch, after `fix`
//! the trim window); per image the picture with the profile's limits drawn over it (after `fix`,
//! before and after); the people the pose model found drawn over the filmstrip frames and the
//! character image (`people`); facts and diagnostics for every file; a summary with filters on top.
//!
//! No external assets: thumbnails are JPEG data URIs, CSS and JS are inline, and the page works from
//! `file://` without a server. The markup is well-formed XML (void elements closed, script in CDATA)
//! so tests can parse it strictly. Large runs stay usable: the script shows 50 files a page, facts sit
//! in closed `<details>`, images load lazily, and when the thumbnails would pass `BUDGET_BYTES` the
//! evenly spaced filmstrip frames are thinned (shot frames and image thumbnails are kept).

pub mod artefacts;
pub mod people;
pub mod timeline;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use serde_json::Value;

pub use artefacts::{Artefacts, Thumb};
use timeline::Timeline;

use crate::model::{Diagnostic, Facts, FileReport, Kind, Severity, Verdict};
use crate::profile::{Orientation, Profile};

/// Thumbnail bytes (base64 included) a page may carry before filmstrips are thinned: with the SVG and
/// markup a 1,000-file run stays under ~20 MB.
pub const BUDGET_BYTES: usize = 13_000_000;
/// Height of image pictures on the page, CSS pixels.
const PICTURE_PX: u32 = 160;

/// What `fix` did to one file, as the page shows it (filled from `fix::FileOutcome`).
#[derive(Debug, Clone, Default)]
pub struct AfterFix {
    /// fixed, planned, already-passes, nothing-to-fix, cannot-fix.
    pub status: String,
    pub output: Option<String>,
    pub verdict_after: Option<Verdict>,
    /// (fix, tier, detail) per applied step.
    pub actions: Vec<(String, String, String)>,
    /// Unsafe fixes that would have helped.
    pub blocked: Vec<(String, String)>,
    pub reason: Option<String>,
    pub diagnostics_after: Vec<Diagnostic>,
    /// The window kept by a trim (seconds), and whether it was only planned (`--dry-run`).
    pub trim: Option<(f64, f64)>,
    pub trim_planned: bool,
    /// The output image's picture and displayed size.
    pub picture: Option<(Thumb, (u32, u32))>,
}

/// One file on the page.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub report: &'a FileReport,
    pub artefacts: Option<&'a Artefacts>,
    pub after: Option<&'a AfterFix>,
}

/// The whole page.
#[derive(Debug)]
pub struct Page<'a> {
    /// "check", "fix", "fix --dry-run", "submit --dry-run".
    pub command: &'a str,
    pub profile: &'a Profile,
    pub orientation: Orientation,
    pub entries: Vec<Entry<'a>>,
}

/// Escape text for HTML/XML content and attribute values (the page is strict XML).
pub(crate) use super::escape_xml as esc;

/// Write the page to `path` atomically (a temp file in the same folder, then a rename).
pub fn write_file(path: &Path, page: &Page<'_>) -> io::Result<()> {
    let html = render(page);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or("report.html".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.kp-tmp-{}", std::process::id()));
    let res = std::fs::write(&tmp, html.as_bytes()).and_then(|_| std::fs::rename(&tmp, path));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// How many filmstrip frames per video fit the byte budget (`MAX_STRIP` when all do).
fn strip_cap(entries: &[Entry<'_>]) -> usize {
    let b64 = |n: usize| n.div_ceil(3) * 4 + 30;
    let mut fixed = 0usize;
    let mut strips: Vec<&[Thumb]> = Vec::new();
    for e in entries {
        if let Some(a) = e.artefacts {
            if e.report.kind == Kind::Video {
                strips.push(&a.thumbs);
            } else {
                fixed += a.thumbs.iter().map(|t| b64(t.jpeg.len())).sum::<usize>();
            }
        }
        if let Some((t, _)) = e.after.and_then(|a| a.picture.as_ref()) {
            fixed += b64(t.jpeg.len());
        }
    }
    (0..=artefacts::MAX_STRIP)
        .rev()
        .find(|&cap| {
            let strips: usize = strips
                .iter()
                .map(|t| {
                    strip_keep(t, cap)
                        .iter()
                        .map(|&i| b64(t[i].jpeg.len()))
                        .sum::<usize>()
                })
                .sum();
            fixed + strips <= BUDGET_BYTES
        })
        .unwrap_or(0)
}

/// Which of a filmstrip's frames to show when at most `cap` fit: shot frames first (evenly spread if
/// even they are too many), then evenly spread other frames; in time order.
fn strip_keep(thumbs: &[Thumb], cap: usize) -> Vec<usize> {
    let shots: Vec<usize> = (0..thumbs.len())
        .filter(|&i| thumbs[i].shot.is_some())
        .collect();
    let evens: Vec<usize> = (0..thumbs.len())
        .filter(|&i| thumbs[i].shot.is_none())
        .collect();
    let mut keep: Vec<usize> = thin(shots.len(), cap)
        .into_iter()
        .map(|i| shots[i])
        .collect();
    let room = cap - keep.len();
    keep.extend(thin(evens.len(), room).into_iter().map(|i| evens[i]));
    keep.sort_unstable();
    keep
}

/// Indices of `k` evenly spread items out of `n`.
fn thin(n: usize, k: usize) -> Vec<usize> {
    if k >= n {
        return (0..n).collect();
    }
    (0..k).map(|i| i * n / k).collect()
}

/// Render the page.
pub fn render(page: &Page<'_>) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let files = page.entries.len();
    let _ = write!(
        s,
        concat!(
            "<!DOCTYPE html>\n<html lang=\"en\" data-ready=\"0\"><head><meta charset=\"utf-8\"/>",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>",
            "<title>kling-preflight {}: {} files ({})</title><style>/*<![CDATA[*/\n{}\n/*]]>*/</style></head><body>"
        ),
        esc(page.command),
        files,
        esc(&page.profile.name),
        CSS
    );
    summary(&mut s, page);
    let cap = strip_cap(&page.entries);
    s.push_str("<main id=\"files\">");
    for (i, e) in page.entries.iter().enumerate() {
        card(&mut s, i, e, page, cap);
    }
    s.push_str("</main><nav id=\"pager\" aria-label=\"pages\"></nav>");
    let _ = write!(
        s,
        "<script>//<![CDATA[\n{JS}\n//]]></script></body></html>\n"
    );
    s
}

fn summary(s: &mut String, page: &Page<'_>) {
    let mut by_verdict = [0usize; 3];
    let mut rules: BTreeMap<&str, (&str, usize, Severity)> = BTreeMap::new();
    let (mut fixed, mut cannot) = (0, 0);
    for e in &page.entries {
        let r = e.report;
        by_verdict[r.verdict as usize] += 1;
        let mut seen: Vec<&str> = Vec::new();
        for d in &r.diagnostics {
            let entry = rules.entry(&d.code).or_insert((&d.name, 0, d.severity));
            if !seen.contains(&d.code.as_str()) {
                entry.1 += 1;
                seen.push(&d.code);
            }
            entry.2 = entry.2.max(d.severity);
        }
        if let Some(a) = e.after {
            match a.status.as_str() {
                "fixed" | "planned" => fixed += 1,
                "cannot-fix" => cannot += 1,
                _ => {}
            }
        }
    }
    let _ = write!(
        s,
        concat!(
            "<header><h1>kling-preflight <span class=\"cmd\">{}</span></h1>",
            "<p class=\"meta\">{} files · profile <b>{}</b> · orientation <b>{}</b> · version {}</p></header>",
            "<section id=\"summary\"><div class=\"tiles\">",
            "<div class=\"tile pass\"><b>{}</b> pass</div><div class=\"tile warn\"><b>{}</b> warn</div>",
            "<div class=\"tile fail\"><b>{}</b> fail</div>"
        ),
        esc(page.command),
        page.entries.len(),
        esc(&page.profile.name),
        page.orientation.name(),
        env!("CARGO_PKG_VERSION"),
        by_verdict[0],
        by_verdict[1],
        by_verdict[2],
    );
    if page.entries.iter().any(|e| e.after.is_some()) {
        let _ = write!(
            s,
            "<div class=\"tile fixed\"><b>{fixed}</b> {}</div><div class=\"tile fail\"><b>{cannot}</b> cannot be fixed</div>",
            if page.command.contains("dry-run") {
                "would be fixed"
            } else {
                "fixed"
            }
        );
    }
    // No "credits saved" figure here: the page judges files, not the image + video pairs a
    // generation is made of, so a per-file sum would count corrupt and unrelated files as wasted
    // generations. `submit` reports what it saved, per pair, at the price it budgets with.
    s.push_str("</div>");
    s.push_str("<div class=\"sumrow\">");
    if !rules.is_empty() {
        s.push_str("<table class=\"rules\"><thead><tr><th>rule</th><th>name</th><th>severity</th><th>files</th></tr></thead><tbody>");
        for (code, (name, n, sev)) in &rules {
            let _ = write!(
                s,
                "<tr><td><a href=\"#\" data-rule=\"{c}\">{c}</a></td><td>{}</td><td class=\"sev {}\">{}</td><td>{n}</td></tr>",
                esc(name),
                sev.name(),
                sev.name(),
                c = esc(code)
            );
        }
        s.push_str("</tbody></table>");
    }
    s.push_str(
        "<div><form id=\"filters\" onsubmit=\"return false\"><fieldset><legend>show</legend>",
    );
    for v in ["pass", "warn", "fail"] {
        let _ = write!(
            s,
            "<label><input type=\"checkbox\" name=\"verdict\" value=\"{v}\" checked=\"checked\"/> {v}</label> "
        );
    }
    s.push_str("<label>rule <select id=\"rule\"><option value=\"\">any</option>");
    for (code, (name, n, _)) in &rules {
        let _ = write!(
            s,
            "<option value=\"{c}\">{c} {} ({n})</option>",
            esc(name),
            c = esc(code)
        );
    }
    s.push_str("</select></label> <span id=\"shown\"></span></fieldset></form>");
    s.push_str(LEGEND);
    s.push_str(people::LEGEND);
    s.push_str("</p>");
    s.push_str("</div></div></section>");
}

fn card(s: &mut String, i: usize, e: &Entry<'_>, page: &Page<'_>, cap: usize) {
    let r = e.report;
    let mut codes: Vec<&str> = r.diagnostics.iter().map(|d| d.code.as_str()).collect();
    codes.sort();
    codes.dedup();
    let verdict = r.verdict;
    let kind = match r.kind {
        Kind::Image => "image",
        Kind::Video => "video",
        Kind::Unknown => "unknown",
    };
    let _ = write!(
        s,
        "<article class=\"file {kind}\" id=\"f{i}\" data-verdict=\"{}\" data-rules=\"{}\"><h2><span class=\"badge {}\">{}</span> <span class=\"path\">{}</span> <small>{}{}</small></h2>",
        verdict.name(),
        esc(&codes.join(" ")),
        verdict.name(),
        verdict.name(),
        esc(&r.path),
        kind,
        r.format
            .as_deref()
            .map(|f| format!(" · {}", esc(f)))
            .unwrap_or_default()
    );
    match r.kind {
        Kind::Video => video_visuals(s, e, cap, people::Thresholds::of(page.profile)),
        Kind::Image => image_visuals(s, e, page),
        Kind::Unknown => {}
    }
    diagnostics(s, &r.diagnostics, "diagnostics");
    if let Some(a) = e.after {
        after_fix(s, a);
    }
    s.push_str("<details class=\"facts\"><summary>facts</summary><table class=\"facts\"><tbody>");
    let mut rows = Vec::new();
    if let Ok(v) = serde_json::to_value(&r.facts) {
        fact_rows(&v, "", &mut rows);
    }
    for (k, v) in rows {
        let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&v));
    }
    s.push_str("</tbody></table></details></article>");
}

fn video_visuals(s: &mut String, e: &Entry<'_>, cap: usize, th: people::Thresholds) {
    let r = e.report;
    let (v, a) = match &r.facts {
        Facts::Video(v) => (Some(v), v.analysis.as_ref()),
        _ => (None, None),
    };
    let art = e.artefacts;
    let poses = a
        .and_then(|a| a.subject.as_ref())
        .and_then(|s| s.pose.as_ref())
        .map_or(&[][..], |p| p.frames.as_slice());
    let cuts = a.map_or(&[][..], |a| a.cuts.as_slice());
    if let Some(art) = art
        && !art.thumbs.is_empty()
    {
        let keep = strip_keep(&art.thumbs, cap);
        let interval = art.interval_s.unwrap_or(0.0);
        s.push_str("<div class=\"strip\">");
        for (i, t) in art.thumbs.iter().enumerate() {
            if !keep.contains(&i) {
                continue;
            }
            let label = match (t.t, t.shot) {
                (Some(time), Some(n)) => format!("{time:.2} s · shot {}", n + 1),
                (Some(time), None) => format!("{time:.2} s"),
                _ => String::new(),
            };
            let overlay =
                t.t.and_then(|time| people::frame_at(poses, time, interval, cuts))
                    .map(|f| people::strip_overlay(f, (t.width, t.height), th))
                    .unwrap_or_default();
            let _ = write!(
                s,
                "<figure class=\"{}\"><div class=\"pic\"><img class=\"frame\" src=\"{}\" width=\"{}\" height=\"{}\" loading=\"lazy\" alt=\"frame at {}\"/>{overlay}</div><figcaption>{}</figcaption></figure>",
                if t.shot.is_some() { "shot" } else { "even" },
                t.data_uri(),
                t.width,
                t.height,
                esc(&label),
                esc(&label)
            );
        }
        s.push_str("</div>");
    }
    let empty = Vec::new();
    let longest = a.and_then(|a| {
        a.motion_segments
            .iter()
            .max_by(|x, y| x.duration_s().total_cmp(&y.duration_s()))
    });
    let signal = art.map_or(&[][..], |a| a.signal.as_slice());
    let mut duration = v
        .and_then(|v| v.duration_s)
        .unwrap_or(0.0)
        .max(a.and_then(|a| a.decoded_duration_s).unwrap_or(0.0));
    if let Some(last) = signal.last() {
        duration = duration.max(last.0 as f64);
    }
    if let Some(c) = a.and_then(|a| a.cuts.last()) {
        duration = duration.max(c.time_s);
    }
    let note = match (&r.facts, a) {
        (Facts::Video(_), None) => {
            "not analysed (--no-analyze): no cuts, motion or freezes measured"
        }
        (Facts::Video(_), Some(_)) => "no motion signal kept",
        _ => "no frames could be decoded",
    };
    let (trim, planned) = e
        .after
        .and_then(|x| x.trim.map(|t| (Some(t), x.trim_planned)))
        .unwrap_or((None, false));
    let tl = Timeline {
        duration_s: duration,
        signal,
        cuts: a.map_or(&empty, |a| &a.cuts),
        frozen: a.map_or(&[][..], |a| &a.frozen),
        camera: a.map_or(&[][..], |a| &a.camera_motion),
        longest,
        trim,
        trim_planned: planned,
        thumbs: art.map_or(Vec::new(), |a| {
            a.thumbs.iter().filter_map(|t| t.t).collect()
        }),
        note: Some(note),
    };
    s.push_str("<div class=\"tl\">");
    s.push_str(&tl.svg());
    if let Some(a) = a {
        let _ = write!(
            s,
            "<p class=\"tlcap\">{} cut{} · {} frozen stretch{} · longest continuous motion {:.2} s{}</p>",
            a.cuts.len(),
            if a.cuts.len() == 1 { "" } else { "s" },
            a.frozen.len(),
            if a.frozen.len() == 1 { "" } else { "es" },
            a.longest_motion_s,
            trim.map(|(x, y)| format!(
                " · {} {x:.2}–{y:.2} s",
                if planned { "planned trim" } else { "kept" }
            ))
            .unwrap_or_default()
        );
    }
    s.push_str("</div>");
    if let Some(note) = art.and_then(|a| a.note.as_deref()) {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(note));
    }
}

fn image_visuals(s: &mut String, e: &Entry<'_>, page: &Page<'_>) {
    let display = match &e.report.facts {
        Facts::Image(f) => Some(f.display_size()),
        _ => None,
    };
    // The people are drawn on the picture checked, not on a fixed copy (cropped or padded).
    let people = match &e.report.facts {
        Facts::Image(f) => f.subject.as_ref().and_then(|s| s.pose.as_ref()),
        _ => None,
    }
    .map(|p| (p.people.as_slice(), people::Thresholds::of(page.profile)));
    let before = e
        .artefacts
        .and_then(|a| a.thumbs.first())
        .zip(display)
        .map(|(t, d)| {
            timeline::image_guides(&t.data_uri(), d, &page.profile.image, PICTURE_PX, people)
        });
    let after =
        e.after.and_then(|a| a.picture.as_ref()).map(|(t, d)| {
            timeline::image_guides(&t.data_uri(), *d, &page.profile.image, PICTURE_PX, None)
                .replacen("class=\"thumb\"", "class=\"thumb after\"", 1)
        });
    if before.is_none() && after.is_none() {
        if let Some(n) = e.artefacts.and_then(|a| a.note.as_deref()) {
            let _ = write!(s, "<p class=\"note\">no picture: {}</p>", esc(n));
        }
        return;
    }
    s.push_str("<div class=\"pics\">");
    if let Some(b) = before {
        let (w, h) = display.unwrap_or_default();
        let _ = write!(
            s,
            "<figure>{b}<figcaption>{}{w}×{h} px (aspect {:.2})</figcaption></figure>",
            if after.is_some() { "before · " } else { "" },
            w as f64 / h.max(1) as f64
        );
    }
    if let (Some(a), Some((_, (w, h)))) = (after, e.after.and_then(|a| a.picture.as_ref())) {
        let _ = write!(
            s,
            "<figure>{a}<figcaption>after · {w}×{h} px (aspect {:.2})</figcaption></figure>",
            *w as f64 / (*h).max(1) as f64
        );
    }
    s.push_str("</div>");
}

fn diagnostics(s: &mut String, diags: &[Diagnostic], class: &str) {
    if diags.is_empty() {
        let _ = write!(s, "<p class=\"{class} none\">no findings</p>");
        return;
    }
    let _ = write!(
        s,
        "<table class=\"{class}\"><thead><tr><th>severity</th><th>rule</th><th>finding</th><th>fix</th></tr></thead><tbody>"
    );
    for d in diags {
        let fix = match (&d.fix, d.fix_safety.as_deref()) {
            (Some(f), Some("unsafe")) => format!("{f} (unsafe)"),
            (Some(f), _) => f.clone(),
            (None, _) => "—".into(),
        };
        let _ = write!(
            s,
            "<tr class=\"{sev}\"><td class=\"sev {sev}\">{sev}</td><td><code>{}</code> {}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.code),
            esc(&d.name),
            esc(&d.message),
            esc(&fix),
            sev = d.severity.name()
        );
    }
    s.push_str("</tbody></table>");
}

fn after_fix(s: &mut String, a: &AfterFix) {
    let verdict = a
        .verdict_after
        .map(|v| format!(" → <span class=\"badge {}\">{}</span>", v.name(), v.name()))
        .unwrap_or_default();
    let _ = write!(
        s,
        "<div class=\"after\"><h3>fix: <span class=\"status\">{}</span>{verdict}</h3>",
        esc(&a.status)
    );
    if let Some(o) = &a.output {
        let _ = write!(s, "<p>output <code>{}</code></p>", esc(o));
    }
    if !a.actions.is_empty() {
        s.push_str("<ul class=\"actions\">");
        for (fix, tier, detail) in &a.actions {
            let _ = write!(
                s,
                "<li><b>{}</b> ({}): {}</li>",
                esc(fix),
                esc(tier),
                esc(detail)
            );
        }
        s.push_str("</ul>");
    }
    if !a.blocked.is_empty() {
        s.push_str("<ul class=\"blocked\">");
        for (fix, detail) in &a.blocked {
            let _ = write!(
                s,
                "<li>--unsafe-fixes would apply <b>{}</b>: {}</li>",
                esc(fix),
                esc(detail)
            );
        }
        s.push_str("</ul>");
    }
    if let Some(r) = &a.reason {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(r));
    }
    if a.output.is_some() && a.status == "fixed" {
        let remaining: Vec<Diagnostic> = a
            .diagnostics_after
            .iter()
            .filter(|d| d.severity > Severity::Info)
            .cloned()
            .collect();
        diagnostics(s, &remaining, "diagnostics after");
    }
    s.push_str("</div>");
}

/// Facts as (key, text) rows: nested objects flattened with dots, lists of cuts and spans written
/// out (the first 8).
fn fact_rows(v: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::Object(_) => fact_rows(v, &key(k), out),
                    Value::Array(items) => {
                        let mut parts: Vec<String> = items.iter().take(8).map(item).collect();
                        if items.len() > 8 {
                            parts.push(format!("… ({} in all)", items.len()));
                        }
                        if parts.is_empty() {
                            parts.push("none".into());
                        }
                        out.push((key(k), parts.join(", ")));
                    }
                    Value::Null => {}
                    v => out.push((key(k), scalar(v))),
                }
            }
        }
        v => out.push((prefix.to_string(), scalar(v))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{}", (f * 1000.0).round() / 1000.0),
            _ => n.to_string(),
        },
        v => v.to_string(),
    }
}

fn item(v: &Value) -> String {
    let f = |k: &str| v.get(k).and_then(Value::as_f64);
    if let (Some(t), Some(fr)) = (f("time_s"), v.get("frame")) {
        return format!("{t:.3} s (frame {fr})");
    }
    if let (Some(a), Some(b)) = (f("start_s"), f("end_s")) {
        return format!("{a:.2}–{b:.2} s");
    }
    scalar(v)
}

const LEGEND: &str = concat!(
    "<p class=\"legend\">Timeline: <svg width=\"14\" height=\"10\"><rect class=\"frozen\" width=\"14\" height=\"10\"/></svg> frozen ",
    "<svg width=\"14\" height=\"10\"><line class=\"cut hard\" x1=\"7\" x2=\"7\" y1=\"0\" y2=\"10\"/></svg> cut ",
    "<svg width=\"14\" height=\"10\"><line class=\"cut gradual\" x1=\"7\" x2=\"7\" y1=\"0\" y2=\"10\"/></svg> gradual transition ",
    "<svg width=\"14\" height=\"10\"><rect class=\"camera\" width=\"14\" height=\"5\"/></svg> camera motion ",
    "<svg width=\"14\" height=\"10\"><rect class=\"longest\" width=\"14\" height=\"8\"/></svg> longest continuous motion ",
    "<svg width=\"14\" height=\"10\"><rect class=\"trim\" width=\"14\" height=\"10\"/></svg> trim window (after fix) ",
    "<svg width=\"14\" height=\"10\"><polyline class=\"signal\" points=\"0,9 4,6 7,8 10,2 14,7\"/></svg> motion energy (√ scale) ",
    "<br/>Pictures: dashed boxes are the profile's edge and aspect limits (red = violated; a red aspect box is the crop that would pass).",
);

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cut, ImageFacts, ImageFormat, VideoAnalysis};

    fn video_report(path: &str, cuts: usize) -> FileReport {
        let mut v = crate::model::samples::video(1280, 720, 12.0);
        v.analysis = Some(VideoAnalysis {
            cuts: (0..cuts)
                .map(|i| Cut {
                    time_s: 1.0 + i as f64,
                    frame: 30 + 30 * i as u64,
                    kind: "hard".into(),
                    score: 30.0,
                })
                .collect(),
            ..VideoAnalysis::default()
        });
        let diags = vec![Diagnostic {
            code: "V010".into(),
            name: "video-has-shot-cuts".into(),
            severity: Severity::Error,
            message: "cuts <here> & \"there\"".into(),
            fix: Some("trim".into()),
            fix_safety: Some("safe".into()),
        }];
        FileReport {
            path: path.into(),
            path_base64: None,
            kind: Kind::Video,
            format: Some("mp4".into()),
            verdict: Verdict::of(&diags),
            facts: Facts::Video(v),
            diagnostics: diags,
        }
    }

    fn image_report(path: &str) -> FileReport {
        FileReport {
            path: path.into(),
            path_base64: None,
            kind: Kind::Image,
            format: Some("jpeg".into()),
            verdict: Verdict::Pass,
            facts: Facts::Image(ImageFacts {
                width: 800,
                height: 1200,
                ..ImageFacts::blank(ImageFormat::Jpeg, 1000)
            }),
            diagnostics: vec![],
        }
    }

    /// A noisy thumbnail (compresses like a real frame, unlike a flat colour).
    fn noisy_thumb(seed: u32) -> Thumb {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        let img = image::RgbImage::from_fn(160, 90, |px, py| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let base = ((px + py) * 2) as u8;
            image::Rgb([base.wrapping_add((x & 7) as u8), base, (x >> 8) as u8 & 15])
        });
        Thumb::encode(&img).unwrap()
    }

    fn strip(n: usize, shots: usize) -> Artefacts {
        Artefacts {
            thumbs: (0..n)
                .map(|i| Thumb {
                    t: Some(i as f64),
                    shot: (i < shots).then_some(i),
                    ..noisy_thumb(i as u32 + 1)
                })
                .collect(),
            signal: (0..400).map(|i| (i as f32 * 0.03, 2.0)).collect(),
            ..Artefacts::default()
        }
    }

    fn profile() -> Profile {
        crate::profile::lookup("strict", &Default::default()).unwrap()
    }

    #[test]
    fn escaping_covers_markup_characters() {
        assert_eq!(
            esc("<a href=\"x\">Tom & Jerry's</a>\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;\u{fffd}"
        );
    }

    #[test]
    fn names_with_markup_are_escaped_everywhere() {
        let p = profile();
        let v = video_report("<&\"quote's\">.mp4", 2);
        let a = strip(3, 1);
        let page = Page {
            command: "check",
            profile: &p,
            orientation: Orientation::Video,
            entries: vec![Entry {
                report: &v,
                artefacts: Some(&a),
                after: None,
            }],
        };
        let html = render(&page);
        assert!(html.contains("&lt;&amp;&quot;quote&apos;s&quot;&gt;.mp4"));
        assert!(!html.contains("<&\"quote"));
        assert!(html.contains("cuts &lt;here&gt; &amp; &quot;there&quot;"));
        assert_eq!(html.matches("<svg class=\"timeline\"").count(), 1);
        assert_eq!(html.matches("<line class=\"cut hard\"").count(), 2 + 1); // + the legend's
    }

    /// Issue 16: a plain check's page claimed "$N credits saved" summed per failing file (corrupt and
    /// unrelated files included, at a price `submit` does not use). Pairs are not known here.
    #[test]
    fn check_page_claims_no_credits_saved_per_file() {
        let p = profile();
        let v = video_report("a.mp4", 1);
        let page = Page {
            command: "check",
            profile: &p,
            orientation: Orientation::Video,
            entries: vec![Entry {
                report: &v,
                artefacts: None,
                after: None,
            }],
        };
        let html = render(&page);
        assert_eq!(v.verdict, Verdict::Fail);
        assert!(
            !html.contains("saved") && !html.contains("credits"),
            "{html}"
        );
        assert!(!html.contains("SPEC"));
    }

    #[test]
    fn a_thousand_file_run_stays_under_20_mb() {
        let p = profile();
        let videos: Vec<FileReport> = (0..500)
            .map(|i| video_report(&format!("clips/{i}.mp4"), 5))
            .collect();
        let images: Vec<FileReport> = (0..500)
            .map(|i| image_report(&format!("chars/{i}.jpg")))
            .collect();
        // Worst case for videos: a full strip (6 shots + 8 even frames) each.
        let vart = strip(14, 6);
        let iart = Artefacts {
            thumbs: vec![noisy_thumb(7)],
            ..Artefacts::default()
        };
        let mut entries = Vec::new();
        for (v, i) in videos.iter().zip(&images) {
            entries.push(Entry {
                report: v,
                artefacts: Some(&vart),
                after: None,
            });
            entries.push(Entry {
                report: i,
                artefacts: Some(&iart),
                after: None,
            });
        }
        let page = Page {
            command: "check",
            profile: &p,
            orientation: Orientation::Video,
            entries,
        };
        let html = render(&page);
        assert!(html.len() < 20_000_000, "{} bytes", html.len());
        assert_eq!(html.matches("<svg class=\"timeline\"").count(), 500);
        assert_eq!(html.matches("<image class=\"thumb\"").count(), 500);
        // Shot frames go last: all six survive unless the cap is below six.
        let cap = strip_cap(&page.entries);
        assert!(cap >= 4, "cap {cap}");
        assert_eq!(
            html.matches("<figure class=\"shot\">").count(),
            500 * cap.min(6)
        );
        eprintln!(
            "1,000 files: {:.1} MB, at most {} filmstrip frames per video",
            html.len() as f64 / 1e6,
            strip_cap(&page.entries)
        );
    }

    #[test]
    fn thinning_spreads_the_kept_frames() {
        assert_eq!(thin(8, 3), vec![0, 2, 5]);
        assert_eq!(thin(2, 5), vec![0, 1]);
        assert!(thin(4, 0).is_empty());
    }
}
