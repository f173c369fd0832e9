//! OpenCV boosted cascades (Viola–Jones), evaluated in Rust: the new-format XML written by
//! `opencv_traincascade` (`<cascade><stageType>BOOST` with `HAAR` or `LBP` features), integral images,
//! a sliding window over an image pyramid, and OpenCV's `groupRectangles` to merge the overlapping hits.
//!
//! It follows `cv::CascadeClassifier::detectMultiScale` (cascadedetect.cpp): the image is scaled down
//! by `scale_factor` per level and the window (the cascade's trained size) slides in steps of 2 px (1 px
//! once the scale passes 2, or 2 px throughout when `Params::fine` is off); HAAR features are normalised by the window's standard deviation; LBP
//! features are 8-bit codes of 3×3 blocks looked up in a 256-bit subset per node. Tilted HAAR features
//! (45° rectangles) are not supported: loading a cascade that uses them is an error, and the face
//! cascades we ship have none.

use image::GrayImage;

use super::xml::{self, Node};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureType {
    Haar,
    Lbp,
}

/// One weighted rectangle of a HAAR feature, in window coordinates.
#[derive(Debug, Clone, Copy)]
struct WRect {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    weight: f32,
}

#[derive(Debug, Clone)]
enum Feature {
    Haar(Vec<WRect>),
    /// x, y, block width, block height (the 3×3 grid covers 3w × 3h).
    Lbp([u32; 4]),
}

#[derive(Debug, Clone)]
struct NodeDef {
    left: i32,
    right: i32,
    feature: usize,
    threshold: f32,
    /// 8 × 32-bit category subset (LBP only).
    subset: [i32; 8],
}

#[derive(Debug, Clone)]
struct Weak {
    nodes: Vec<NodeDef>,
    leaves: Vec<f32>,
}

#[derive(Debug, Clone)]
struct Stage {
    threshold: f32,
    weaks: Vec<Weak>,
}

/// A loaded cascade.
#[derive(Debug, Clone)]
pub struct Cascade {
    pub feature_type: FeatureType,
    /// Trained window size.
    pub width: u32,
    pub height: u32,
    stages: Vec<Stage>,
    features: Vec<Feature>,
}

/// A detection in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

/// Settings of one detection run (OpenCV's detectMultiScale parameters).
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub scale_factor: f64,
    /// A hit must be found by more than this many overlapping windows.
    pub min_neighbors: usize,
    /// Smallest object, pixels (the window's size when smaller).
    pub min_size: u32,
    /// OpenCV's stepping (1 px once the scale passes 2) rather than 2 px throughout: better recall
    /// for large objects, about twice the work.
    pub fine: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            scale_factor: 1.1,
            min_neighbors: 3,
            min_size: 0,
            fine: true,
        }
    }
}

/// OpenCV subtracts this from stage thresholds when loading.
const THRESHOLD_EPS: f32 = 1e-5;

fn nums<T: std::str::FromStr>(text: &str, what: &str) -> Result<Vec<T>, String> {
    text.split_whitespace()
        .map(|t| {
            t.parse::<T>()
                .map_err(|_| format!("{what}: {t:?} is not a number"))
        })
        .collect()
}

fn num<T: std::str::FromStr>(node: &Node, name: &str) -> Result<T, String> {
    let t = node
        .child_text(name)
        .ok_or_else(|| format!("<{}> has no <{name}>", node.name))?;
    t.parse::<T>()
        .map_err(|_| format!("<{name}> {t:?} is not a number"))
}

