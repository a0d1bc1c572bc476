//! Hostile TIFF files: IFD chains that loop or point past the end, sub-IFD
//! loops, entry counts of 0 and 65535, strip and tile offsets and byte
//! counts past the end, 100,000 strips, palette images (PhotometricInterp-
//! retation 3 with ColorMap) with short, missing and oversized colour maps,
//! LZW, Deflate (including a bomb), PackBits, JPEG and CCITT strips with
//! bad data, BigTIFF headers, sample layouts that do not exist, thin and
//! zero dimensions, and entry types and counts that overflow.

use super::bytes::{noise, zlib_stored, zlib_zeros};
use super::ifd::{ptr, Entry, Tiff, Val};
use super::{encode, gradient, Out};

const WIDTH: u16 = 256;
const HEIGHT: u16 = 257;
const BITS: u16 = 258;
const COMPRESSION: u16 = 259;
const PHOTOMETRIC: u16 = 262;
const STRIP_OFFSETS: u16 = 273;
const SAMPLES: u16 = 277;
const ROWS_PER_STRIP: u16 = 278;
const STRIP_COUNTS: u16 = 279;
const PLANAR: u16 = 284;
const PREDICTOR: u16 = 317;
const COLOR_MAP: u16 = 320;
const TILE_WIDTH: u16 = 322;
const TILE_LENGTH: u16 = 323;
const TILE_OFFSETS: u16 = 324;
const TILE_COUNTS: u16 = 325;
const SAMPLE_FORMAT: u16 = 339;

/// What to write: an image of `strips`, with the usual tags derived from
/// the fields, then `set` entries replacing or adding tags and `remove`
/// tags dropped. Entries are written sorted by tag.
#[derive(Clone)]
struct Spec {
    le: bool,
    big: bool,
    w: u32,
    h: u32,
    bps: Vec<u16>,
    photometric: u16,
    compression: u16,
    rows_per_strip: u32,
    strips: Vec<Vec<u8>>,
    set: Vec<Entry>,
    remove: Vec<u16>,
    /// The IFD's next-IFD field: `None` for 0, `Some(u64::MAX)` for itself.
    next: Option<u64>,
}

impl Spec {
    /// An 8-bit grey `w` x `h` image in one uncompressed strip.
    fn grey(w: u32, h: u32) -> Spec {
        let data = (0..w * h).map(|i| (i * 7) as u8).collect();
        Spec {
            le: true,
            big: false,
            w,
            h,
            bps: vec![8],
            photometric: 1,
            compression: 1,
            rows_per_strip: h,
            strips: vec![data],
            set: Vec::new(),
            remove: Vec::new(),
            next: None,
        }
    }

    fn with(mut self, tag: u16, val: Val) -> Spec {
        self.set.retain(|(t, _)| *t != tag);
        self.set.push((tag, val));
        self
    }

    fn without(mut self, tag: u16) -> Spec {
        self.remove.push(tag);
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut t = if self.big {
            Tiff::new_big(self.le)
        } else {
            Tiff::new(self.le)
        };
        let offsets: Vec<u32> = self.strips.iter().map(|s| t.blob(s)).collect();
        let counts: Vec<u32> = self.strips.iter().map(|s| s.len() as u32).collect();
        let mut entries: Vec<Entry> = vec![
            (WIDTH, Val::Long(vec![self.w])),
            (HEIGHT, Val::Long(vec![self.h])),
            (BITS, Val::Short(self.bps.clone())),
            (COMPRESSION, Val::Short(vec![self.compression])),
            (PHOTOMETRIC, Val::Short(vec![self.photometric])),
            (STRIP_OFFSETS, Val::Long(offsets)),
            (SAMPLES, Val::Short(vec![self.bps.len() as u16])),
            (ROWS_PER_STRIP, Val::Long(vec![self.rows_per_strip])),
            (STRIP_COUNTS, Val::Long(counts)),
        ];
        entries.retain(|(tag, _)| {
            !self.remove.contains(tag) && !self.set.iter().any(|(t, _)| t == tag)
        });
        entries.extend(
            self.set
                .iter()
                .filter(|(tag, _)| !self.remove.contains(tag))
                .cloned(),
        );
        entries.sort_by_key(|(tag, _)| *tag);
        let at = t.next_offset();
        let next = match self.next {
            Some(u64::MAX) => u64::from(at),
            Some(n) => n,
            None => 0,
        };
        t.ifd(&entries, next);
        t.set_first_ifd(u64::from(at));
        t.finish()
    }
}

