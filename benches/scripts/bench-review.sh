#!/usr/bin/env bash
# bench-review: the review queue on PostgreSQL. 100,000 review items
# (ITEMS), 8 concurrent reviewers (REVIEWERS) claiming with
# FOR UPDATE SKIP LOCKED and deciding until the queue is drained
# (DECISIONS). Ends with one summary line:
#   bench-review items=100000 reviewers=8 decisions=... decisions_per_s=... p99_claim_ms=...
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
bash "$ROOT/scripts/ensure-postgres.sh"
echo "bench-review: building (release)" >&2
cargo build --quiet --release -p vigil-benches --bin bench-review
"$CARGO_TARGET_DIR/release/bench-review"
