//! Hostile BMP files: negative, zero and huge heights and widths, thin
//! 1 x 1,000,000 strips, bit counts that do not exist, bitfield masks that
//! are empty, overlapping or not contiguous, RLE bombs (a few bytes for a
//! 36-megapixel image) and RLE codes that run past rows and the image,
//! palette counts over 256 or past the end, pixel offsets past the end or
//! inside the header, every header size (core, OS/2, V4, V5 with an ICC
//! profile offset past the end) and compression kinds the decoders refuse.

use super::bytes::{le16, le32, noise};
use super::{encode, gradient, Out};

/// The fields of a BMP to write; every one may lie.
#[derive(Clone)]
struct Bmp {
    header_size: u32,
    width: i32,
    height: i32,
    planes: u16,
    bpp: u16,
    compression: u32,
    clr_used: u32,
    /// Bitfield masks (R, G, B, A), written for headers of 52 bytes and more.
    masks: [u32; 4],
    /// V5: profile offset (from the info header) and size.
    profile: (u32, u32),
    palette: Vec<u8>,
    pixels: Vec<u8>,
    /// Pixel data offset; default: right after the palette.
    offset: Option<u32>,
    /// The file header's size field; default: the real size.
    file_size: Option<u32>,
}

impl Bmp {
    fn new(width: i32, height: i32, bpp: u16) -> Bmp {
        Bmp {
            header_size: 40,
            width,
            height,
            planes: 1,
            bpp,
            compression: 0,
            clr_used: 0,
            masks: [0x00ff_0000, 0x0000_ff00, 0x0000_00ff, 0],
            profile: (0, 0),
            palette: Vec::new(),
            pixels: Vec::new(),
            offset: None,
            file_size: None,
        }
    }

    /// An 8-bit image with an `n`-colour palette and rows of `f(x, y)`.
    fn paletted(width: i32, height: i32, n: u32, f: impl Fn(u32, u32) -> u8) -> Bmp {
        let mut b = Bmp::new(width, height, 8);
        b.clr_used = n;
        b.palette = (0..n)
            .flat_map(|i| [(i * 3) as u8, (i * 5) as u8, (i * 7) as u8, 0])
            .collect();
        let (w, h) = (width.unsigned_abs(), height.unsigned_abs());
        let stride = (w + 3) & !3;
        for y in 0..h {
            for x in 0..stride {
                b.pixels.push(if x < w { f(x, y) } else { 0 });
            }
        }
        b
    }

    fn build(&self) -> Vec<u8> {
        let mut info = Vec::new();
        if self.header_size == 12 {
            info.extend(le32(12));
            info.extend(le16(self.width as u16));
            info.extend(le16(self.height as u16));
            info.extend(le16(self.planes));
            info.extend(le16(self.bpp));
        } else {
            info.extend(le32(self.header_size));
            info.extend(self.width.to_le_bytes());
            info.extend(self.height.to_le_bytes());
            info.extend(le16(self.planes));
            info.extend(le16(self.bpp));
            info.extend(le32(self.compression));
            info.extend(le32(self.pixels.len() as u32));
            info.extend(le32(2835));
            info.extend(le32(2835));
            info.extend(le32(self.clr_used));
            info.extend(le32(0));
            let want = (self.header_size as usize).min(4096);
            if want >= 52 {
                for m in self.masks {
                    info.extend(le32(m));
                }
            }
            if want >= 108 {
                info.extend(b"BGRs");
                info.extend([0u8; 48]);
            }
            if want >= 124 {
                info.extend(le32(4));
                info.extend(le32(self.profile.0));
                info.extend(le32(self.profile.1));
                info.extend(le32(0));
            }
            info.resize(want.max(40), 0);
        }
        let offset = self
            .offset
            .unwrap_or((14 + info.len() + self.palette.len()) as u32);
        let total = 14 + info.len() + self.palette.len() + self.pixels.len();
        let mut out = b"BM".to_vec();
        out.extend(le32(self.file_size.unwrap_or(total as u32)));
        out.extend([0, 0, 0, 0]);
        out.extend(le32(offset));
        out.extend(info);
        out.extend_from_slice(&self.palette);
        out.extend_from_slice(&self.pixels);
        out
    }
}

