//! PLACEHOLDER: replaced by the decoded-frame analysis (cuts, motion, freezes).
use std::path::Path;

use crate::model::VideoAnalysis;

/// Settings that change analysis results (they are part of the cache key).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnalyzeOptions {
    /// Minimum still stretch reported as frozen, seconds.
    pub freeze_min_s: f64,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions { freeze_min_s: 2.0 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("{0}")]
    Decode(String),
}

/// Decode the video once and derive cuts, shots, frozen stretches and continuous motion.
pub fn analyze_video(_path: &Path, _opts: &AnalyzeOptions) -> Result<VideoAnalysis, AnalyzeError> {
    Err(AnalyzeError::Decode("analysis not built yet".into()))
}
