#!/usr/bin/env bash
# A real Prometheus against a real Vigil: `vigil demo --keep-running` (the
# demo's uploads and verdicts) on a free loopback port, Debian's
# `prometheus` scraping it every second with the project's recording and
# alert rules, then queries through Prometheus's HTTP API (/api/v1/query)
# that the series the dashboards and alerts need are there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup-prometheus.sh >/dev/null
bash scripts/setup-ort.sh >/dev/null
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --quiet -p vigil
vigil="$target/debug/vigil"

work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export VIGIL_DATA_DIR="$work/data"
export VIGIL_HTTP__LISTEN="127.0.0.1:0"
"$vigil" demo --keep-running >"$work/demo.log" 2>"$work/demo.err" &
pids+=($!)
base=""
for _ in $(seq 1 240); do
    base="$(sed -n 's/^Vigil keeps running at \(http[^;]*\);.*/\1/p' "$work/demo.log")"
    [ -n "$base" ] && break
    if ! kill -0 "${pids[0]}" 2>/dev/null; then
        cat "$work/demo.log" "$work/demo.err" >&2
        echo "integration-prometheus: vigil demo exited early" >&2
        exit 1
    fi
    sleep 0.5
done
[ -n "$base" ] || { tail -n 40 "$work/demo.err" >&2; echo "integration-prometheus: vigil demo did not come up" >&2; exit 1; }
vigil_addr="${base#http://}"
echo "integration-prometheus: Vigil demo at $base"

prom_port="$(free_port)"
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $root/deploy/prometheus/recording.yml
  - $root/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: vigil
    metrics_path: /metrics
    static_configs:
      - targets: ["$vigil_addr"]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prom.log" 2>&1 &
pids+=($!)
echo "integration-prometheus: Prometheus at http://127.0.0.1:$prom_port"

python3 "$root/scripts/integration_prometheus_check.py" "http://127.0.0.1:$prom_port" || {
    echo "--- prometheus log" >&2; tail -n 30 "$work/prom.log" >&2
    exit 1
}
