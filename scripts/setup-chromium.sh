#!/usr/bin/env bash
# Installs Debian's chromium (headless browser for the reviewer UI tests,
# driven by playwright-core from npm; no browser download). Idempotent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium nodejs npm
