#!/usr/bin/env python3
"""Trains, calibrates, exports and evaluates Vigil's demo emblem classifier.

Reproducible and CPU only. Steps:

1. Builds the Rust generator (`cargo build --release -p vigil-models
   --example synth-dataset`) and writes the train / calibration / test splits
   with disjoint seed ranges. Every image is synthetic: the fictional
   "hexbar" emblem family and benign look-alikes (see models/src/synth.rs).
2. Pre-processes exactly as the Rust crate does (area resize to 64x64,
   values / 255, NCHW float32): see `preprocess` below and
   models/src/preprocess.rs.
3. Trains a small CNN with JAX (fixed seeds, hand-written Adam).
4. Exports ONNX (opset 17) by writing the graph node by node, and checks
   ONNX Runtime's logits against JAX's.
5. Fits Platt scaling (calibrated = sigmoid(a * logit + b)) on the
   calibration split, chooses operating thresholds there, and evaluates on
   the held-out test split per slice.
6. Writes models/emblem/emblem-v1.onnx, emblem-v1.json (metadata,
   calibration, thresholds), EVAL.md + eval.json (the report) and the
   pre-processing parity fixtures used by the Rust tests.

Usage: python models/train/train.py [--epochs N] [--out models/emblem]
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MODEL_NAME = "emblem"
MODEL_VERSION = "1.0.0"
INPUT_SIZE = 64
DATA_SIZE = 128
OPSET = 17
SEED = 20261124
# Operating points, chosen on the calibration split's negatives.
REVIEW_MAX_FPR = 0.02
HIGH_PRECISION_MAX_FPR = 0.002

ROOT = Path(__file__).resolve().parents[2]

# (slice, count) per split; seed ranges never overlap between splits.
SPLITS = {
    "train": (0, [("emblem", 4000), ("logo", 1800), ("flag", 800), ("photo", 500), ("news_frame", 1100)]),
    # Same mix as the test split's training slices (20% positive): the
    # calibrated score is a probability under this prior (see MODEL_CARD.md).
    "calib": (10_000_000, [("emblem", 500), ("logo", 500), ("flag", 500), ("photo", 500), ("news_frame", 500)]),
    "test": (
        20_000_000,
        [
            ("emblem", 500),
            ("logo", 500),
            ("flag", 500),
            ("photo", 500),
            ("news_frame", 500),
            ("emblem_small", 300),
            ("emblem_faint", 300),
            ("emblem_gray", 300),
        ],
    ),
}
TRAIN_SLICES = ["emblem", "logo", "flag", "photo", "news_frame"]

# Fixtures for the Rust pre-processing parity test: (slice, seed, size).
FIXTURES = [
    ("emblem", 900_001, 200),
    ("news_frame", 900_002, 150),
    ("logo", 900_003, 64),
    ("photo", 900_004, 77),
    ("flag", 900_005, 33),
    ("emblem_faint", 900_006, 129),
]


# ---------------------------------------------------------------------------
# Data


def synth_bin():
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    subprocess.run(
        ["cargo", "build", "--release", "-p", "vigil-models", "--example", "synth-dataset"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "CARGO_TARGET_DIR": target},
    )
    return Path(target) / "release" / "examples" / "synth-dataset"


def generate(binary, out_dir, split, size, seed_base, spec):
    args = [str(binary), str(out_dir), str(size), split, str(seed_base)]
    args += [f"{name}={count}" for name, count in spec]
    subprocess.run(args, check=True)
    raw = np.fromfile(out_dir / f"{split}.u8", dtype=np.uint8)
    images = raw.reshape(-1, size, size, 3)
    rows = (out_dir / f"{split}.csv").read_text().strip().splitlines()[1:]
    slices = [r.split(",")[1] for r in rows]
    labels = np.array([int(r.split(",")[2]) for r in rows], dtype=np.float32)
    return images, slices, labels


def area_weights(src, dst):
    """(dst, src) matrix: output pixel j averages source interval
    [j*s, (j+1)*s), s = src/dst, each source pixel weighted by its overlap.
    Computed in float64, as in models/src/preprocess.rs."""
    scale = src / dst
    w = np.zeros((dst, src), dtype=np.float64)
    for j in range(dst):
        lo, hi = j * scale, (j + 1) * scale
        i0 = int(np.floor(lo))
        i1 = min(int(np.ceil(hi)), src)
        for i in range(i0, i1):
            overlap = min(hi, i + 1) - max(lo, i)
            if overlap > 0:
                w[j, i] = overlap / scale
    return w


def preprocess(images):
    """uint8 (N, H, W, 3) -> float32 (N, 3, 64, 64) in [0, 1]."""
    n, h, w, _ = images.shape
    wy = area_weights(h, INPUT_SIZE)
    wx = area_weights(w, INPUT_SIZE)
    out = np.empty((n, 3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
    step = 512
    for s in range(0, n, step):
        x = images[s : s + step].astype(np.float64)
        # rows then columns: (N,H,W,C) -> (N,C,64,64)
        t = np.einsum("yh,nhwc->nywc", wy, x)
        t = np.einsum("xw,nywc->ncyx", wx, t)
        out[s : s + step] = (t / 255.0).astype(np.float32)
    return out


# ---------------------------------------------------------------------------
# Model (JAX)

CHANNELS = [3, 16, 32, 64, 64]
MEAN, STD = 0.5, 0.25


def init_params(key):
    import jax

    params = []
    for i in range(4):
        key, k = jax.random.split(key)
        cin, cout = CHANNELS[i], CHANNELS[i + 1]
        w = jax.random.normal(k, (cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))
        params.append((w, np.zeros((cout,), np.float32)))
    key, k = jax.random.split(key)
    wd = jax.random.normal(k, (CHANNELS[-1], 1)) * np.sqrt(1.0 / CHANNELS[-1])
    params.append((wd, np.zeros((1,), np.float32)))
    return params


def forward(params, x):
    import jax
    import jax.numpy as jnp

    x = (x - MEAN) / STD
    for i in range(4):
        w, b = params[i]
        x = jax.lax.conv_general_dilated(
            x, w, window_strides=(1, 1), padding=((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW")
        )
        x = jax.nn.relu(x + b[None, :, None, None])
        if i < 3:
            x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    x = jnp.mean(x, axis=(2, 3))
    wd, bd = params[4]
    return (x @ wd + bd)[:, 0]


def train(x, y, epochs, batch, lr, log):
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(SEED)
    params = init_params(key)
    params = jax.tree_util.tree_map(jnp.asarray, params)

    def loss_fn(p, xb, yb):
        logits = forward(p, xb)
        return jnp.mean(jnp.maximum(logits, 0) - logits * yb + jnp.log1p(jnp.exp(-jnp.abs(logits))))

    b1, b2, eps = 0.9, 0.999, 1e-8

    @jax.jit
    def step(p, m, v, t, xb, yb, lr_t):
        loss, g = jax.value_and_grad(loss_fn)(p, xb, yb)
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        mh = jax.tree_util.tree_map(lambda m_: m_ / (1 - b1**t), m)
        vh = jax.tree_util.tree_map(lambda v_: v_ / (1 - b2**t), v)
        p = jax.tree_util.tree_map(lambda p_, mh_, vh_: p_ - lr_t * mh_ / (jnp.sqrt(vh_) + eps), p, mh, vh)
        return p, m, v, loss

    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    rng = np.random.default_rng(SEED)
    n = len(x)
    steps_per_epoch = n // batch
    total = epochs * steps_per_epoch
    t = 0
    for epoch in range(epochs):
        order = rng.permutation(n)
        flips = rng.random(n) < 0.5
        losses = []
        t0 = time.time()
        for s in range(steps_per_epoch):
            idx = order[s * batch : (s + 1) * batch]
            xb = x[idx]
            f = flips[idx]
            xb = np.where(f[:, None, None, None], xb[..., ::-1], xb)
            t += 1
            # cosine decay
            lr_t = lr * 0.5 * (1 + np.cos(np.pi * t / total))
            params, m, v, loss = step(params, m, v, float(t), xb, y[idx], lr_t)
            losses.append(float(loss))
        log(f"epoch {epoch + 1}/{epochs} loss={np.mean(losses):.4f} ({time.time() - t0:.1f}s)")
    return params


def predict(params, x, batch=500):
    import jax

    f = jax.jit(forward)
    return np.concatenate([np.asarray(f(params, x[s : s + batch])) for s in range(0, len(x), batch)])


# ---------------------------------------------------------------------------
# ONNX export


def export_onnx(params, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [
        numpy_helper.from_array(np.array([MEAN], np.float32).reshape(1, 1, 1, 1), "mean"),
        numpy_helper.from_array(np.array([1.0 / STD], np.float32).reshape(1, 1, 1, 1), "inv_std"),
    ]
    nodes = [
        helper.make_node("Sub", ["image", "mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "inv_std"], ["x0"]),
    ]
    cur = "x0"
    for i in range(4):
        w, b = params[i]
        inits.append(numpy_helper.from_array(np.asarray(w, np.float32), f"conv{i}_w"))
        inits.append(numpy_helper.from_array(np.asarray(b, np.float32), f"conv{i}_b"))
        nodes.append(
            helper.make_node(
                "Conv", [cur, f"conv{i}_w", f"conv{i}_b"], [f"conv{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
            )
        )
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]))
        cur = f"relu{i}"
        if i < 3:
            nodes.append(helper.make_node("MaxPool", [cur], [f"pool{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            cur = f"pool{i}"
    wd, bd = params[4]
    inits.append(numpy_helper.from_array(np.asarray(wd, np.float32), "fc_w"))
    inits.append(numpy_helper.from_array(np.asarray(bd, np.float32), "fc_b"))
    nodes += [
        helper.make_node("GlobalAveragePool", [cur], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logit"]),
    ]
    graph = helper.make_graph(
        nodes,
        "vigil_emblem_v1",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["batch", 1])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="vigil models/train/train.py",
        producer_version=MODEL_VERSION,
        doc_string="Vigil demo classifier for the fictional 'hexbar' emblem family. "
        "Input: RGB in [0,1], NCHW, 64x64, area-resized. Output: raw logit; "
        "calibrate with emblem-v1.json.",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def ort_logits(path, x, batch=256):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    out = [sess.run(["logit"], {"image": x[s : s + batch]})[0][:, 0] for s in range(0, len(x), batch)]
    return np.concatenate(out)


# ---------------------------------------------------------------------------
# Calibration and metrics


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def fit_platt(logits, y, iters=200):
    """Newton's method on the NLL of sigmoid(a * logit + b)."""
    a, b = 1.0, 0.0
    z = logits.astype(np.float64)
    for _ in range(iters):
        p = sigmoid(a * z + b)
        g = np.array([np.sum((p - y) * z), np.sum(p - y)])
        w = p * (1 - p) + 1e-12
        h = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]]) + 1e-9 * np.eye(2)
        d = np.linalg.solve(h, g)
        a, b = a - d[0], b - d[1]
        if np.max(np.abs(d)) < 1e-10:
            break
    return float(a), float(b)


