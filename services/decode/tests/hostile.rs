//! Hostile and malformed input: every case gives a typed error, never a
//! panic, and limits are enforced from the header before decoding.

use std::io::Cursor;

use image::{ImageBuffer, ImageFormat, Luma, LumaA, Rgb, Rgba};
use proptest::prelude::*;
use vigil_decode::{decode_image, probe, sniff, DecodeError, Limits, MediaFormat};

fn encode<P: image::PixelWithColorType>(
    img: &ImageBuffer<P, Vec<P::Subpixel>>,
    fmt: ImageFormat,
) -> Vec<u8>
where
    [P::Subpixel]: image::EncodableLayout,
{
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, fmt).expect("encode fixture");
    out.into_inner()
}

fn small_rgb() -> ImageBuffer<Rgb<u8>, Vec<u8>> {
    ImageBuffer::from_fn(37, 23, |x, y| {
        Rgb([(x * 7) as u8, (y * 11) as u8, (x * y) as u8])
    })
}

/// A PNG whose header claims `w x h` but whose data is a few bytes.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        // CRC is not checked before the dimension limit is applied.
        out.extend_from_slice(&crc32(kind, data).to_be_bytes());
    }
    fn crc32(kind: &[u8], data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in kind.iter().chain(data.iter()) {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00]);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn empty_input() {
    assert!(matches!(
        decode_image(&[], &Limits::default()),
        Err(DecodeError::Empty)
    ));
}

#[test]
fn unknown_format() {
    let err = decode_image(b"this is not an image at all", &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), "unsupported_format");
}

#[test]
fn too_many_bytes() {
    let png = encode(&small_rgb(), ImageFormat::Png);
    let limits = Limits {
        max_bytes: 10,
        ..Limits::default()
    };
    let err = decode_image(&png, &limits).unwrap_err();
    assert!(matches!(err, DecodeError::TooManyBytes { .. }), "{err}");
}

#[test]
fn huge_header_is_rejected_before_decoding() {
    let bomb = png_header_only(20_000, 20_000);
    let err = decode_image(&bomb, &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::TooManyPixels {
                width: 20_000,
                height: 20_000
            }
        ),
        "{err}"
    );
    assert_eq!(err.kind(), "too_many_pixels");
    let err = probe(&png_header_only(100_000, 1_000), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), "too_many_pixels");
    // The pixel budget decides, not a side: a thin strip passes the probe.
    assert!(probe(&png_header_only(1_000_000, 1), &Limits::default()).is_ok());
    // The memory budget counts too: 8,000,000 RGB8 pixels and the decoder's
    // scratch need 40 MiB.
    let tight = Limits {
        max_memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let err = decode_image(&png_header_only(4_000, 2_000), &tight).unwrap_err();
    assert_eq!(err.kind(), "too_many_pixels");
    // Within the limits, the missing data is reported as corruption.
    let err = decode_image(&png_header_only(3000, 3000), &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), "corrupt", "{err}");
}

#[test]
fn truncated_files_are_corrupt() {
    for fmt in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
    ] {
        let bytes = encode(&small_rgb(), fmt);
        for cut in [8, bytes.len() / 3, bytes.len() / 2, bytes.len() - 3] {
            match decode_image(&bytes[..cut], &Limits::default()) {
                Ok(_) => {} // some decoders fill truncated data; fine as long as no panic
                Err(e) => assert!(
                    [
                        "corrupt",
                        "unsupported_format",
                        "unsupported_feature",
                        "limit_exceeded"
                    ]
                    .contains(&e.kind()),
                    "{fmt:?} cut {cut}: {e}"
                ),
            }
        }
    }
}

#[test]
fn corrupt_body() {
    let mut png = encode(&small_rgb(), ImageFormat::Png);
    let n = png.len();
    for b in &mut png[40..n - 12] {
        *b ^= 0x5a;
    }
    let err = decode_image(&png, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), "corrupt", "{err}");
}

