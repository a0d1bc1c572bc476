#!/usr/bin/env bash
# Installs tansu (https://tansu.io), an Apache Kafka-compatible broker
# written in Rust, from crates.io into the project-local folder .deps/tansu,
# and prints the path of the `tansu` binary on its last line of stdout.
# `make e2e-tansu` runs the multi-process fault scenario against it.
#
# Idempotent: does nothing but print the path when this version is already
# there. Features: only `dynostore`, which provides the in-memory storage
# engine (`--storage-engine memory://tansu/`) the scenario uses; the
# PostgreSQL, SQLite, S3-lake and other engines are left out because nothing
# here uses them and they only lengthen the build. `--locked` is required:
# without it cargo resolves newer dependencies and 0.6.0 does not compile.
#
# The build has its own target folder (never the workspace's, never the
# user's cargo bin) and runs under `nice`: it takes about 16 minutes of
# CPU (12 minutes wall on two idle cores, 33 on busy ones). The folder is
# removed after a good build.
set -euo pipefail

TANSU_VERSION="0.6.0"
TANSU_FEATURES="dynostore"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${ROOT}/.deps/tansu"
BIN="${PREFIX}/bin/tansu"
STAMP="${PREFIX}/installed"
WANT="tansu ${TANSU_VERSION} features=${TANSU_FEATURES}"

if [[ ! -x "${BIN}" || "$(cat "${STAMP}" 2>/dev/null)" != "${WANT}" ]]; then
    BUILD_DIR="${TANSU_BUILD_DIR:-${TMPDIR:-/tmp}/vigil-tansu-build}"
    echo "setup-tansu: building ${WANT} into ${PREFIX} (target ${BUILD_DIR}); this takes ~10-15 minutes" >&2
    mkdir -p "${PREFIX}"
    rm -f "${STAMP}"
    CARGO_TARGET_DIR="${BUILD_DIR}" nice -n 10 cargo install tansu \
        --version "=${TANSU_VERSION}" --locked --no-default-features \
        --features "${TANSU_FEATURES}" --root "${PREFIX}" --force >&2
    echo "${WANT}" >"${STAMP}"
    rm -rf "${BUILD_DIR}"
fi

if [[ ! -x "${BIN}" ]]; then
    echo "setup-tansu: ${BIN} missing after install" >&2
    exit 1
fi
echo "${BIN}"
