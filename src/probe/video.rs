//! PLACEHOLDER: replaced by the libavformat prober.
use std::path::Path;

use super::ProbeError;
use crate::model::VideoFacts;

/// Read a video's container and stream facts through libavformat (no pixel decode).
pub fn probe_video(_path: &Path, _bytes: u64) -> Result<VideoFacts, ProbeError> {
    Err(ProbeError::Unreadable("video probing not built yet".into()))
}
