#!/usr/bin/env python3
"""Per-format breakdown of the reference peer (Pillow decode +
convert("RGB") + pdqhash.compute), one thread, files read into memory and
grouped by the format Pillow reports. For each group, each stage is
repeated until SECONDS have passed: `decode` (open + convert + asarray),
`hash` (pdqhash.compute on arrays decoded beforehand) and `total` (both).

Usage: pdqhash_formats.py SECONDS FILE...
Prints one line per format:
  peer-format format=… files=… mp=… decode_ips=… hash_ips=… total_ips=… total_mps=…
"""
import io
import sys
import time

import numpy as np
import pdqhash
from PIL import Image

NAMES = {"JPEG": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tiff"}


def rate(n, seconds, f):
    images = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or images == 0:
        for k in range(n):
            f(k)
        images += n
    return images / (time.perf_counter() - start)


def decode(b):
    return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))


def main():
    seconds = float(sys.argv[1])
    groups = {}
    for p in sys.argv[2:]:
        b = open(p, "rb").read()
        fmt = NAMES.get(Image.open(io.BytesIO(b)).format, "unknown")
        groups.setdefault(fmt, []).append(b)
    for fmt in sorted(groups):
        data = groups[fmt]
        arrays = [decode(b) for b in data]
        pixels = sum(a.shape[0] * a.shape[1] for a in arrays)
        n = len(data)
        d = rate(n, seconds, lambda k: decode(data[k]))
        h = rate(n, seconds, lambda k: pdqhash.compute(arrays[k]))
        t = rate(n, seconds, lambda k: pdqhash.compute(decode(data[k])))
        print(
            f"peer-format format={fmt} files={n} mp={pixels / 1e6:.1f} decode_ips={d:.2f} "
            f"hash_ips={h:.2f} total_ips={t:.2f} total_mps={t * pixels / 1e6 / n:.2f}"
        )


if __name__ == "__main__":
    main()