def ece(p, y, bins=15):
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    rows = []
    for i in range(bins):
        m = (p >= edges[i]) & (p < edges[i + 1]) if i < bins - 1 else (p >= edges[i]) & (p <= 1)
        if m.sum() == 0:
            continue
        conf, acc = p[m].mean(), y[m].mean()
        total += m.sum() / len(p) * abs(conf - acc)
        rows.append((float(edges[i]), float(edges[i + 1]), int(m.sum()), float(conf), float(acc)))
    return float(total), rows


def roc_auc(scores, y):
    pos, neg = scores[y == 1], scores[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    allv = np.concatenate([pos, neg])[order]
    # average ranks for ties
    i = 0
    r = np.empty(len(allv))
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        r[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    ranks[order] = r
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def average_precision(scores, y):
    order = np.argsort(-scores, kind="mergesort")
    ys = y[order]
    tp = np.cumsum(ys)
    prec = tp / np.arange(1, len(ys) + 1)
    return float(np.sum(prec * ys) / max(ys.sum(), 1))


def wilson(k, n, z=1.96):
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (float(c - h), float(c + h))


def choose_threshold(p, y, max_fpr):
    """Lowest calibrated-score threshold (4 decimals) whose false-positive
    rate on the negatives of (p, y) is at most `max_fpr`: the most recall
    under that constraint. FPR, unlike precision, does not depend on the
    share of positives in the split."""
    neg = np.sort(p[y == 0])[::-1]
    allowed = int(np.floor(max_fpr * len(neg)))
    # Above the (allowed+1)-th highest negative score.
    edge = neg[allowed] if allowed < len(neg) else 0.0
    t = float(np.ceil((edge + 1e-9) * 10000) / 10000)
    return min(t, 1.0)


def confusion(p, y, t):
    pred = p >= t
    return {
        "tp": int((pred & (y == 1)).sum()),
        "fp": int((pred & (y == 0)).sum()),
        "tn": int((~pred & (y == 0)).sum()),
        "fn": int((~pred & (y == 1)).sum()),
    }


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--out", default=str(ROOT / "models" / "emblem"))
    ap.add_argument("--work", default=str(ROOT / ".deps" / "train-data"))
    args = ap.parse_args()

    out = Path(args.out)
    work = Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    log_lines = []

    def log(msg):
        line = f"[{time.time() - started:7.1f}s] {msg}"
        print(line, flush=True)
        log_lines.append(line)

    import jax

    log(f"jax {jax.__version__} on {jax.devices()}; cpu count {os.cpu_count()}")
    binary = synth_bin()
    data = {}
    for split, (base, spec) in SPLITS.items():
        images, slices, labels = generate(binary, work, split, DATA_SIZE, base, spec)
        data[split] = (preprocess(images), np.array(slices), labels)
        log(f"{split}: {len(labels)} images ({int(labels.sum())} positive)")
    t_gen = time.time() - started

    x_tr, _, y_tr = data["train"]
    t0 = time.time()
    params = train(x_tr, y_tr, args.epochs, args.batch, args.lr, log)
    t_train = time.time() - t0
    log(f"training took {t_train:.1f}s")

    onnx_path = out / "emblem-v1.onnx"
    export_onnx(params, onnx_path)
    x_te, s_te, y_te = data["test"]
    jax_test = predict(params, x_te)
    ort_test = ort_logits(onnx_path, x_te)
    max_diff = float(np.max(np.abs(jax_test - ort_test)))
    log(f"exported {onnx_path} ({onnx_path.stat().st_size} bytes); JAX vs ORT max |logit diff| {max_diff:.2e}")
    if max_diff > 1e-3:
        sys.exit("ONNX export disagrees with JAX")

    x_ca, _, y_ca = data["calib"]
    z_ca = ort_logits(onnx_path, x_ca)
    a, b = fit_platt(z_ca, y_ca)
    p_ca = sigmoid(a * z_ca + b)
    review_above = choose_threshold(p_ca, y_ca, REVIEW_MAX_FPR)
    high_precision = choose_threshold(p_ca, y_ca, HIGH_PRECISION_MAX_FPR)
    log(f"platt a={a:.4f} b={b:.4f}; thresholds review_above={review_above} high_precision={high_precision}")

    # ---- evaluation on the held-out test split
    z = ort_test
    raw = sigmoid(z)
    p = sigmoid(a * z + b)
    main_mask = np.isin(s_te, TRAIN_SLICES)
    ece_raw, _ = ece(raw[main_mask], y_te[main_mask])
    ece_cal, rel_rows = ece(p[main_mask], y_te[main_mask])
    brier = float(np.mean((p[main_mask] - y_te[main_mask]) ** 2))
    thresholds = {"review_above": review_above, "high_precision": high_precision, "default_0.5": 0.5}
    overall = {
        "n": int(main_mask.sum()),
        "roc_auc": roc_auc(p[main_mask], y_te[main_mask]),
        "average_precision": average_precision(p[main_mask], y_te[main_mask]),
        "ece_uncalibrated": ece_raw,
        "ece_calibrated": ece_cal,
        "brier": brier,
        "at": {},
    }
    for name, t in thresholds.items():
        cm = confusion(p[main_mask], y_te[main_mask], t)
        prec = cm["tp"] / max(cm["tp"] + cm["fp"], 1)
        rec = cm["tp"] / max(cm["tp"] + cm["fn"], 1)
        overall["at"][name] = {"threshold": t, "precision": prec, "recall": rec, "confusion": cm}
    neg_all = p[(y_te == 0)]
    per_slice = {}
    for sl in dict.fromkeys(s_te.tolist()):
        m = s_te == sl
        ps = p[m]
        positive = bool(y_te[m][0] == 1)
        row = {"n": int(m.sum()), "positive": positive, "mean_score": float(ps.mean())}
        if positive:
            row["roc_auc_vs_all_negatives"] = roc_auc(np.concatenate([ps, neg_all]), np.r_[np.ones(len(ps)), np.zeros(len(neg_all))])
        else:
            pos = p[s_te == "emblem"]
            row["roc_auc_emblem_vs_slice"] = roc_auc(np.concatenate([pos, ps]), np.r_[np.ones(len(pos)), np.zeros(len(ps))])
        for name, t in thresholds.items():
            k = int((ps >= t).sum())
            lo, hi = wilson(k, len(ps))
            key = "recall" if positive else "false_positive_rate"
            row[f"{key}@{name}"] = {"value": k / len(ps), "wilson95": [lo, hi], "count": k}
        per_slice[sl] = row

    # ---- parity fixtures for the Rust tests
    fix_dir = out / "fixtures"
    fix_dir.mkdir(exist_ok=True)
    fixtures = []
    for sl, seed, size in FIXTURES:
        img, _, _ = generate(binary, work, "fixture", size, seed, [(sl, 1)])
        x = preprocess(img)
        zf = float(ort_logits(onnx_path, x)[0])
        stem = f"{sl}-{seed}-{size}"
        (fix_dir / f"{stem}.rgb").write_bytes(img[0].tobytes())
        (fix_dir / f"{stem}.f32").write_bytes(x[0].astype("<f4").tobytes())
        fixtures.append(
            {"file": f"{stem}.rgb", "tensor": f"{stem}.f32", "width": size, "height": size, "logit": zf, "score": float(sigmoid(a * zf + b))}
        )
    (fix_dir / "fixtures.json").write_text(json.dumps(fixtures, indent=2) + "\n")

    total = time.time() - started
    sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    meta = {
        "name": MODEL_NAME,
        "version": MODEL_VERSION,
        "onnx": onnx_path.name,
        "sha256": sha,
        "opset": OPSET,
        "input": {"name": "image", "layout": "NCHW", "channels": "RGB", "size": INPUT_SIZE, "range": [0.0, 1.0], "resize": "area"},
        "output": {"name": "logit", "kind": "logit"},
        "calibration": {
            "kind": "platt",
            "a": a,
            "b": b,
            "fitted_on": "calib split",
            "n": int(len(y_ca)),
            "prior": float(y_ca.mean()),
        },
        "thresholds": {
            "review_above": review_above,
            "high_precision": high_precision,
            "review_above_max_fpr": REVIEW_MAX_FPR,
            "high_precision_max_fpr": HIGH_PRECISION_MAX_FPR,
        },
    }
    (out / "emblem-v1.json").write_text(json.dumps(meta, indent=2) + "\n")
    report = {
        "model": MODEL_NAME,
        "version": MODEL_VERSION,
        "sha256": sha,
        "timing_s": {"data": round(t_gen, 1), "train": round(t_train, 1), "total": round(total, 1)},
        "epochs": args.epochs,
        "splits": {k: {sl: c for sl, c in v[1]} for k, v in SPLITS.items()},
        "calibration": meta["calibration"],
        "overall_main_slices": overall,
        "per_slice": per_slice,
        "reliability_calibrated": rel_rows,
        "jax_vs_ort_max_abs_logit_diff": max_diff,
    }
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "EVAL.md").write_text(render_report(report, thresholds))
    log(f"done in {total:.1f}s; wrote {out}")


def render_report(r, thresholds):
    o = r["overall_main_slices"]
    lines = [
        f"# Evaluation report: {r['model']} {r['version']}",
        "",
        "Written by `models/train/train.py`; do not edit by hand. Held-out test split",
        "(seeds never used in training or calibration). Scores are calibrated",
        "(Platt scaling fitted on the calibration split). Synthetic data only.",
        "",
        f"- model sha256: `{r['sha256']}`",
        f"- time: data {r['timing_s']['data']} s, training {r['timing_s']['train']} s, total {r['timing_s']['total']} s ({r['epochs']} epochs)",
        f"- calibration: calibrated = sigmoid({r['calibration']['a']:.4f} * logit + {r['calibration']['b']:.4f}),"
        f" fitted on {r['calibration']['n']} images with {r['calibration']['prior']:.0%} positives",
        f"- thresholds (calibration split): review_above = {thresholds['review_above']:.4f} (FPR <= {REVIEW_MAX_FPR}),"
        f" high_precision = {thresholds['high_precision']:.4f} (FPR <= {HIGH_PRECISION_MAX_FPR})",
        "",
        "## Overall (training slices: emblem, logo, flag, photo, news_frame)",
        "",
        f"- n = {o['n']}, ROC-AUC = {o['roc_auc']:.4f}, average precision = {o['average_precision']:.4f}",
        f"- ECE (15 bins): uncalibrated sigmoid(logit) {o['ece_uncalibrated']:.4f}, calibrated {o['ece_calibrated']:.4f}; Brier {o['brier']:.4f}",
        "",
        "| threshold | value | precision | recall | TP | FP | TN | FN |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, a in o["at"].items():
        c = a["confusion"]
        lines.append(
            f"| {name} | {a['threshold']:.4f} | {a['precision']:.4f} | {a['recall']:.4f} | {c['tp']} | {c['fp']} | {c['tn']} | {c['fn']} |"
        )
    lines += [
        "",
        "## Per slice",
        "",
        "Positive slices report recall (share flagged); negative slices report the",
        "false-positive rate. Brackets: Wilson 95% interval. `emblem_small`,",
        "`emblem_faint` and `emblem_gray` are stress slices never seen in training.",
        "",
        "| slice | label | n | mean score | AUC | rate @ review_above | rate @ high_precision | rate @ 0.5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sl, row in r["per_slice"].items():
        key = "recall" if row["positive"] else "false_positive_rate"
        auc = row.get("roc_auc_vs_all_negatives", row.get("roc_auc_emblem_vs_slice"))
        cells = []
        for name in ["review_above", "high_precision", "default_0.5"]:
            v = row[f"{key}@{name}"]
            cells.append(f"{v['value']:.3f} [{v['wilson95'][0]:.3f}, {v['wilson95'][1]:.3f}]")
        label = "positive (recall)" if row["positive"] else "negative (FPR)"
        lines.append(f"| {sl} | {label} | {row['n']} | {row['mean_score']:.3f} | {auc:.4f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "AUC: positive slices against all negatives; negative slices: `emblem` against that slice.",
        "",
        "## Reliability (calibrated, training slices)",
        "",
        "| bin | n | mean score | observed positive rate |",
        "|---|---|---|---|",
    ]
    for lo, hi, n, conf, acc in r["reliability_calibrated"]:
        lines.append(f"| {lo:.2f}-{hi:.2f} | {n} | {conf:.3f} | {acc:.3f} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