#[test]
fn round_trips_and_sniffs_every_format() {
    let img = small_rgb();
    for (fmt, media) in [
        (ImageFormat::Png, MediaFormat::Png),
        (ImageFormat::Bmp, MediaFormat::Bmp),
        (ImageFormat::Tiff, MediaFormat::Tiff),
        (ImageFormat::WebP, MediaFormat::Webp),
    ] {
        let bytes = encode(&img, fmt);
        assert_eq!(sniff(&bytes), Some(media));
        let dec = decode_image(&bytes, &Limits::default()).unwrap();
        assert_eq!(dec.format, media);
        assert_eq!(dec.rgb.as_raw(), img.as_raw(), "{fmt:?} is lossless");
    }
    let jpeg = encode(&img, ImageFormat::Jpeg);
    let dec = decode_image(&jpeg, &Limits::default()).unwrap();
    assert_eq!(
        (dec.format, dec.rgb.dimensions()),
        (MediaFormat::Jpeg, (37, 23))
    );
    let gif = encode(
        &ImageBuffer::from_fn(9, 5, |x, _| Rgba([x as u8 * 20, 0, 0, 255])),
        ImageFormat::Gif,
    );
    let dec = decode_image(&gif, &Limits::default()).unwrap();
    assert_eq!(dec.format, MediaFormat::Gif);
    assert_eq!(dec.rgb.get_pixel(3, 2).0, [60, 0, 0]);
}

#[test]
fn png_modes_convert_like_pillow() {
    // Values checked against Pillow 13 `Image.open(..).convert("RGB")`.
    let samples: [u16; 10] = [0, 1, 255, 256, 300, 0x7f80, 0x80ff, 0xfeff, 0xff00, 0xffff];
    let clipped = [0u8, 1, 255, 255, 255, 255, 255, 255, 255, 255];
    let high = [0u8, 0, 0, 1, 1, 127, 128, 254, 255, 255];
    let w = samples.len() as u32;
    let check = |bytes: Vec<u8>, expect: &[u8], what: &str| {
        let dec = decode_image(&bytes, &Limits::default()).unwrap();
        let got: Vec<u8> = dec.rgb.pixels().map(|p| p.0[0]).collect();
        assert_eq!(got, expect, "{what}");
        assert!(
            dec.rgb
                .pixels()
                .all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]),
            "{what} grey"
        );
    };
    check(
        encode(
            &ImageBuffer::from_fn(w, 1, |x, _| Luma([samples[x as usize]])),
            ImageFormat::Png,
        ),
        &clipped,
        "16-bit grey (I;16) clips",
    );
    check(
        encode(
            &ImageBuffer::from_fn(w, 1, |x, _| LumaA([samples[x as usize], 7])),
            ImageFormat::Png,
        ),
        &high,
        "16-bit grey+alpha keeps the high byte",
    );
    check(
        encode(
            &ImageBuffer::from_fn(w, 1, |x, _| Rgb([samples[x as usize]; 3])),
            ImageFormat::Png,
        ),
        &high,
        "16-bit RGB keeps the high byte",
    );
    check(
        encode(
            &ImageBuffer::from_fn(w, 1, |x, _| {
                Rgba([
                    samples[x as usize],
                    samples[x as usize],
                    samples[x as usize],
                    0,
                ])
            }),
            ImageFormat::Png,
        ),
        &high,
        "16-bit RGBA keeps the high byte, drops alpha",
    );
    // 8-bit grey+alpha and RGBA: alpha dropped, not composited.
    let la = encode(
        &ImageBuffer::from_fn(3, 1, |x, _| LumaA([x as u8 * 100, 0])),
        ImageFormat::Png,
    );
    check(la, &[0, 100, 200], "LA drops alpha");
    let rgba = encode(
        &ImageBuffer::from_fn(2, 1, |x, _| Rgba([10 + x as u8, 20, 30, 0])),
        ImageFormat::Png,
    );
    let dec = decode_image(&rgba, &Limits::default()).unwrap();
    assert_eq!(dec.rgb.get_pixel(1, 0).0, [11, 20, 30]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_image(&bytes, &Limits::default());
    }

    #[test]
    fn mutated_images_never_panic(
        which in 0usize..6,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let fmt = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif, ImageFormat::Bmp, ImageFormat::Tiff, ImageFormat::WebP][which];
        let mut bytes = encode(&small_rgb(), fmt);
        let n = bytes.len();
        for (at, x) in flips {
            bytes[at % n] ^= x;
        }
        let keep = 1 + cut % n;
        let limits = Limits { max_pixels: 1 << 20, ..Limits::default() };
        let _ = decode_image(&bytes[..keep], &limits);
    }
}

