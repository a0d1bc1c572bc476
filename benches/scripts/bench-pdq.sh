#!/usr/bin/env bash
# bench-pdq: Vigil's decode+PDQ against the reference peer (`pdqhash`, Meta's
# C++ PDQ through its Python binding, on Pillow-decoded pixels, as
# python-threatexchange runs it), single thread, decode included, on the
# same files held in memory. Vigil runs twice: `decode=rgb` decodes to RGB
# exactly as Pillow does (what the worker feeds the classifier too), and
# `decode=luma` is the hash-only path (vigil_decode::decode_for_hash: a
# JPEG's Y channel alone, within a few bits of the RGB path). Also reports
# Vigil (luma) at 2 threads, and a per-format table (decode, hash and both,
# for Vigil and the peer) that also covers GIF, BMP, TIFF and lossless WebP
# files generated from the vectors.
#
# Usage: benches/scripts/bench-pdq.sh [SECONDS] [FILE...]
#   default files: every image under the shared PDQ test vectors
#   (VIGIL_TESTDATA, or ../shared/testdata beside the checkout).
# Ends with one summary line:
#   bench-pdq files=N vigil_mps=… peer=pdqhash peer_mps=… ratio=… ratio_rgb=… …
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-5}"
shift || true

# The peer, in its own venv (created on first use).
venv="$root/.venv-bench"
if ! "$venv/bin/python" -c "import pdqhash, PIL, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet pdqhash Pillow numpy
fi

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    testdata="${VIGIL_TESTDATA:-}"
    if [ -z "$testdata" ]; then
        dir="$root"
        while [ "$dir" != "/" ]; do
            if [ -d "$dir/shared/testdata/pdq" ]; then testdata="$dir/shared/testdata"; break; fi
            dir="$(dirname "$dir")"
        done
    fi
    if [ -z "$testdata" ] || [ ! -d "$testdata/pdq" ]; then
        echo "bench-pdq: test images not found; set VIGIL_TESTDATA" >&2
        exit 2
    fi
    mapfile -t files < <(find "$testdata/pdq" -type f \( -iname '*.jpg' -o -iname '*.jpeg' \
        -o -iname '*.png' -o -iname '*.webp' -o -iname '*.gif' -o -iname '*.bmp' -o -iname '*.tif*' \) | sort)
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release --quiet -p vigil-pdq --example pdq_throughput --example pdq_formats)
vigil="$CARGO_TARGET_DIR/release/examples/pdq_throughput"
vigil_formats="$CARGO_TARGET_DIR/release/examples/pdq_formats"
peer=("$venv/bin/python" "$root/hashdb/pdq/scripts/pdqhash_throughput.py")
peer_formats=("$venv/bin/python" "$root/hashdb/pdq/scripts/pdqhash_formats.py")

# The vectors have no GIF, BMP, TIFF or lossless WebP: for the per-format
# table, Pillow writes those from three of the vectors into a temporary
# folder (they are not part of the headline ratio).
extra="$(mktemp -d)"
trap 'rm -rf "$extra"' EXIT
if [ -n "${testdata:-}" ]; then
    "$venv/bin/python" - "$testdata/pdq/pdq/data" "$extra" <<'PY'
import sys
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
for name, path in [("bridge", "reg-test-input/dih/bridge-1-original.jpg"),
                   ("pen", "reg-test-input/pen-and-coaster.png"),
                   ("c", "misc-images/c.png")]:
    im = Image.open(f"{src}/{path}").convert("RGB")
    im.quantize(256).save(f"{out}/{name}.gif")
    im.save(f"{out}/{name}.bmp")
    im.save(f"{out}/{name}.tif")
    im.save(f"{out}/{name}-lzw.tif", compression="tiff_lzw")
    im.save(f"{out}/{name}-lossless.webp", lossless=True)
PY
fi
mapfile -t extra_files < <(find "$extra" -type f | sort)

