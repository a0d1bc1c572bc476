//! Hostile PNG files: every chunk type with too little, too much and no
//! data (CRC right, so only the length is wrong), length fields that lie,
//! wrong CRCs, duplicated, missing and out-of-order chunks, zlib bombs
//! (in IDAT, iCCP, zTXt and iTXt) with header dimensions inside and
//! outside the pixel budget, zero, huge and 1 x 1,000,000 dimensions,
//! invalid header fields, 16-bit and interlaced images, APNG control
//! chunks that contradict each other, hostile eXIf blocks and broken zlib.

use super::bytes::{be16, be32, crc32, noise, zlib_stored, zlib_zeros};
use super::{encode, gradient, ifd, Out};

pub const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// A chunk: type and data.
pub type Chunk = ([u8; 4], Vec<u8>);

/// A well-formed chunk (length, type, data, CRC).
pub fn chunk(typ: &[u8; 4], data: &[u8]) -> Vec<u8> {
    chunk_raw(typ, data.len() as u32, data, None)
}

/// A chunk whose length field says `declared` and whose CRC is `crc`
/// (`None`: the right one).
pub fn chunk_raw(typ: &[u8; 4], declared: u32, data: &[u8], crc: Option<u32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&be32(declared));
    out.extend_from_slice(typ);
    out.extend_from_slice(data);
    let right = crc32(&[typ.as_slice(), data].concat());
    out.extend_from_slice(&be32(crc.unwrap_or(right)));
    out
}

/// The signature and `chunks`, each well formed.
pub fn assemble(chunks: &[Chunk]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    for (t, d) in chunks {
        out.extend(chunk(t, d));
    }
    out
}

/// IHDR data.
pub fn ihdr(w: u32, h: u32, depth: u8, colour: u8, interlace: u8) -> Vec<u8> {
    [
        be32(w).as_slice(),
        &be32(h),
        &[depth, colour, 0, 0, interlace],
    ]
    .concat()
}

/// Unfiltered scanlines (filter byte 0) of `w` x `h` pixels of `bpp`
/// bytes, the byte at `(x, y, channel)` given by `f`.
pub fn scanlines(w: u32, h: u32, bpp: u32, f: impl Fn(u32, u32, u32) -> u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(((w * bpp + 1) * h) as usize);
    for y in 0..h {
        out.push(0);
        for x in 0..w {
            for c in 0..bpp {
                out.push(f(x, y, c));
            }
        }
    }
    out
}

/// Adam7 interlaced scanlines of an 8-bit-per-byte image (`bpp` bytes per
/// pixel), the byte at `(x, y, channel)` given by `f`.
pub fn adam7(w: u32, h: u32, bpp: u32, f: impl Fn(u32, u32, u32) -> u8) -> Vec<u8> {
    const PASSES: [(u32, u32, u32, u32); 7] = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ];
    let mut out = Vec::new();
    for (x0, y0, dx, dy) in PASSES {
        let pw = (w + dx - 1 - x0.min(w)) / dx;
        let ph = (h + dy - 1 - y0.min(h)) / dy;
        if x0 >= w || y0 >= h || pw == 0 || ph == 0 {
            continue;
        }
        for py in 0..ph {
            out.push(0);
            for px in 0..pw {
                for c in 0..bpp {
                    out.push(f(x0 + px * dx, y0 + py * dy, c));
                }
            }
        }
    }
    out
}

/// A PNG of IHDR, `extra` chunks, one IDAT holding `zdata`, IEND.
pub fn simple(ihdr_data: Vec<u8>, extra: Vec<Chunk>, zdata: Vec<u8>) -> Vec<u8> {
    let mut chunks = vec![(*b"IHDR", ihdr_data)];
    chunks.extend(extra);
    chunks.push((*b"IDAT", zdata));
    chunks.push((*b"IEND", Vec::new()));
    assemble(&chunks)
}

fn palette(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| [(i * 37) as u8, (i * 91) as u8, !((i * 13) as u8)])
        .collect()
}

