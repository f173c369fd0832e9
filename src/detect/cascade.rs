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

/// One level of the image pyramid: the scaled image size, the window step and the scale factor.
#[derive(Debug, Clone, Copy)]
struct Level {
    sw: u32,
    sh: u32,
    step: usize,
    factor: f64,
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
        group_rectangles(
            &self.detect_raw(img, p, Lanes::best()),
            p.min_neighbors,
            0.2,
        )
    }

    /// Every window that passes all stages, over the whole pyramid, before grouping (image pixels).
    fn detect_raw(&self, img: &GrayImage, p: &Params, lanes: Lanes) -> Vec<Rect> {
        let mut hits = Vec::new();
        let (iw, ih) = (img.width(), img.height());
        if iw < self.width + 1 || ih < self.height + 1 {
            return hits;
        }
        // No level is larger than the image: one integral-image stride serves them all, so the
        // features' offsets are computed once per call and the buffers are reused level to level.
        let stride = iw as usize + 1;
        let haar = self.feature_type == FeatureType::Haar;
        let mut ii = Integral::new(stride, ih as usize + 1, haar);
        let model = match self.feature_type {
            FeatureType::Haar => Model::Haar(self.flatten(stride, |f, node| {
                let Feature::Haar(rects) = f else {
                    unreachable!("a HAAR cascade has HAAR features")
                };
                HaarTest::new(rects, stride, node.threshold)
            })),
            FeatureType::Lbp => Model::Lbp(self.flatten(stride, |f, node| {
                let Feature::Lbp(r) = f else {
                    unreachable!("an LBP cascade has LBP features")
                };
                LbpTest::new(r, stride, node.subset)
            })),
        };
        let mut level = Vec::new();
        for Level {
            sw,
            sh,
            step,
            factor,
        } in self.pyramid(iw, ih, p)
        {
            let raw = if factor == 1.0 {
                img.as_raw().as_slice()
            } else {
                bilinear_into(img, sw, sh, &mut level);
                level.as_slice()
            };
            let (lw, lh) = (sw as usize, sh as usize);
            ii.fill(raw, lw, lh);
            self.scan(&ii, &model, (lw, lh), step, factor, lanes, &mut hits);
        }
        hits
    }

    /// The image pyramid of `detectMultiScale` for an `iw`×`ih` image: each level's size, window
    /// step and scale factor, smallest scale first, skipping levels whose window is under
    /// `p.min_size`.
    fn pyramid(&self, iw: u32, ih: u32, p: &Params) -> impl Iterator<Item = Level> + '_ {
        let min = p.min_size.max(self.width.min(self.height)) as f64;
        let grow = p.scale_factor.max(1.01);
        let fine = p.fine;
        std::iter::successors(Some(1.0f64), move |f| Some(f * grow))
            .map(move |factor| Level {
                sw: (iw as f64 / factor).round() as u32,
                sh: (ih as f64 / factor).round() as u32,
                step: if fine && factor > 2.0 { 1 } else { 2 },
                factor,
            })
            .take_while(|l| l.sw > self.width && l.sh > self.height)
            .filter(move |l| (self.width.min(self.height) as f64) * l.factor >= min)
    }

    /// The cascade as contiguous arrays for integral images `stride` wide; `test` turns a node and
    /// its feature into what the window loop evaluates.
    fn flatten<T>(&self, stride: usize, test: impl Fn(&Feature, &NodeDef) -> T) -> Flat<T> {
        let mut flat = Flat {
            stages: Vec::with_capacity(self.stages.len()),
            weaks: Vec::new(),
            nodes: Vec::new(),
            leaves: Vec::new(),
            // The normalising rectangle's far corner; every feature lies inside the window too.
            max_offset: self.height as usize * stride + self.width as usize,
            tabled: self
                .stages
                .iter()
                .all(|s| s.weaks.iter().all(|w| w.nodes.len() <= TABLE_NODES)),
        };
        for stage in &self.stages {
            for weak in &stage.weaks {
                let (root, leaf0) = (flat.nodes.len() as i32, flat.leaves.len() as i32);
                flat.weaks.push(FlatWeak {
                    first: root as u32,
                    count: weak.nodes.len() as u32,
                    leaves: leaf0 as u32,
                });
                // Children > 0 point forward within the tree (checked on load), so an absolute
                // node index is > 0 too; a leaf is stored as minus its absolute index.
                let child = |c: i32| if c > 0 { root + c } else { -(leaf0 - c) };
                for node in &weak.nodes {
                    flat.nodes.push(FlatNode {
                        test: test(&self.features[node.feature], node),
                        next: [child(node.left), child(node.right)],
                    });
                }
                if weak.nodes.len() <= TABLE_NODES {
                    // The leaf each combination of outcomes reaches (bit k: node k's test holds).
                    for mask in 0..1usize << weak.nodes.len() {
                        let mut idx = 0i32;
                        loop {
                            let node = &weak.nodes[idx as usize];
                            idx = if mask >> idx & 1 == 1 {
                                node.left
                            } else {
                                node.right
                            };
                            if idx <= 0 {
                                break;
                            }
                        }
                        flat.leaves.push(weak.leaves[(-idx) as usize]);
                    }
                } else {
                    flat.leaves.extend_from_slice(&weak.leaves);
                }
            }
            flat.stages.push((flat.weaks.len(), stage.threshold));
        }
        // The eight-window path loads eight table entries whatever the tree's size.
        flat.leaves.extend([0.0; 8]);
        flat
    }

    /// Slide the window over one pyramid level (`lw`×`lh` pixels, integral image `ii`) in steps of
    /// `step` px; windows that pass every stage go to `hits` in image pixels (level × `factor`).
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        ii: &Integral,
        model: &Model,
        (lw, lh): (usize, usize),
        step: usize,
        factor: f64,
        lanes: Lanes,
        hits: &mut Vec<Rect>,
    ) {
        let (w, h) = (self.width as usize, self.height as usize);
        let st = ii.stride;
        let (s, q) = (&ii.s[..], &ii.sq[..]);
        // Safety of the unchecked reads below: window origins run over y <= lh - h, x <= lw - w and
        // every offset read from an origin is at most `max_offset` (h rows and w columns on), so the
        // last origin plus `max_offset` bounds every read; the four-window reads go at most
        // `OVERREAD` further (the buffers are that much longer). Checked here once per level.
        let max_offset = match model {
            Model::Haar(f) => f.max_offset,
            Model::Lbp(f) => f.max_offset,
        };
        assert!(lw < st && lw >= w && lh >= h);
        let last = (lh - h) * st + (lw - w) + max_offset + OVERREAD;
        assert!(last < s.len() && (q.is_empty() || last < q.len()));
        let mut emit = |x: usize, y: usize| {
            hits.push(Rect {
                x: (x as f64 * factor).round() as i32,
                y: (y as f64 * factor).round() as i32,
                w: (w as f64 * factor).round() as i32,
                h: (h as f64 * factor).round() as i32,
            })
        };
        match model {
            Model::Haar(flat) => {
                // OpenCV's normrect: the window less a 1-px border; flat windows are rejected.
                let norm = Normaliser {
                    corners: corners(1, 1, w - 2, h - 2, st),
                    area: ((w - 2) * (h - 2)) as f64,
                };
                // SAFETY (every `inv` call): `base` is a window origin and `norm` lies in the window.
                let inv_norm = |base: usize| unsafe { norm.inv(s, q, base) };
                let windows = (lw - w) / step + 1;
                for y in (0..=lh - h).step_by(step) {
                    let row = y * st;
                    let mut i = 0;
                    #[cfg(target_arch = "x86_64")]
                    if flat.tabled {
                        while lanes == Lanes::Eight && i + 8 <= windows {
                            let base = row + i * step;
                            let order = lanes::order8(step);
                            let mut inv = [None; 8];
                            for (v, j) in inv.iter_mut().zip(order) {
                                *v = inv_norm(base + j * step);
                            }
                            if inv.iter().any(Option::is_some) {
                                // SAFETY: the eight windows' origins are origins (i + 7 < windows),
                                // so every read is bounded as above; AVX2 is there.
                                let pass = unsafe {
                                    if step == 1 {
                                        lanes::passes8::<1>(flat, s, base, inv)
                                    } else {
                                        lanes::passes8::<2>(flat, s, base, inv)
                                    }
                                };
                                // `order` swaps lanes in pairs: window j is in lane order[j].
                                for (j, lane) in order.into_iter().enumerate() {
                                    if pass >> lane & 1 == 1 {
                                        emit((i + j) * step, y);
                                    }
                                }
                            }
                            i += 8;
                        }
                        while lanes >= Lanes::Four && i + 4 <= windows {
                            let base = row + i * step;
                            let mut inv = [None; 4];
                            for (l, v) in inv.iter_mut().enumerate() {
                                *v = inv_norm(base + l * step);
                            }
                            if inv.iter().any(Option::is_some) {
                                // SAFETY: the four windows' origins are origins (i + 3 < windows),
                                // so every read is bounded as above.
                                let pass = unsafe {
                                    if step == 1 {
                                        lanes::passes::<1>(flat, s, base, inv)
                                    } else {
                                        lanes::passes::<2>(flat, s, base, inv)
                                    }
                                };
                                for l in 0..4 {
                                    if pass >> l & 1 == 1 {
                                        emit((i + l) * step, y);
                                    }
                                }
                            }
                            i += 4;
                        }
                    }
                    for i in i..windows {
                        let base = row + i * step;
                        if let Some(inv) = inv_norm(base) {
                            // SAFETY: as above, every node's rectangles lie in the window.
                            if flat.passes(|t| unsafe { t.value(s, base) } * inv < t.threshold) {
                                emit(i * step, y);
                            }
                        }
                    }
                }
            }
            Model::Lbp(flat) => {
                for y in (0..=lh - h).step_by(step) {
                    for x in (0..=lw - w).step_by(step) {
                        let base = y * st + x;
                        // SAFETY: as above, every node's 3×3 blocks lie in the window.
                        if flat.passes(|t| {
                            let c = unsafe { lbp_code(s, base, &t.offsets) };
                            t.subset[(c >> 5) as usize] & (1 << (c & 31)) != 0
                        }) {
                            emit(x, y);
                        }
                    }
                }
            }
        }
    }
}