# Single-threaded numeric libraries for the peer; the peer is one thread.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# Warm up both (page cache, lazy init), then measure, alternating.
"$vigil" --threads 1 --seconds 0.5 "${files[@]}" >/dev/null
"${peer[@]}" 0.5 "${files[@]}" >/dev/null
r1="$("$vigil" --threads 1 --seconds "$seconds" --decode rgb "${files[@]}")"
v1="$("$vigil" --threads 1 --seconds "$seconds" --decode luma "${files[@]}")"
p1="$("${peer[@]}" "$seconds" "${files[@]}")"
v2="$("$vigil" --threads 2 --seconds "$seconds" --decode luma "${files[@]}")"
echo "$r1"
echo "$v1"
echo "$p1"
echo "$v2"

# Per format (the vectors plus the generated files), one thread each:
# decode alone, hash alone, and both, for Vigil's hash-only path and the peer,
# the two back to back for each format (grouped by file extension) so that
# both sides of a row see the same machine load.
fs="$(python3 -c "print(max(1.0, $seconds / 5))")"
vf=""
pf=""
for ext in jpeg png webp gif bmp tiff; do
    group=()
    for f in "${files[@]}" "${extra_files[@]}"; do
        lower="${f,,}"
        case "$ext:$lower" in
            jpeg:*.jpg | jpeg:*.jpeg | png:*.png | webp:*.webp | gif:*.gif | bmp:*.bmp | tiff:*.tif | tiff:*.tiff)
                group+=("$f") ;;
        esac
    done
    [ "${#group[@]}" -gt 0 ] || continue
    vf+="$("$vigil_formats" --seconds "$fs" "${group[@]}")"$'\n'
    pf+="$("${peer_formats[@]}" "$fs" "${group[@]}")"$'\n'
done
echo -n "$vf"
echo -n "$pf"
python3 - "$vf" "$pf" <<'PY'
import sys
def parse(text):
    rows = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        kv = dict(f.split("=", 1) for f in line.split()[1:])
        rows[kv["format"]] = kv
    return rows
v, p = parse(sys.argv[1]), parse(sys.argv[2])
print()
print("| format | files | MP | Vigil decode img/s | Vigil hash img/s | Vigil total img/s | Vigil MP/s "
      "| peer decode img/s | peer hash img/s | peer total img/s | peer MP/s | ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for fmt in sorted(v):
    a, b = v[fmt], p.get(fmt)
    if b is None:
        continue
    ratio = float(a["total_mps"]) / float(b["total_mps"])
    print(f"| {fmt} | {a['files']} | {a['mp']} | {a['decode_hash_ips']} | {a['hash_ips']} | {a['total_ips']} "
          f"| {a['total_mps']} | {b['decode_ips']} | {b['hash_ips']} | {b['total_ips']} | {b['total_mps']} "
          f"| {ratio:.2f} |")
both = [f for f in v if f in p]
# Each row's two sides were timed back to back; rows at different moments.
mp = sum(float(v[f]["mp"]) for f in both)
files = sum(int(v[f]["files"]) for f in both)
tv = sum(int(v[f]["files"]) / float(v[f]["total_ips"]) for f in both)
tp = sum(int(p[f]["files"]) / float(p[f]["total_ips"]) for f in both)
print()
print(f"all formats above ({files} files, {mp:.1f} MP, rows timed one after another): "
      f"Vigil {mp / tv:.1f} MP/s, peer {mp / tp:.1f} MP/s, ratio {tp / tv:.2f}")
print()
PY

vm="$(field mps "$v1")"
pm="$(field mps "$p1")"
vi="$(field ips "$v1")"
pi="$(field ips "$p1")"
v2m="$(field mps "$v2")"
rm_="$(field mps "$r1")"
ratio="$(python3 -c "print(f'{$vm / $pm:.2f}')")"
ratio_rgb="$(python3 -c "print(f'{$rm_ / $pm:.2f}')")"
scale="$(python3 -c "print(f'{$v2m / $vm:.2f}')")"
echo "bench-pdq files=${#files[@]} vigil_mps=$vm vigil_ips=$vi peer=pdqhash peer_mps=$pm peer_ips=$pi ratio=$ratio vigil_rgb_mps=$rm_ ratio_rgb=$ratio_rgb vigil_mps_2t=$v2m scaling_2t=$scale cores=$(getconf _NPROCESSORS_ONLN)"