fn fctl(seq: u32, w: u32, h: u32, x: u32, y: u32, dispose: u8, blend: u8) -> Vec<u8> {
    [
        be32(seq).as_slice(),
        &be32(w),
        &be32(h),
        &be32(x),
        &be32(y),
        &be16(1),
        &be16(10),
        &[dispose, blend],
    ]
    .concat()
}

fn text_chunks() -> Vec<Chunk> {
    vec![
        (*b"tEXt", b"Comment\0synthetic test file".to_vec()),
        (
            *b"zTXt",
            [b"Comment\0\0".as_slice(), &zlib_stored(b"compressed text")].concat(),
        ),
        (
            *b"iTXt",
            [
                b"Comment\0\0\0en\0Comment\0".as_slice(),
                b"international text",
            ]
            .concat(),
        ),
    ]
}

/// A palette image with one of every chunk type the decoders know (and
/// APNG's), in a valid order: the base for the per-chunk length variants.
fn kitchen_sink() -> Vec<Chunk> {
    let (w, h) = (16, 12);
    let pixels = scanlines(w, h, 1, |x, y, _| ((x + y) % 4) as u8);
    let z = zlib_stored(&pixels);
    let exif = ifd::exif_tiff(&[(0x0112, ifd::Val::Short(vec![1]))]);
    let mut icc = b"synthetic\0\0".to_vec();
    icc.extend(zlib_stored(&[0u8; 128]));
    let mut chunks: Vec<Chunk> = vec![
        (*b"IHDR", ihdr(w, h, 8, 3, 0)),
        (*b"acTL", [be32(1), be32(0)].concat()),
        (*b"gAMA", be32(45455).to_vec()),
        (
            *b"cHRM",
            [31270u32, 32900, 64000, 33000, 30000, 60000, 15000, 6000]
                .iter()
                .flat_map(|v| be32(*v))
                .collect(),
        ),
        (*b"iCCP", icc),
        (*b"sBIT", vec![8, 8, 8]),
        (*b"PLTE", palette(4)),
        (*b"tRNS", vec![0, 128, 255, 255]),
        (*b"bKGD", vec![1]),
        (*b"hIST", [be16(1), be16(2), be16(3), be16(4)].concat()),
        (
            *b"pHYs",
            [be32(2835), be32(2835)]
                .concat()
                .into_iter()
                .chain([1])
                .collect(),
        ),
        (
            *b"sPLT",
            [b"pal\0".as_slice(), &[8], &[1, 2, 3, 4], &be16(1)].concat(),
        ),
        (*b"tIME", [be16(2024).as_slice(), &[1, 2, 3, 4, 5]].concat()),
        (*b"eXIf", exif),
    ];
    chunks.extend(text_chunks());
    chunks.push((*b"fcTL", fctl(0, w, h, 0, 0, 0, 0)));
    chunks.push((*b"IDAT", z));
    chunks.push((*b"IEND", Vec::new()));
    chunks
}