/// A TIFF colour map for `bps`-bit indices: 3 * 2^bps 16-bit values.
fn color_map(bps: u32, short_by: usize) -> Val {
    let n = 1usize << bps;
    let mut v: Vec<u16> = (0..3 * n).map(|i| (i * 997 % 65536) as u16).collect();
    v.truncate(v.len().saturating_sub(short_by));
    Val::Short(v)
}

fn palette(bps: u16, w: u32, h: u32) -> Spec {
    let row = (w * u32::from(bps)).div_ceil(8);
    let data = (0..row * h).map(|i| (i * 13) as u8).collect();
    let mut s = Spec::grey(w, h);
    s.bps = vec![bps];
    s.photometric = 3;
    s.strips = vec![data];
    s.with(COLOR_MAP, color_map(u32::from(bps), 0))
}

pub fn generate(out: &mut Out) {
    let base = encode(&gradient(48, 32), image::ImageFormat::Tiff);
    out.add("base-rgb8", base.clone());
    out.derived("base-rgb8", &base, 0x71f);
    let grey = Spec::grey(24, 16);
    out.add("base-grey", grey.build());
    let mut be = grey.clone();
    be.le = false;
    out.add("base-grey-big-endian", be.build());
    out.add("palette-8bit", palette(8, 24, 16).build());
    out.add("palette-4bit", palette(4, 23, 16).build());
    let mut planar = Spec::grey(16, 8);
    planar.bps = vec![8, 8, 8];
    planar.photometric = 2;
    planar.strips = vec![vec![10; 128], vec![100; 128], vec![200; 128]];
    planar.rows_per_strip = 8;
    out.add(
        "planar-separate",
        planar.clone().with(PLANAR, Val::Short(vec![2])).build(),
    );
    out.add("planar-3", planar.with(PLANAR, Val::Short(vec![3])).build());
    let mut big = Spec::grey(8, 8);
    big.big = true;
    out.add("bigtiff-valid", big.build());

    ifd_cases(out);
    strip_cases(out);
    palette_cases(out);
    compression_cases(out);
    layout_cases(out);
}