/// HAAR windows are normalised by their standard deviation (OpenCV's normrect: the window less a
/// 1-px border).
struct Normaliser {
    corners: [u32; 4],
    area: f64,
}

impl Normaliser {
    /// The window's normaliser (1 / (area × standard deviation)) as the features use it, or None
    /// when the window is too flat to hold a face.
    ///
    /// # Safety
    /// `base` plus every corner offset must be inside `s` and `q`.
    #[inline(always)]
    unsafe fn inv(&self, s: &[u32], q: &[u64], base: usize) -> Option<f32> {
        let (o, area) = (&self.corners, self.area);
        let (sum, sq) = unsafe {
            let g = |k: usize| *q.get_unchecked(base + o[k] as usize);
            (sum4(s, base, o) as f64, (g(3) + g(0)) - (g(1) + g(2)))
        };
        let nf = area * sq as f64 - sum * sum;
        let inv = if nf > 0.0 {
            1.0 / nf.sqrt()
        } else {
            f64::INFINITY
        };
        (area * inv < 0.1).then_some(inv as f32)
    }
}

/// How many windows the HAAR path evaluates at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Lanes {
    /// Other targets (and the tests, which run every width the CPU has).
    #[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
    One,
    /// SSE2 (x86-64).
    Four,
    /// AVX2 (x86-64 CPUs that have it).
    Eight,
}

