//! Hostile GIF files: LZW bombs (a few KB for tens of megapixels, inside
//! and outside the pixel budget, and frames whose data runs far past
//! their size), frames outside the logical screen or of size zero, huge
//! screens with tiny frames, palettes whose size fields lie, 20,000
//! frames, invalid LZW code sizes and codes, broken sub-blocks and
//! extensions, and odd headers.

use super::bytes::{le16, lzw_run, noise, sub_blocks, BitWriter};
use super::{encode, gradient, Out};

/// `GIF89a`, the logical screen, and a global palette of `2^(size+1)`
/// entries when `gct` is set (fewer bytes than that when `gct` is short).
fn header(version: &[u8; 6], w: u16, h: u16, gct: Option<(u8, &[u8])>) -> Vec<u8> {
    let mut out = version.to_vec();
    out.extend(le16(w));
    out.extend(le16(h));
    match gct {
        Some((size, colours)) => {
            out.extend([0x80 | 0x70 | (size & 7), 0, 0]);
            out.extend_from_slice(colours);
        }
        None => out.extend([0x70, 0, 0]),
    }
    out
}

/// A palette of `n` colours.
fn colours(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            [
                (i * 53) as u8,
                (i * 17 + 40) as u8,
                (200u8).wrapping_sub((i * 7) as u8),
            ]
        })
        .collect()
}

fn gce(transparent: Option<u8>, delay: u16) -> Vec<u8> {
    let mut out = vec![0x21, 0xf9, 4, u8::from(transparent.is_some())];
    out.extend(le16(delay));
    out.extend([transparent.unwrap_or(0), 0]);
    out
}

/// An image descriptor (no local palette unless `lct`), the LZW minimum
/// code size and `data` in sub-blocks.
#[allow(clippy::too_many_arguments)]
fn frame(
    left: u16,
    top: u16,
    w: u16,
    h: u16,
    lct: Option<(u8, &[u8])>,
    interlace: bool,
    min_code: u8,
    data: &[u8],
) -> Vec<u8> {
    let mut out = vec![0x2c];
    out.extend(le16(left));
    out.extend(le16(top));
    out.extend(le16(w));
    out.extend(le16(h));
    let mut packed = if interlace { 0x40 } else { 0 };
    if let Some((size, _)) = lct {
        packed |= 0x80 | (size & 7);
    }
    out.push(packed);
    if let Some((_, c)) = lct {
        out.extend_from_slice(c);
    }
    out.push(min_code);
    out.extend(sub_blocks(data));
    out
}

/// A frame of one colour index, `w` x `h`, at 8-bit code size.
fn flat(left: u16, top: u16, w: u16, h: u16, index: u8) -> Vec<u8> {
    frame(
        left,
        top,
        w,
        h,
        None,
        false,
        8,
        &lzw_run(8, index, u64::from(w) * u64::from(h)),
    )
}

/// A whole file: header with a 256-colour palette, `body`, trailer.
fn file(w: u16, h: u16, body: &[Vec<u8>]) -> Vec<u8> {
    let pal = colours(256);
    let mut out = header(b"GIF89a", w, h, Some((7, &pal)));
    for b in body {
        out.extend_from_slice(b);
    }
    out.push(0x3b);
    out
}