fn ifd_cases(out: &mut Out) {
    let g = Spec::grey(8, 8);
    let mut looped = g.clone();
    looped.next = Some(u64::MAX);
    out.add("ifd-next-is-itself", looped.build());
    {
        // IFD0 -> IFD1 -> IFD0: IFD1 follows IFD0 and points back.
        let mut t = Tiff::new(true);
        let strip = t.blob(&[7; 64]);
        let e: Vec<Entry> = vec![
            (WIDTH, Val::Long(vec![8])),
            (HEIGHT, Val::Long(vec![8])),
            (BITS, Val::Short(vec![8])),
            (PHOTOMETRIC, Val::Short(vec![1])),
            (STRIP_OFFSETS, ptr(strip)),
            (STRIP_COUNTS, Val::Long(vec![64])),
        ];
        let first = t.next_offset();
        let ifd_len = 2 + 12 * e.len() as u32 + 4;
        t.ifd(&e, u64::from(first + ifd_len));
        t.ifd(&e, u64::from(first));
        t.set_first_ifd(u64::from(first));
        out.add("ifd-loop-two", t.finish());
    }
    for (name, off) in [
        ("ifd-offset-0", 0u64),
        ("ifd-offset-past-end", 0x7fff_fff0),
        ("ifd-offset-odd", 9),
        ("ifd-offset-4", 4),
    ] {
        let mut f = g.build();
        let b = (off as u32).to_le_bytes();
        f[4..8].copy_from_slice(&b);
        out.add(name, f);
    }
    out.add("subifd-points-at-ifd0", {
        let mut t = Tiff::new(true);
        let strip = t.blob(&[7; 64]);
        let at = t.next_offset();
        t.ifd(
            &[
                (WIDTH, Val::Long(vec![8])),
                (HEIGHT, Val::Long(vec![8])),
                (BITS, Val::Short(vec![8])),
                (PHOTOMETRIC, Val::Short(vec![1])),
                (STRIP_OFFSETS, ptr(strip)),
                (STRIP_COUNTS, Val::Long(vec![64])),
                (330, ptr(at)),
                (34665, ptr(at)),
            ],
            0,
        );
        t.set_first_ifd(u64::from(at));
        t.finish()
    });
    {
        let mut t = Tiff::new(true);
        let at = t.next_offset();
        t.set_first_ifd(u64::from(at));
        t.buf.extend_from_slice(&t.u16b(65535));
        t.buf.extend_from_slice(&t.u16b(WIDTH));
        t.buf.extend_from_slice(&t.u16b(4));
        t.buf.extend_from_slice(&t.u32b(1));
        t.buf.extend_from_slice(&t.u32b(8));
        out.add("ifd-count-65535", t.finish());
        let mut t = Tiff::new(true);
        let at = t.next_offset();
        t.set_first_ifd(u64::from(at));
        t.ifd(&[], 0);
        out.add("ifd-count-0", t.finish());
    }
    out.add("header-only", b"II\x2a\x00\x08\x00\x00\x00".to_vec());
    out.add("header-big-endian-only", b"MM\x00\x2a".to_vec());
    // BigTIFF headers that lie.
    let mut f = Spec {
        big: true,
        ..Spec::grey(8, 8)
    }
    .build();
    f[4] = 4; // offset size 4
    out.add("bigtiff-offset-size-4", f);
    let mut f = Spec {
        big: true,
        ..Spec::grey(8, 8)
    }
    .build();
    f[8..16].copy_from_slice(&(1u64 << 63).to_le_bytes());
    out.add("bigtiff-ifd-offset-2pow63", f);
    {
        let mut t = Tiff::new_big(true);
        t.set_first_ifd(16);
        t.buf.extend_from_slice(&(1u64 << 40).to_le_bytes());
        t.buf.extend_from_slice(&[0; 40]);
        out.add("bigtiff-entry-count-2pow40", t.finish());
    }
}

