//! Palette (colour-mapped) TIFF, which the `image` crate refuses and
//! Pillow, and so the PDQ reference, reads: 4- or 8-bit indices into a
//! `ColorMap` of 16-bit red, green and blue tables.
//!
//! The `tiff` crate decodes the indices but will not name their colour
//! type, so this module reads the `ColorMap` from the file as it is, then
//! decodes a copy whose `PhotometricInterpretation` says grey (the one
//! tag value changed in place, nothing else) to get the indices, and maps
//! each index to its colour the way Pillow does (each 16-bit value divided
//! by 256). Only classic TIFF's first image is handled; anything else stays
//! an unsupported feature.

use crate::{check_dimensions, DecodeError, Limits, MediaFormat, RgbImage};
use std::io::Cursor;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

const PHOTOMETRIC_RGB_PALETTE: u16 = 3;
const PHOTOMETRIC_BLACK_IS_ZERO: u16 = 1;

fn corrupt(detail: impl Into<String>) -> DecodeError {
    DecodeError::Corrupt {
        format: MediaFormat::Tiff.as_str(),
        detail: detail.into(),
    }
}

fn tiff_err(e: tiff::TiffError) -> DecodeError {
    match e {
        tiff::TiffError::LimitsExceeded => DecodeError::LimitExceeded {
            format: MediaFormat::Tiff.as_str(),
            detail: "palette image exceeds the decoder's limits".into(),
        },
        tiff::TiffError::UnsupportedError(u) => DecodeError::UnsupportedFeature {
            format: MediaFormat::Tiff.as_str(),
            detail: u.to_string(),
        },
        other => corrupt(other.to_string()),
    }
}

/// Whether the first image of a classic TIFF is colour-mapped.
pub(crate) fn is_palette(bytes: &[u8]) -> bool {
    photometric_entry(bytes).is_some_and(|(_, v)| v == PHOTOMETRIC_RGB_PALETTE)
}

/// The byte offset of the first IFD's `PhotometricInterpretation` value
/// and the value, for a classic (not Big) TIFF; `None` when it cannot be
/// found inside `bytes`.
fn photometric_entry(bytes: &[u8]) -> Option<(usize, u16)> {
    let little = match bytes.get(..4)? {
        [b'I', b'I', 42, 0] => true,
        [b'M', b'M', 0, 42] => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd)?);
    for i in 0..entries {
        let at = ifd.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        // A SHORT with count 1 keeps its value in the entry itself.
        if u16_at(at)? == 262 && u16_at(at + 2)? == 3 && u32_at(at + 4)? == 1 {
            return Some((at + 8, u16_at(at + 8)?));
        }
    }
    None
}

