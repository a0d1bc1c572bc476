//! Evaluation of scored, labelled examples: precision, recall, false-positive
//! rate, ROC-AUC and confusion matrices at named thresholds, expected
//! calibration error, per slice and overall; a reliability diagram and a
//! precision-recall curve as images (for `vigil model eval`).
//!
//! Pure functions: the caller decodes and classifies the images (only the
//! decode stage parses media), passes `(slice, label, score)` here, and saves
//! the returned images where it wants.

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

/// One scored image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub slice: String,
    /// Whether the image carries the target.
    pub label: bool,
    /// Calibrated score.
    pub score: f32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
}

impl Confusion {
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn false_positive_rate(&self) -> Option<f64> {
        ratio(self.fp, self.fp + self.tn)
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Metrics at one named threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtThreshold {
    pub name: String,
    pub threshold: f32,
    pub confusion: Confusion,
}

/// Metrics of one slice (or of everything).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceMetrics {
    pub slice: String,
    pub n: usize,
    pub positives: usize,
    pub mean_score: f64,
    /// ROC-AUC within the slice; for a slice of one class, that class
    /// against every example of the other class. `None` when there is no
    /// other class at all.
    pub roc_auc: Option<f64>,
    pub at: Vec<AtThreshold>,
}

/// One bin of the reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
    pub mean_score: f64,
    pub positive_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub overall: SliceMetrics,
    pub slices: Vec<SliceMetrics>,
    /// Expected calibration error over `reliability`'s bins.
    pub ece: f64,
    pub average_precision: Option<f64>,
    pub reliability: Vec<Bin>,
    /// `(recall, precision)` at every distinct score, highest score first.
    pub pr_curve: Vec<(f64, f64)>,
}

/// Evaluates `examples` at `thresholds` (`name`, calibrated score), with
/// `bins` equal-width reliability bins.
pub fn evaluate(examples: &[Example], thresholds: &[(String, f32)], bins: usize) -> EvalReport {
    let mut slice_names: Vec<&str> = Vec::new();
    for e in examples {
        if !slice_names.contains(&e.slice.as_str()) {
            slice_names.push(&e.slice);
        }
    }
    let slices = slice_names
        .iter()
        .map(|name| {
            let part: Vec<&Example> = examples.iter().filter(|e| e.slice == *name).collect();
            let mut m = slice_metrics(name, &part, thresholds);
            if m.roc_auc.is_none() && !part.is_empty() {
                // One class only: rank it against every example of the other.
                let label = part[0].label;
                let mut both = part.clone();
                both.extend(examples.iter().filter(|e| e.label != label));
                m.roc_auc = roc_auc(&both);
            }
            m
        })
        .collect();
    let all: Vec<&Example> = examples.iter().collect();
    let (ece, reliability) = reliability(examples, bins.max(1));
    EvalReport {
        overall: slice_metrics("all", &all, thresholds),
        slices,
        ece,
        average_precision: average_precision(examples),
        reliability,
        pr_curve: pr_curve(examples),
    }
}

fn slice_metrics(name: &str, part: &[&Example], thresholds: &[(String, f32)]) -> SliceMetrics {
    let n = part.len();
    let positives = part.iter().filter(|e| e.label).count();
    let mean_score = if n == 0 {
        0.0
    } else {
        part.iter().map(|e| f64::from(e.score)).sum::<f64>() / n as f64
    };
    let at = thresholds
        .iter()
        .map(|(tname, t)| {
            let mut c = Confusion::default();
            for e in part {
                match (e.score >= *t, e.label) {
                    (true, true) => c.tp += 1,
                    (true, false) => c.fp += 1,
                    (false, false) => c.tn += 1,
                    (false, true) => c.fn_ += 1,
                }
            }
            AtThreshold {
                name: tname.clone(),
                threshold: *t,
                confusion: c,
            }
        })
        .collect();
    SliceMetrics {
        slice: name.to_string(),
        n,
        positives,
        mean_score,
        roc_auc: roc_auc(part),
        at,
    }
}

/// Probability that a random positive scores above a random negative (ties
/// count half).
fn roc_auc(part: &[&Example]) -> Option<f64> {
    let mut v: Vec<(f32, bool)> = part.iter().map(|e| (e.score, e.label)).collect();
    let pos = v.iter().filter(|x| x.1).count();
    let neg = v.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1].0 == v[i].0 {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg_rank * v[i..=j].iter().filter(|x| x.1).count() as f64;
        i = j + 1;
    }
    let (p, n) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