impl Lanes {
    /// The widest this CPU runs.
    fn best() -> Lanes {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                Lanes::Eight
            } else {
                Lanes::Four
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Lanes::One
    }
}

/// A cascade's node tests for one integral-image stride, by feature type.
enum Model {
    Haar(Flat<HaarTest>),
    Lbp(Flat<LbpTest>),
}

/// A cascade flattened for evaluation: stages → weak trees → nodes in contiguous arrays, in the
/// order they are evaluated, each node carrying its feature ready to read (OpenCV's `OptFeature`).
struct Flat<T> {
    /// Per stage: one past its last weak tree in `weaks`, and its threshold.
    stages: Vec<(usize, f32)>,
    weaks: Vec<FlatWeak>,
    nodes: Vec<FlatNode<T>>,
    /// Per weak tree: its outcome table (`TABLE_NODES` nodes or fewer) or its leaves.
    leaves: Vec<f32>,
    /// The largest offset any test reads from a window's origin.
    max_offset: usize,
    /// Every tree has an outcome table (no tree has more than `TABLE_NODES` nodes).
    tabled: bool,
}

/// Trees with at most this many nodes are evaluated without branching: every node's test, then the
/// leaf from a table indexed by the outcomes (alt2's trees have two nodes). Larger trees are walked.
const TABLE_NODES: usize = 3;

/// A weak tree: its nodes `first..first + count` in `nodes`, its table or leaves from `leaves`.
struct FlatWeak {
    first: u32,
    count: u32,
    leaves: u32,
}

struct FlatNode<T> {
    test: T,
    /// Where to go when the test holds / fails: > 0 a node in `nodes`, <= 0 minus a leaf in `leaves`.
    next: [i32; 2],
}

impl<T> Flat<T> {
    /// Whether a window passes every stage; `holds(test)` evaluates a node's test on the window.
    /// The leaves are summed in the trees' order, as the tree walk does.
    #[inline(always)]
    fn passes(&self, holds: impl Fn(&T) -> bool) -> bool {
        let mut first = 0;
        for &(end, threshold) in &self.stages {
            let mut sum = 0.0f32;
            for weak in &self.weaks[first..end] {
                let nodes = &self.nodes[weak.first as usize..][..weak.count as usize];
                sum += if nodes.len() <= TABLE_NODES {
                    let mut mask = 0;
                    for (k, node) in nodes.iter().enumerate() {
                        mask |= usize::from(holds(&node.test)) << k;
                    }
                    self.leaves[weak.leaves as usize + mask]
                } else {
                    let mut node = &nodes[0];
                    loop {
                        let next = node.next[usize::from(!holds(&node.test))];
                        if next <= 0 {
                            break self.leaves[(-next) as usize];
                        }
                        node = &self.nodes[next as usize];
                    }
                };
            }
            if sum < threshold {
                return false;
            }
            first = end;
        }
        true
    }
}