/// Decode the first image of a palette TIFF to Pillow's RGB.
pub(crate) fn decode(bytes: &[u8], limits: &Limits) -> Result<RgbImage, DecodeError> {
    let tiff_limits = || {
        let mut l = tiff::decoder::Limits::default();
        l.decoding_buffer_size = usize::try_from(limits.max_memory_bytes).unwrap_or(usize::MAX);
        l
    };
    let mut original = Decoder::new(Cursor::new(bytes))
        .map_err(tiff_err)?
        .with_limits(tiff_limits());
    let (width, height) = original.dimensions().map_err(tiff_err)?;
    // One index byte per pixel, then RGB.
    check_dimensions(MediaFormat::Tiff, width, height, 1, limits)?;
    let bits = original
        .find_tag_unsigned::<u16>(Tag::BitsPerSample)
        .map_err(tiff_err)?
        .unwrap_or(1);
    let samples = original
        .find_tag_unsigned::<u16>(Tag::SamplesPerPixel)
        .map_err(tiff_err)?
        .unwrap_or(1);
    if samples != 1 || !matches!(bits, 4 | 8) {
        return Err(DecodeError::UnsupportedFeature {
            format: MediaFormat::Tiff.as_str(),
            detail: format!("palette image with {samples} samples of {bits} bits"),
        });
    }
    let map: Vec<u16> = original
        .find_tag_unsigned_vec(Tag::ColorMap)
        .map_err(tiff_err)?
        .ok_or_else(|| corrupt("palette image without a ColorMap"))?;
    let colours = 1usize << bits;
    if map.len() != 3 * colours {
        return Err(corrupt(format!(
            "ColorMap has {} values, expected {} for {bits}-bit indices",
            map.len(),
            3 * colours
        )));
    }
    // Pillow: each 16-bit table value becomes value // 256.
    let palette: Vec<[u8; 3]> = (0..colours)
        .map(|i| {
            [
                (map[i] >> 8) as u8,
                (map[colours + i] >> 8) as u8,
                (map[2 * colours + i] >> 8) as u8,
            ]
        })
        .collect();

    let (at, _) =
        photometric_entry(bytes).ok_or_else(|| corrupt("no PhotometricInterpretation"))?;
    let mut grey = bytes.to_vec();
    let value = if bytes.starts_with(b"II") {
        PHOTOMETRIC_BLACK_IS_ZERO.to_le_bytes()
    } else {
        PHOTOMETRIC_BLACK_IS_ZERO.to_be_bytes()
    };
    grey[at..at + 2].copy_from_slice(&value);
    let mut indices_decoder = Decoder::new(Cursor::new(&grey[..]))
        .map_err(tiff_err)?
        .with_limits(tiff_limits());
    let indices = match indices_decoder.read_image().map_err(tiff_err)? {
        DecodingResult::U8(v) => v,
        _ => return Err(corrupt("unexpected sample layout for palette indices")),
    };
    let (w, h) = (width as usize, height as usize);
    let mut rgb = Vec::with_capacity(w * h * 3);
    if bits == 8 {
        if indices.len() < w * h {
            return Err(corrupt("palette image data is shorter than its size"));
        }
        for &i in &indices[..w * h] {
            rgb.extend_from_slice(&palette[usize::from(i)]);
        }
    } else {
        // 4-bit indices: two per byte, high nibble first, rows padded to a byte.
        let row_bytes = w.div_ceil(2);
        if indices.len() < row_bytes * h {
            return Err(corrupt("palette image data is shorter than its size"));
        }
        for row in indices.chunks_exact(row_bytes).take(h) {
            for x in 0..w {
                let b = row[x / 2];
                let i = if x % 2 == 0 { b >> 4 } else { b & 0x0f };
                rgb.extend_from_slice(&palette[usize::from(i)]);
            }
        }
    }
    RgbImage::from_raw(width, height, rgb).ok_or_else(|| corrupt("inconsistent image size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic little-endian, uncompressed palette TIFF of `w` x `h`
    /// 8-bit indices with the given 256-entry colour map.
    pub(crate) fn palette_tiff(w: u32, h: u32, indices: &[u8], map: &[u16]) -> Vec<u8> {
        assert_eq!(map.len(), 768);
        let mut out = b"II*\0".to_vec();
        let entries: u16 = 9;
        let ifd_at = 8u32;
        let after_ifd = ifd_at + 2 + u32::from(entries) * 12 + 4;
        let map_at = after_ifd;
        let data_at = map_at + 768 * 2;
        out.extend_from_slice(&ifd_at.to_le_bytes());
        out.extend_from_slice(&entries.to_le_bytes());
        let mut entry = |tag: u16, typ: u16, count: u32, value: u32| {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
        };
        entry(256, 4, 1, w); // ImageWidth
        entry(257, 4, 1, h); // ImageLength
        entry(258, 3, 1, 8); // BitsPerSample
        entry(259, 3, 1, 1); // Compression: none
        entry(262, 3, 1, 3); // PhotometricInterpretation: palette
        entry(273, 4, 1, data_at); // StripOffsets
        entry(277, 3, 1, 1); // SamplesPerPixel
        entry(279, 4, 1, w * h); // StripByteCounts
        entry(320, 3, 768, map_at); // ColorMap
        out.extend_from_slice(&0u32.to_le_bytes());
        for v in map {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(indices);
        out
    }

    #[test]
    fn palette_tiff_expands_to_the_colour_map_like_pillow() {
        let map: Vec<u16> = (0..768u32).map(|i| ((i * 97) % 65536) as u16).collect();
        let (w, h) = (7u32, 3u32);
        let indices: Vec<u8> = (0..w * h).map(|i| (i * 37 % 256) as u8).collect();
        let bytes = palette_tiff(w, h, &indices, &map);
        assert!(is_palette(&bytes));
        let rgb = crate::decode_image(&bytes, &Limits::default()).unwrap().rgb;
        assert_eq!(rgb.dimensions(), (w, h));
        for (px, &i) in rgb.pixels().zip(&indices) {
            let i = usize::from(i);
            let want = [
                (map[i] >> 8) as u8,
                (map[256 + i] >> 8) as u8,
                (map[512 + i] >> 8) as u8,
            ];
            assert_eq!(px.0, want);
        }
    }

    #[test]
    fn broken_palette_tiffs_are_typed_errors() {
        let map: Vec<u16> = vec![0; 768];
        let bytes = palette_tiff(4, 4, &[1; 16], &map);
        for cut in [10, 40, 200, bytes.len() - 5] {
            let r = crate::decode_image(&bytes[..cut], &Limits::default());
            assert!(
                !matches!(r, Err(DecodeError::DecoderPanic { .. })),
                "cut at {cut}: {r:?}"
            );
        }
        // A colour map of the wrong length.
        let mut short = bytes.clone();
        // ColorMap count (entry 9, count field) from 768 to 700.
        let at = 8 + 2 + 8 * 12 + 4;
        short[at..at + 4].copy_from_slice(&700u32.to_le_bytes());
        assert!(matches!(
            crate::decode_image(&short, &Limits::default()),
            Err(DecodeError::Corrupt { .. })
        ));
    }
}