pub fn generate(out: &mut Out) {
    let rgb = encode(&gradient(64, 48), image::ImageFormat::Png);
    out.add("base-rgb8", rgb.clone());
    out.derived("base-rgb8", &rgb, 0x0b1);
    let sink = kitchen_sink();
    out.add("kitchen-sink", assemble(&sink));

    // Every chunk type with too little data, too much and none, its CRC
    // right; and for the critical and length-sensitive ones, a length
    // field that lies and one that is huge.
    for (i, (typ, data)) in sink.iter().enumerate() {
        let name = String::from_utf8_lossy(typ).to_lowercase();
        let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
        if !data.is_empty() {
            variants.push(("short".into(), chunk(typ, &data[..data.len() - 1])));
            variants.push(("empty".into(), chunk(typ, &[])));
        }
        variants.push((
            "long".into(),
            chunk(typ, &[data.as_slice(), &[0x41, 0x42, 0x43, 7]].concat()),
        ));
        if matches!(
            typ,
            b"IHDR" | b"PLTE" | b"tRNS" | b"IDAT" | b"IEND" | b"iCCP" | b"zTXt" | b"acTL" | b"fcTL"
        ) {
            variants.push((
                "len-plus-one".into(),
                chunk_raw(typ, data.len() as u32 + 1, data, None),
            ));
            variants.push(("len-huge".into(), chunk_raw(typ, 0x7fff_fff0, data, None)));
            variants.push((
                "bad-crc".into(),
                chunk_raw(typ, data.len() as u32, data, Some(0)),
            ));
        }
        for (what, bytes) in variants {
            let mut file = SIGNATURE.to_vec();
            for (j, (t, d)) in sink.iter().enumerate() {
                if j == i {
                    file.extend_from_slice(&bytes);
                } else {
                    file.extend(chunk(t, d));
                }
            }
            out.add(&format!("chunk-{name}-{what}"), file);
        }
    }
    // Every CRC wrong.
    {
        let mut file = SIGNATURE.to_vec();
        for (t, d) in &sink {
            file.extend(chunk_raw(t, d.len() as u32, d, Some(0xdead_beef)));
        }
        out.add("all-crcs-wrong", file);
    }

    palette_cases(out);
    header_cases(out);
    order_cases(out);
    bomb_cases(out);
    apng_cases(out);
    depth_and_interlace_cases(out);
    zlib_cases(out);
    for (name, exif) in ifd::hostile_exif().into_iter().take(8) {
        let file = simple(
            ihdr(8, 8, 8, 0, 0),
            vec![(*b"eXIf", exif)],
            zlib_stored(&scanlines(8, 8, 1, |x, _, _| x as u8 * 30)),
        );
        out.add(&format!("exif-{name}"), file);
    }
}

fn palette_cases(out: &mut Out) {
    let (w, h) = (8, 8);
    let idx = |f: fn(u32, u32) -> u8| zlib_stored(&scanlines(w, h, 1, move |x, y, _| f(x, y)));
    // The user-found class: PLTE lengths that are not whole entries (the
    // png crate indexed past the end), next to 0 and 257 entries.
    for len in [1usize, 2, 7, 8, 770, 771] {
        out.add(
            &format!("plte-len-{len}"),
            simple(
                ihdr(w, h, 8, 3, 0),
                vec![(*b"PLTE", palette(257)[..len].to_vec())],
                idx(|x, _| x as u8),
            ),
        );
    }
    out.add(
        "plte-missing",
        simple(ihdr(w, h, 8, 3, 0), vec![], idx(|x, _| x as u8)),
    );
    // Indices far past a 2-entry palette, with a tRNS longer than it.
    out.add(
        "plte-index-out-of-range",
        simple(
            ihdr(w, h, 8, 3, 0),
            vec![(*b"PLTE", palette(2)), (*b"tRNS", vec![0; 200])],
            idx(|x, y| (x * 31 + y * 7) as u8 | 0x80),
        ),
    );
    // 4-bit palette, odd width, and a palette on an RGB image.
    out.add(
        "plte-4bit",
        simple(
            ihdr(7, 5, 4, 3, 0),
            vec![(*b"PLTE", palette(16))],
            zlib_stored(&scanlines(4, 5, 1, |x, y, _| (x * 16 + y) as u8)),
        ),
    );
    out.add(
        "plte-on-rgb-trns-wrong",
        simple(
            ihdr(w, h, 8, 2, 0),
            vec![(*b"PLTE", palette(256)), (*b"tRNS", vec![1, 2, 3])],
            zlib_stored(&scanlines(w, h, 3, |x, _, c| (x * 20 + c) as u8)),
        ),
    );
    out.add(
        "trns-grey-wrong-length",
        simple(
            ihdr(w, h, 8, 0, 0),
            vec![(*b"tRNS", vec![0; 7])],
            zlib_stored(&scanlines(w, h, 1, |x, _, _| x as u8)),
        ),
    );
}