/// How far past a window's last corner the four- and eight-window reads of `lanes` may go (one
/// entry: with 2-px steps they load twice the neighbours and keep every other one).
const OVERREAD: usize = 1;

/// Four neighbouring windows at once (SSE2, which every x86-64 has), or eight (AVX2, where the CPU
/// has it): each node's feature for all of them, then the stage sums, until no window is left. Lane
/// for lane the same f32 operations in the same order as the one-window path (`HaarTest::value`,
/// `Flat::passes`), so the same windows pass (no FMA: products are rounded before they are added).
#[cfg(target_arch = "x86_64")]
mod lanes {
    use std::arch::x86_64::*;

    use super::{Flat, HaarTest};

    /// The integral image at `at`, `at + STEP`, `at + 2 STEP`, `at + 3 STEP`.
    ///
    /// # Safety
    /// `at + 3 * STEP + OVERREAD` must be inside `s`.
    #[inline(always)]
    unsafe fn load<const STEP: usize>(s: &[u32], at: usize) -> __m128i {
        unsafe {
            let p = s.as_ptr().add(at) as *const __m128i;
            if STEP == 1 {
                _mm_loadu_si128(p)
            } else {
                let a = _mm_castsi128_ps(_mm_loadu_si128(p));
                let b = _mm_castsi128_ps(_mm_loadu_si128(p.add(1)));
                _mm_castps_si128(_mm_shuffle_ps::<0b10_00_10_00>(a, b))
            }
        }
    }

    /// `sum4` for four windows.
    #[inline(always)]
    unsafe fn sum4<const STEP: usize>(s: &[u32], base: usize, o: &[u32; 4]) -> __m128 {
        unsafe {
            let g = |k: usize| load::<STEP>(s, base + o[k] as usize);
            let v = _mm_add_epi32(_mm_sub_epi32(_mm_sub_epi32(g(3), g(1)), g(2)), g(0));
            _mm_cvtepi32_ps(v)
        }
    }

    /// `HaarTest::value` for four windows.
    #[inline(always)]
    unsafe fn value<const STEP: usize>(t: &HaarTest, s: &[u32], base: usize) -> __m128 {
        unsafe {
            let term = |k: usize| {
                _mm_mul_ps(
                    _mm_set1_ps(t.weights[k]),
                    sum4::<STEP>(s, base, &t.rects[k]),
                )
            };
            let mut v = term(0);
            v = _mm_add_ps(v, term(1));
            if t.three {
                v = _mm_add_ps(v, term(2));
            }
            v
        }
    }

    /// Which of the four windows at `base + l * STEP` pass every stage (bit l), given each one's
    /// normaliser (`None`: rejected already).
    ///
    /// # Safety
    /// The four must be window origins whose reads (`flat.max_offset` on, plus `OVERREAD`) are
    /// inside `s`, and every tree must have an outcome table (`flat.tabled`).
    pub(super) unsafe fn passes<const STEP: usize>(
        flat: &Flat<HaarTest>,
        s: &[u32],
        base: usize,
        inv: [Option<f32>; 4],
    ) -> u32 {
        unsafe {
            let on = |l: usize| -i32::from(inv[l].is_some());
            let mut alive = _mm_set_epi32(on(3), on(2), on(1), on(0));
            let k = |l: usize| inv[l].unwrap_or(0.0);
            let inv = _mm_set_ps(k(3), k(2), k(1), k(0));
            let mut first = 0;
            for &(end, threshold) in &flat.stages {
                let mut sum = _mm_setzero_ps();
                for weak in &flat.weaks[first..end] {
                    let nodes = &flat.nodes[weak.first as usize..][..weak.count as usize];
                    let mut mask = _mm_setzero_si128();
                    for (k, node) in nodes.iter().enumerate() {
                        let t = &node.test;
                        let v = _mm_mul_ps(value::<STEP>(t, s, base), inv);
                        let holds = _mm_castps_si128(_mm_cmplt_ps(v, _mm_set1_ps(t.threshold)));
                        mask = _mm_or_si128(mask, _mm_and_si128(holds, _mm_set1_epi32(1 << k)));
                    }
                    let table = &flat.leaves[weak.leaves as usize..][..1 << nodes.len()];
                    let mut leaf = _mm_set1_ps(table[0]);
                    for (j, &v) in table.iter().enumerate().skip(1) {
                        let here =
                            _mm_castsi128_ps(_mm_cmpeq_epi32(mask, _mm_set1_epi32(j as i32)));
                        leaf =
                            _mm_or_ps(_mm_and_ps(here, _mm_set1_ps(v)), _mm_andnot_ps(here, leaf));
                    }
                    sum = _mm_add_ps(sum, leaf);
                }
                let fail = _mm_castps_si128(_mm_cmplt_ps(sum, _mm_set1_ps(threshold)));
                alive = _mm_andnot_si128(fail, alive);
                if _mm_movemask_ps(_mm_castsi128_ps(alive)) == 0 {
                    return 0;
                }
                first = end;
            }
            _mm_movemask_ps(_mm_castsi128_ps(alive)) as u32
        }
    }

