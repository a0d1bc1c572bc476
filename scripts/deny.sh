#!/usr/bin/env bash
# make deny: supply-chain checks with cargo-deny (deny.toml): licences,
# bans and sources offline; advisories (RustSec, needs the network) with
# DENY_ADVISORIES=1. cargo-deny is not installed by `make setup`: install it
# with `cargo install cargo-deny --locked` where crates.io is reachable.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
    echo "deny: cargo-deny is not installed (cargo install cargo-deny --locked); skipped" >&2
    exit "${DENY_REQUIRED:-0}"
fi
checks=(licenses bans sources)
if [ "${DENY_ADVISORIES:-0}" = 1 ]; then checks+=(advisories); fi
cargo deny --offline check "${checks[@]}"
