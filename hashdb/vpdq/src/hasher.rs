//! Frames to features: the PDQ hash and quality of each sampled frame.
//!
//! The decoder (`vigil_decode::video`) chooses which frames to sample (one
//! per second by default, as vPDQ specifies; every frame to compare with the
//! reference's regression outputs) and hands them over as packed RGB8.

use crate::feature::VpdqFeature;
use vigil_pdq::{LumaPrecision, PdqError, PdqHasher};

/// The luma recipe of the C++ reference that vPDQ is built on.
pub const VPDQ_LUMA: LumaPrecision = LumaPrecision::CppFloat;

/// Hash one RGB8 frame (`width * height * 3` bytes). For many frames use
/// [`VpdqHasher`], which reuses its buffers.
pub fn hash_frame(
    frame_number: u64,
    timestamp: f64,
    width: usize,
    height: usize,
    rgb: &[u8],
) -> Result<VpdqFeature, PdqError> {
    let out = PdqHasher::with_precision(VPDQ_LUMA).hash_rgb(width, height, rgb)?;
    Ok(VpdqFeature {
        frame_number,
        quality: out.quality,
        hash: out.hash,
        timestamp,
    })
}

/// Accumulates the features of one video, frame by frame, reusing one PDQ
/// hasher.
pub struct VpdqHasher {
    pdq: PdqHasher,
    features: Vec<VpdqFeature>,
}

impl Default for VpdqHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl VpdqHasher {
    pub fn new() -> Self {
        VpdqHasher {
            pdq: PdqHasher::with_precision(VPDQ_LUMA),
            features: Vec::new(),
        }
    }

    /// Hash one frame and keep its feature.
    pub fn push(
        &mut self,
        frame_number: u64,
        timestamp: f64,
        width: usize,
        height: usize,
        rgb: &[u8],
    ) -> Result<&VpdqFeature, PdqError> {
        let out = self.pdq.hash_rgb(width, height, rgb)?;
        self.features.push(VpdqFeature {
            frame_number,
            quality: out.quality,
            hash: out.hash,
            timestamp,
        });
        Ok(self.features.last().expect("just pushed"))
    }

    /// Number of frames hashed so far.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// All features, in the order the frames were pushed.
    pub fn finish(self) -> Vec<VpdqFeature> {
        self.features
    }
}