    /// The window in each lane of the eight-window path: in order at 1-px steps; at 2-px steps the
    /// in-lane shuffle leaves windows 2, 3 in lanes 4, 5 and windows 4, 5 in lanes 2, 3 (and the
    /// other way round: the same table maps windows to lanes).
    pub(super) fn order8(step: usize) -> [usize; 8] {
        if step == 1 {
            [0, 1, 2, 3, 4, 5, 6, 7]
        } else {
            [0, 1, 4, 5, 2, 3, 6, 7]
        }
    }

    /// The integral image at `at + order8(STEP)[l] * STEP` in lane l.
    ///
    /// # Safety
    /// `at + 7 * STEP + OVERREAD` must be inside `s`; AVX2 must be there.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load8<const STEP: usize>(s: &[u32], at: usize) -> __m256i {
        unsafe {
            let p = s.as_ptr().add(at) as *const __m256i;
            if STEP == 1 {
                _mm256_loadu_si256(p)
            } else {
                let a = _mm256_castsi256_ps(_mm256_loadu_si256(p));
                let b = _mm256_castsi256_ps(_mm256_loadu_si256(p.add(1)));
                _mm256_castps_si256(_mm256_shuffle_ps::<0b10_00_10_00>(a, b))
            }
        }
    }

    /// `sum4` for eight windows.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn sum8<const STEP: usize>(s: &[u32], base: usize, o: &[u32; 4]) -> __m256 {
        unsafe {
            let a = load8::<STEP>(s, base + o[0] as usize);
            let b = load8::<STEP>(s, base + o[1] as usize);
            let c = load8::<STEP>(s, base + o[2] as usize);
            let d = load8::<STEP>(s, base + o[3] as usize);
            _mm256_cvtepi32_ps(_mm256_add_epi32(
                _mm256_sub_epi32(_mm256_sub_epi32(d, b), c),
                a,
            ))
        }
    }

    /// `HaarTest::value` for eight windows.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn value8<const STEP: usize>(t: &HaarTest, s: &[u32], base: usize) -> __m256 {
        unsafe {
            let w = |k: usize| _mm256_set1_ps(t.weights[k]);
            let mut v = _mm256_mul_ps(w(0), sum8::<STEP>(s, base, &t.rects[0]));
            v = _mm256_add_ps(v, _mm256_mul_ps(w(1), sum8::<STEP>(s, base, &t.rects[1])));
            if t.three {
                v = _mm256_add_ps(v, _mm256_mul_ps(w(2), sum8::<STEP>(s, base, &t.rects[2])));
            }
            v
        }
    }

    /// `passes` for eight windows, lane l holding the window `order8(STEP)[l]` after `base`;
    /// bit l of the result is lane l's.
    ///
    /// # Safety
    /// As `passes`, for eight windows; AVX2 must be there.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn passes8<const STEP: usize>(
        flat: &Flat<HaarTest>,
        s: &[u32],
        base: usize,
        inv: [Option<f32>; 8],
    ) -> u32 {
        unsafe {
            let on = inv.map(|v| -i32::from(v.is_some()));
            let mut alive = _mm256_loadu_si256(on.as_ptr() as *const __m256i);
            let inv = inv.map(|v| v.unwrap_or(0.0));
            let inv = _mm256_loadu_ps(inv.as_ptr());
            let mut first = 0;
            for &(end, threshold) in &flat.stages {
                let mut sum = _mm256_setzero_ps();
                for weak in &flat.weaks[first..end] {
                    let nodes = &flat.nodes[weak.first as usize..][..weak.count as usize];
                    let mut mask = _mm256_setzero_si256();
                    for (k, node) in nodes.iter().enumerate() {
                        let t = &node.test;
                        let v = _mm256_mul_ps(value8::<STEP>(t, s, base), inv);
                        let holds = _mm256_cmp_ps::<_CMP_LT_OQ>(v, _mm256_set1_ps(t.threshold));
                        let bit = _mm256_set1_epi32(1 << k);
                        mask = _mm256_or_si256(
                            mask,
                            _mm256_and_si256(_mm256_castps_si256(holds), bit),
                        );
                    }
                    // The table has at most 8 entries and `leaves` 8 spare ones at its end.
                    let table = &flat.leaves[weak.leaves as usize..][..8];
                    let leaf = _mm256_permutevar8x32_ps(_mm256_loadu_ps(table.as_ptr()), mask);
                    sum = _mm256_add_ps(sum, leaf);
                }
                let fail = _mm256_cmp_ps::<_CMP_LT_OQ>(sum, _mm256_set1_ps(threshold));
                alive = _mm256_andnot_si256(_mm256_castps_si256(fail), alive);
                if _mm256_movemask_ps(_mm256_castsi256_ps(alive)) == 0 {
                    return 0;
                }
                first = end;
            }
            _mm256_movemask_ps(_mm256_castsi256_ps(alive)) as u32
        }
    }
}

