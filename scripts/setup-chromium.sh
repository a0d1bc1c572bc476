#!/usr/bin/env bash
# Installs Debian's chromium (headless browser for the reviewer UI tests,
# driven by playwright-core from npm; no browser download). Idempotent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
# Only what is missing: a machine may already have Node.js from another
# source (e.g. NodeSource's nodejs, which bundles npm and conflicts with
# Debian's npm package).
PKGS=()
command -v chromium >/dev/null 2>&1 || PKGS+=(chromium)
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${PKGS[@]}"
