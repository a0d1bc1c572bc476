#!/usr/bin/env python3
"""Hash images with the reference peer: Pillow decode, convert("RGB"),
pdqhash.compute (Meta's C++ PDQ through the pdqhash binding).

Usage: pdqhash_reference.py [--dihedral] [--dump-rgb DIR] FILE...
Prints TSV: path, hash, quality (and 8 dihedral hashes with --dihedral).
With --dump-rgb, writes each decoded RGB buffer as DIR/<n>.rgb with its
size in the TSV, so the Rust side can hash the very same pixels.
"""
import os
import sys

import numpy as np
import pdqhash
from PIL import Image


def bits_to_hex(bits):
    return "%064x" % int("".join(str(int(b)) for b in bits), 2)


def main(argv):
    dihedral = "--dihedral" in argv
    argv = [a for a in argv if a != "--dihedral"]
    dump = None
    if "--dump-rgb" in argv:
        i = argv.index("--dump-rgb")
        dump = argv[i + 1]
        del argv[i : i + 2]
        os.makedirs(dump, exist_ok=True)
    for n, path in enumerate(argv):
        try:
            im = Image.open(path)
            mode = im.mode
            rgb = np.asarray(im.convert("RGB"))
        except Exception as e:  # noqa: BLE001 - report and continue
            print(f"{path}\tERROR\t{type(e).__name__}", flush=True)
            continue
        h, w = rgb.shape[:2]
        cols = [path, mode, str(w), str(h)]
        if dihedral:
            hashes, q = pdqhash.compute_dihedral(rgb)
            cols += [str(q)] + [bits_to_hex(x) for x in hashes]
        else:
            bits, q = pdqhash.compute(rgb)
            cols += [bits_to_hex(bits), str(q)]
        if dump:
            raw = os.path.join(dump, f"{n}.rgb")
            with open(raw, "wb") as f:
                f.write(np.ascontiguousarray(rgb).tobytes())
            cols.append(raw)
        print("\t".join(cols), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
