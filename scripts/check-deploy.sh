#!/usr/bin/env bash
# Validates the deploy files offline: the Compose file against the Compose
# schema (Debian's docker-compose, installed here if missing; no daemon
# needed) and the Kubernetes kustomization by rendering it (`kubectl
# kustomize`, when a kubectl client is present: Debian has no package for
# it). The YAML-level checks (health probes, metric names) are in
# services/vigil/tests/deploy_files.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-compose >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends docker-compose >/dev/null
fi
docker-compose -p vigil -f deploy/compose.yaml config -q
echo "deploy-check: deploy/compose.yaml is a valid Compose file"
if command -v kubectl >/dev/null 2>&1; then
    n=$(kubectl kustomize deploy/k8s | grep -c '^kind:')
    echo "deploy-check: deploy/k8s renders ($n objects)"
else
    echo "deploy-check: no kubectl client; deploy/k8s is checked by deploy_files.rs only"
fi
