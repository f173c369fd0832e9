//! What `fix` would remove, finding by finding: the promise `check` prints as `[fixable: …]` and
//! counts in its footer. It is derived from the fix planner itself (never a second copy of its
//! rules), plus the two facts a plan cannot know without touching the file, asked of the very code
//! `fix` runs: whether a keyframe allows the lossless stream-copy trim, and whether fix's decoder
//! can read an image that has to be re-encoded (or copy one losslessly).
//!
//! A finding is promised **safe** when `fix` without `--unsafe-fixes` writes an output with the
//! finding gone (the safe plan resolves it and leaves no error open), **unsafe** when only
//! `fix --unsafe-fixes` does, and nothing otherwise.

use std::path::Path;

use super::plan::{self, FixPlan, ImageOut, ImageRecipe, PlanOptions, Recipe, Tier};
use super::{image, video};
use crate::model::{FileReport, Severity};

/// The fix that removes one finding, and the tier `fix` needs for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promise {
    pub fix: String,
    pub tier: Tier,
}

/// For each diagnostic of `report` (same order), what `fix` on `path` would do about it.
/// `base` carries the profile, orientation, aspect mode and background; its tier flag is ignored.
pub fn promises(path: &Path, report: &FileReport, base: &PlanOptions) -> Vec<Option<Promise>> {
    let mut out: Vec<Option<Promise>> = vec![None; report.diagnostics.len()];
    for unsafe_fixes in [false, true] {
        let opts = PlanOptions {
            unsafe_fixes,
            ..base.clone()
        };
        let p = plan::plan(report, &opts);
        if p.is_empty() || !p.can_pass() || !feasible(path, &p) {
            continue;
        }
        for a in &p.actions {
            for code in &a.codes {
                for (i, d) in report.diagnostics.iter().enumerate() {
                    if &d.code == code && out[i].is_none() {
                        out[i] = Some(Promise {
                            fix: a.fix.clone(),
                            tier: if unsafe_fixes {
                                Tier::Unsafe
                            } else {
                                Tier::Safe
                            },
                        });
                    }
                }
            }
        }
    }
    out
}

/// Replace each finding's `fix` and `fix_safety` by the promise: what `fix` would really do.
pub fn annotate(path: &Path, report: &mut FileReport, base: &PlanOptions) {
    let promised = promises(path, report, base);
    for (d, p) in report.diagnostics.iter_mut().zip(promised) {
        (d.fix, d.fix_safety) = match p {
            Some(p) if d.severity > Severity::Info => {
                let tier = match p.tier {
                    Tier::Safe => "safe",
                    Tier::Unsafe => "unsafe",
                };
                (Some(p.fix), Some(tier.to_string()))
            }
            _ => (None, None),
        };
    }
}

/// Whether applying `p` to `path` gets past the steps a plan cannot foresee, asked of the code
/// `apply` runs: the keyframe choice of a stream-copy trim and the image decoder.
fn feasible(path: &Path, p: &FixPlan) -> bool {
    match &p.recipe {
        Recipe::Nothing => false,
        Recipe::Video(r) => match (&r.window, &r.transcode) {
            // A stream-copy trim; with --unsafe-fixes a missing keyframe means a re-encoded trim.
            (Some(w), None) if !r.reencode_if_keyframes_bad => video::keyframes(path)
                .is_ok_and(|k| plan::choose_copy_window(w, &k, false).is_some()),
            _ => true,
        },
        // The same decoders `reencode` uses, reduced above 16 MP as `reencode` does for a large
        // picture: asking "can fix read it" must not cost a full-size canvas (a 14000x14000 PNG
        // is 588 MB of pixels).
        Recipe::Image(ImageRecipe::Reencode(_)) => crate::pixels::decode_for_analysis(path).is_ok(),
        Recipe::Image(ImageRecipe::LosslessCopy { format }) => {
            std::fs::read(path).is_ok_and(|data| match format {
                ImageOut::Jpeg => image::strip_jpeg(&data, None).is_ok(),
                ImageOut::Png => image::strip_png(&data).is_ok(),
            })
        }
    }
}
