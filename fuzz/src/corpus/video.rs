//! Hostile video containers, built box by box and element by element:
//! ISO-BMFF/QuickTime (valid tiny uncompressed-RGB movies, then box sizes
//! of 0, 1 and 2^63, boxes smaller than their header, thousands of nested
//! or sibling tracks, zero timescales, absurd durations, dimensions and
//! sample tables, hostile codec configuration) and Matroska/WebM (an
//! uncompressed-RGB file, element sizes that lie, invalid variable-length
//! integers, recursion, absurd track fields, lacing abuse, a zlib-bomb
//! content encoding). They need not play; the valid ones do.

use super::bytes::{be16, be32, noise, zlib_zeros};
use super::Out;

// ---------------------------------------------------------------- ISO-BMFF

/// A box: 32-bit size, type, body.
fn bx(typ: &[u8; 4], body: &[u8]) -> Vec<u8> {
    bx_len(typ, (body.len() + 8) as u32, body)
}

fn bx_len(typ: &[u8; 4], size: u32, body: &[u8]) -> Vec<u8> {
    [be32(size).as_slice(), typ, body].concat()
}

/// A full box: version, flags, body.
fn full(typ: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let vf = (u32::from(version) << 24) | (flags & 0xff_ffff);
    bx(typ, &[be32(vf).as_slice(), body].concat())
}

const MATRIX: [u32; 9] = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000];

fn matrix() -> Vec<u8> {
    MATRIX.iter().flat_map(|v| be32(*v)).collect()
}

fn mvhd(timescale: u32, duration: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(be32(0));
    b.extend(be32(0));
    b.extend(be32(timescale));
    b.extend(be32(duration));
    b.extend(be32(0x10000));
    b.extend(be16(0x100));
    b.extend([0; 10]);
    b.extend(matrix());
    b.extend([0; 24]);
    b.extend(be32(2));
    full(b"mvhd", 0, 0, &b)
}

fn tkhd(id: u32, duration: u32, w: u32, h: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(be32(0));
    b.extend(be32(0));
    b.extend(be32(id));
    b.extend(be32(0));
    b.extend(be32(duration));
    b.extend([0; 8]);
    b.extend(be16(0));
    b.extend(be16(0));
    b.extend(be16(0));
    b.extend(be16(0));
    b.extend(matrix());
    b.extend(be32(w << 16));
    b.extend(be32(h << 16));
    full(b"tkhd", 0, 3, &b)
}

fn mdhd(timescale: u32, duration: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(be32(0));
    b.extend(be32(0));
    b.extend(be32(timescale));
    b.extend(be32(duration));
    b.extend(be16(0x55c4));
    b.extend(be16(0));
    full(b"mdhd", 0, 0, &b)
}

fn hdlr() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(b"mhlr");
    b.extend(b"vide");
    b.extend([0; 12]);
    b.extend(b"\x05Video");
    full(b"hdlr", 0, 0, &b)
}

/// An uncompressed 24-bit RGB sample entry (`raw `), `w` x `h`.
fn raw_entry(w: u16, h: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend([0; 6]);
    b.extend(be16(1));
    b.extend([0; 16]);
    b.extend(be16(w));
    b.extend(be16(h));
    b.extend(be32(0x0048_0000));
    b.extend(be32(0x0048_0000));
    b.extend(be32(0));
    b.extend(be16(1));
    b.extend([0; 32]);
    b.extend(be16(24));
    b.extend(be16(0xffff));
    bx(b"raw ", &b)
}

/// An `avc1` sample entry with `avcc` as its configuration.
fn avc1_entry(w: u16, h: u16, avcc: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend([0; 6]);
    b.extend(be16(1));
    b.extend([0; 16]);
    b.extend(be16(w));
    b.extend(be16(h));
    b.extend(be32(0x0048_0000));
    b.extend(be32(0x0048_0000));
    b.extend(be32(0));
    b.extend(be16(1));
    b.extend([0; 32]);
    b.extend(be16(24));
    b.extend(be16(0xffff));
    b.extend(bx(b"avcC", avcc));
    bx(b"avc1", &b)
}