fn strip_cases(out: &mut Out) {
    let g = Spec::grey(8, 8);
    out.add(
        "strip-offset-past-end",
        g.clone()
            .with(STRIP_OFFSETS, Val::Long(vec![0x7fff_0000]))
            .build(),
    );
    out.add(
        "strip-count-max",
        g.clone()
            .with(STRIP_COUNTS, Val::Long(vec![u32::MAX]))
            .build(),
    );
    out.add(
        "strip-count-0",
        g.clone().with(STRIP_COUNTS, Val::Long(vec![0])).build(),
    );
    out.add(
        "strip-counts-missing",
        g.clone().without(STRIP_COUNTS).build(),
    );
    out.add(
        "strip-offsets-missing",
        g.clone().without(STRIP_OFFSETS).build(),
    );
    out.add(
        "strip-offsets-ascii",
        g.clone()
            .with(STRIP_OFFSETS, Val::Ascii(b"12345678".to_vec()))
            .build(),
    );
    out.add(
        "strip-arrays-disagree",
        g.clone()
            .with(STRIP_OFFSETS, Val::Long(vec![8, 16]))
            .with(STRIP_COUNTS, Val::Long(vec![1, 2, 3, 4, 5]))
            .build(),
    );
    out.add(
        "strip-offsets-claim-2pow30",
        g.clone()
            .with(
                STRIP_OFFSETS,
                Val::Pointer {
                    typ: 4,
                    count: 1 << 30,
                    offset: 8,
                },
            )
            .with(
                STRIP_COUNTS,
                Val::Pointer {
                    typ: 4,
                    count: 1 << 30,
                    offset: 8,
                },
            )
            .build(),
    );
    out.add(
        "rows-per-strip-0",
        g.clone().with(ROWS_PER_STRIP, Val::Long(vec![0])).build(),
    );
    out.add(
        "rows-per-strip-max",
        g.clone()
            .with(ROWS_PER_STRIP, Val::Long(vec![u32::MAX]))
            .build(),
    );
    {
        // 1 x 100,000 pixels in 100,000 strips of one row.
        let n = 100_000;
        let mut s = Spec::grey(1, n);
        s.rows_per_strip = 1;
        s.strips = (0..n).map(|i| vec![i as u8]).collect();
        out.add("strips-100000", s.build());
    }
    // Tiles.
    let tiled = |tw: u32, th: u32| {
        g.clone()
            .without(STRIP_OFFSETS)
            .without(STRIP_COUNTS)
            .without(ROWS_PER_STRIP)
            .with(TILE_WIDTH, Val::Long(vec![tw]))
            .with(TILE_LENGTH, Val::Long(vec![th]))
    };
    out.add(
        "tiles-width-0",
        tiled(0, 16)
            .with(TILE_OFFSETS, Val::Long(vec![8]))
            .with(TILE_COUNTS, Val::Long(vec![64]))
            .build(),
    );
    out.add(
        "tiles-width-17",
        tiled(17, 16)
            .with(TILE_OFFSETS, Val::Long(vec![8]))
            .with(TILE_COUNTS, Val::Long(vec![272]))
            .build(),
    );
    out.add(
        "tiles-2pow31",
        tiled(1 << 31, 1 << 31)
            .with(TILE_OFFSETS, Val::Long(vec![8]))
            .with(TILE_COUNTS, Val::Long(vec![64]))
            .build(),
    );
    out.add("tiles-offsets-missing", tiled(16, 16).build());
    out.add(
        "tiles-and-strips",
        g.clone()
            .with(TILE_WIDTH, Val::Long(vec![16]))
            .with(TILE_LENGTH, Val::Long(vec![16]))
            .with(TILE_OFFSETS, Val::Long(vec![8]))
            .with(TILE_COUNTS, Val::Long(vec![256]))
            .build(),
    );
}

fn palette_cases(out: &mut Out) {
    out.add(
        "palette-map-short",
        palette(8, 16, 8).with(COLOR_MAP, color_map(8, 1)).build(),
    );
    out.add(
        "palette-map-one-entry",
        palette(8, 16, 8)
            .with(COLOR_MAP, Val::Short(vec![1, 2, 3]))
            .build(),
    );
    out.add(
        "palette-map-missing",
        palette(8, 16, 8).without(COLOR_MAP).build(),
    );
    out.add(
        "palette-map-long",
        palette(4, 16, 8).with(COLOR_MAP, color_map(8, 0)).build(),
    );
    out.add("palette-16bit", palette(16, 16, 8).build());
    out.add("palette-2bit", palette(2, 16, 8).build());
    out.add("palette-1bit", palette(1, 16, 8).build());
    out.add(
        "palette-3-samples",
        palette(8, 16, 8).with(SAMPLES, Val::Short(vec![3])).build(),
    );
    out.add(
        "palette-map-past-end",
        palette(8, 16, 8)
            .with(
                COLOR_MAP,
                Val::Pointer {
                    typ: 3,
                    count: 768,
                    offset: 0x7fff_fff0,
                },
            )
            .build(),
    );
    let mut short_data = palette(8, 64, 64);
    short_data.strips = vec![vec![5; 100]];
    out.add("palette-strip-short", short_data.build());
    let mut deflated = palette(8, 64, 64);
    deflated.compression = 8;
    deflated.strips = vec![zlib_stored(
        &(0..4096u32).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
    )];
    out.add("palette-deflate", deflated.build());
    let mut big = palette(8, 6000, 6000);
    big.compression = 8;
    big.strips = vec![zlib_zeros(36_000_000)];
    out.add("palette-bomb-6000x6000", big.build());
}