/// A GIF (logical screen 10x6, one 4x3 frame at (2,1), background index 1,
/// transparent index 2) and Pillow 13's `convert("RGB")` of it.
#[test]
fn gif_first_frame_like_pillow() {
    #[rustfmt::skip]
    let gif: &[u8] = &[
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x0a, 0x00, 0x06, 0x00, 0xf1, 0x01, 0x00,
        0, 0, 0, 200, 100, 50, 10, 250, 10, 9, 9, 200,
        0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x02, 0x00,
        0x2c, 0x02, 0x00, 0x01, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x02,
    ];
    let mut bytes = gif.to_vec();
    bytes.extend_from_slice(GIF_TAIL);
    let dec = decode_image(&bytes, &Limits::default()).unwrap();
    assert_eq!(dec.rgb.dimensions(), (10, 6));
    let (g, b, k) = ([10u8, 250, 10], [9u8, 9, 200], [0u8, 0, 0]);
    let expect_row1 = [g, g, b, g, b, b, g, g, g, g];
    let expect_row2 = [g, g, k, b, g, b, g, g, g, g];
    for x in 0..10u32 {
        assert_eq!(
            dec.rgb.get_pixel(x, 0).0,
            g,
            "canvas is the transparent colour"
        );
        assert_eq!(
            dec.rgb.get_pixel(x, 1).0,
            expect_row1[x as usize],
            "row 1 x {x}"
        );
        assert_eq!(
            dec.rgb.get_pixel(x, 2).0,
            expect_row2[x as usize],
            "row 2 x {x}"
        );
    }
}

/// LZW data, trailer.
const GIF_TAIL: &[u8] = &[
    0x08, 0x9c, 0xb8, 0x11, 0xa3, 0xc6, 0x8d, 0x03, 0x0b, 0x00, 0x3b,
];

/// EXIF orientation: ignored by default (like the PDQ reference), applied
/// on request.
#[test]
fn exif_orientation_only_on_request() {
    use image::ImageEncoder;
    // A minimal big-endian TIFF/EXIF block with Orientation = 6 (rotate 90
    // CW), stored in a PNG eXIf chunk.
    let exif: Vec<u8> = vec![
        b'M', b'M', 0, 42, 0, 0, 0, 8, // header, IFD at 8
        0, 1, // one entry
        0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // Orientation, SHORT, 1, value 6
        0, 0, 0, 0, // no next IFD
    ];
    let img = ImageBuffer::from_fn(40, 20, |x, _| Rgb([(x * 6) as u8, 0, 0]));
    let mut png = Vec::new();
    let mut enc = image::codecs::png::PngEncoder::new(&mut png);
    enc.set_exif_metadata(exif).unwrap();
    enc.write_image(img.as_raw(), 40, 20, image::ExtendedColorType::Rgb8)
        .unwrap();
    let plain = decode_image(&png, &Limits::default()).unwrap();
    assert_eq!(plain.rgb.dimensions(), (40, 20));
    let opts = vigil_decode::DecodeOptions {
        apply_exif_orientation: true,
    };
    let rotated = vigil_decode::decode_image_with(&png, &Limits::default(), &opts).unwrap();
    assert_eq!(rotated.rgb.dimensions(), (20, 40));
}

/// A first frame placed partly or wholly outside the logical screen (found
/// by `vigil-fuzz decode`: a frame starting right of the screen's last
/// column) pastes only what lies inside; the rest of the canvas keeps the
/// fill index. Never a panic.
#[test]
fn gif_frame_outside_the_screen() {
    let palette = [10u8, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120];
    for (left, top) in [
        (8u16, 0u16),
        (20, 1),
        (6, 0),
        (0, 4),
        (7, 3),
        (65535, 65535),
    ] {
        let mut bytes = Vec::new();
        {
            let mut enc = gif::Encoder::new(&mut bytes, 8, 4, &palette).unwrap();
            let mut frame = gif::Frame::from_indexed_pixels(3, 2, vec![1, 2, 3, 1, 2, 3], None);
            frame.left = left;
            frame.top = top;
            enc.write_frame(&frame).unwrap();
        }
        let img = decode_image(&bytes, &Limits::default()).unwrap();
        assert_eq!(img.rgb.dimensions(), (8, 4));
        for (x, y, px) in img.rgb.enumerate_pixels() {
            let (fx, fy) = (
                i64::from(x) - i64::from(left),
                i64::from(y) - i64::from(top),
            );
            let index = if (0..3).contains(&fx) && (0..2).contains(&fy) {
                [1usize, 2, 3][fx as usize]
            } else {
                0
            };
            let at = index * 3;
            assert_eq!(
                px.0,
                [palette[at], palette[at + 1], palette[at + 2]],
                "{left},{top} at {x},{y}"
            );
        }
    }
}