/// The sample tables of `n` samples of `size` bytes in one chunk at
/// `offset`, each lasting `delta` ticks.
struct Tables {
    stsd: Vec<u8>,
    stts: Vec<u8>,
    stsc: Vec<u8>,
    stsz: Vec<u8>,
    stco: Vec<u8>,
}

impl Tables {
    fn new(entry: Vec<u8>, n: u32, size: u32, delta: u32, offset: u32) -> Tables {
        Tables {
            stsd: full(b"stsd", 0, 0, &[be32(1).as_slice(), &entry].concat()),
            stts: full(b"stts", 0, 0, &[be32(1), be32(n), be32(delta)].concat()),
            stsc: full(
                b"stsc",
                0,
                0,
                &[be32(1), be32(1), be32(n), be32(1)].concat(),
            ),
            stsz: full(b"stsz", 0, 0, &[be32(size), be32(n)].concat()),
            stco: stco(offset),
        }
    }

    fn stbl(&self, extra: &[u8]) -> Vec<u8> {
        bx(
            b"stbl",
            &[
                self.stsd.as_slice(),
                &self.stts,
                &self.stsc,
                &self.stsz,
                &self.stco,
                extra,
            ]
            .concat(),
        )
    }
}

/// A chunk offset table with one chunk at `offset`.
fn stco(offset: u32) -> Vec<u8> {
    full(b"stco", 0, 0, &[be32(1), be32(offset)].concat())
}

fn trak(tkhd_box: &[u8], mdhd_box: &[u8], stbl: &[u8], extra: &[u8]) -> Vec<u8> {
    let dref = full(
        b"dref",
        0,
        0,
        &[be32(1).as_slice(), &full(b"url ", 0, 1, &[])].concat(),
    );
    let vmhd = full(b"vmhd", 0, 1, &[0; 8]);
    let minf = bx(
        b"minf",
        &[vmhd.as_slice(), &bx(b"dinf", &dref), stbl].concat(),
    );
    let mdia = bx(b"mdia", &[mdhd_box, &hdlr(), &minf].concat());
    bx(b"trak", &[tkhd_box, extra, &mdia].concat())
}

/// What a hand-built movie is made of, so cases can replace one part.
struct Movie {
    ftyp: Vec<u8>,
    mvhd: Vec<u8>,
    tkhd: Vec<u8>,
    mdhd: Vec<u8>,
    tables: Tables,
    trak_extra: Vec<u8>,
    moov_extra: Vec<u8>,
    frames: Vec<u8>,
}

const W: u16 = 16;
const H: u16 = 16;
const FRAMES: u32 = 3;

impl Movie {
    /// Three 16x16 uncompressed RGB frames at 1 frame per second.
    fn raw() -> Movie {
        let size = u32::from(W) * u32::from(H) * 3;
        let frames: Vec<u8> = (0..FRAMES * size)
            .map(|i| {
                let p = i / 3 % (u32::from(W) * u32::from(H));
                let f = i / size;
                ((p % u32::from(W)) * 16 + f * 70 + (i % 3) * 40) as u8
            })
            .collect();
        Movie {
            ftyp: bx(
                b"ftyp",
                &[b"qt  ".as_slice(), &be32(0x200), b"qt  "].concat(),
            ),
            mvhd: mvhd(1000, FRAMES * 1000),
            tkhd: tkhd(1, FRAMES * 1000, u32::from(W), u32::from(H)),
            mdhd: mdhd(1, FRAMES),
            tables: Tables::new(raw_entry(W, H), FRAMES, size, 1, 0),
            trak_extra: Vec::new(),
            moov_extra: Vec::new(),
            frames,
        }
    }