fn header_cases(out: &mut Out) {
    let grey = |w: u32, h: u32| zlib_zeros((u64::from(w) + 1) * u64::from(h));
    out.add(
        "ihdr-width-0",
        simple(ihdr(0, 8, 8, 0, 0), vec![], grey(1, 8)),
    );
    out.add(
        "ihdr-height-0",
        simple(ihdr(8, 0, 8, 0, 0), vec![], grey(8, 1)),
    );
    // Thin strips inside the pixel budget: they decode.
    out.add(
        "ihdr-1x1000000",
        simple(ihdr(1, 1_000_000, 8, 0, 0), vec![], grey(1, 1_000_000)),
    );
    out.add(
        "ihdr-1000000x1",
        simple(ihdr(1_000_000, 1, 8, 0, 0), vec![], grey(1_000_000, 1)),
    );
    out.add(
        "ihdr-max-square",
        simple(ihdr(0x7fff_ffff, 0x7fff_ffff, 8, 6, 0), vec![], grey(8, 8)),
    );
    out.add(
        "ihdr-width-2pow31",
        simple(ihdr(0x8000_0000, 1, 8, 0, 0), vec![], grey(8, 1)),
    );
    out.add(
        "ihdr-16777217x1",
        simple(ihdr(16_777_217, 1, 1, 0, 0), vec![], zlib_zeros(2_097_154)),
    );
    for (name, depth, colour, interlace, comp, filter) in [
        ("depth-3", 3u8, 0u8, 0u8, 0u8, 0u8),
        ("depth-0", 0, 2, 0, 0, 0),
        ("colour-5", 8, 5, 0, 0, 0),
        ("colour-255", 8, 255, 0, 0, 0),
        ("palette-depth-16", 16, 3, 0, 0, 0),
        ("interlace-2", 8, 0, 2, 0, 0),
        ("compression-1", 8, 0, 0, 1, 0),
        ("filter-method-1", 8, 0, 0, 0, 1),
    ] {
        let mut hd = ihdr(8, 8, depth, colour, interlace);
        hd[10] = comp;
        hd[11] = filter;
        out.add(&format!("ihdr-{name}"), simple(hd, vec![], grey(64, 8)));
    }
    // Filter bytes 5 and 255 on otherwise good rows.
    for fb in [5u8, 255] {
        let mut raw = scanlines(8, 8, 1, |x, _, _| x as u8);
        raw[9 * 3] = fb;
        out.add(
            &format!("filter-byte-{fb}"),
            simple(ihdr(8, 8, 8, 0, 0), vec![], zlib_stored(&raw)),
        );
    }
}

fn order_cases(out: &mut Out) {
    let hd = ihdr(8, 8, 8, 0, 0);
    let z = zlib_stored(&scanlines(8, 8, 1, |x, y, _| (x ^ y) as u8 * 20));
    let idat = (*b"IDAT", z.clone());
    let iend = (*b"IEND", Vec::new());
    let ih = (*b"IHDR", hd.clone());
    out.add(
        "ihdr-twice",
        assemble(&[
            ih.clone(),
            (*b"IHDR", ihdr(9000, 9000, 8, 2, 0)),
            idat.clone(),
            iend.clone(),
        ]),
    );
    out.add("ihdr-missing", assemble(&[idat.clone(), iend.clone()]));
    out.add(
        "ihdr-not-first",
        assemble(&[
            (*b"gAMA", be32(45455).to_vec()),
            ih.clone(),
            idat.clone(),
            iend.clone(),
        ]),
    );
    out.add("idat-missing", assemble(&[ih.clone(), iend.clone()]));
    out.add("iend-missing", assemble(&[ih.clone(), idat.clone()]));
    out.add("signature-only", SIGNATURE.to_vec());
    out.add(
        "ihdr-after-idat",
        assemble(&[idat.clone(), ih.clone(), iend.clone()]),
    );
    // IDAT split in one-byte chunks, and in pieces with text between them.
    let mut split = vec![ih.clone()];
    split.extend(z.iter().map(|b| (*b"IDAT", vec![*b])));
    split.push(iend.clone());
    out.add("idat-one-byte-chunks", assemble(&split));
    let mut broken = vec![ih.clone()];
    for piece in z.chunks(10) {
        broken.push((*b"IDAT", piece.to_vec()));
        broken.push((*b"tEXt", b"k\0v".to_vec()));
    }
    broken.push(iend.clone());
    out.add("idat-interrupted", assemble(&broken));
    // Thousands of empty IDATs, and of tEXt chunks, before the data.
    let mut many = vec![ih.clone()];
    many.extend((0..20_000).map(|_| (*b"IDAT", Vec::new())));
    many.push(idat.clone());
    many.push(iend.clone());
    out.add("idat-20000-empty", assemble(&many));
    let mut texts = vec![ih.clone()];
    texts.extend((0..20_000).map(|i| (*b"tEXt", format!("k{i}\0v").into_bytes())));
    texts.push(idat.clone());
    texts.push(iend.clone());
    out.add("text-20000-chunks", assemble(&texts));
    out.add(
        "plte-twice-and-after-idat",
        assemble(&[
            (*b"IHDR", ihdr(8, 8, 8, 3, 0)),
            (*b"PLTE", palette(3)),
            (*b"PLTE", palette(200)),
            idat.clone(),
            (*b"PLTE", palette(5)),
            iend.clone(),
        ]),
    );
    out.add(
        "trns-before-plte",
        assemble(&[
            (*b"IHDR", ihdr(8, 8, 8, 3, 0)),
            (*b"tRNS", vec![0; 10]),
            (*b"PLTE", palette(4)),
            idat.clone(),
            iend.clone(),
        ]),
    );
    // An unknown critical chunk (must be refused), a type with NULs, and
    // data after IEND.
    out.add(
        "unknown-critical-chunk",
        assemble(&[
            ih.clone(),
            (*b"ABCD", vec![1; 16]),
            idat.clone(),
            iend.clone(),
        ]),
    );
    out.add(
        "chunk-type-nul",
        assemble(&[
            ih.clone(),
            ([0, 0, 0, 0], vec![1; 16]),
            idat.clone(),
            iend.clone(),
        ]),
    );
    let mut after = assemble(&[ih, idat, iend]);
    after.extend(noise(0x0af7, 4096));
    out.add("data-after-iend", after);
}

