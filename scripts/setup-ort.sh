#!/usr/bin/env bash
# Installs ONNX Runtime (the `onnxruntime` PyPI wheel, which ships
# libonnxruntime.so) into the project-local folder .deps/python, and prints
# the path of the shared library on its last line of stdout.
#
# Idempotent: does nothing but print the path when the library is already
# there. vigil-models finds the library at this place by itself; to use
# another copy set ORT_DYLIB_PATH or `ort_dylib_path` in the config.
set -euo pipefail

ORT_VERSION="1.31.1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${ROOT}/.deps/python"
LIB="${TARGET}/onnxruntime/capi/libonnxruntime.so.${ORT_VERSION}"

if [[ ! -f "${LIB}" ]]; then
    PYTHON="${PYTHON:-python3}"
    if ! command -v "${PYTHON}" >/dev/null 2>&1; then
        echo "setup-ort: ${PYTHON} not found; install python3 and pip" >&2
        exit 1
    fi
    echo "setup-ort: installing onnxruntime==${ORT_VERSION} into ${TARGET}" >&2
    rm -rf "${TARGET}.partial"
    # --no-deps: only the shared library is needed, not numpy & co.
    "${PYTHON}" -m pip install --quiet --disable-pip-version-check --no-deps \
        --root-user-action=ignore \
        --target "${TARGET}.partial" "onnxruntime==${ORT_VERSION}" >&2
    # Merge, do not replace: other tools may keep packages in the same folder.
    mkdir -p "${TARGET}"
    rm -rf "${TARGET}/onnxruntime" "${TARGET}"/onnxruntime-*.dist-info
    cp -a "${TARGET}.partial/." "${TARGET}/"
    rm -rf "${TARGET}.partial"
fi

if [[ ! -f "${LIB}" ]]; then
    echo "setup-ort: ${LIB} missing after install" >&2
    exit 1
fi
echo "${LIB}"