/// An RLE8 (or RLE4) image whose data is `codes`.
fn rle(width: i32, height: i32, bpp: u16, codes: &[u8]) -> Bmp {
    let mut b = Bmp::paletted(1, 1, 16, |_, _| 0);
    b.width = width;
    b.height = height;
    b.bpp = bpp;
    b.compression = if bpp == 4 { 2 } else { 1 };
    b.pixels = codes.to_vec();
    b
}

pub fn generate(out: &mut Out) {
    let base = encode(&gradient(48, 32), image::ImageFormat::Bmp);
    out.add("base-24bit", base.clone());
    out.derived("base-24bit", &base, 0xb3f);
    let pal = Bmp::paletted(20, 12, 16, |x, y| ((x + y) % 16) as u8);
    out.add("base-8bit-palette", pal.build());

    // Heights and widths.
    let mut top_down = Bmp::paletted(20, 12, 16, |x, _| (x % 16) as u8);
    top_down.height = -12;
    out.add("top-down", top_down.build());
    for (name, w, h) in [
        ("height-i32-min", 8, i32::MIN),
        ("width-negative", -8, 8),
        ("width-0", 0, 8),
        ("height-0", 8, 0),
        ("size-65535x65535", 65535, 65535),
        ("size-i32-max", i32::MAX, i32::MAX),
    ] {
        let mut b = Bmp::paletted(8, 8, 16, |x, _| x as u8);
        b.width = w;
        b.height = h;
        out.add(name, b.build());
    }
    // Thin strips and RLE bombs: one end-of-bitmap code for millions of pixels.
    out.add("rle8-1x1000000", rle(1, 1_000_000, 8, &[0, 1]).build());
    out.add("rle8-1000000x1", rle(1_000_000, 1, 8, &[0, 1]).build());
    out.add("rle8-bomb-6000x6000", rle(6000, 6000, 8, &[0, 1]).build());
    out.add("rle4-bomb-6000x6000", rle(6000, 6000, 4, &[0, 1]).build());
    out.add(
        "rle8-bomb-20000x20000",
        rle(20000, 20000, 8, &[0, 1]).build(),
    );
    {
        // Runs of 255 over a 6000x6000 image: every pixel written.
        let mut codes = Vec::new();
        for _ in 0..6000 {
            for _ in 0..23 {
                codes.extend([255, 7]);
            }
            codes.extend([135, 7, 0, 0]);
        }
        codes.extend([0, 1]);
        out.add("rle8-runs-6000x6000", rle(6000, 6000, 8, &codes).build());
    }
    out.add(
        "rle8-run-past-row",
        rle(8, 8, 8, &[255, 3, 255, 4, 0, 0, 0, 1]).build(),
    );
    out.add(
        "rle8-delta-past-image",
        rle(8, 8, 8, &[0, 2, 255, 255, 4, 4, 0, 1]).build(),
    );
    out.add(
        "rle8-absolute-past-data",
        rle(8, 8, 8, &[0, 200, 1, 2, 3]).build(),
    );
    out.add(
        "rle8-absolute-odd-no-pad",
        rle(8, 8, 8, &[0, 3, 1, 2, 3, 0, 3, 1, 2, 3, 0, 1]).build(),
    );
    out.add("rle8-no-end", rle(8, 8, 8, &[2, 1, 2, 1]).build());
    out.add("rle8-noise", rle(64, 64, 8, &noise(0x41e, 3000)).build());
    out.add("rle4-noise", rle(64, 64, 4, &noise(0x41f, 3000)).build());
    let mut rle_top_down = rle(8, -8, 8, &[8, 1, 0, 0, 0, 1]);
    rle_top_down.height = -8;
    out.add("rle8-top-down", rle_top_down.build());
    let mut rle24 = rle(8, 8, 24, &[8, 1, 0, 1]);
    rle24.compression = 1;
    out.add("rle8-with-24bit", rle24.build());

    // Bit counts.
    for bpp in [0u16, 3, 7, 64, 65535] {
        let mut b = Bmp::paletted(8, 8, 16, |x, _| x as u8);
        b.bpp = bpp;
        out.add(&format!("bpp-{bpp}"), b.build());
    }
    // Bitfields.
    for (name, bpp, masks) in [
        ("bitfields16-zero-masks", 16u16, [0u32, 0, 0, 0]),
        ("bitfields16-overlapping", 16, [0xffff, 0xffff, 0x00ff, 0]),
        (
            "bitfields16-not-contiguous",
            16,
            [0x5555, 0xaaaa, 0x0f0f, 0],
        ),
        (
            "bitfields32-all-ones",
            32,
            [0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
        ),
        (
            "bitfields32-high-bit",
            32,
            [0x8000_0000, 0x4000_0000, 0x2000_0000, 0x1000_0000],
        ),
        ("bitfields24", 24, [0xff, 0xff00, 0xff_0000, 0]),
    ] {
        let mut b = Bmp::new(8, 8, bpp);
        b.header_size = 56;
        b.compression = 3;
        b.masks = masks;
        b.pixels = noise(u64::from(bpp) + 0xbf, 8 * 8 * usize::from(bpp / 8).max(1));
        out.add(name, b.build());
    }

    // Palettes.
    for (name, n) in [
        ("clr-used-257", 257u32),
        ("clr-used-65536", 65536),
        ("clr-used-max", u32::MAX),
    ] {
        let mut b = Bmp::paletted(8, 8, 16, |x, _| x as u8);
        b.clr_used = n;
        out.add(name, b.build());
    }
    let mut truncated = Bmp::paletted(8, 8, 16, |x, _| x as u8);
    truncated.clr_used = 256;
    truncated.pixels.clear();
    out.add("palette-truncated", truncated.build());
    out.add(
        "palette-index-out-of-range",
        Bmp::paletted(8, 8, 4, |x, y| (x * 32 + y) as u8).build(),
    );
    let mut one_bit = Bmp::new(16, 16, 1);
    one_bit.palette = vec![0, 0, 0, 0, 255, 255, 255, 0];
    one_bit.pixels = noise(0x1b, 64);
    out.add("1bit-clr-used-0", one_bit.build());

    // Offsets and sizes.
    for (name, offset) in [
        ("offset-max", Some(u32::MAX)),
        ("offset-10", Some(10)),
        ("offset-at-end", Some(0)),
    ] {
        let mut b = Bmp::paletted(8, 8, 16, |x, _| x as u8);
        b.offset = offset.map(|o| if o == 0 { b.build().len() as u32 } else { o });
        out.add(name, b.build());
    }
    let mut lying = Bmp::paletted(8, 8, 16, |x, _| x as u8);
    lying.file_size = Some(0xffff_fff0);
    out.add("file-size-lies", lying.build());

    // Header sizes.
    let mut core = Bmp::new(8, 8, 24);
    core.header_size = 12;
    core.pixels = noise(0xc0e, 8 * 24);
    out.add("header-core", core.build());
    for size in [64u32, 108, 124, 0, 1000, u32::MAX] {
        let mut b = Bmp::new(8, 8, 24);
        b.header_size = size;
        b.pixels = noise(u64::from(size), 8 * 24);
        out.add(&format!("header-size-{size}"), b.build());
    }
    let mut v5 = Bmp::new(8, 8, 32);
    v5.header_size = 124;
    v5.compression = 3;
    v5.masks = [0xff_0000, 0xff00, 0xff, 0xff00_0000];
    v5.profile = (0x7fff_0000, 0x7fff_0000);
    v5.pixels = noise(0x5e, 256);
    out.add("v5-profile-past-end", v5.build());

    // Compression kinds the decoders do not support, and planes.
    let png = encode(&gradient(8, 8), image::ImageFormat::Png);
    let jpeg = encode(&gradient(8, 8), image::ImageFormat::Jpeg);
    for (name, compression, data) in [
        ("compression-jpeg", 4u32, jpeg),
        ("compression-png", 5, png),
        ("compression-6", 6, noise(6, 256)),
        ("compression-cmyk-11", 11, noise(11, 256)),
        ("compression-cmyk-rle-13", 13, noise(13, 256)),
    ] {
        let mut b = Bmp::new(8, 8, 24);
        b.compression = compression;
        b.pixels = data;
        out.add(name, b.build());
    }
    for planes in [0u16, 2] {
        let mut b = Bmp::paletted(8, 8, 16, |x, _| x as u8);
        b.planes = planes;
        out.add(&format!("planes-{planes}"), b.build());
    }
}