fn bomb_cases(out: &mut Out) {
    // Small header, huge stream: 64x64 RGB whose IDAT inflates to 128 MiB.
    out.add(
        "bomb-small-header-128mib",
        simple(ihdr(64, 64, 8, 2, 0), vec![], zlib_zeros(128 << 20)),
    );
    // Inside the default 40 MP budget: 6000x6000 RGB, 108 MB of pixels.
    out.add(
        "bomb-6000x6000-rgb",
        simple(
            ihdr(6000, 6000, 8, 2, 0),
            vec![],
            zlib_zeros((1 + 6000 * 3) * 6000),
        ),
    );
    // Outside it: 20000x20000 grey, 400 MB.
    out.add(
        "bomb-20000x20000-grey",
        simple(
            ihdr(20000, 20000, 8, 0, 0),
            vec![],
            zlib_zeros(20001 * 20000),
        ),
    );
    // Inside the budget by pixels, outside by memory: 7000x5000 RGBA 16-bit.
    out.add(
        "bomb-7000x5000-rgba16",
        simple(ihdr(7000, 5000, 16, 6, 0), vec![], zlib_zeros(56001 * 5000)),
    );
    let small = zlib_stored(&scanlines(8, 8, 1, |x, _, _| x as u8));
    let hd = ihdr(8, 8, 8, 0, 0);
    // Ancillary chunks that inflate to 100 MiB.
    let bomb = zlib_zeros(100 << 20);
    out.add(
        "bomb-iccp",
        simple(
            hd.clone(),
            vec![(*b"iCCP", [b"p\0\0".as_slice(), &bomb].concat())],
            small.clone(),
        ),
    );
    out.add(
        "bomb-ztxt",
        simple(
            hd.clone(),
            vec![(*b"zTXt", [b"Comment\0\0".as_slice(), &bomb].concat())],
            small.clone(),
        ),
    );
    out.add(
        "bomb-itxt",
        simple(
            hd,
            vec![(
                *b"iTXt",
                [b"Comment\0\x01\0en\0C\0".as_slice(), &bomb].concat(),
            )],
            small,
        ),
    );
}

