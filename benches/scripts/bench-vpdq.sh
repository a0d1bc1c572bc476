#!/usr/bin/env bash
# bench-vpdq: video seconds hashed per wall-clock second on one core, decode
# included, at vPDQ's one frame per second: Vigil (FFmpeg subprocess decode +
# vigil-vpdq) against the reference (`vpdq` from PyPI: Meta's C++ vPDQ on
# libav, built from source against Debian's FFmpeg dev packages), same files,
# both pinned to CPU 0 with one hashing thread.
#
# Usage: benches/scripts/bench-vpdq.sh [ROUNDS] [VIDEO...]
#   default videos: the 14 sample videos of the shared vPDQ test data
#   (VIGIL_TESTDATA, or shared/testdata found above the checkout).
#   VIGIL_BENCH_NO_PEER=1 skips installing and running the reference.
# Ends with one summary line:
#   bench-vpdq videos=N video_seconds=… vigil_video_s_per_s=… peer=vpdq-0.2.5 peer_video_s_per_s=… ratio=…
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-3}"
shift || true
cd "$root"
bash scripts/setup-ffmpeg.sh

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    testdata="${VIGIL_TESTDATA:-}"
    if [ -z "$testdata" ]; then
        dir="$root"
        while [ "$dir" != "/" ]; do
            if [ -d "$dir/shared/testdata/vpdq" ]; then testdata="$dir/shared/testdata"; break; fi
            dir="$(dirname "$dir")"
        done
    fi
    if [ -z "$testdata" ] || [ ! -d "$testdata/vpdq/tmk/sample-videos" ]; then
        echo "bench-vpdq: sample videos not found; set VIGIL_TESTDATA" >&2
        exit 2
    fi
    mapfile -t files < <(find "$testdata/vpdq/tmk/sample-videos" -name '*.mp4' | sort)
fi

pin=()
if command -v taskset >/dev/null 2>&1; then pin=(taskset -c 0); fi

target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --quiet --release -p vigil-vpdq --example bench-vpdq
ours="$("${pin[@]}" "$target/release/examples/bench-vpdq" --rounds "$rounds" "${files[@]}")"
echo "$ours"
val() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }
vigil_rate="$(val video_s_per_wall_s "$ours")"
video_seconds="$(val video_seconds "$ours")"

peer_rate="n/a"
ratio="n/a"
peer="none"
venv="$root/.deps/vpdq-venv"
if [ "${VIGIL_BENCH_NO_PEER:-0}" != "1" ]; then
    if ! "$venv/bin/python" -c "import vpdq" 2>/dev/null; then
        if [ "$(id -u)" = "0" ]; then
            apt-get install -y --no-install-recommends libavcodec-dev libavformat-dev libswscale-dev \
                libavutil-dev libavdevice-dev libavfilter-dev pkg-config cmake g++ >/dev/null || true
        fi
        python3 -m venv "$venv" && "$venv/bin/pip" install --quiet vpdq==0.2.5 || true
    fi
    if "$venv/bin/python" -c "import vpdq" 2>/dev/null; then
        peer="vpdq-0.2.5"
        theirs="$("${pin[@]}" "$venv/bin/python" - "$rounds" "${files[@]}" <<'PY'
import sys, time, subprocess, vpdq
rounds = int(sys.argv[1]); files = sys.argv[2:]
def duration(f):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "csv=p=0", f], capture_output=True, text=True).stdout
    return float(out.strip() or 0)
secs = sum(duration(f) for f in files) * rounds
t0 = time.perf_counter(); c0 = time.process_time(); frames = 0
for _ in range(rounds):
    for f in files:
        frames += len(vpdq.computeHash(f, seconds_per_hash=1, thread_count=1))
wall = time.perf_counter() - t0
print(f"peer video_seconds={secs:.1f} frames={frames} wall_s={wall:.2f} video_s_per_wall_s={secs / wall:.1f}")
PY
)"
        echo "$theirs"
        peer_rate="$(val video_s_per_wall_s "$theirs")"
        ratio="$(python3 -c "print(f'{$vigil_rate / $peer_rate:.2f}')")"
    else
        echo "bench-vpdq: reference vpdq could not be installed; reporting Vigil only" >&2
    fi
fi
echo "bench-vpdq videos=${#files[@]} rounds=$rounds video_seconds=$video_seconds vigil_video_s_per_s=$vigil_rate peer=$peer peer_video_s_per_s=$peer_rate ratio=$ratio"
