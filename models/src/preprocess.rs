//! Pre-processing: a decoded RGB image of any size becomes the model's input,
//! `3 × S × S` float32 values in `[0, 1]` (channel-major, RGB), by an
//! area-average resize.
//!
//! This must match `preprocess()` in `models/train/train.py` to within
//! 1e-5 (tested on committed fixtures): output pixel `j` averages the source
//! interval `[j·s, (j+1)·s)` with `s = src / dst`, each source pixel weighted
//! by its overlap; weights are computed in f64, rows first, then columns,
//! then divided by 255.

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
    // Rows first: tmp[oy][x][c] = Σ_y wy · px[y][x][c].
    let mut tmp = vec![0.0f64; size * w * 3];
    for (oy, taps) in ty.iter().enumerate() {
        let row_out = &mut tmp[oy * w * 3..(oy + 1) * w * 3];
        for (k, &wy) in taps.weights.iter().enumerate() {
            if wy == 0.0 {
                continue;
            }
            let y = taps.start + k;
            let row_in = &raw[y * w * 3..(y + 1) * w * 3];
            for (acc, &v) in row_out.iter_mut().zip(row_in) {
                *acc += wy * f64::from(v);
            }
        }
    }
    // Then columns, into channel-major output.
    for oy in 0..size {
        let row = &tmp[oy * w * 3..(oy + 1) * w * 3];
        for (ox, taps) in tx.iter().enumerate() {
            let mut acc = [0.0f64; 3];
            for (k, &wx) in taps.weights.iter().enumerate() {
                let x = taps.start + k;
                for c in 0..3 {
                    acc[c] += wx * row[x * 3 + c];
                }
            }
            for c in 0..3 {
                out[c * plane + oy * size + ox] = (acc[c] / 255.0) as f32;
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
    fn empty_image_gives_zeros() {
        let img = RgbImage::new(0, 0);
        assert!(preprocess(&img, 8).iter().all(|v| *v == 0.0));
    }
}