fn sorted_desc(examples: &[Example]) -> Vec<(f32, bool)> {
    let mut v: Vec<(f32, bool)> = examples.iter().map(|e| (e.score, e.label)).collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    v
}

fn average_precision(examples: &[Example]) -> Option<f64> {
    let v = sorted_desc(examples);
    let total = v.iter().filter(|x| x.1).count();
    if total == 0 {
        return None;
    }
    let mut tp = 0usize;
    let mut sum = 0.0;
    for (i, (_, label)) in v.iter().enumerate() {
        if *label {
            tp += 1;
            sum += tp as f64 / (i + 1) as f64;
        }
    }
    Some(sum / total as f64)
}

fn pr_curve(examples: &[Example]) -> Vec<(f64, f64)> {
    let v = sorted_desc(examples);
    let total = v.iter().filter(|x| x.1).count();
    if total == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0usize, 0usize);
    for (i, (score, label)) in v.iter().enumerate() {
        if *label {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_score = i + 1 == v.len() || v[i + 1].0 != *score;
        if last_of_score {
            out.push((tp as f64 / total as f64, tp as f64 / (tp + fp) as f64));
        }
    }
    out
}

fn reliability(examples: &[Example], bins: usize) -> (f64, Vec<Bin>) {
    let mut out = Vec::new();
    let mut ece = 0.0;
    let n = examples.len().max(1) as f64;
    for b in 0..bins {
        let lo = b as f64 / bins as f64;
        let hi = (b + 1) as f64 / bins as f64;
        let inside: Vec<&Example> = examples
            .iter()
            .filter(|e| {
                let s = f64::from(e.score);
                s >= lo && (s < hi || (b + 1 == bins && s <= hi))
            })
            .collect();
        if inside.is_empty() {
            continue;
        }
        let k = inside.len() as f64;
        let mean_score = inside.iter().map(|e| f64::from(e.score)).sum::<f64>() / k;
        let positive_rate = inside.iter().filter(|e| e.label).count() as f64 / k;
        ece += k / n * (mean_score - positive_rate).abs();
        out.push(Bin {
            lo,
            hi,
            n: inside.len(),
            mean_score,
            positive_rate,
        });
    }
    (ece, out)
}

impl EvalReport {
    /// A plain-text report: overall and per-slice tables.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let avg = self
            .average_precision
            .map_or("n/a".to_string(), |v| format!("{v:.4}"));
        s.push_str(&format!(
            "n={} positives={} roc_auc={} average_precision={avg} ece={:.4}\n",
            self.overall.n,
            self.overall.positives,
            fmt_opt(self.overall.roc_auc),
            self.ece
        ));
        for m in std::iter::once(&self.overall).chain(&self.slices) {
            s.push_str(&format!(
                "\n[{}] n={} positives={} mean_score={:.4} roc_auc={}\n",
                m.slice,
                m.n,
                m.positives,
                m.mean_score,
                fmt_opt(m.roc_auc)
            ));
            for a in &m.at {
                let c = a.confusion;
                s.push_str(&format!(
                    "  {:<16} t={:.4} precision={} recall={} fpr={} tp={} fp={} tn={} fn={}\n",
                    a.name,
                    a.threshold,
                    fmt_opt(c.precision()),
                    fmt_opt(c.recall()),
                    fmt_opt(c.false_positive_rate()),
                    c.tp,
                    c.fp,
                    c.tn,
                    c.fn_
                ));
            }
        }
        s
    }

    /// Reliability diagram, 400×400, both axes 0..1 with ticks every 0.1:
    /// light bars show each score bin's observed positive rate, red dots sit
    /// at (mean score, observed rate), the grey diagonal is perfect
    /// calibration.
    pub fn reliability_png(&self) -> RgbImage {
        let mut img = plot_frame();
        const LIGHT_BLUE: Rgb<u8> = Rgb([150, 185, 235]);
        for b in &self.reliability {
            let x0 = to_px(b.lo);
            let x1 = to_px(b.hi);
            let y = to_py(b.positive_rate);
            fill(&mut img, x0 + 1, y, x1 - 1, to_py(0.0) - 1, LIGHT_BLUE);
        }
        // Perfect calibration, over the bars.
        line(
            &mut img,
            (to_px(0.0), to_py(0.0)),
            (to_px(1.0), to_py(1.0)),
            GREY,
        );
        for b in &self.reliability {
            let (cx, cy) = (to_px(b.mean_score), to_py(b.positive_rate));
            fill(&mut img, cx - 3, cy - 3, cx + 3, cy + 3, RED);
        }
        img
    }

    /// Precision (y) against recall (x), 400×400, axes 0..1.
    pub fn pr_curve_png(&self) -> RgbImage {
        let mut img = plot_frame();
        let mut prev: Option<(i64, i64)> = None;
        for &(r, p) in &self.pr_curve {
            let pt = (to_px(r), to_py(p));
            if let Some(a) = prev {
                line(&mut img, a, pt, BLUE);
            }
            prev = Some(pt);
        }
        img
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.4}"))
}

