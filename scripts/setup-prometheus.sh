#!/usr/bin/env bash
# Installs Debian's prometheus package: `promtool` checks and unit-tests the
# rules in deploy/prometheus (make test), and `prometheus` itself scrapes a
# running Vigil in `make integration-prometheus`. Idempotent. The package's
# own service is not started (no init system here; nothing needs it).
set -euo pipefail
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends prometheus