/// A HAAR node at one stride: up to three weighted rectangles as corner offsets from the window's
/// origin (a missing one has weight 0 at offset 0), and the node's threshold.
struct HaarTest {
    rects: [[u32; 4]; 3],
    weights: [f32; 3],
    three: bool,
    threshold: f32,
}

impl HaarTest {
    fn new(rects: &[WRect], stride: usize, threshold: f32) -> Self {
        let mut t = HaarTest {
            rects: [[0; 4]; 3],
            weights: [0.0; 3],
            three: rects.len() == 3,
            threshold,
        };
        for (k, r) in rects.iter().enumerate() {
            t.rects[k] = corners(
                r.x as usize,
                r.y as usize,
                r.w as usize,
                r.h as usize,
                stride,
            );
            t.weights[k] = r.weight;
        }
        t
    }

    /// The weighted sum of the rectangles, before normalising: the same f32 operations in the
    /// same order as summing over the rectangles from 0 (a padded rectangle adds +0, which can
    /// change only the sign of a zero sum, and the caller compares, where -0 == +0).
    ///
    /// # Safety
    /// `base` plus every corner offset must be inside `s`.
    #[inline(always)]
    unsafe fn value(&self, s: &[u32], base: usize) -> f32 {
        unsafe {
            let mut v = self.weights[0] * sum4(s, base, &self.rects[0]) as f32;
            v += self.weights[1] * sum4(s, base, &self.rects[1]) as f32;
            if self.three {
                v += self.weights[2] * sum4(s, base, &self.rects[2]) as f32;
            }
            v
        }
    }
}

/// An LBP node at one stride: the 4×4 corner grid of its 3×3 blocks as offsets from the window's
/// origin, and its 256-bit category subset.
struct LbpTest {
    offsets: [u32; 16],
    subset: [i32; 8],
}

impl LbpTest {
    fn new(&[x, y, w, h]: &[u32; 4], stride: usize, subset: [i32; 8]) -> Self {
        let mut offsets = [0u32; 16];
        for i in 0..4 {
            for j in 0..4 {
                offsets[i * 4 + j] =
                    ((y as usize + i * h as usize) * stride + x as usize + j * w as usize) as u32;
            }
        }
        LbpTest { offsets, subset }
    }
}

/// A rectangle's corners (top-left, top-right, bottom-left, bottom-right) as offsets into an
/// integral image `stride` wide.
fn corners(x: usize, y: usize, w: usize, h: usize, stride: usize) -> [u32; 4] {
    [
        y * stride + x,
        y * stride + x + w,
        (y + h) * stride + x,
        (y + h) * stride + x + w,
    ]
    .map(|o| o as u32)
}

/// Sum of a rectangle whose corners are `o` from `base` in the integral image `s` (wrapping: exact
/// whenever the true sum fits in an i32, as any window's does).
///
/// # Safety
/// `base + o[k]` must be inside `s` for every k.
#[inline(always)]
unsafe fn sum4(s: &[u32], base: usize, o: &[u32; 4]) -> i32 {
    let g = |k: usize| unsafe { *s.get_unchecked(base + o[k] as usize) } as i32;
    g(3).wrapping_sub(g(1))
        .wrapping_sub(g(2))
        .wrapping_add(g(0))
}