pub fn generate(out: &mut Out) {
    let base = encode(&gradient(48, 32), image::ImageFormat::Gif);
    out.add("base-image", base.clone());
    out.derived("base-image", &base, 0x61f);
    let flat_file = file(16, 16, &[gce(None, 0), flat(0, 0, 16, 16, 9)]);
    out.add("base-flat", flat_file);

    // LZW bombs.
    out.add(
        "bomb-4096x4096",
        file(4096, 4096, &[flat(0, 0, 4096, 4096, 3)]),
    );
    out.add(
        "bomb-6000x6000",
        file(6000, 6000, &[flat(0, 0, 6000, 6000, 5)]),
    );
    out.add(
        "bomb-frame-10000x10000-on-100x100",
        file(100, 100, &[flat(0, 0, 10000, 10000, 1)]),
    );
    out.add(
        "bomb-data-past-frame",
        file(
            8,
            8,
            &[frame(
                0,
                0,
                1,
                1,
                None,
                false,
                8,
                &lzw_run(8, 2, 100_000_000),
            )],
        ),
    );
    out.add(
        "screen-65535x65535",
        file(65535, 65535, &[flat(0, 0, 8, 8, 1)]),
    );
    out.add(
        "screen-6000x6000-frame-1x1",
        file(6000, 6000, &[flat(0, 0, 1, 1, 1)]),
    );
    out.add("screen-0x0", file(0, 0, &[flat(0, 0, 8, 8, 1)]));
    out.add(
        "screen-1x65535-frame-1x1",
        file(1, 65535, &[flat(0, 0, 1, 1, 7)]),
    );

    // Frames outside the screen, overflowing it, of size zero.
    out.add(
        "frame-outside-screen",
        file(8, 8, &[flat(60000, 60000, 8, 8, 1)]),
    );
    out.add("frame-right-of-screen", file(8, 8, &[flat(9, 0, 8, 8, 1)]));
    out.add(
        "frame-overflow-u16",
        file(8, 8, &[flat(65535, 65535, 65535, 2, 1)]),
    );
    out.add("frame-partly-outside", file(8, 8, &[flat(6, 5, 8, 8, 4)]));
    out.add(
        "frame-zero-size-then-normal",
        file(
            8,
            8,
            &[
                flat(0, 0, 0, 0, 1),
                flat(0, 0, 0, 8, 1),
                flat(0, 0, 8, 0, 1),
                flat(0, 0, 8, 8, 2),
            ],
        ),
    );

    // Palettes whose size fields lie.
    {
        let mut f = header(b"GIF89a", 8, 8, Some((7, &colours(10))));
        f.extend(flat(0, 0, 8, 8, 200));
        f.push(0x3b);
        out.add("gct-size-256-with-10-colours", f);
        let mut f = header(b"GIF89a", 8, 8, None);
        f.extend(flat(0, 0, 8, 8, 200));
        f.push(0x3b);
        out.add("no-palette-at-all", f);
        let mut f = header(b"GIF89a", 8, 8, None);
        f[10] |= 0x07; // size bits without the flag
        let two = colours(2);
        f.extend(frame(
            0,
            0,
            8,
            8,
            Some((0, &two)),
            false,
            8,
            &lzw_run(8, 255, 64),
        ));
        f.push(0x3b);
        out.add("lct-2-colours-index-255", f);
        let mut f = header(b"GIF89a", 8, 8, Some((7, &colours(256))));
        let pal = colours(256);
        f.extend(frame(
            0,
            0,
            8,
            8,
            Some((7, &pal[..30])),
            false,
            8,
            &lzw_run(8, 1, 64),
        ));
        f.push(0x3b);
        out.add("lct-truncated", f);
    }
    out.add("transparent-index-past-palette", {
        let mut f = header(b"GIF89a", 8, 8, Some((1, &colours(4))));
        f.extend(gce(Some(200), 0));
        f.extend(frame(0, 0, 8, 8, None, false, 2, &lzw_run(2, 3, 64)));
        f.push(0x3b);
        f
    });

    // 20,000 one-pixel frames.
    {
        let mut body = Vec::new();
        for i in 0..20_000u32 {
            body.push(gce(None, 0));
            body.push(flat(
                (i % 8) as u16,
                (i / 8 % 8) as u16,
                1,
                1,
                (i % 256) as u8,
            ));
        }
        out.add("frames-20000", file(8, 8, &body));
    }

    // LZW code sizes and codes.
    for m in [0u8, 1, 12, 255] {
        out.add(
            &format!("min-code-size-{m}"),
            file(
                8,
                8,
                &[frame(0, 0, 8, 8, None, false, m, &lzw_run(8, 1, 64))],
            ),
        );
    }
    {
        // First code 4000 (never defined), then codes past the table.
        let mut w = BitWriter::new();
        w.bits(256, 9);
        for c in [4000u32 & 511, 511, 300, 400] {
            w.bits(c, 9);
        }
        w.bits(257, 9);
        out.add(
            "lzw-undefined-codes",
            file(8, 8, &[frame(0, 0, 8, 8, None, false, 8, &w.finish())]),
        );
        // No clear and no end code; data that stops mid-code.
        let mut w = BitWriter::new();
        for i in 0..40u32 {
            w.bits(i, 9);
        }
        out.add(
            "lzw-no-clear-no-end",
            file(8, 8, &[frame(0, 0, 8, 8, None, false, 8, &w.finish())]),
        );
        let run = lzw_run(8, 1, 64);
        out.add(
            "lzw-stops-mid-code",
            file(
                8,
                8,
                &[frame(0, 0, 8, 8, None, false, 8, &run[..run.len() / 2])],
            ),
        );
        out.add(
            "lzw-noise",
            file(
                64,
                64,
                &[frame(0, 0, 64, 64, None, false, 8, &noise(0x12f, 3000))],
            ),
        );
    }
    // Sub-blocks that lie.
    {
        let mut f = header(b"GIF89a", 8, 8, Some((7, &colours(256))));
        f.extend([0x2c, 0, 0, 0, 0, 8, 0, 8, 0, 0, 8, 255, 1, 2, 3]);
        out.add("sub-block-length-past-end", f);
        let mut f = header(b"GIF89a", 8, 8, Some((7, &colours(256))));
        f.extend([0x2c, 0, 0, 0, 0, 8, 0, 8, 0, 0, 8, 0, 0x3b]);
        out.add("sub-block-empty-data", f);
    }

    // Extensions.
    {
        let mut bad_gce = gce(None, 0);
        bad_gce[2] = 255;
        out.add(
            "gce-block-size-255",
            file(8, 8, &[bad_gce, flat(0, 0, 8, 8, 1)]),
        );
        let comment = [vec![0x21, 0xfe], sub_blocks(&vec![b'c'; 1 << 20])].concat();
        out.add("comment-1mib", file(8, 8, &[comment, flat(0, 0, 8, 8, 1)]));
        let netscape = vec![
            0x21, 0xff, 11, b'N', b'E', b'T', b'S', b'C', b'A', b'P', b'E', b'2', b'.', b'0', 200,
            1, 0, 0, 0,
        ];
        out.add(
            "netscape-bad-size",
            file(8, 8, &[netscape, flat(0, 0, 8, 8, 1)]),
        );
        let unknown = [vec![0x21, 0x99], sub_blocks(&noise(0x99, 600))].concat();
        out.add(
            "extension-unknown-label",
            file(8, 8, &[unknown, flat(0, 0, 8, 8, 1)]),
        );
        let plain = [vec![0x21, 0x01, 12], vec![0; 12], sub_blocks(b"text")].concat();
        out.add(
            "extension-plain-text",
            file(8, 8, &[plain, flat(0, 0, 8, 8, 1)]),
        );
        out.add(
            "extension-unterminated",
            file(8, 8, &[vec![0x21, 0xfe, 10, 1, 2, 3]]),
        );
        out.add(
            "block-unknown-introducer",
            file(8, 8, &[vec![0x55, 1, 2, 3], flat(0, 0, 8, 8, 1)]),
        );
    }

    // Headers.
    {
        let f = file(8, 8, &[gce(None, 0), flat(0, 0, 8, 8, 1)]);
        let mut v87 = f.clone();
        v87[..6].copy_from_slice(b"GIF87a");
        out.add("gif87a-with-extensions", v87);
        let mut v89b = f.clone();
        v89b[..6].copy_from_slice(b"GIF89b");
        out.add("version-89b", v89b);
        out.add("trailer-missing", f[..f.len() - 1].to_vec());
        out.add("header-only", f[..13].to_vec());
        out.add(
            "header-and-trailer",
            [header(b"GIF89a", 8, 8, None), vec![0x3b]].concat(),
        );
    }
    for h in [1u16, 2, 3, 5] {
        let pal = colours(4);
        let f = [
            header(b"GIF89a", 8, h, Some((1, &pal))),
            frame(0, 0, 8, h, None, true, 2, &lzw_run(2, 2, 8 * u64::from(h))),
            vec![0x3b],
        ]
        .concat();
        out.add(&format!("interlaced-height-{h}"), f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lzw_runs_decode_to_the_right_pixels() {
        for (w, h, idx) in [(16u16, 16u16, 9u8), (300, 200, 3), (2000, 1000, 200)] {
            let bytes = file(w, h, &[flat(0, 0, w, h, idx)]);
            let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert_eq!(img.dimensions(), (u32::from(w), u32::from(h)));
            let want = &colours(256)[usize::from(idx) * 3..usize::from(idx) * 3 + 3];
            assert!(img.pixels().all(|p| p.0 == want), "{w}x{h}");
        }
    }
}
