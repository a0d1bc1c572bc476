#!/usr/bin/env python3
"""Throughput of the reference peer, as python-threatexchange runs it:
Pillow decode + convert("RGB") + pdqhash.compute, one thread, files read
into memory first. Repeats the set until SECONDS have passed.

Usage: pdqhash_throughput.py SECONDS FILE...
Prints: peer images=… megapixels=… seconds=… ips=… mps=…
"""
import io
import sys
import time

import numpy as np
import pdqhash
from PIL import Image


def main():
    seconds = float(sys.argv[1])
    data = [open(p, "rb").read() for p in sys.argv[2:]]
    images = pixels = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or images == 0:
        for b in data:
            rgb = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))
            pdqhash.compute(rgb)
            pixels += rgb.shape[0] * rgb.shape[1]
            images += 1
    secs = time.perf_counter() - start
    print(
        f"peer images={images} megapixels={pixels / 1e6:.1f} seconds={secs:.3f} "
        f"ips={images / secs:.2f} mps={pixels / 1e6 / secs:.2f}"
    )


if __name__ == "__main__":
    main()