fn apng_cases(out: &mut Out) {
    let (w, h) = (8, 8);
    let frame = zlib_stored(&scanlines(w, h, 3, |x, y, c| (x * 30 + y * 10 + c) as u8));
    let fdat = |seq: u32| [be32(seq).as_slice(), &frame].concat();
    let base = |actl: Vec<u8>, rest: Vec<Chunk>| {
        let mut c = vec![(*b"IHDR", ihdr(w, h, 8, 2, 0)), (*b"acTL", actl)];
        c.extend(rest);
        c.push((*b"IEND", Vec::new()));
        assemble(&c)
    };
    let actl = |n: u32| [be32(n), be32(0)].concat();
    let good_rest = vec![
        (*b"fcTL", fctl(0, w, h, 0, 0, 0, 0)),
        (*b"IDAT", frame.clone()),
        (*b"fcTL", fctl(1, 4, 4, 2, 2, 1, 1)),
        (*b"fdAT", fdat(2)),
    ];
    out.add("apng-valid-two-frames", base(actl(2), good_rest.clone()));
    out.add("apng-frames-0", base(actl(0), good_rest.clone()));
    out.add(
        "apng-frames-2pow31",
        base(actl(0x7fff_ffff), good_rest.clone()),
    );
    out.add(
        "apng-frame-larger-than-canvas",
        base(
            actl(2),
            vec![
                (*b"fcTL", fctl(0, w, h, 0, 0, 0, 0)),
                (*b"IDAT", frame.clone()),
                (*b"fcTL", fctl(1, 60000, 60000, 0, 0, 0, 0)),
                (*b"fdAT", fdat(2)),
            ],
        ),
    );
    out.add(
        "apng-offset-overflow",
        base(
            actl(2),
            vec![
                (*b"fcTL", fctl(0, w, h, 0, 0, 0, 0)),
                (*b"IDAT", frame.clone()),
                (*b"fcTL", fctl(1, 4, 4, 0xffff_fffe, 0xffff_fffe, 0, 0)),
                (*b"fdAT", fdat(2)),
            ],
        ),
    );
    out.add(
        "apng-first-fctl-not-canvas",
        base(
            actl(1),
            vec![
                (*b"fcTL", fctl(0, 3, 3, 5, 5, 0, 0)),
                (*b"IDAT", frame.clone()),
            ],
        ),
    );
    out.add(
        "apng-fdat-before-fctl",
        base(
            actl(2),
            vec![
                (*b"IDAT", frame.clone()),
                (*b"fdAT", fdat(0)),
                (*b"fcTL", fctl(1, 4, 4, 0, 0, 0, 0)),
            ],
        ),
    );
    out.add(
        "apng-sequence-duplicated",
        base(
            actl(3),
            vec![
                (*b"fcTL", fctl(0, w, h, 0, 0, 0, 0)),
                (*b"IDAT", frame.clone()),
                (*b"fcTL", fctl(0, w, h, 0, 0, 0, 0)),
                (*b"fdAT", fdat(0)),
                (*b"fcTL", fctl(7, w, h, 0, 0, 0, 0)),
            ],
        ),
    );
    out.add(
        "apng-bad-ops-zero-size",
        base(
            actl(2),
            vec![
                (*b"fcTL", fctl(0, w, h, 0, 0, 3, 2)),
                (*b"IDAT", frame.clone()),
                (*b"fcTL", fctl(1, 0, 0, 0, 0, 9, 9)),
                (*b"fdAT", fdat(2)),
            ],
        ),
    );
    out.add(
        "apng-fctl-before-ihdr",
        assemble(&[
            (*b"fcTL", fctl(0, w, h, 0, 0, 0, 0)),
            (*b"IHDR", ihdr(w, h, 8, 2, 0)),
            (*b"acTL", actl(1)),
            (*b"IDAT", frame),
            (*b"IEND", Vec::new()),
        ]),
    );
}

