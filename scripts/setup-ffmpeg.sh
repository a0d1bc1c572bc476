#!/usr/bin/env bash
# Installs Debian's ffmpeg (ffmpeg + ffprobe CLIs) used by vigil-decode's
# video module. Idempotent: does nothing when ffmpeg and ffprobe are on PATH.
set -euo pipefail
if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends ffmpeg