    /// ftyp, mdat, moov (the chunk offset points into mdat).
    fn build(&mut self) -> Vec<u8> {
        // The placeholder chunk offset (0) becomes the frames' offset.
        let mdat_at = self.ftyp.len() as u32 + 8;
        if self.tables.stco == stco(0) {
            self.tables.stco = stco(mdat_at);
        }
        let trak = trak(
            &self.tkhd,
            &self.mdhd,
            &self.tables.stbl(&[]),
            &self.trak_extra,
        );
        let moov = bx(
            b"moov",
            &[self.mvhd.as_slice(), &trak, &self.moov_extra].concat(),
        );
        [self.ftyp.as_slice(), &bx(b"mdat", &self.frames), &moov].concat()
    }
}

fn mp4_cases(out: &mut Out) {
    let valid = Movie::raw().build();
    out.add("mov-raw-rgb-valid", valid.clone());
    for cut in [9, 40, valid.len() / 2, valid.len() - 30] {
        out.add(&format!("mov-raw-rgb-trunc-{cut}"), valid[..cut].to_vec());
    }
    {
        let mut mp4 = Movie::raw();
        mp4.ftyp = bx(
            b"ftyp",
            &[b"isom".as_slice(), &be32(0x200), b"isomiso2mp41"].concat(),
        );
        out.add("mp4-brand-raw-rgb", mp4.build());
    }
    let ftyp = bx(
        b"ftyp",
        &[b"isom".as_slice(), &be32(0x200), b"isom"].concat(),
    );
    let moov_body = {
        let m = Movie::raw();
        [
            m.mvhd.clone(),
            trak(&m.tkhd, &m.mdhd, &m.tables.stbl(&[]), &[]),
        ]
        .concat()
    };
    // Box sizes that lie.
    out.add(
        "box-size-0-to-eof",
        [ftyp.as_slice(), &bx_len(b"moov", 0, &moov_body)].concat(),
    );
    out.add(
        "box-size-1-largesize-2pow63",
        [
            ftyp.as_slice(),
            &be32(1),
            b"moov",
            &(1u64 << 63).to_be_bytes(),
            &moov_body,
        ]
        .concat(),
    );
    out.add(
        "box-size-1-largesize-8",
        [
            ftyp.as_slice(),
            &be32(1),
            b"moov",
            &8u64.to_be_bytes(),
            &moov_body,
        ]
        .concat(),
    );
    out.add(
        "box-size-ffffffff",
        [ftyp.as_slice(), &bx_len(b"moov", u32::MAX, &moov_body)].concat(),
    );
    out.add(
        "box-size-4",
        [ftyp.as_slice(), &bx_len(b"moov", 4, &moov_body)].concat(),
    );
    out.add("ftyp-truncated", ftyp[..10].to_vec());
    out.add(
        "ftyp-size-huge",
        [bx_len(b"ftyp", 0x7fff_fff0, b"isom"), moov_body.clone()].concat(),
    );
    // Deep nesting and many tracks.
    {
        let mut nested = bx(b"udta", &[]);
        for _ in 0..20_000 {
            nested = bx(b"udta", &nested);
        }
        out.add(
            "nested-udta-20000",
            [
                ftyp.as_slice(),
                &bx(b"moov", &[mvhd(1000, 1000), nested].concat()),
            ]
            .concat(),
        );
        let mut traks = bx(b"trak", &tkhd(1, 1, 16, 16));
        for i in 0..2000u32 {
            traks = bx(b"trak", &[tkhd(i + 2, 1, 16, 16), traks].concat());
        }
        out.add(
            "nested-trak-2000",
            [
                ftyp.as_slice(),
                &bx(b"moov", &[mvhd(1000, 1000), traks].concat()),
            ]
            .concat(),
        );
        let m = Movie::raw();
        let one = trak(&m.tkhd, &m.mdhd, &m.tables.stbl(&[]), &[]);
        let many: Vec<u8> = (0..3000).flat_map(|_| one.clone()).collect();
        out.add(
            "tracks-3000",
            [
                ftyp.as_slice(),
                &bx(b"moov", &[mvhd(1000, 1000), many].concat()),
            ]
            .concat(),
        );
    }
    // Absurd header fields.
    let case = |f: &dyn Fn(&mut Movie)| {
        let mut m = Movie::raw();
        f(&mut m);
        m.build()
    };
    out.add("mvhd-timescale-0", case(&|m| m.mvhd = mvhd(0, 1000)));
    out.add("mdhd-timescale-0", case(&|m| m.mdhd = mdhd(0, 3)));
    out.add("mdhd-duration-max", case(&|m| m.mdhd = mdhd(1, u32::MAX)));
    out.add(
        "mvhd-v1-duration-u64-max",
        case(&|m| {
            let mut b = vec![0u8; 16];
            b.extend(be32(1000));
            b.extend(u64::MAX.to_be_bytes());
            b.extend(be32(0x10000));
            b.extend(be16(0x100));
            b.extend([0; 10]);
            b.extend(matrix());
            b.extend([0; 24]);
            b.extend(be32(2));
            m.mvhd = full(b"mvhd", 1, 0, &b);
        }),
    );
    out.add(
        "dimensions-65535",
        case(&|m| {
            m.tkhd = tkhd(1, 3000, 65535, 65535);
            m.tables.stsd = full(
                b"stsd",
                0,
                0,
                &[be32(1).as_slice(), &raw_entry(65535, 65535)].concat(),
            );
        }),
    );
    out.add(
        "dimensions-0",
        case(&|m| {
            m.tkhd = tkhd(1, 3000, 0, 0);
            m.tables.stsd = full(
                b"stsd",
                0,
                0,
                &[be32(1).as_slice(), &raw_entry(0, 0)].concat(),
            );
        }),
    );
    out.add("frame-rate-1000000", case(&|m| m.mdhd = mdhd(1_000_000, 3)));
    out.add(
        "stsz-count-max",
        case(&|m| m.tables.stsz = full(b"stsz", 0, 0, &[be32(0), be32(u32::MAX)].concat())),
    );
    out.add(
        "stco-count-max",
        case(&|m| m.tables.stco = full(b"stco", 0, 0, &[be32(u32::MAX), be32(8)].concat())),
    );
    out.add(
        "stts-delta-0-count-max",
        case(&|m| {
            m.tables.stts = full(b"stts", 0, 0, &[be32(1), be32(u32::MAX), be32(0)].concat())
        }),
    );
    out.add(
        "stsc-first-chunk-0",
        case(&|m| {
            m.tables.stsc = full(
                b"stsc",
                0,
                0,
                &[
                    be32(2),
                    be32(0),
                    be32(5),
                    be32(1),
                    be32(0),
                    be32(7),
                    be32(9),
                ]
                .concat(),
            )
        }),
    );
    out.add(
        "stsd-count-max",
        case(&|m| {
            m.tables.stsd = full(
                b"stsd",
                0,
                0,
                &[be32(u32::MAX).as_slice(), &raw_entry(W, H)].concat(),
            )
        }),
    );
    out.add(
        "chunk-offset-past-end",
        case(&|m| m.tables.stco = full(b"stco", 0, 0, &[be32(1), be32(0x7fff_0000)].concat())),
    );
    out.add(
        "elst-10000-entries",
        case(&|m| {
            let mut b = be32(10_000).to_vec();
            for i in 0..10_000u32 {
                b.extend(be32(u32::MAX - i));
                b.extend(be32(i.wrapping_mul(7919)));
                b.extend(be32(0x10000));
            }
            m.trak_extra = bx(b"edts", &full(b"elst", 0, 0, &b));
        }),
    );
    out.add(
        "ctts-negative",
        case(&|m| {
            let ctts = full(
                b"ctts",
                1,
                0,
                &[be32(1), be32(FRAMES), be32(0x8000_0000)].concat(),
            );
            let stbl = m.tables.stbl(&ctts);
            m.tables.stco = full(b"stco", 0, 0, &[be32(1), be32(0x7fff_0000)].concat());
            m.trak_extra = Vec::new();
            m.moov_extra = bx(b"trak", &stbl);
        }),
    );
    {
        // avc1 with a configuration that claims 31 SPS of 65535 bytes.
        let mut avcc = vec![1, 0x64, 0, 0x1f, 0xff, 0xe0 | 31];
        for _ in 0..31 {
            avcc.extend(be16(65535));
            avcc.extend(noise(0xa7c, 40));
        }
        out.add(
            "avcc-sps-lengths-lie",
            case(&|m| {
                m.tables.stsd = full(
                    b"stsd",
                    0,
                    0,
                    &[be32(1).as_slice(), &avc1_entry(W, H, &avcc)].concat(),
                );
            }),
        );
        let sane = [
            vec![1, 0x42, 0, 0x1e, 0xff, 0xe1],
            be16(20).to_vec(),
            noise(0x5e5, 20),
            vec![1],
            be16(4).to_vec(),
            noise(0x9e9, 4),
        ]
        .concat();
        out.add(
            "avc1-noise-frames",
            case(&|m| {
                m.tables.stsd = full(
                    b"stsd",
                    0,
                    0,
                    &[be32(1).as_slice(), &avc1_entry(640, 480, &sane)].concat(),
                );
                m.frames = noise(0xf4a, m.frames.len());
            }),
        );
    }
    // Top-level oddities.
    out.add(
        "mdat-only",
        [ftyp.as_slice(), &bx(b"mdat", &noise(0xda7, 2000))].concat(),
    );
    out.add(
        "moov-without-mdat",
        [ftyp.as_slice(), &bx(b"moov", &moov_body)].concat(),
    );
    out.add("free-box-only", bx(b"free", &[0; 100]));
    out.add(
        "wide-then-noise",
        [bx(b"wide", &[]), noise(0x91de, 4000)].concat(),
    );
    {
        // A fragment whose run claims 2^32-1 samples.
        let trun = full(
            b"trun",
            0,
            0x301,
            &[be32(u32::MAX), be32(0), be32(1), be32(768)].concat(),
        );
        let traf = bx(
            b"traf",
            &[full(b"tfhd", 0, 0x20000, &be32(1)), trun].concat(),
        );
        let moof = bx(b"moof", &[full(b"mfhd", 0, 0, &be32(1)), traf].concat());
        out.add(
            "fragment-trun-count-max",
            [valid.clone(), moof, bx(b"mdat", &[0; 768])].concat(),
        );
    }
}

