#!/usr/bin/env bash
# make fuzz: every vigil-fuzz target (decode, formats, messages) for
# FUZZ_SECONDS each (default 60; CI runs 20), on stable Rust (blind
# mutation, see fuzz/src/lib.rs; the decode target's seeds include the
# hostile corpus, fuzz/src/corpus.rs). A panic saves its input under
# var/fuzz-artifacts/ and fails; move it to fuzz/regressions/<target>/
# (decode: fuzz/regressions/decode/) once fixed.
# With nightly and cargo-fuzz installed, FUZZ_LIBFUZZER=1 also runs the
# coverage-guided decode target in services/decode/fuzz.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_EACH=${FUZZ_SECONDS:-60}
cargo build --release -p vigil-fuzz
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/vigil-fuzz"
for t in decode formats messages; do
    "$BIN" "$t" "$SECONDS_EACH" var/fuzz-artifacts
done
if [ "${FUZZ_LIBFUZZER:-0}" = 1 ]; then
    services/decode/fuzz/run.sh "$SECONDS_EACH"
fi