impl Cascade {
    /// Parse a cascade from OpenCV's XML. Errors name what is wrong; nothing panics on bad input.
    pub fn from_xml(text: &str) -> Result<Cascade, String> {
        let root = xml::parse(text)?;
        let c = root
            .child("cascade")
            .ok_or("not a new-format OpenCV cascade (no <cascade> element; old-format files are not supported)")?;
        let stage_type = c.child_text("stageType").unwrap_or("");
        if stage_type != "BOOST" {
            return Err(format!("stageType {stage_type:?}: only BOOST is supported"));
        }
        let feature_type = match c.child_text("featureType") {
            Some("HAAR") => FeatureType::Haar,
            Some("LBP") => FeatureType::Lbp,
            other => {
                return Err(format!(
                    "featureType {other:?}: only HAAR and LBP are supported"
                ));
            }
        };
        let width: u32 = num(c, "width")?;
        let height: u32 = num(c, "height")?;
        if !(4..=512).contains(&width) || !(4..=512).contains(&height) {
            return Err(format!("window {width}x{height} is implausible"));
        }
        let cat = c
            .child("featureParams")
            .and_then(|p| p.child_text("maxCatCount"))
            .unwrap_or("0");
        let subset_size = match (feature_type, cat) {
            (FeatureType::Haar, "0") => 0,
            (FeatureType::Lbp, "256") => 8,
            (_, cat) => return Err(format!("maxCatCount {cat} does not fit the feature type")),
        };

        let features = c
            .child("features")
            .ok_or("no <features>")?
            .children
            .iter()
            .enumerate()
            .map(|(i, f)| {
                read_feature(f, feature_type, width, height)
                    .map_err(|e| format!("feature {i}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let step = 3 + if subset_size > 0 { subset_size } else { 1 };
        let mut stages = Vec::new();
        for (si, s) in c
            .child("stages")
            .ok_or("no <stages>")?
            .children
            .iter()
            .enumerate()
        {
            let threshold: f32 =
                num(s, "stageThreshold").map_err(|e| format!("stage {si}: {e}"))?;
            let mut weaks = Vec::new();
            let wc = s
                .child("weakClassifiers")
                .ok_or_else(|| format!("stage {si}: no <weakClassifiers>"))?;
            for w in &wc.children {
                let inner: Vec<f64> =
                    nums(w.child_text("internalNodes").unwrap_or(""), "internalNodes")?;
                let leaves: Vec<f32> =
                    nums(w.child_text("leafValues").unwrap_or(""), "leafValues")?;
                if inner.is_empty() || !inner.len().is_multiple_of(step) {
                    return Err(format!(
                        "stage {si}: internalNodes has {} numbers, not a multiple of {step}",
                        inner.len()
                    ));
                }
                let n = inner.len() / step;
                if leaves.len() != n + 1 {
                    return Err(format!("stage {si}: {} leaves for {n} nodes", leaves.len()));
                }
                let mut nodes = Vec::with_capacity(n);
                for k in inner.chunks(step) {
                    let int = |v: f64| -> Result<i32, String> {
                        if v.fract() == 0.0 && v.abs() <= i32::MAX as f64 + 1.0 {
                            Ok(v as i64 as i32)
                        } else {
                            Err(format!("stage {si}: {v} is not an integer"))
                        }
                    };
                    let (left, right, feature) = (int(k[0])?, int(k[1])?, int(k[2])?);
                    // Children: > 0 an internal node of this tree, <= 0 a leaf (-index).
                    for child in [left, right] {
                        let ok = if child > 0 {
                            (child as usize) < n
                        } else {
                            ((-child) as usize) <= n
                        };
                        if !ok {
                            return Err(format!("stage {si}: node child {child} out of range"));
                        }
                    }
                    if feature < 0 || feature as usize >= features.len() {
                        return Err(format!("stage {si}: feature index {feature} out of range"));
                    }
                    let mut subset = [0i32; 8];
                    let mut threshold = 0.0;
                    if subset_size > 0 {
                        for (j, v) in k[3..].iter().enumerate() {
                            // Stored as signed 32-bit integers; parse through i64 for -2^31.
                            subset[j] = *v as i64 as i32;
                        }
                    } else {
                        threshold = k[3] as f32;
                    }
                    nodes.push(NodeDef {
                        left,
                        right,
                        feature: feature as usize,
                        threshold,
                        subset,
                    });
                }
                // A tree must not loop: children point forward in OpenCV's layout.
                for (i, nd) in nodes.iter().enumerate() {
                    for child in [nd.left, nd.right] {
                        if child > 0 && (child as usize) <= i {
                            return Err(format!(
                                "stage {si}: node {i} points back to node {child}"
                            ));
                        }
                    }
                }
                weaks.push(Weak { nodes, leaves });
            }
            if weaks.is_empty() {
                return Err(format!("stage {si} has no weak classifiers"));
            }
            stages.push(Stage {
                threshold: threshold - THRESHOLD_EPS,
                weaks,
            });
        }
        if stages.is_empty() {
            return Err("no stages".into());
        }
        Ok(Cascade {
            feature_type,
            width,
            height,
            stages,
            features,
        })
    }

    /// Objects in a grey image, grouped (image pixels).
    pub fn detect(&self, img: &GrayImage, p: &Params) -> Vec<Rect> {
        let mut hits = Vec::new();
        let (iw, ih) = (img.width(), img.height());
        let mut factor = 1.0f64;
        let min = p.min_size.max(self.width.min(self.height)) as f64;
        loop {
            let sw = (iw as f64 / factor).round() as u32;
            let sh = (ih as f64 / factor).round() as u32;
            if sw < self.width + 1 || sh < self.height + 1 {
                break;
            }
            if (self.width.min(self.height) as f64) * factor >= min {
                let step = if p.fine && factor > 2.0 { 1 } else { 2 };
                if factor == 1.0 {
                    self.scan(img, step, factor, &mut hits);
                } else {
                    self.scan(&bilinear(img, sw, sh), step, factor, &mut hits);
                }
            }
            factor *= p.scale_factor.max(1.01);
        }
        group_rectangles(&hits, p.min_neighbors, 0.2)
    }

    fn scan(&self, img: &GrayImage, step: usize, factor: f64, hits: &mut Vec<Rect>) {
        let ii = Integral::new(img, self.feature_type == FeatureType::Haar);
        let st = ii.w as i32;
        // Every feature's rectangle corners as offsets into the integral image from the window's origin.
        let corners = |x: u32, y: u32, w: u32, h: u32| {
            let (x, y, w, h) = (x as i32, y as i32, w as i32, h as i32);
            [
                y * st + x,
                y * st + x + w,
                (y + h) * st + x,
                (y + h) * st + x + w,
            ]
        };
        let mut haar: Vec<HaarOffs> = Vec::new();
        let mut lbp: Vec<[i32; 16]> = Vec::new();
        for f in &self.features {
            match f {
                Feature::Haar(rects) => {
                    let mut o = [([0i32; 4], 0f32); 3];
                    for (k, r) in rects.iter().enumerate() {
                        o[k] = (corners(r.x, r.y, r.w, r.h), r.weight);
                    }
                    haar.push((o, rects.len()));
                }
                Feature::Lbp([x, y, w, h]) => {
                    let mut o = [0i32; 16];
                    for i in 0..4i32 {
                        for j in 0..4i32 {
                            o[(i * 4 + j) as usize] =
                                (*y as i32 + i * *h as i32) * st + *x as i32 + j * *w as i32;
                        }
                    }
                    lbp.push(o);
                }
            }
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let norm = corners(1, 1, self.width - 2, self.height - 2);
        let area = ((self.width - 2) * (self.height - 2)) as f64;
        let mut y = 0;
        while y + h < ii.h {
            let mut x = 0;
            while x + w < ii.w {
                let base = y * ii.w + x;
                let s = &ii.s[base..];
                let pass = match self.feature_type {
                    FeatureType::Haar => {
                        // OpenCV's normrect: the window less a 1-px border; flat windows are rejected.
                        let sum = sum4(s, &norm) as f64;
                        let q = &ii.sq[base..];
                        let sq = (q[norm[3] as usize] + q[norm[0] as usize])
                            - (q[norm[1] as usize] + q[norm[2] as usize]);
                        let nf = area * sq as f64 - sum * sum;
                        let inv = if nf > 0.0 {
                            1.0 / nf.sqrt()
                        } else {
                            f64::INFINITY
                        };
                        area * inv < 0.1
                            && self.stages_pass(|node| {
                                let (rects, n) = &haar[node.feature];
                                let mut v = 0.0f32;
                                for (o, wgt) in &rects[..*n] {
                                    v += wgt * sum4(s, o) as f32;
                                }
                                v * (inv as f32) < node.threshold
                            })
                    }
                    FeatureType::Lbp => self.stages_pass(|node| {
                        let c = lbp_code(s, &lbp[node.feature]);
                        node.subset[(c >> 5) as usize] & (1 << (c & 31)) != 0
                    }),
                };
                if pass {
                    hits.push(Rect {
                        x: (x as f64 * factor).round() as i32,
                        y: (y as f64 * factor).round() as i32,
                        w: (w as f64 * factor).round() as i32,
                        h: (h as f64 * factor).round() as i32,
                    });
                }
                x += step;
            }
            y += step;
        }
    }

    /// Whether a window passes every stage; `left(node)` evaluates a node's feature test.
    #[inline]
    fn stages_pass(&self, left: impl Fn(&NodeDef) -> bool) -> bool {
        for stage in &self.stages {
            let mut sum = 0.0f32;
            for weak in &stage.weaks {
                let mut idx = 0i32;
                loop {
                    let node = &weak.nodes[idx as usize];
                    idx = if left(node) { node.left } else { node.right };
                    if idx <= 0 {
                        break;
                    }
                }
                sum += weak.leaves[(-idx) as usize];
            }
            if sum < stage.threshold {
                return false;
            }
        }
        true
    }
}

/// A HAAR feature's rectangles (corner offsets, weight) at one pyramid level, and how many are used.
type HaarOffs = ([([i32; 4], f32); 3], usize);

/// Sum of a rectangle given its four corner offsets from `s`'s start.
#[inline]
fn sum4(s: &[u32], o: &[i32; 4]) -> i32 {
    (s[o[3] as usize] as i32)
        .wrapping_sub(s[o[1] as usize] as i32)
        .wrapping_sub(s[o[2] as usize] as i32)
        .wrapping_add(s[o[0] as usize] as i32)
}

/// OpenCV's LBP code: each outer block's sum compared with the centre block's, clockwise from the
/// top-left (bit 7) to the middle-left (bit 0).
#[inline]
fn lbp_code(s: &[u32], o: &[i32; 16]) -> u32 {
    let b = |p0: usize, p1: usize, p2: usize, p3: usize| -> i64 {
        s[o[p3] as usize] as i64 - s[o[p1] as usize] as i64 - s[o[p2] as usize] as i64
            + s[o[p0] as usize] as i64
    };
    let c = b(5, 6, 9, 10);
    let bit = |v: i64, w: u32| if v >= c { w } else { 0 };
    bit(b(0, 1, 4, 5), 128)
        | bit(b(1, 2, 5, 6), 64)
        | bit(b(2, 3, 6, 7), 32)
        | bit(b(6, 7, 10, 11), 16)
        | bit(b(10, 11, 14, 15), 8)
        | bit(b(9, 10, 13, 14), 4)
        | bit(b(8, 9, 12, 13), 2)
        | bit(b(4, 5, 8, 9), 1)
}

/// Bilinear downscale (OpenCV's INTER_LINEAR pixel-centre mapping), as detectMultiScale's pyramid.
fn bilinear(img: &GrayImage, tw: u32, th: u32) -> GrayImage {
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let (fx, fy) = (sw as f32 / tw as f32, sh as f32 / th as f32);
    let xs: Vec<(usize, usize, f32)> = (0..tw as usize)
        .map(|x| {
            let p = ((x as f32 + 0.5) * fx - 0.5).max(0.0);
            let x0 = (p as usize).min(sw - 1);
            ((x0), (x0 + 1).min(sw - 1), p - x0 as f32)
        })
        .collect();
    let mut out = Vec::with_capacity(tw as usize * th as usize);
    for y in 0..th as usize {
        let p = ((y as f32 + 0.5) * fy - 0.5).max(0.0);
        let y0 = (p as usize).min(sh - 1);
        let y1 = (y0 + 1).min(sh - 1);
        let ay = p - y0 as f32;
        let (r0, r1) = (&src[y0 * sw..(y0 + 1) * sw], &src[y1 * sw..(y1 + 1) * sw]);
        for &(x0, x1, ax) in &xs {
            let top = r0[x0] as f32 * (1.0 - ax) + r0[x1] as f32 * ax;
            let bot = r1[x0] as f32 * (1.0 - ax) + r1[x1] as f32 * ax;
            out.push((top * (1.0 - ay) + bot * ay + 0.5) as u8);
        }
    }
    GrayImage::from_raw(tw, th, out).expect("buffer sized for the image")
}

fn read_feature(f: &Node, t: FeatureType, ww: u32, wh: u32) -> Result<Feature, String> {
    match t {
        FeatureType::Haar => {
            if f.child_text("tilted").is_some_and(|v| v != "0") {
                return Err("tilted (45°) HAAR features are not supported".into());
            }
            let rects = f.child("rects").ok_or("no <rects>")?;
            let mut out = Vec::new();
            for r in &rects.children {
                let v: Vec<f64> = nums(&r.text, "rect")?;
                if v.len() != 5 || v[..4].iter().any(|&n| n < 0.0 || n.fract() != 0.0) {
                    return Err(format!("rect {:?} is not x y w h weight", r.text.trim()));
                }
                let (x, y, w, h) = (v[0] as u32, v[1] as u32, v[2] as u32, v[3] as u32);
                if x + w > ww || y + h > wh {
                    return Err(format!("rect {x} {y} {w} {h} leaves the {ww}x{wh} window"));
                }
                out.push(WRect {
                    x,
                    y,
                    w,
                    h,
                    weight: v[4] as f32,
                });
            }
            if out.is_empty() || out.len() > 3 {
                return Err(format!("{} rects (1–3 expected)", out.len()));
            }
            Ok(Feature::Haar(out))
        }
        FeatureType::Lbp => {
            let v: Vec<u32> = nums(f.child_text("rect").ok_or("no <rect>")?, "rect")?;
            if v.len() != 4
                || v[2] == 0
                || v[3] == 0
                || v[0] + 3 * v[2] > ww
                || v[1] + 3 * v[3] > wh
            {
                return Err(format!("LBP rect {v:?} does not fit the {ww}x{wh} window"));
            }
            Ok(Feature::Lbp([v[0], v[1], v[2], v[3]]))
        }
    }
}

/// Summed-area tables: `s[y][x]` = sum of pixels above and left of (x, y), size (w+1)×(h+1).
struct Integral {
    w: usize,
    h: usize,
    s: Vec<u32>,
    sq: Vec<u64>,
}

impl Integral {
    fn new(img: &GrayImage, squares: bool) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let stride = w + 1;
        let mut s = vec![0u32; stride * (h + 1)];
        let mut sq = if squares {
            vec![0u64; stride * (h + 1)]
        } else {
            Vec::new()
        };
        let raw = img.as_raw();
        for y in 0..h {
            let mut row = 0u32;
            let mut row_sq = 0u64;
            for x in 0..w {
                let v = raw[y * w + x] as u32;
                row += v;
                s[(y + 1) * stride + x + 1] = s[y * stride + x + 1] + row;
                if squares {
                    row_sq += (v * v) as u64;
                    sq[(y + 1) * stride + x + 1] = sq[y * stride + x + 1] + row_sq;
                }
            }
        }
        Integral {
            w: stride,
            h: h + 1,
            s,
            sq,
        }
    }

    #[cfg(test)]
    fn sum(&self, x: usize, y: usize, w: usize, h: usize) -> i64 {
        let st = self.w;
        let a = self.s[y * st + x] as i64;
        let b = self.s[y * st + x + w] as i64;
        let c = self.s[(y + h) * st + x] as i64;
        let d = self.s[(y + h) * st + x + w] as i64;
        d - b - c + a
    }

    #[cfg(test)]
    fn sqsum(&self, x: usize, y: usize, w: usize, h: usize) -> u64 {
        let st = self.w;
        let a = self.sq[y * st + x];
        let b = self.sq[y * st + x + w];
        let c = self.sq[(y + h) * st + x];
        let d = self.sq[(y + h) * st + x + w];
        (d + a) - (b + c)
    }
}

/// OpenCV's `groupRectangles`: cluster similar rectangles, keep clusters with more than
/// `min_neighbors` members (averaged), then drop small clusters inside bigger, stronger ones.
pub fn group_rectangles(rects: &[Rect], min_neighbors: usize, eps: f64) -> Vec<Rect> {
    let n = rects.len();
    let mut label: Vec<usize> = (0..n).collect();
    fn find(l: &mut [usize], mut i: usize) -> usize {
        while l[i] != i {
            l[i] = l[l[i]];
            i = l[i];
        }
        i
    }
    let similar = |a: &Rect, b: &Rect| {
        let delta = eps * (a.w.min(b.w) + a.h.min(b.h)) as f64 * 0.5;
        (a.x - b.x).abs() as f64 <= delta
            && (a.y - b.y).abs() as f64 <= delta
            && (a.x + a.w - b.x - b.w).abs() as f64 <= delta
            && (a.y + a.h - b.y - b.h).abs() as f64 <= delta
    };
    for i in 0..n {
        for j in 0..i {
            if similar(&rects[i], &rects[j]) {
                let (a, b) = (find(&mut label, i), find(&mut label, j));
                if a != b {
                    label[a] = b;
                }
            }
        }
    }
    let mut classes: std::collections::BTreeMap<usize, (i64, i64, i64, i64, usize)> =
        Default::default();
    for (i, r) in rects.iter().enumerate() {
        let c = find(&mut label, i);
        let e = classes.entry(c).or_default();
        e.0 += r.x as i64;
        e.1 += r.y as i64;
        e.2 += r.w as i64;
        e.3 += r.h as i64;
        e.4 += 1;
    }
    let avg: Vec<(Rect, usize)> = classes
        .values()
        .map(|&(x, y, w, h, k)| {
            let s = 1.0 / k as f64;
            let r = |v: i64| (v as f64 * s).round() as i32;
            (
                Rect {
                    x: r(x),
                    y: r(y),
                    w: r(w),
                    h: r(h),
                },
                k,
            )
        })
        .collect();
    let mut out = Vec::new();
    for (i, (r1, n1)) in avg.iter().enumerate() {
        if *n1 <= min_neighbors {
            continue;
        }
        let inside = avg.iter().enumerate().any(|(j, (r2, n2))| {
            if i == j || *n2 <= min_neighbors {
                return false;
            }
            let dx = (r2.w as f64 * eps).round() as i32;
            let dy = (r2.h as f64 * eps).round() as i32;
            r1.x >= r2.x - dx
                && r1.y >= r2.y - dy
                && r1.x + r1.w <= r2.x + r2.w + dx
                && r1.y + r1.h <= r2.y + r2.h + dy
                && (*n2 > (*n1).max(3) || *n1 < 3)
        });
        if !inside {
            out.push(*r1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_sums_and_lbp() {
        let img = GrayImage::from_fn(6, 6, |x, y| image::Luma([(x + 6 * y) as u8]));
        let ii = Integral::new(&img, true);
        assert_eq!(ii.sum(0, 0, 6, 6), (0..36).sum::<i64>());
        assert_eq!(ii.sum(1, 2, 2, 1), 13 + 14);
        assert_eq!(ii.sqsum(1, 2, 2, 1), 13 * 13 + 14 * 14);
        // Brightness grows right and down: blocks right of or below the centre are >= it.
        let st = ii.w as i32;
        let mut o = [0i32; 16];
        for i in 0..4 {
            for j in 0..4 {
                o[(i * 4 + j) as usize] = i * 2 * st + j * 2;
            }
        }
        assert_eq!(lbp_code(&ii.s, &o), 16 | 8 | 4 | 2);
    }

    #[test]
    fn grouping_needs_neighbours_and_drops_nested() {
        let r = |x, y, w| Rect { x, y, w, h: w };
        let mut hits = vec![r(10, 10, 40), r(11, 10, 40), r(10, 11, 41), r(12, 12, 40)];
        hits.push(r(200, 200, 30)); // alone: dropped
        let g = group_rectangles(&hits, 3, 0.2);
        assert_eq!(g, vec![r(11, 11, 40)]);
        assert!(group_rectangles(&hits, 4, 0.2).is_empty());
    }

    /// Robustness: every truncation and many one-byte corruptions of a real cascade load or fail
    /// with an error; none panics, and whatever loads can run.
    #[test]
    fn damaged_real_cascades_never_panic() {
        let text = include_str!("data/haarcascade_frontalface_alt2.xml");
        let img = GrayImage::from_fn(64, 64, |x, y| image::Luma([((x * 7) ^ (y * 3)) as u8]));
        let step = text.len() / 97;
        for cut in (0..text.len()).step_by(step) {
            let _ = Cascade::from_xml(&text[..cut]);
        }
        let bytes = text.as_bytes();
        for (k, pos) in (2000..bytes.len()).step_by(bytes.len() / 61).enumerate() {
            let mut b = bytes.to_vec();
            b[pos] = b"<>/0-9 x."[k % 9];
            if let Ok(t) = std::str::from_utf8(&b)
                && let Ok(c) = Cascade::from_xml(t)
            {
                let _ = c.detect(&img, &Params::default());
            }
        }
    }

    #[test]
    fn malformed_cascades_are_errors() {
        let wrap = |body: &str| {
            format!(
                "<opencv_storage><cascade><stageType>BOOST</stageType><featureType>HAAR</featureType><height>20</height><width>20</width><featureParams><maxCatCount>0</maxCatCount></featureParams>{body}</cascade></opencv_storage>"
            )
        };
        let feat = "<features><_><rects><_>0 0 4 4 -1.</_><_>0 0 2 4 2.</_></rects></_></features>";
        let ok = wrap(&format!(
            "<stages><_><stageThreshold>0.1</stageThreshold><weakClassifiers><_><internalNodes>0 -1 0 0.5</internalNodes><leafValues>0.2 0.8</leafValues></_></weakClassifiers></_></stages>{feat}"
        ));
        assert!(
            Cascade::from_xml(&ok).is_ok(),
            "{:?}",
            Cascade::from_xml(&ok).err()
        );
        for bad in [
            ok.replace("0 -1 0 0.5", "0 -1 7 0.5"), // feature out of range
            ok.replace("0 -1 0 0.5", "0 -1 0"),     // short node
            ok.replace("0 -1 0 0.5", "3 -1 0 0.5"), // child out of range
            ok.replace("0.2 0.8", "0.2"),           // leaves
            ok.replace("0 0 4 4 -1.", "18 0 4 4 -1."), // rect outside window
            ok.replace("HAAR", "HOG"),
            ok.replace("0.1</stageThreshold>", "x</stageThreshold>"),
            ok.replace("<stages>", "<stagez>")
                .replace("</stages>", "</stagez>"),
            ok[..ok.len() / 2].to_string(),
            "not xml".into(),
        ] {
            assert!(Cascade::from_xml(&bad).is_err(), "{bad}");
        }
    }
}