/// OpenCV's LBP code: each outer block's sum compared with the centre block's, clockwise from the
/// top-left (bit 7) to the middle-left (bit 0).
///
/// # Safety
/// `base + o[k]` must be inside `s` for every k.
#[inline(always)]
unsafe fn lbp_code(s: &[u32], base: usize, o: &[u32; 16]) -> u32 {
    let g = |k: usize| unsafe { *s.get_unchecked(base + o[k] as usize) } as i64;
    let b = |p0: usize, p1: usize, p2: usize, p3: usize| -> i64 { g(p3) - g(p1) - g(p2) + g(p0) };
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

/// Bilinear downscale (OpenCV's INTER_LINEAR pixel-centre mapping), as detectMultiScale's pyramid,
/// into `out` (`tw`×`th` pixels; the buffer is reused level to level).
fn bilinear_into(img: &GrayImage, tw: u32, th: u32, out: &mut Vec<u8>) {
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
    out.clear();
    out.reserve(tw as usize * th as usize);
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

/// Summed-area tables with a fixed row stride: `s[y * stride + x]` = sum of the pixels above and left
/// of (x, y), for pictures up to `stride - 1` pixels wide; row 0 and column 0 stay zero. Sums wrap
/// (u32): a rectangle's sum comes out exact as long as it fits, which any window's does.
struct Integral {
    stride: usize,
    s: Vec<u32>,
    /// Squares (HAAR only; empty otherwise).
    sq: Vec<u64>,
}

impl Integral {
    fn new(stride: usize, rows: usize, squares: bool) -> Self {
        Integral {
            stride,
            s: vec![0; stride * rows + OVERREAD],
            sq: if squares {
                vec![0; stride * rows + OVERREAD]
            } else {
                Vec::new()
            },
        }
    }

    /// Fill rows 1..=h, columns 1..=w from a `w`×`h` picture (entries right of column w keep
    /// whatever an earlier, wider picture left: nothing reads them).
    fn fill(&mut self, raw: &[u8], w: usize, h: usize) {
        let st = self.stride;
        assert!(w < st && (h + 1) * st <= self.s.len() && raw.len() >= w * h);
        for (y, px) in raw.chunks_exact(w).take(h).enumerate() {
            let (above, row) = self.s.split_at_mut((y + 1) * st);
            let mut acc = 0u32;
            for ((o, &a), &v) in row[1..=w].iter_mut().zip(&above[y * st + 1..]).zip(px) {
                acc = acc.wrapping_add(v as u32);
                *o = a.wrapping_add(acc);
            }
            if !self.sq.is_empty() {
                let (above, row) = self.sq.split_at_mut((y + 1) * st);
                let mut acc = 0u64;
                for ((o, &a), &v) in row[1..=w].iter_mut().zip(&above[y * st + 1..]).zip(px) {
                    acc += (v as u32 * v as u32) as u64;
                    *o = a + acc;
                }
            }
        }
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

    /// The evaluator as it was before it was flattened, kept verbatim as the reference the fast one
    /// must match window for window: nested stages and trees, offsets per level, checked reads.
    mod reference {
        use super::super::*;

        pub fn detect_raw(c: &Cascade, img: &GrayImage, p: &Params) -> Vec<Rect> {
            let mut hits = Vec::new();
            // The pyramid walk is shared (it is not what this reference checks).
            for l in c.pyramid(img.width(), img.height(), p) {
                if l.factor == 1.0 {
                    scan(c, img, l.step, l.factor, &mut hits);
                } else {
                    let mut level = Vec::new();
                    bilinear_into(img, l.sw, l.sh, &mut level);
                    let level = GrayImage::from_raw(l.sw, l.sh, level).expect("level sized");
                    scan(c, &level, l.step, l.factor, &mut hits);
                }
            }
            hits
        }

        fn scan(c: &Cascade, img: &GrayImage, step: usize, factor: f64, hits: &mut Vec<Rect>) {
            let ii = Integral::new(img, c.feature_type == FeatureType::Haar);
            let st = ii.w as i32;
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
            for f in &c.features {
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
            let (w, h) = (c.width as usize, c.height as usize);
            let norm = corners(1, 1, c.width - 2, c.height - 2);
            let area = ((c.width - 2) * (c.height - 2)) as f64;
            let mut y = 0;
            while y + h < ii.h {
                let mut x = 0;
                while x + w < ii.w {
                    let base = y * ii.w + x;
                    let s = &ii.s[base..];
                    let pass = match c.feature_type {
                        FeatureType::Haar => {
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
                                && stages_pass(c, |node| {
                                    let (rects, n) = &haar[node.feature];
                                    let mut v = 0.0f32;
                                    for (o, wgt) in &rects[..*n] {
                                        v += wgt * sum4(s, o) as f32;
                                    }
                                    v * (inv as f32) < node.threshold
                                })
                        }
                        FeatureType::Lbp => stages_pass(c, |node| {
                            let code = lbp_code(s, &lbp[node.feature]);
                            node.subset[(code >> 5) as usize] & (1 << (code & 31)) != 0
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

        fn stages_pass(c: &Cascade, left: impl Fn(&NodeDef) -> bool) -> bool {
            for stage in &c.stages {
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

        type HaarOffs = ([([i32; 4], f32); 3], usize);

        fn sum4(s: &[u32], o: &[i32; 4]) -> i32 {
            (s[o[3] as usize] as i32)
                .wrapping_sub(s[o[1] as usize] as i32)
                .wrapping_sub(s[o[2] as usize] as i32)
                .wrapping_add(s[o[0] as usize] as i32)
        }

        pub fn lbp_code(s: &[u32], o: &[i32; 16]) -> u32 {
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

        /// Summed-area tables of one picture, (w+1)×(h+1).
        pub struct Integral {
            pub w: usize,
            pub h: usize,
            pub s: Vec<u32>,
            pub sq: Vec<u64>,
        }

        impl Integral {
            pub fn new(img: &GrayImage, squares: bool) -> Self {
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
        }
    }

    /// Pictures to compare the evaluators on: the two faces in `fixtures/pairs`, a noise picture
    /// and a gradient with a bright square (wide, tall, odd sizes).
    fn test_pictures() -> Vec<GrayImage> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pairs");
        let mut out: Vec<GrayImage> = ["astronaut/character.png", "hopper/character.jpg"]
            .iter()
            .map(|p| image::open(dir.join(p)).unwrap().to_luma8())
            .collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        out.push(GrayImage::from_fn(161, 97, |_, _| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            image::Luma([(seed >> 56) as u8])
        }));
        out.push(GrayImage::from_fn(83, 140, |x, y| {
            let square = (20..50).contains(&x) && (40..70).contains(&y);
            image::Luma([if square { 250 } else { (x + 2 * y) as u8 }])
        }));
        out
    }

    /// The flattened evaluator passes exactly the windows the reference passes, on every level of
    /// the pyramid, one, four and eight windows at a time (as far as the CPU goes), for the embedded
    /// cascade and any of OpenCV's installed HAAR (untilted) and LBP cascades.
    #[test]
    fn flat_evaluator_matches_the_reference() {
        let mut cascades = vec![(
            "alt2".to_string(),
            Cascade::from_xml(include_str!("data/haarcascade_frontalface_alt2.xml")).unwrap(),
        )];
        for dir in ["haarcascades", "lbpcascades"] {
            let dir = std::path::Path::new("/usr/share/opencv4").join(dir);
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect();
            files.sort();
            for f in files {
                if let Ok(c) = Cascade::from_xml(&std::fs::read_to_string(&f).unwrap()) {
                    cascades.push((f.display().to_string(), c));
                }
            }
        }
        let pictures = test_pictures();
        let params = [
            crate::detect::IMAGE_PARAMS,
            crate::detect::VIDEO_PARAMS,
            Params::default(),
        ];
        for (name, c) in &cascades {
            for (i, img) in pictures.iter().enumerate() {
                // The full settings on the embedded cascade; one (the finest) on the others.
                for p in &params[..if name == "alt2" { 3 } else { 1 }] {
                    let want = reference::detect_raw(c, img, p);
                    for lanes in [Lanes::One, Lanes::Four, Lanes::Eight] {
                        if lanes <= Lanes::best() {
                            let got = c.detect_raw(img, p, lanes);
                            assert_eq!(got, want, "{name}, picture {i}, {p:?}, {lanes:?}");
                        }
                    }
                }
            }
        }
        assert!(
            !reference::detect_raw(&cascades[0].1, &pictures[0], &params[0]).is_empty(),
            "the astronaut's face is found"
        );
    }

    #[test]
    fn integral_sums_and_lbp() {
        let img = GrayImage::from_fn(6, 6, |x, y| image::Luma([(x + 6 * y) as u8]));
        // A wider stride than the picture, and a wider picture filled first (as pyramid levels are).
        let mut ii = Integral::new(9, 7, true);
        ii.fill(&[255; 8 * 6], 8, 6);
        ii.fill(img.as_raw(), 6, 6);
        let sum = |x, y, w, h| unsafe { sum4(&ii.s, 0, &corners(x, y, w, h, 9)) };
        let sqsum = |x, y, w, h| {
            let o = corners(x, y, w, h, 9).map(|o| ii.sq[o as usize]);
            (o[3] + o[0]) - (o[1] + o[2])
        };
        assert_eq!(sum(0, 0, 6, 6), (0..36).sum::<i32>());
        assert_eq!(sum(1, 2, 2, 1), 13 + 14);
        assert_eq!(sqsum(1, 2, 2, 1), 13 * 13 + 14 * 14);
        assert_eq!(ii.s[..10], [0; 10]);
        // Brightness grows right and down: blocks right of or below the centre are >= it.
        let t = LbpTest::new(&[0, 0, 2, 2], 9, [0; 8]);
        assert_eq!(unsafe { lbp_code(&ii.s, 0, &t.offsets) }, 16 | 8 | 4 | 2);
        let r = reference::Integral::new(&img, true);
        let o: [i32; 16] = std::array::from_fn(|k| (k as i32 / 4) * 2 * 7 + (k as i32 % 4) * 2);
        assert_eq!(reference::lbp_code(&r.s, &o), 16 | 8 | 4 | 2);
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
