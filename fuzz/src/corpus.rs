//! The hostile-file corpus: a deterministic generator of several hundred
//! broken, extreme and deceptive media files across PNG, JPEG, GIF, WebP,
//! BMP, TIFF and video containers (ISO-BMFF/QuickTime and Matroska/WebM).
//!
//! It owns what the files are, not what is done with them: the fuzz
//! target's seeds ([`crate::seeds`]), `fuzz/tests/corpus.rs` (every file
//! through decode without a panic) and `services/vigil/tests/hostile_corpus.rs`
//! (every file through `vigil hash`, `POST /v1/check` and the pipeline,
//! with the server's peak memory measured) all take their files from
//! [`generate`]. `vigil-fuzz corpus DIR` writes them out.
//!
//! Valid base images come from the `image` crate's encoders; everything
//! else is built structurally by hand (chunks, segments, IFDs, boxes, EBML
//! elements) so that any length, count, offset or dimension can lie. Bombs
//! are small files that claim or inflate to a lot: hand-built zlib streams
//! (two bits per 258 zero bytes) and GIF LZW runs. Generic truncations and
//! bit flips of each valid base use fixed offsets and [`crate::Rng`] with
//! fixed seeds. Nothing reads files, the clock or the OS's randomness, so
//! two runs give the same bytes. No file is over [`MAX_FILE_BYTES`].

mod bmp;
mod bytes;
mod gif;
mod ifd;
mod jpeg;
mod png;
mod polyglot;
mod tiff;
mod video;
mod webp;

/// The formats, in the order [`generate`] returns them.
pub const FORMATS: [&str; 7] = ["png", "jpeg", "gif", "webp", "bmp", "tiff", "video"];

/// The largest file the corpus holds.
pub const MAX_FILE_BYTES: usize = 2 << 20;

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusFile {
    /// `format/case`, e.g. `png/plte-len-7`: unique, usable as a relative
    /// path.
    pub name: String,
    /// `png`, `jpeg`, `gif`, `webp`, `bmp`, `tiff` or `video`: the format
    /// the file claims to be (its magic bytes), not necessarily what it is.
    pub format: &'static str,
    pub bytes: Vec<u8>,
}

impl CorpusFile {
    /// Whether this is an image (anything but video).
    pub fn is_image(&self) -> bool {
        self.format != "video"
    }
}

/// Files of one format being collected.
pub(crate) struct Out {
    format: &'static str,
    files: Vec<CorpusFile>,
}

impl Out {
    fn new(format: &'static str) -> Out {
        Out {
            format,
            files: Vec::new(),
        }
    }

    /// Add `bytes` as `format/name`.
    pub(crate) fn add(&mut self, name: &str, bytes: Vec<u8>) {
        self.files.push(CorpusFile {
            name: format!("{}/{}", self.format, name),
            format: self.format,
            bytes,
        });
    }

    /// Add the truncations and bit flips of the valid file `bytes`, named
    /// after `base`.
    pub(crate) fn derived(&mut self, base: &str, bytes: &[u8], seed: u64) {
        for (suffix, b) in bytes::truncations_and_flips(bytes, seed) {
            self.add(&format!("{base}-{suffix}"), b);
        }
    }
}

/// A smooth RGB test pattern.
pub(crate) fn gradient(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            ((x + y) * 4) as u8,
        ])
    })
}

/// `img` encoded by the `image` crate as `format`.
pub(crate) fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut buf, format)
        .unwrap_or_else(|e| panic!("the image crate cannot encode {format:?}: {e}"));
    buf.into_inner()
}

/// Every corpus file, grouped by format in [`FORMATS`] order. Deterministic.
pub fn generate() -> Vec<CorpusFile> {
    let mut png = Out::new("png");
    let mut jpeg = Out::new("jpeg");
    let mut gif = Out::new("gif");
    let mut webp = Out::new("webp");
    let mut bmp = Out::new("bmp");
    let mut tiff = Out::new("tiff");
    let mut video = Out::new("video");
    png::generate(&mut png);
    jpeg::generate(&mut jpeg);
    gif::generate(&mut gif);
    webp::generate(&mut webp);
    bmp::generate(&mut bmp);
    tiff::generate(&mut tiff);
    video::generate(&mut video);
    polyglot::generate(
        &mut png, &mut jpeg, &mut gif, &mut webp, &mut bmp, &mut tiff, &mut video,
    );
    [png, jpeg, gif, webp, bmp, tiff, video]
        .into_iter()
        .flat_map(|o| o.files)
        .collect()
}

/// Write `files` under `dir`, one file per entry at its name (the format
/// is a subfolder). Returns how many were written.
pub fn write_to(dir: &std::path::Path, files: &[CorpusFile]) -> std::io::Result<usize> {
    for f in files {
        let path = dir.join(&f.name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.bytes)?;
    }
    Ok(files.len())
}
