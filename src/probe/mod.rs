//! Probing: cheap facts about a file from its headers and container, without decoding pixels.
//!
//! Images are read by our own header parsers (`image`), which never allocate for the dimensions a
//! file declares, so a decompression bomb is refused before any pixel buffer exists. Videos are read
//! in-process through libavformat (`video`). A file that cannot be read is a `ProbeError::Unreadable`
//! carrying the reason, which the rules turn into `file-unreadable`.

pub mod image;
pub mod video;

pub use self::image::probe_image;
pub use self::video::probe_video;

/// Why probing a file failed. The caller attaches the path.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The content is broken or not what its signature claims (truncated, corrupt, absurd header).
    #[error("{0}")]
    Unreadable(String),
    /// The file could not be read at all.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
