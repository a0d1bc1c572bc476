#!/usr/bin/env bash
# Fuzz decode + hash for a bounded time (default 60 s), with the corpus
# seeded from the shared PDQ test images. Needs a nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz`).
#   services/decode/fuzz/run.sh [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-60}"
corpus="$here/corpus/decode_and_hash"
mkdir -p "$corpus"
testdata="${VIGIL_TESTDATA:-}"
if [ -z "$testdata" ]; then
    dir="$here"
    while [ "$dir" != "/" ]; do
        if [ -d "$dir/shared/testdata/pdq" ]; then testdata="$dir/shared/testdata"; break; fi
        dir="$(dirname "$dir")"
    done
fi
if [ -n "$testdata" ]; then
    # Small seeds only: libFuzzer's default max_len is 4 KiB unless told.
    find "$testdata/pdq" -type f \( -iname '*.jpg' -o -iname '*.png' -o -iname '*.webp' \) -size -300k \
        -exec cp -n {} "$corpus/" \;
fi
cd "$here"
cargo +nightly fuzz run decode_and_hash "$corpus" -- -max_total_time="$seconds" -max_len=400000 -rss_limit_mb=2048
