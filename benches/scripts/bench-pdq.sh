#!/usr/bin/env bash
# bench-pdq: Vigil's decode+PDQ against the reference peer (`pdqhash`, Meta's
# C++ PDQ through its Python binding, on Pillow-decoded pixels, as
# python-threatexchange runs it), single thread, decode included, on the
# same files held in memory. Vigil runs twice: `decode=rgb` decodes to RGB
# exactly as Pillow does (what the worker feeds the classifier too), and
# `decode=luma` is the hash-only path (vigil_decode::decode_for_hash: a
# JPEG's Y channel alone, within a few bits of the RGB path). Also reports
# Vigil (luma) at 2 threads.
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
(cd "$root" && cargo build --release --quiet -p vigil-pdq --example pdq_throughput)
vigil="$CARGO_TARGET_DIR/release/examples/pdq_throughput"
peer=("$venv/bin/python" "$root/hashdb/pdq/scripts/pdqhash_throughput.py")

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
