//! Pre-processing: a decoded RGB image of any size becomes the model's input,
//! `3 × S × S` float32 values in `[0, 1]` (channel-major, RGB), by an
//! area-average resize.
//!
//! This must match `preprocess()` in `models/train/train.py` to within
//! 1e-5 (tested on committed fixtures): output pixel `j` averages the source
//! interval `[j·s, (j+1)·s)` with `s = src / dst`, each source pixel weighted
//! by its overlap; weights and sums are computed in f64, then divided by 255.

use image::RgbImage;

/// Weights of one output pixel: the first source index and the weights of
/// the consecutive source pixels from there.
#[derive(Debug, Clone)]
struct Taps {
    start: usize,
    weights: Vec<f64>,
}

fn area_taps(src: usize, dst: usize) -> Vec<Taps> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|j| {
            let lo = j as f64 * scale;
            let hi = (j + 1) as f64 * scale;
            let i0 = lo.floor() as usize;
            let i1 = (hi.ceil() as usize).min(src);
            let mut weights = Vec::with_capacity(i1.saturating_sub(i0));
            for i in i0..i1 {
                let overlap = hi.min((i + 1) as f64) - lo.max(i as f64);
                weights.push(if overlap > 0.0 { overlap / scale } else { 0.0 });
            }
            Taps { start: i0, weights }
        })
        .collect()
}

/// Writes the model input for `img` into `out` (length `3 * size * size`),
/// channel-major. An empty image gives zeros.
///
/// Memory stays `O(size²)` whatever the image's shape: source rows are
/// resized across (columns) one at a time and added into the output rows
/// they overlap, so a 1 x 1,000,000 strip needs no buffer its own size.
pub fn preprocess_into(img: &RgbImage, size: usize, out: &mut [f32]) {
    let plane = size * size;
    debug_assert_eq!(out.len(), 3 * plane);
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 || size == 0 {
        out.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let raw = img.as_raw();
    let ty = area_taps(h, size);
    let tx = area_taps(w, size);
    // For each source row, the output rows it feeds and with what weight.
    let mut feeds: Vec<Vec<(usize, f64)>> = vec![Vec::new(); h];
    for (oy, taps) in ty.iter().enumerate() {
        for (k, &wy) in taps.weights.iter().enumerate() {
            if wy != 0.0 {
                feeds[taps.start + k].push((oy, wy));
            }
        }
    }
    // acc[oy][ox][c] = Σ_y wy · Σ_x wx · px[y][x][c].
    let mut acc = vec![0.0f64; size * size * 3];
    let mut across = vec![0.0f64; size * 3];
    for (y, feed) in feeds.iter().enumerate() {
        if feed.is_empty() {
            continue;
        }
        let row_in = &raw[y * w * 3..(y + 1) * w * 3];
        for (ox, taps) in tx.iter().enumerate() {
            let mut a = [0.0f64; 3];
            for (k, &wx) in taps.weights.iter().enumerate() {
                let x = taps.start + k;
                for c in 0..3 {
                    a[c] += wx * f64::from(row_in[x * 3 + c]);
                }
            }
            across[ox * 3..ox * 3 + 3].copy_from_slice(&a);
        }
        for &(oy, wy) in feed {
            let row_out = &mut acc[oy * size * 3..(oy + 1) * size * 3];
            for (o, &v) in row_out.iter_mut().zip(&across) {
                *o += wy * v;
            }
        }
    }
    for oy in 0..size {
        for ox in 0..size {
            for c in 0..3 {
                out[c * plane + oy * size + ox] = (acc[(oy * size + ox) * 3 + c] / 255.0) as f32;
            }
        }
    }
}

/// Returns the model input for `img` as a new vector.
pub fn preprocess(img: &RgbImage, size: usize) -> Vec<f32> {
    let mut out = vec![0.0; 3 * size * size];
    preprocess_into(img, size, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_image_stays_flat() {
        for (w, h) in [(1, 1), (7, 300), (64, 64), (200, 150)] {
            let img = RgbImage::from_pixel(w, h, image::Rgb([51, 102, 255]));
            let t = preprocess(&img, 64);
            for (c, want) in [(0, 0.2f32), (1, 0.4), (2, 1.0)] {
                for v in &t[c * 4096..(c + 1) * 4096] {
                    assert!((v - want).abs() < 1e-6, "{w}x{h} c{c}: {v}");
                }
            }
        }
    }

    #[test]
    fn identity_at_target_size() {
        let img = RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8, y as u8, (x * y) as u8]));
        let t = preprocess(&img, 64);
        assert!((t[5 * 64 + 3] - 3.0 / 255.0).abs() < 1e-7);
        assert!((t[4096 + 5 * 64 + 3] - 5.0 / 255.0).abs() < 1e-7);
    }

    #[test]
    fn thin_strips_resize_without_a_buffer_their_size() {
        // 1 x 200,000 and 200,000 x 1: every output pixel averages its span.
        for (w, h) in [(1u32, 200_000u32), (200_000, 1)] {
            let img = RgbImage::from_fn(w, h, |x, y| {
                let i = x.max(y);
                image::Rgb([(i % 256) as u8, 10, ((i / 1000) % 256) as u8])
            });
            let t = preprocess(&img, 16);
            assert_eq!(t.len(), 3 * 256);
            // Channel G is flat.
            assert!(t[256..512].iter().all(|v| (v - 10.0 / 255.0).abs() < 1e-6));
            // Channel R averages 0..255 over whole cycles: about 127.5.
            assert!(t[..256].iter().all(|v| (v - 127.5 / 255.0).abs() < 0.01));
        }
    }

    #[test]
    fn empty_image_gives_zeros() {
        let img = RgbImage::new(0, 0);
        assert!(preprocess(&img, 8).iter().all(|v| *v == 0.0));
    }
}
