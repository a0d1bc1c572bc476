//! Hostile WebP files: RIFF sizes that lie, VP8, VP8L and VP8X chunks with
//! bad sizes and header fields, lossy frames whose partitions are noise
//! (libwebp, C code, parses them), extended files whose canvas disagrees
//! with the image, ALPH chunks with bad methods, animations (ANIM/ANMF)
//! with frames outside the canvas, too big, nested or 5,000 of them, and
//! ICC/EXIF/XMP chunks that are huge or hostile.

use super::bytes::{le16, le32, noise};
use super::{encode, gradient, ifd, Out};

/// A chunk: FourCC, size, data, pad byte for odd sizes.
fn chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    chunk_len(fourcc, data.len() as u32, data)
}

fn chunk_len(fourcc: &[u8; 4], len: u32, data: &[u8]) -> Vec<u8> {
    let mut out = fourcc.to_vec();
    out.extend(le32(len));
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// `RIFF`, the right size, `WEBP`, `chunks`.
fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body = chunks.concat();
    riff_len((body.len() + 4) as u32, &body)
}

fn riff_len(len: u32, body: &[u8]) -> Vec<u8> {
    [b"RIFF".as_slice(), &le32(len), b"WEBP", body].concat()
}

fn le24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// The chunks of a simple WebP (after `WEBP`).
fn parse(webp: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 12;
    while at + 8 <= webp.len() {
        let mut fourcc = [0u8; 4];
        fourcc.copy_from_slice(&webp[at..at + 4]);
        let len =
            u32::from_le_bytes([webp[at + 4], webp[at + 5], webp[at + 6], webp[at + 7]]) as usize;
        let end = (at + 8 + len).min(webp.len());
        out.push((fourcc, webp[at + 8..end].to_vec()));
        at = end + len % 2;
    }
    out
}

/// A VP8L bitstream header for `w` x `h` followed by `rest`.
fn vp8l_header(w: u32, h: u32, alpha: bool, version: u32, rest: &[u8]) -> Vec<u8> {
    let bits = (w - 1) | ((h - 1) << 14) | (u32::from(alpha) << 28) | (version << 29);
    [&[0x2f], le32(bits).as_slice(), rest].concat()
}

/// A lossy key frame header for `w` x `h` (14 bits each plus 2 scale bits)
/// and a first partition of `partition` bytes (the partition size field
/// says `declared`).
fn vp8(w: u16, h: u16, declared: u32, partition: &[u8]) -> Vec<u8> {
    let tag = (declared << 5) | (1 << 4); // key frame, version 0, shown
    let mut out = le32(tag)[..3].to_vec();
    out.extend([0x9d, 0x01, 0x2a]);
    out.extend(le16(w));
    out.extend(le16(h));
    out.extend_from_slice(partition);
    out
}

fn vp8x(flags: u8, w: u32, h: u32) -> Vec<u8> {
    let mut d = vec![flags, 0, 0, 0];
    d.extend(le24(w.wrapping_sub(1)));
    d.extend(le24(h.wrapping_sub(1)));
    chunk(b"VP8X", &d)
}

fn anmf(x: u32, y: u32, w: u32, h: u32, duration: u32, flags: u8, frame: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend(le24(x / 2));
    d.extend(le24(y / 2));
    d.extend(le24(w.wrapping_sub(1)));
    d.extend(le24(h.wrapping_sub(1)));
    d.extend(le24(duration));
    d.push(flags);
    d.extend_from_slice(frame);
    chunk(b"ANMF", &d)
}

fn anim(loops: u16) -> Vec<u8> {
    chunk(b"ANIM", &[[0, 0, 0, 255].as_slice(), &le16(loops)].concat())
}

