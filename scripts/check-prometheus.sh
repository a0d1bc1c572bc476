#!/usr/bin/env bash
# Checks the Prometheus config and rules in deploy/prometheus and runs the
# alert unit tests (deploy/prometheus/tests/*.yml) with promtool.
set -euo pipefail
cd "$(dirname "$0")/../deploy/prometheus"
promtool check config prometheus.yml
promtool test rules tests/*.yml