fn compression_cases(out: &mut Out) {
    let with = |compression: u16, strip: Vec<u8>| {
        let mut s = Spec::grey(64, 64);
        s.compression = compression;
        s.strips = vec![strip];
        s
    };
    // LZW: a clear code then noise (MSB-first 9-bit codes).
    out.add(
        "lzw-noise",
        with(5, [vec![0x80], noise(0x12a, 2000)].concat()).build(),
    );
    out.add("lzw-empty", with(5, Vec::new()).build());
    out.add("deflate-bomb-64x64", with(8, zlib_zeros(100 << 20)).build());
    let mut big = with(8, zlib_zeros(25_000_000));
    big.w = 5000;
    big.h = 5000;
    big.rows_per_strip = 5000;
    out.add("deflate-bomb-5000x5000", big.build());
    out.add("deflate-noise", with(8, noise(0xdef, 2000)).build());
    out.add(
        "deflate-adobe-truncated",
        with(32946, zlib_stored(&[9; 4096])[..100].to_vec()).build(),
    );
    // PackBits: a repeat of 128 past the strip, a literal count past the data.
    out.add(
        "packbits-run-past-end",
        with(32773, [0x81u8, 1].repeat(200)).build(),
    );
    out.add(
        "packbits-literal-past-data",
        with(32773, vec![127, 1, 2, 3]).build(),
    );
    out.add("packbits-noop-only", with(32773, vec![0x80; 5000]).build());
    out.add(
        "jpeg-noise",
        with(7, [vec![0xff, 0xd8], noise(0x77, 1000)].concat()).build(),
    );
    out.add("old-jpeg", with(6, noise(0x66, 1000)).build());
    for c in [2u16, 3, 4] {
        let mut s = with(c, noise(u64::from(c), 500));
        s.bps = vec![1];
        s.photometric = 0;
        out.add(&format!("ccitt-{c}"), s.build());
    }
    out.add("compression-65000", with(65000, noise(65000, 500)).build());
    out.add("predictor-2-16bit", {
        let mut s = with(1, noise(0x316, 64 * 64 * 2));
        s.bps = vec![16];
        s.with(PREDICTOR, Val::Short(vec![2])).build()
    });
    out.add(
        "predictor-3-integer",
        with(1, noise(0x317, 4096))
            .with(PREDICTOR, Val::Short(vec![3]))
            .build(),
    );
    out.add(
        "predictor-99",
        with(1, noise(0x318, 4096))
            .with(PREDICTOR, Val::Short(vec![99]))
            .build(),
    );
}