/// A PNG chunk with its CRC.
fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = 0xffff_ffffu32;
    for &b in kind.iter().chain(data.iter()) {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    out.extend_from_slice(&(!crc).to_be_bytes());
}

/// A 4x4 palette PNG whose PLTE chunk is `plte` (valid CRCs everywhere).
fn palette_png(plte: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&4u32.to_be_bytes());
    ihdr.extend_from_slice(&4u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"PLTE", plte);
    // Stored (uncompressed) zlib block of 4 rows: filter byte + 4 indices.
    let raw: Vec<u8> = (0..4).flat_map(|_| [0u8, 0, 1, 0, 1]).collect();
    let mut z = vec![0x78, 0x01, 0x01];
    z.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    z.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    z.extend_from_slice(&raw);
    let adler = {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in &raw {
            a = (a + x as u32) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    };
    z.extend_from_slice(&adler.to_be_bytes());
    png_chunk(&mut out, b"IDAT", &z);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// The palette length that made the `png` crate panic (a PLTE whose length
/// is not a multiple of 3) is a typed error on every decode path, and the
/// same file with a proper palette decodes.
#[test]
fn palette_png_with_a_ragged_palette_is_a_typed_error() {
    let good = palette_png(&[255, 0, 0, 0, 255, 0]);
    let img = decode_image(&good, &Limits::default()).unwrap().rgb;
    assert_eq!(img.get_pixel(1, 0).0, [0, 255, 0]);
    for plte in [
        &[255u8, 0, 0, 0, 255, 0, 7][..],
        &[255, 0, 0, 0, 255, 0, 7, 8],
    ] {
        let bad = palette_png(plte);
        let err = decode_image(&bad, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), "corrupt", "{err:?}");
        let err = vigil_decode::decode_for_hash(&bad, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), "corrupt", "{err:?}");
    }
}

/// Thin images within the pixel budget decode, as the reference decodes
/// them: the pixel budget decides, not the length of a side.
#[test]
fn thin_images_within_the_pixel_budget_decode() {
    let strip = ImageBuffer::from_fn(1, 1_000_000, |_, y| Luma([(y % 251) as u8]));
    let png = encode(&strip, ImageFormat::Png);
    let img = decode_image(&png, &Limits::default()).unwrap().rgb;
    assert_eq!(img.dimensions(), (1, 1_000_000));

    let row = ImageBuffer::from_fn(65_500, 1, |x, _| Rgb([(x % 256) as u8, 0, 0]));
    let jpeg = encode(&row, ImageFormat::Jpeg);
    assert_eq!(
        decode_image(&jpeg, &Limits::default())
            .unwrap()
            .rgb
            .dimensions(),
        (65_500, 1)
    );
    assert_eq!(
        vigil_decode::decode_for_hash(&jpeg, &Limits::default())
            .unwrap()
            .dimensions(),
        (65_500, 1)
    );

    let wide = ImageBuffer::from_fn(65_535, 1, |x, _| Rgba([(x % 256) as u8, 9, 9, 255]));
    let gif = encode(&wide, ImageFormat::Gif);
    assert_eq!(
        decode_image(&gif, &Limits::default())
            .unwrap()
            .rgb
            .dimensions(),
        (65_535, 1)
    );
}

/// A panic inside a decoder becomes a typed error, whatever its cause:
/// shown with a "decoder" that panics, through the same containment every
/// decode path uses.
#[test]
fn a_panicking_decoder_is_contained() {
    let png = palette_png(&[1, 2, 3]);
    let r: Result<(), DecodeError> = vigil_decode::contain(&png, || panic!("decoder bug"));
    let err = r.unwrap_err();
    assert_eq!(err.kind(), "decoder_panic");
    assert!(matches!(err, DecodeError::DecoderPanic { format: "png" }));
}

/// A lossless WebP 16384 pixels wide: `image-webp` 0.2 reads that side as
/// 0; the dimensions come from libwebp's reading of the header instead.
#[test]
fn lossless_webp_with_a_side_of_16384_decodes() {
    let row = ImageBuffer::from_fn(16_384, 1, |x, _| Rgb([(x % 256) as u8, 3, 5]));
    let mut bytes = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut bytes)
        .encode(row.as_raw(), 16_384, 1, image::ExtendedColorType::Rgb8)
        .unwrap();
    let img = decode_image(&bytes, &Limits::default()).unwrap().rgb;
    assert_eq!(img.dimensions(), (16_384, 1));
    assert_eq!(img.get_pixel(300, 0).0, [44, 3, 5]);
}
