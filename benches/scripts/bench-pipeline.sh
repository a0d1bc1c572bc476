#!/usr/bin/env bash
# bench-pipeline: the whole pipeline on the embedded defaults (`vigil serve`:
# mock Kafka cluster, SQLite, local media folder, the bundled classifier),
# driven over HTTP by `vigil loadgen` at RATE uploads/s for SECONDS, then
# CHECKS timed `POST /v1/check` requests one at a time. No bank is loaded
# (creating an actioning bank is a guarded, two-person change now), so every
# upload goes through decode, hashing, matching and the classifier.
# No peer: this measures Vigil alone (uploads/s per core, latency).
# Environment: RATE (0 = as fast as CONCURRENCY allows), SECONDS (30),
# CONCURRENCY (16), CHECKS (300), SIZE (256: image side), WORKERS (2),
# PROFILE (1: sample the server with `perf` for 10 s mid-run and print the
# hottest functions; 0: skip). Before the summary it prints where a worker's
# time goes: mean milliseconds and share per stage, from the server's own
# vigil_worker_stage_duration_seconds histogram.
# Ends with one summary line:
#   bench-pipeline uploads_per_s=… per_core=… p50_ms=… p99_ms=… cores=… check_p50_ms=… check_p99_ms=… errors=…
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
RATE=${RATE:-0}
SECONDS_RUN=${SECONDS:-30}
CONCURRENCY=${CONCURRENCY:-16}
CHECKS=${CHECKS:-300}
SIZE=${SIZE:-256}
WORKERS=${WORKERS:-2}
PROFILE=${PROFILE:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
bash scripts/setup-ort.sh >/dev/null
cargo build --release -p vigil 2>&1 | tail -n 1 >&2
VIGIL="$CARGO_TARGET_DIR/release/vigil"
WORK=$(mktemp -d)
trap 'kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export VIGIL_DATA_DIR="$WORK/data" VIGIL_HTTP__LISTEN="127.0.0.1:$PORT" VIGIL_LOG=warn VIGIL_WORKER__COUNT="$WORKERS"
"$VIGIL" serve &
SERVE_PID=$!
for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.5
done
PERF_PID=""
if [ "$PROFILE" = "1" ] && command -v perf >/dev/null 2>&1; then
    # Mid-run: start after a third of the run, sample for 10 s.
    ( sleep $(( SECONDS_RUN / 3 )); exec perf record -F 499 -g -o "$WORK/perf.data" -p "$SERVE_PID" -- sleep 10 ) \
        >"$WORK/perf.log" 2>&1 &
    PERF_PID=$!
fi
OUT=$("$VIGIL" loadgen --target "http://127.0.0.1:$PORT" --rate "$RATE" --duration-secs "$SECONDS_RUN" \
    --concurrency "$CONCURRENCY" --check-requests "$CHECKS" --image-size "$SIZE" --verdict-timeout-secs 300)
echo "$OUT" >&2
curl -fsS "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt"
echo "bench-pipeline: where a worker's time goes (vigil_worker_stage_duration_seconds)" >&2
python3 - "$WORK/metrics.txt" >&2 <<'PY'
import re, sys
sums, counts = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r'vigil_worker_stage_duration_seconds_(sum|count)\{stage="([^"]+)"\} (\S+)', line)
    if m:
        (sums if m.group(1) == "sum" else counts)[m.group(2)] = float(m.group(3))
total = sum(sums.values()) or 1.0
print(f"  {'stage':<14}{'calls':>10}{'mean_ms':>10}{'share':>8}")
for stage in sorted(sums, key=lambda s: -sums[s]):
    n = counts.get(stage, 0) or 1
    print(f"  {stage:<14}{int(counts.get(stage, 0)):>10}{1000 * sums[stage] / n:>10.3f}{sums[stage] / total:>8.1%}")
PY
if [ -n "$PERF_PID" ]; then
    wait "$PERF_PID" || true
    if [ -s "$WORK/perf.data" ]; then
        echo "bench-pipeline: hottest functions in the server process (perf, 10 s mid-run, self time)" >&2
        perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
            | grep -E '^ +[0-9.]+%' | head -n 25 >&2 || true
    else
        echo "bench-pipeline: perf recorded nothing ($(tail -n 1 "$WORK/perf.log"))" >&2
    fi
fi
CORES=$(nproc)
python3 - "$OUT" "$CORES" <<'PY'
import sys
fields = dict(kv.split("=", 1) for kv in sys.argv[1].split()[1:])
cores = int(sys.argv[2])
ups = float(fields["uploads_per_s"])
print(f"bench-pipeline uploads_per_s={ups:.1f} per_core={ups / cores:.1f} p50_ms={fields['p50_ms']} "
      f"p99_ms={fields['p99_ms']} cores={cores} check_p50_ms={fields['check_p50_ms']} "
      f"check_p99_ms={fields['check_p99_ms']} errors={fields['errors']} missing={fields['missing']}")
PY