const SIDE: i64 = 400;
const MARGIN: i64 = 30;
const BLUE: Rgb<u8> = Rgb([60, 110, 200]);
const RED: Rgb<u8> = Rgb([210, 50, 40]);
const GREY: Rgb<u8> = Rgb([190, 190, 190]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);

fn to_px(v: f64) -> i64 {
    MARGIN + (v.clamp(0.0, 1.0) * (SIDE - 2 * MARGIN) as f64).round() as i64
}

fn to_py(v: f64) -> i64 {
    SIDE - MARGIN - (v.clamp(0.0, 1.0) * (SIDE - 2 * MARGIN) as f64).round() as i64
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && x < i64::from(img.width()) && y < i64::from(img.height()) {
        img.put_pixel(x as u32, y as u32, c);
    }
}

fn fill(img: &mut RgbImage, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb<u8>) {
    for y in y0.min(y1)..=y0.max(y1) {
        for x in x0.min(x1)..=x0.max(x1) {
            put(img, x, y, c);
        }
    }
}

fn line(img: &mut RgbImage, a: (i64, i64), b: (i64, i64), c: Rgb<u8>) {
    let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).max(1);
    for i in 0..=steps {
        let x = a.0 + (b.0 - a.0) * i / steps;
        let y = a.1 + (b.1 - a.1) * i / steps;
        fill(img, x, y, x + 1, y + 1, c);
    }
}

/// White canvas, axes from (0,0) to (1,1), ticks every 0.1.
fn plot_frame() -> RgbImage {
    let mut img = RgbImage::from_pixel(SIDE as u32, SIDE as u32, Rgb([255, 255, 255]));
    line(
        &mut img,
        (to_px(0.0), to_py(0.0)),
        (to_px(1.0), to_py(0.0)),
        BLACK,
    );
    line(
        &mut img,
        (to_px(0.0), to_py(0.0)),
        (to_px(0.0), to_py(1.0)),
        BLACK,
    );
    for i in 0..=10 {
        let v = f64::from(i) / 10.0;
        fill(
            &mut img,
            to_px(v),
            to_py(0.0),
            to_px(v),
            to_py(0.0) + 5,
            BLACK,
        );
        fill(
            &mut img,
            to_px(0.0) - 5,
            to_py(v),
            to_px(0.0),
            to_py(v),
            BLACK,
        );
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(slice: &str, label: bool, score: f32) -> Example {
        Example {
            slice: slice.into(),
            label,
            score,
        }
    }

    #[test]
    fn metrics_on_a_small_set() {
        let data = vec![
            ex("a", true, 0.9),
            ex("a", true, 0.8),
            ex("a", false, 0.7),
            ex("b", false, 0.2),
            ex("b", true, 0.1),
        ];
        let r = evaluate(&data, &[("half".into(), 0.5)], 10);
        assert_eq!(r.overall.n, 5);
        let c = r.overall.at[0].confusion;
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 1, 1, 1));
        // Pairs (pos, neg): 3 positives × 2 negatives; 4 of 6 ordered right.
        assert!((r.overall.roc_auc.unwrap() - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(r.slices.len(), 2);
        // "b" holds both classes, ranked wrongly.
        assert_eq!(r.slices[1].roc_auc, Some(0.0));
        let one_class = evaluate(&data[..3], &[], 10);
        assert_eq!(one_class.slices.len(), 1);
        assert_eq!(one_class.slices[0].roc_auc, Some(1.0));
        assert!(r.ece > 0.0 && r.ece < 1.0);
        assert!(r.to_text().contains("[b]"));
        assert_eq!(r.reliability_png().dimensions(), (400, 400));
        assert_eq!(r.pr_curve_png().dimensions(), (400, 400));
    }

    #[test]
    fn empty_input_does_not_panic() {
        let r = evaluate(&[], &[("t".into(), 0.5)], 15);
        assert_eq!(r.overall.n, 0);
        assert!(r.overall.roc_auc.is_none());
        let _ = r.reliability_png();
        let _ = r.pr_curve_png();
    }
}