// ---------------------------------------------------------------- Matroska

/// An EBML variable-length size: one byte below 127, else eight bytes.
fn vsize(n: u64) -> Vec<u8> {
    if n < 127 {
        vec![0x80 | n as u8]
    } else {
        let mut v = n.to_be_bytes().to_vec();
        v[0] = 0x01;
        v
    }
}

fn el(id: &[u8], body: &[u8]) -> Vec<u8> {
    [id, vsize(body.len() as u64).as_slice(), body].concat()
}

fn uint(id: &[u8], v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count().min(7);
    el(id, &b[skip..])
}

fn float(id: &[u8], v: f64) -> Vec<u8> {
    el(id, &v.to_be_bytes())
}

const EBML: &[u8] = &[0x1a, 0x45, 0xdf, 0xa3];
const SEGMENT: &[u8] = &[0x18, 0x53, 0x80, 0x67];
const INFO: &[u8] = &[0x15, 0x49, 0xa9, 0x66];
const TRACKS: &[u8] = &[0x16, 0x54, 0xae, 0x6b];
const CLUSTER: &[u8] = &[0x1f, 0x43, 0xb6, 0x75];

fn ebml_header(doctype: &[u8], read_version: u64, max_id: u64, max_size: u64) -> Vec<u8> {
    el(
        EBML,
        &[
            uint(&[0x42, 0x86], 1),
            uint(&[0x42, 0xf7], 1),
            uint(&[0x42, 0xf2], max_id),
            uint(&[0x42, 0xf3], max_size),
            el(&[0x42, 0x82], doctype),
            uint(&[0x42, 0x87], 2),
            uint(&[0x42, 0x85], read_version),
        ]
        .concat(),
    )
}