pub fn generate(out: &mut Out) {
    let base = encode(&gradient(48, 32), image::ImageFormat::WebP);
    out.add("base-lossless", base.clone());
    out.derived("base-lossless", &base, 0x3eb);
    let chunks = parse(&base);
    let vp8l_data = chunks
        .iter()
        .find(|(c, _)| c == b"VP8L")
        .map(|(_, d)| d.clone())
        .unwrap_or_default();
    let vp8l_chunk = chunk(b"VP8L", &vp8l_data);
    let tiny = encode(&gradient(1, 1), image::ImageFormat::WebP);
    let tiny_chunk = tiny[12..].to_vec();

    // RIFF sizes that lie.
    let body = vp8l_chunk.clone();
    for (name, len) in [
        ("riff-size-0", 0u32),
        ("riff-size-4", 4),
        ("riff-size-past-end", body.len() as u32 + 1004),
        ("riff-size-max", u32::MAX),
        ("riff-size-odd", body.len() as u32 + 3),
    ] {
        out.add(name, riff_len(len, &body));
    }
    out.add("riff-only", b"RIFF\x04\x00\x00\x00WEBP".to_vec());

    // VP8L chunk sizes and header fields.
    for (name, len) in [
        ("vp8l-size-plus-one", vp8l_data.len() as u32 + 1),
        ("vp8l-size-minus-one", vp8l_data.len() as u32 - 1),
        ("vp8l-size-0", 0),
        ("vp8l-size-huge", 0x7fff_fff0),
    ] {
        out.add(name, riff(&[chunk_len(b"VP8L", len, &vp8l_data)]));
    }
    let body_bits = &vp8l_data[5..];
    for (name, w, h, version) in [
        ("vp8l-16384x16384", 16384u32, 16384u32, 0u32),
        ("vp8l-1x16384", 1, 16384, 0),
        ("vp8l-16384x1", 16384, 1, 0),
        ("vp8l-version-7", 48, 32, 7),
    ] {
        out.add(
            name,
            riff(&[chunk(
                b"VP8L",
                &vp8l_header(w, h, false, version, body_bits),
            )]),
        );
    }
    let mut bad_sig = vp8l_data.clone();
    bad_sig[0] = 0x2e;
    out.add("vp8l-bad-signature", riff(&[chunk(b"VP8L", &bad_sig)]));
    out.add(
        "vp8l-noise",
        riff(&[chunk(
            b"VP8L",
            &vp8l_header(64, 64, true, 0, &noise(0x8f1, 4000)),
        )]),
    );

    // Lossy frames: headers right or wrong, partitions of noise.
    let part = noise(0x7b8, 3000);
    out.add(
        "vp8-noise-64x48",
        riff(&[chunk(b"VP8 ", &vp8(64, 48, 1500, &part))]),
    );
    out.add(
        "vp8-noise-6000x6000",
        riff(&[chunk(b"VP8 ", &vp8(6000, 6000, 1500, &part))]),
    );
    out.add(
        "vp8-16383x16383",
        riff(&[chunk(b"VP8 ", &vp8(16383, 16383, 1500, &part))]),
    );
    out.add(
        "vp8-width-0",
        riff(&[chunk(b"VP8 ", &vp8(0, 48, 1500, &part))]),
    );
    out.add(
        "vp8-scale-bits",
        riff(&[chunk(b"VP8 ", &vp8(0xc000 | 64, 0xc000 | 48, 1500, &part))]),
    );
    out.add(
        "vp8-partition-past-end",
        riff(&[chunk(b"VP8 ", &vp8(64, 48, 500_000, &part))]),
    );
    out.add(
        "vp8-partition-0",
        riff(&[chunk(b"VP8 ", &vp8(64, 48, 0, &part))]),
    );
    let mut inter = vp8(64, 48, 1500, &part);
    inter[0] |= 1;
    out.add("vp8-not-key-frame", riff(&[chunk(b"VP8 ", &inter)]));
    let mut start = vp8(64, 48, 1500, &part);
    start[3] = 0;
    out.add("vp8-bad-start-code", riff(&[chunk(b"VP8 ", &start)]));
    out.add(
        "vp8-header-only",
        riff(&[chunk(b"VP8 ", &vp8(64, 48, 1500, &[])[..10])]),
    );

    // Extended format.
    out.add(
        "vp8x-canvas-2pow24",
        riff(&[vp8x(0, 1 << 24, 1 << 24), vp8l_chunk.clone()]),
    );
    out.add(
        "vp8x-canvas-1x1-image-48x32",
        riff(&[vp8x(0, 1, 1), vp8l_chunk.clone()]),
    );
    out.add(
        "vp8x-animation-flag-no-anim",
        riff(&[vp8x(0x02, 48, 32), vp8l_chunk.clone()]),
    );
    out.add("vp8x-no-image", riff(&[vp8x(0, 48, 32)]));
    out.add(
        "vp8x-twice",
        riff(&[vp8x(0, 48, 32), vp8x(0, 9000, 9000), vp8l_chunk.clone()]),
    );
    out.add(
        "vp8x-size-9",
        riff(&[
            chunk(b"VP8X", &[0, 0, 0, 0, 47, 0, 0, 31, 0]),
            vp8l_chunk.clone(),
        ]),
    );
    out.add(
        "iccp-size-huge",
        riff(&[
            vp8x(0x20, 48, 32),
            chunk_len(b"ICCP", 0x7fff_0000, &noise(0x1cc, 200)),
            vp8l_chunk.clone(),
        ]),
    );
    out.add(
        "iccp-1mib",
        riff(&[
            vp8x(0x20, 48, 32),
            chunk(b"ICCP", &noise(0x1cd, 1 << 20)),
            vp8l_chunk.clone(),
        ]),
    );
    for (name, tiff) in ifd::hostile_exif().into_iter().filter(|(n, _)| {
        matches!(
            n.as_str(),
            "orientation-9" | "ifd-loop-self" | "ifd-count-65535" | "subifd-loop"
        )
    }) {
        out.add(
            &format!("exif-{name}"),
            riff(&[
                vp8x(0x08, 48, 32),
                vp8l_chunk.clone(),
                chunk(b"EXIF", &tiff),
            ]),
        );
    }
    out.add(
        "xmp-noise",
        riff(&[
            vp8x(0x04, 48, 32),
            vp8l_chunk.clone(),
            chunk(b"XMP ", &noise(0x3a9, 5000)),
        ]),
    );

    // Alpha.
    let lossy = chunk(b"VP8 ", &vp8(48, 32, 1500, &part));
    for (name, header) in [
        ("alph-lossless-noise", 0x01u8),
        ("alph-method-3", 0x03),
        ("alph-filter-3", 0x0c),
        ("alph-reserved-bits", 0xf0),
    ] {
        let data = [&[header], noise(u64::from(header) + 0xa1, 800).as_slice()].concat();
        out.add(
            name,
            riff(&[vp8x(0x10, 48, 32), chunk(b"ALPH", &data), lossy.clone()]),
        );
    }
    out.add(
        "alph-uncompressed-short",
        riff(&[
            vp8x(0x10, 48, 32),
            chunk(b"ALPH", &[0, 1, 2, 3]),
            lossy.clone(),
        ]),
    );
    out.add(
        "alph-without-flag",
        riff(&[
            vp8x(0, 48, 32),
            chunk(b"ALPH", &[0; 48 * 32 + 1]),
            lossy.clone(),
        ]),
    );
    out.add(
        "alph-with-vp8l",
        riff(&[
            vp8x(0x10, 48, 32),
            chunk(b"ALPH", &[0; 48 * 32 + 1]),
            vp8l_chunk.clone(),
        ]),
    );

    // Animation.
    let frame = vp8l_chunk.clone();
    out.add(
        "anim-valid-two-frames",
        riff(&[
            vp8x(0x02, 48, 32),
            anim(0),
            anmf(0, 0, 48, 32, 100, 0, &frame),
            anmf(0, 0, 48, 32, 100, 0, &frame),
        ]),
    );
    out.add(
        "anim-frame-outside-canvas",
        riff(&[
            vp8x(0x02, 48, 32),
            anim(0),
            anmf(1 << 24, 1 << 24, 48, 32, 100, 0, &frame),
        ]),
    );
    out.add(
        "anim-frame-larger-than-canvas",
        riff(&[
            vp8x(0x02, 8, 8),
            anim(0),
            anmf(0, 0, 48, 32, 100, 0, &frame),
        ]),
    );
    out.add(
        "anim-frame-size-disagrees",
        riff(&[
            vp8x(0x02, 48, 32),
            anim(0),
            anmf(0, 0, 16, 16, 100, 0, &frame),
        ]),
    );
    out.add("anim-no-frames", riff(&[vp8x(0x02, 48, 32), anim(0)]));
    out.add(
        "anim-missing-anim-chunk",
        riff(&[vp8x(0x02, 48, 32), anmf(0, 0, 48, 32, 100, 0, &frame)]),
    );
    out.add(
        "anim-canvas-16384x16384",
        riff(&[
            vp8x(0x02, 16384, 16384),
            anim(0),
            anmf(0, 0, 48, 32, 100, 0, &frame),
        ]),
    );
    {
        let mut chunks = vec![vp8x(0x02, 64, 64), anim(65535)];
        for i in 0..5000u32 {
            chunks.push(anmf(
                (i % 32) * 2,
                (i / 32 % 32) * 2,
                1,
                1,
                0,
                0,
                &tiny_chunk,
            ));
        }
        out.add("anim-5000-frames", riff(&chunks));
    }
    {
        let inner = anmf(0, 0, 48, 32, 100, 0, &frame);
        let nested = anmf(0, 0, 48, 32, 0xff_ffff, 0xff, &inner);
        out.add(
            "anim-nested-anmf",
            riff(&[vp8x(0x02, 48, 32), anim(0), nested]),
        );
        let with_vp8x = anmf(
            0,
            0,
            48,
            32,
            100,
            0,
            &[vp8x(0, 48, 32), frame.clone()].concat(),
        );
        out.add(
            "anim-anmf-holding-vp8x",
            riff(&[vp8x(0x02, 48, 32), anim(0), with_vp8x]),
        );
        let mut lying = anmf(0, 0, 48, 32, 100, 0, &frame);
        lying[4..8].copy_from_slice(&le32(0x00ff_ffff));
        out.add(
            "anim-anmf-size-lies",
            riff(&[vp8x(0x02, 48, 32), anim(0), lying]),
        );
        out.add(
            "anim-lossy-noise-frames",
            riff(&[
                vp8x(0x12, 48, 32),
                anim(0),
                anmf(
                    0,
                    0,
                    48,
                    32,
                    100,
                    0,
                    &[chunk(b"ALPH", &[1, 2, 3]), lossy.clone()].concat(),
                ),
                anmf(0, 0, 48, 32, 100, 0, &lossy),
            ]),
        );
    }

    // Unknown chunks.
    out.add(
        "unknown-chunk-huge-size",
        riff(&[
            chunk_len(b"ZZZZ", 0xffff_fff0, &[1, 2, 3, 4]),
            vp8l_chunk.clone(),
        ]),
    );
    out.add("odd-chunk-without-padding", {
        let mut c = b"ZZZZ".to_vec();
        c.extend(le32(3));
        c.extend([1, 2, 3]);
        riff(&[c, vp8l_chunk])
    });
}
