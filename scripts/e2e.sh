#!/usr/bin/env bash
# make e2e: the multi-process run with faults (services/vigil/tests/scale_e2e.rs).
# `vigil kafka-dev` (librdkafka's mock cluster, 3 brokers) as the broker, or
# with E2E_BROKER=tansu (make e2e-tansu) one tansu node from
# scripts/setup-tansu.sh (E2E_TANSU_BIN), a
# private PostgreSQL instance (initdb into a temporary directory, its own
# port, run as the `postgres` OS user: the shared server on 5432 is never
# touched), 2 hooks, 3 workers, 1 review process, all on loopback.
# Environment: E2E_UPLOADS (20000), E2E_CORRUPT_EVERY (1000), E2E_BROKER
# (mock or tansu), E2E_TANSU_BIN, E2E_MAX_SEND_SECS (900), E2E_TIMEOUT_SECS (1800).
# Ends with: e2e uploads=… verdicts=… lost=… duplicate_actions=… dlq=…
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bash scripts/setup-ort.sh >/dev/null
for tool in initdb pg_ctl runuser; do
    command -v "$tool" >/dev/null || { echo "e2e: $tool is missing (PostgreSQL server binaries, util-linux)" >&2; exit 1; }
done
id postgres >/dev/null 2>&1 || { echo "e2e: needs a 'postgres' OS user to run the private PostgreSQL" >&2; exit 1; }
# A last guard so a wedged run fails CI instead of eating its time budget:
# the test bounds its own phases (E2E_MAX_SEND_SECS, default 900 s of
# sending; a healthy run takes ~2 minutes); E2E_TIMEOUT_SECS bounds it all.
GUARD=(timeout --kill-after=30 "${E2E_TIMEOUT_SECS:-1800}")
if cargo nextest --version >/dev/null 2>&1; then
    # --workspace, like `make unit-tests`: the same feature set, so the test
    # binaries that step built are reused instead of rebuilt for `-p vigil`.
    "${GUARD[@]}" cargo nextest run --workspace --run-ignored only -E 'binary(scale_e2e)' --no-capture --no-fail-fast
else
    "${GUARD[@]}" cargo test --workspace --test scale_e2e -- --ignored --nocapture
fi
