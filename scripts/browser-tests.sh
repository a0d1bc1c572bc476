#!/usr/bin/env bash
# Browser tests of the reviewer UI: a fresh `vigil demo --keep-running` (its
# synthetic uploads fill the review queue) on a free loopback port, two
# users, then headless Chromium driven by playwright-core
# (services/review/browser-tests). Screenshots land in
# services/review/browser-tests/artifacts/ (gitignored).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-chromium.sh >/dev/null
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --quiet -p vigil
vigil="$target/debug/vigil"
bash scripts/setup-ort.sh >/dev/null

work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

export VIGIL_DATA_DIR="$work/data"
export VIGIL_HTTP__LISTEN="127.0.0.1:0"
export REVIEW_PASSWORD="browser tests $(date +%s%N)"
VIGIL_USER_PASSWORD="$REVIEW_PASSWORD" "$vigil" user add alice --role reviewer >/dev/null
VIGIL_USER_PASSWORD="$REVIEW_PASSWORD" "$vigil" user add lena --role lead >/dev/null

"$vigil" demo --keep-running >"$work/demo.log" 2>"$work/demo.err" &
pid=$!
base=""
for _ in $(seq 1 240); do
    base="$(sed -n 's/^Vigil keeps running at \(http[^;]*\);.*/\1/p' "$work/demo.log")"
    [ -n "$base" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        cat "$work/demo.log" "$work/demo.err" >&2
        echo "browser-tests: vigil demo exited early" >&2
        exit 1
    fi
    sleep 0.5
done
if [ -z "$base" ]; then
    tail -n 40 "$work/demo.err" >&2
    echo "browser-tests: vigil demo did not come up within 120 s" >&2
    exit 1
fi
echo "browser-tests: Vigil demo at $base"

cd services/review/browser-tests
if [ ! -d node_modules/playwright-core ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
export REVIEW_BASE="$base"
export REVIEW_SHOTS="$root/services/review/browser-tests/artifacts"
node --test --test-concurrency=1 tests/