fn layout_cases(out: &mut Out) {
    for bps in [0u16, 3, 64, 128] {
        let mut s = Spec::grey(8, 8);
        s.bps = vec![bps];
        s.strips = vec![noise(u64::from(bps), 1024)];
        out.add(&format!("bits-{bps}"), s.build());
    }
    out.add("bits-mixed", {
        let mut s = Spec::grey(8, 8);
        s.bps = vec![8, 16, 8];
        s.photometric = 2;
        s.strips = vec![noise(0xb1, 256)];
        s.build()
    });
    out.add(
        "samples-0",
        Spec::grey(8, 8).with(SAMPLES, Val::Short(vec![0])).build(),
    );
    out.add(
        "samples-65535",
        Spec::grey(8, 8)
            .with(SAMPLES, Val::Short(vec![65535]))
            .build(),
    );
    out.add(
        "float-8bit",
        Spec::grey(8, 8)
            .with(SAMPLE_FORMAT, Val::Short(vec![3]))
            .build(),
    );
    out.add("float32-rgb", {
        let mut s = Spec::grey(8, 8);
        s.bps = vec![32, 32, 32];
        s.photometric = 2;
        s.strips = vec![(0..192u32)
            .flat_map(|i| (i as f32 / 192.0).to_le_bytes())
            .collect()];
        s.with(SAMPLE_FORMAT, Val::Short(vec![3, 3, 3])).build()
    });
    out.add(
        "photometric-99",
        Spec::grey(8, 8)
            .with(PHOTOMETRIC, Val::Short(vec![99]))
            .build(),
    );
    out.add(
        "photometric-cmyk-1-sample",
        Spec::grey(8, 8)
            .with(PHOTOMETRIC, Val::Short(vec![5]))
            .build(),
    );
    // Dimensions.
    let thin = |w: u32, h: u32| {
        let mut s = Spec::grey(w, h);
        s.compression = 8;
        s.strips = vec![zlib_zeros(u64::from(w) * u64::from(h))];
        s
    };
    out.add("size-1x1000000", thin(1, 1_000_000).build());
    out.add("size-1000000x1", thin(1_000_000, 1).build());
    out.add(
        "size-0x0",
        Spec::grey(8, 8)
            .with(WIDTH, Val::Long(vec![0]))
            .with(HEIGHT, Val::Long(vec![0]))
            .build(),
    );
    out.add(
        "size-65536x65536",
        thin(8, 8)
            .with(WIDTH, Val::Long(vec![65536]))
            .with(HEIGHT, Val::Long(vec![65536]))
            .build(),
    );
    out.add(
        "width-rational",
        Spec::grey(8, 8)
            .with(
                WIDTH,
                Val::Raw {
                    typ: 5,
                    count: 1,
                    bytes: [8u32.to_le_bytes(), 1u32.to_le_bytes()].concat(),
                },
            )
            .build(),
    );
    out.add(
        "width-count-0",
        Spec::grey(8, 8)
            .with(
                WIDTH,
                Val::Raw {
                    typ: 4,
                    count: 0,
                    bytes: Vec::new(),
                },
            )
            .build(),
    );
    // Entry types and counts.
    out.add(
        "entry-type-0",
        Spec::grey(8, 8)
            .with(
                BITS,
                Val::Raw {
                    typ: 0,
                    count: 1,
                    bytes: vec![8, 0],
                },
            )
            .build(),
    );
    out.add(
        "entry-type-20",
        Spec::grey(8, 8)
            .with(
                PHOTOMETRIC,
                Val::Raw {
                    typ: 20,
                    count: 1,
                    bytes: vec![1, 0],
                },
            )
            .build(),
    );
    out.add(
        "entry-count-overflow",
        Spec::grey(8, 8)
            .with(
                700,
                Val::Pointer {
                    typ: 12,
                    count: 0x4000_0000,
                    offset: 8,
                },
            )
            .build(),
    );
    // Tags out of order, and ImageWidth twice with different values.
    out.add("tags-unsorted", {
        let mut t = Tiff::new(true);
        let strip = t.blob(&[1; 64]);
        let at = t.next_offset();
        t.ifd(
            &[
                (STRIP_COUNTS, Val::Long(vec![64])),
                (HEIGHT, Val::Long(vec![8])),
                (STRIP_OFFSETS, ptr(strip)),
                (WIDTH, Val::Long(vec![8])),
                (BITS, Val::Short(vec![8])),
                (WIDTH, Val::Long(vec![9000])),
                (PHOTOMETRIC, Val::Short(vec![1])),
            ],
            0,
        );
        t.set_first_ifd(u64::from(at));
        t.finish()
    });
}