fn info(timescale: u64, duration: f64) -> Vec<u8> {
    el(
        INFO,
        &[
            uint(&[0x2a, 0xd7, 0xb1], timescale),
            float(&[0x44, 0x89], duration),
            el(&[0x4d, 0x80], b"vigil-fuzz"),
            el(&[0x57, 0x41], b"vigil-fuzz"),
        ]
        .concat(),
    )
}

/// BITMAPINFOHEADER for uncompressed 24-bit `w` x `h` (bottom-up).
fn bitmap_info(w: u32, h: u32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(40u32.to_le_bytes());
    b.extend(w.to_le_bytes());
    b.extend(h.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(24u16.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(w.wrapping_mul(h).wrapping_mul(3).to_le_bytes());
    b.extend([0; 16]);
    b
}

/// A video track entry: codec, private data, size, `extra` elements.
fn track(codec: &[u8], private: &[u8], w: u64, h: u64, extra: &[u8]) -> Vec<u8> {
    el(
        &[0xae],
        &[
            uint(&[0xd7], 1),
            uint(&[0x73, 0xc5], 1),
            uint(&[0x83], 1),
            el(&[0x86], codec),
            el(&[0x63, 0xa2], private),
            uint(&[0x23, 0xe3, 0x83], 1_000_000_000),
            el(&[0xe0], &[uint(&[0xb0], w), uint(&[0xba], h)].concat()),
            extra.to_vec(),
        ]
        .concat(),
    )
}

fn simple_block(track: u8, timecode: i16, data: &[u8]) -> Vec<u8> {
    el(
        &[0xa3],
        &[
            &[0x80 | track],
            timecode.to_be_bytes().as_slice(),
            &[0x80],
            data,
        ]
        .concat(),
    )
}

/// A cluster at `timecode` (ms) holding `blocks`.
fn cluster(timecode: u64, blocks: &[Vec<u8>]) -> Vec<u8> {
    el(
        CLUSTER,
        &[uint(&[0xe7], timecode), blocks.concat()].concat(),
    )
}

/// Three 16x16 uncompressed frames, one per second, as `V_MS/VFW/FOURCC`.
fn mkv_raw(track_extra: &[u8], frame: impl Fn(u32) -> Vec<u8>) -> Vec<u8> {
    let tracks = el(
        TRACKS,
        &track(
            b"V_MS/VFW/FOURCC",
            &bitmap_info(16, 16),
            16,
            16,
            track_extra,
        ),
    );
    let clusters: Vec<u8> = (0..3u32)
        .flat_map(|i| cluster(u64::from(i) * 1000, &[simple_block(1, 0, &frame(i))]))
        .collect();
    [
        ebml_header(b"matroska", 2, 4, 8),
        el(
            SEGMENT,
            &[info(1_000_000, 3000.0), tracks, clusters].concat(),
        ),
    ]
    .concat()
}

fn raw_frame(i: u32) -> Vec<u8> {
    (0..16 * 16 * 3u32)
        .map(|p| ((p / 3 % 16) * 16 + i * 70 + p % 3 * 40) as u8)
        .collect()
}

fn mkv_cases(out: &mut Out) {
    let valid = mkv_raw(&[], raw_frame);
    out.add("mkv-raw-rgb-valid", valid.clone());
    for cut in [20, valid.len() / 2, valid.len() - 100] {
        out.add(&format!("mkv-raw-rgb-trunc-{cut}"), valid[..cut].to_vec());
    }
    let head = ebml_header(b"webm", 2, 4, 8);
    out.add("ebml-header-only", head.clone());
    out.add(
        "segment-unknown-size-empty",
        [
            head.as_slice(),
            SEGMENT,
            &[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ]
        .concat(),
    );
    out.add(
        "segment-size-2pow56",
        [
            head.as_slice(),
            SEGMENT,
            &[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe],
            &info(1_000_000, 1.0),
        ]
        .concat(),
    );
    out.add(
        "vint-length-byte-0",
        [
            head.as_slice(),
            SEGMENT,
            &[0x00, 0x00, 0x01],
            &noise(0xe1, 100),
        ]
        .concat(),
    );
    out.add(
        "id-5-bytes",
        [
            head.as_slice(),
            &[0x08, 0x01, 0x02, 0x03, 0x04],
            &vsize(4),
            &[1, 2, 3, 4],
        ]
        .concat(),
    );
    out.add(
        "ebml-read-version-99",
        [
            ebml_header(b"webm", 99, 4, 8),
            el(SEGMENT, &info(1_000_000, 1.0)),
        ]
        .concat(),
    );
    out.add(
        "ebml-max-id-255-size-0",
        [
            ebml_header(b"matroska", 2, 255, 0),
            el(SEGMENT, &info(1_000_000, 1.0)),
        ]
        .concat(),
    );
    out.add(
        "ebml-header-size-huge",
        [
            EBML,
            &[0x01, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &head[5..],
        ]
        .concat(),
    );
    // Recursion: SimpleTag may contain SimpleTag.
    {
        let mut tag = el(&[0x67, 0xc8], &el(&[0x45, 0xa3], b"k"));
        for _ in 0..5000 {
            tag = el(&[0x67, 0xc8], &tag);
        }
        let tags = el(&[0x12, 0x54, 0xc3, 0x67], &el(&[0x73, 0x73], &tag));
        out.add(
            "simple-tag-nested-5000",
            [
                head.as_slice(),
                &el(SEGMENT, &[info(1_000_000, 1.0), tags].concat()),
            ]
            .concat(),
        );
    }
    // Track fields.
    let with_track = |t: Vec<u8>, i: Vec<u8>, clusters: Vec<u8>| {
        [
            ebml_header(b"matroska", 2, 4, 8),
            el(SEGMENT, &[i, el(TRACKS, &t), clusters].concat()),
        ]
        .concat()
    };
    let frames: Vec<u8> = (0..3u32)
        .flat_map(|i| cluster(u64::from(i) * 1000, &[simple_block(1, 0, &raw_frame(i))]))
        .collect();
    let bmi = bitmap_info(16, 16);
    for (name, w, h) in [
        ("pixel-width-0", 0u64, 16u64),
        ("pixel-size-max", u64::from(u32::MAX), u64::from(u32::MAX)),
        ("pixel-size-2pow63", 1 << 63, 1 << 63),
    ] {
        out.add(
            name,
            with_track(
                track(b"V_MS/VFW/FOURCC", &bmi, w, h, &[]),
                info(1_000_000, 3000.0),
                frames.clone(),
            ),
        );
    }
    out.add(
        "bitmap-info-65535x65535",
        with_track(
            track(
                b"V_MS/VFW/FOURCC",
                &bitmap_info(65535, 65535),
                65535,
                65535,
                &[],
            ),
            info(1_000_000, 3000.0),
            frames.clone(),
        ),
    );
    for (name, d) in [
        ("duration-nan", f64::NAN),
        ("duration-inf", f64::INFINITY),
        ("duration-negative", -1.0),
        ("duration-1e300", 1e300),
    ] {
        out.add(
            name,
            with_track(
                track(b"V_MS/VFW/FOURCC", &bmi, 16, 16, &[]),
                info(1_000_000, d),
                frames.clone(),
            ),
        );
    }
    out.add(
        "timecode-scale-0",
        with_track(
            track(b"V_MS/VFW/FOURCC", &bmi, 16, 16, &[]),
            info(0, 3000.0),
            frames.clone(),
        ),
    );
    out.add(
        "block-for-missing-track",
        with_track(
            track(b"V_MS/VFW/FOURCC", &bmi, 16, 16, &[]),
            info(1_000_000, 3000.0),
            cluster(
                0,
                &[
                    simple_block(127, 0, &raw_frame(0)),
                    simple_block(1, -32768, &raw_frame(1)),
                ],
            ),
        ),
    );
    {
        // Xiph lacing: 255 frames whose sizes sum far past the block.
        let mut data = vec![0x81, 0, 0, 0x80 | 0x02, 254];
        for _ in 0..254 {
            data.extend([255, 255, 255, 10]);
        }
        data.extend(noise(0x1ac, 500));
        out.add(
            "lacing-xiph-sizes-lie",
            with_track(
                track(b"V_MS/VFW/FOURCC", &bmi, 16, 16, &[]),
                info(1_000_000, 3000.0),
                el(CLUSTER, &[uint(&[0xe7], 0), el(&[0xa3], &data)].concat()),
            ),
        );
        let ebml_lace = [
            vec![0x81, 0, 0, 0x80 | 0x06, 200, 0x40, 0x01],
            vec![0xbf; 199],
            noise(0xeb1, 300),
        ]
        .concat();
        out.add(
            "lacing-ebml-200-frames",
            with_track(
                track(b"V_MS/VFW/FOURCC", &bmi, 16, 16, &[]),
                info(1_000_000, 3000.0),
                el(
                    CLUSTER,
                    &[uint(&[0xe7], 0), el(&[0xa3], &ebml_lace)].concat(),
                ),
            ),
        );
    }
    {
        // Content encodings: a zlib bomb per frame, and header stripping
        // with 60 KB of settings.
        let compression = |algo: u64, settings: &[u8]| {
            el(
                &[0x6d, 0x80],
                &el(
                    &[0x62, 0x40],
                    &[
                        uint(&[0x50, 0x31], 0),
                        uint(&[0x50, 0x32], 1),
                        uint(&[0x50, 0x33], 0),
                        el(
                            &[0x50, 0x34],
                            &[uint(&[0x42, 0x54], algo), el(&[0x42, 0x55], settings)].concat(),
                        ),
                    ]
                    .concat(),
                ),
            )
        };
        let bomb = zlib_zeros(200 << 20);
        out.add(
            "content-zlib-bomb",
            mkv_raw(&compression(0, &[]), |_| bomb.clone()),
        );
        out.add(
            "content-header-stripping-60k",
            mkv_raw(&compression(3, &noise(0x3d, 60_000)), raw_frame),
        );
        out.add("content-algo-99", mkv_raw(&compression(99, &[]), raw_frame));
    }
    out.add(
        "vp9-noise",
        with_track(
            track(b"V_VP9", &noise(0x9f9, 16), 640, 360, &[]),
            info(1_000_000, 3000.0),
            (0..3u32)
                .flat_map(|i| {
                    cluster(
                        u64::from(i) * 1000,
                        &[simple_block(1, 0, &noise(u64::from(i) + 0x9f0, 3000))],
                    )
                })
                .collect(),
        ),
    );
    {
        let mut clusters = Vec::new();
        for i in 0..20_000u64 {
            clusters.extend([CLUSTER, &[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]].concat());
            clusters.extend(uint(&[0xe7], i));
        }
        out.add(
            "clusters-20000-unknown-size",
            with_track(
                track(b"V_MS/VFW/FOURCC", &bmi, 16, 16, &[]),
                info(1_000_000, 3000.0),
                clusters,
            ),
        );
    }
}

pub fn generate(out: &mut Out) {
    mp4_cases(out);
    mkv_cases(out);
}