fn depth_and_interlace_cases(out: &mut Out) {
    let img = gradient(48, 32);
    let dynimg = image::DynamicImage::ImageRgb8(img);
    for (name, converted) in [
        (
            "depth16-grey",
            image::DynamicImage::ImageLuma16(dynimg.to_luma16()),
        ),
        (
            "depth16-rgb",
            image::DynamicImage::ImageRgb16(dynimg.to_rgb16()),
        ),
        (
            "depth16-rgba",
            image::DynamicImage::ImageRgba16(dynimg.to_rgba16()),
        ),
        (
            "grey-alpha8",
            image::DynamicImage::ImageLumaA8(dynimg.to_luma_alpha8()),
        ),
    ] {
        let mut buf = std::io::Cursor::new(Vec::new());
        if converted
            .write_to(&mut buf, image::ImageFormat::Png)
            .is_ok()
        {
            out.add(name, buf.into_inner());
        }
    }
    let (w, h) = (13, 11);
    out.add(
        "interlaced-rgb8",
        simple(
            ihdr(w, h, 8, 2, 1),
            vec![],
            zlib_stored(&adam7(w, h, 3, |x, y, c| (x * 19 + y * 23 + c * 50) as u8)),
        ),
    );
    out.add(
        "interlaced-rgb16",
        simple(
            ihdr(w, h, 16, 2, 1),
            vec![],
            zlib_stored(&adam7(w, h, 6, |x, y, c| (x * 19 + y * 23 + c * 50) as u8)),
        ),
    );
    out.add(
        "interlaced-1x1",
        simple(
            ihdr(1, 1, 8, 0, 1),
            vec![],
            zlib_stored(&adam7(1, 1, 1, |_, _, _| 200)),
        ),
    );
    // Interlaced, but the data is for a non-interlaced image (too short).
    out.add(
        "interlaced-data-short",
        simple(
            ihdr(w, h, 8, 2, 1),
            vec![],
            zlib_stored(&scanlines(w, h - 4, 3, |x, _, _| x as u8)),
        ),
    );
    // A 1 x 40000 interlaced strip: pass 1 and 2 rows are nearly empty.
    out.add(
        "interlaced-1x40000",
        simple(
            ihdr(1, 40000, 8, 0, 1),
            vec![],
            zlib_stored(&adam7(1, 40000, 1, |_, y, _| y as u8)),
        ),
    );
}

fn zlib_cases(out: &mut Out) {
    let hd = ihdr(8, 8, 8, 0, 0);
    let raw = scanlines(8, 8, 1, |x, y, _| (x + y) as u8 * 9);
    let good = zlib_stored(&raw);
    let mut bad_adler = good.clone();
    let n = bad_adler.len();
    bad_adler[n - 1] ^= 0xff;
    let mut preset_dict = good.clone();
    preset_dict[1] = 0x20; // FDICT set; 0x7820 is a multiple of 31
    let mut bad_method = good.clone();
    bad_method[0] = 0x7f;
    let mut block_type_3 = good.clone();
    block_type_3[2] = 0x07;
    let mut len_nlen = good.clone();
    len_nlen[5] ^= 0x01;
    for (name, z) in [
        ("zlib-bad-adler", bad_adler),
        ("zlib-preset-dictionary", preset_dict),
        ("zlib-bad-method", bad_method),
        ("zlib-block-type-3", block_type_3),
        ("zlib-len-nlen-mismatch", len_nlen),
        ("zlib-truncated", good[..good.len() / 2].to_vec()),
        ("zlib-empty", Vec::new()),
        ("zlib-noise", noise(0x21b, 300)),
    ] {
        out.add(name, simple(hd.clone(), vec![], z));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_pngs_decode() {
        let (w, h) = (13, 11);
        for (depth, data) in [
            (8u8, adam7(w, h, 3, |x, y, c| (x + y + c) as u8)),
            (16, adam7(w, h, 6, |x, y, c| (x + y + c) as u8)),
        ] {
            let file = simple(ihdr(w, h, depth, 2, 1), vec![], zlib_stored(&data));
            let img = image::load_from_memory(&file).unwrap();
            assert_eq!((img.width(), img.height()), (w, h));
        }
        // The zero bomb inflates to exactly what the header needs.
        let file = simple(ihdr(300, 200, 8, 0, 0), vec![], zlib_zeros(301 * 200));
        let img = image::load_from_memory(&file).unwrap().to_luma8();
        assert!(img.as_raw().iter().all(|&p| p == 0));
        assert_eq!(img.dimensions(), (300, 200));
    }
}
