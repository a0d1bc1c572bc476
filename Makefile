# Vigil: every set-up step a fresh machine needs lives here or in scripts/.
#   make demo   install what is missing, build, run the demo
#   make test   fmt check, clippy -D warnings, all tests, the multi-process e2e run
SHELL := /bin/bash
CARGO ?= cargo
VIGIL_RELEASE := $(or $(CARGO_TARGET_DIR),target)/release/vigil

.PHONY: all setup build demo serve test fmt clippy unit-tests e2e e2e-tansu fuzz deny prometheus-rules deploy-check integration-prometheus browser-tests bench-pdq bench-hashdb bench-classifier bench-vpdq bench-pipeline bench-review train clean help

all: build

help:
	@echo "make demo | make test | make e2e | make e2e-tansu | make fuzz | make deny | make serve | make integration-prometheus | make browser-tests | make bench-pdq | make bench-hashdb | make bench-classifier | make bench-pipeline | make bench-review | make train"

## Installs ONNX Runtime (PyPI wheel) into .deps/ and checks PostgreSQL for the tests.
setup:
	@bash scripts/setup-ort.sh >/dev/null
	@bash scripts/setup-ffmpeg.sh >/dev/null
	@bash scripts/setup-prometheus.sh >/dev/null
	@echo "setup: ONNX Runtime ready in .deps/python"

build: setup
	$(CARGO) build --release -p vigil

## Synthetic data through a fresh embedded Vigil; prints the verdict table.
demo: build
	rm -rf var/demo
	VIGIL_DATA_DIR=var/demo $(VIGIL_RELEASE) demo

## Run Vigil on the embedded defaults until Ctrl-C.
serve: build
	$(VIGIL_RELEASE) serve

test: setup fmt clippy prometheus-rules deploy-check unit-tests e2e

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## promtool: config and rule syntax, and the alert unit tests in deploy/prometheus/tests.
prometheus-rules:
	@bash scripts/check-prometheus.sh

## deploy/compose.yaml through docker-compose's schema, deploy/k8s rendered by kubectl kustomize.
deploy-check:
	@bash scripts/check-deploy.sh

unit-tests:
	@bash scripts/ensure-postgres.sh
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

## Multi-process run with faults: kafka-dev, private PostgreSQL, 2 hooks, 3 workers, 1 review, 20,000 uploads.
e2e: setup
	@bash scripts/e2e.sh

## The same run against tansu, a Kafka-compatible broker built from crates.io into .deps/tansu (~12 min the first time).
e2e-tansu: setup
	@TANSU_BIN=$$(bash scripts/setup-tansu.sh) && E2E_BROKER=tansu E2E_TANSU_BIN="$$TANSU_BIN" bash scripts/e2e.sh

## Bounded-time fuzzing of decode, import formats and messages (FUZZ_SECONDS per target).
fuzz:
	@bash scripts/fuzz.sh

## Supply chain: cargo-deny licences/bans/sources (advisories with DENY_ADVISORIES=1).
deny:
	@bash scripts/deny.sh

bench-pipeline: setup
	bash benches/scripts/bench-pipeline.sh

## A real Prometheus scraping `vigil demo`: series and rules checked through its HTTP API.
integration-prometheus: setup
	bash scripts/integration-prometheus.sh

## The reviewer UI in headless Chromium (playwright-core); screenshots in services/review/browser-tests/artifacts.
browser-tests: setup
	bash scripts/browser-tests.sh

bench-pdq:
	bash benches/scripts/bench-pdq.sh

bench-hashdb:
	bash benches/scripts/bench-hashdb.sh

## The review queue on PostgreSQL: 100,000 items, 8 concurrent reviewers claiming and deciding.
bench-review:
	bash benches/scripts/bench-review.sh

bench-vpdq:
	bash benches/scripts/bench-vpdq.sh

bench-classifier: setup
	bash benches/scripts/bench-classifier.sh

## Retrain the demo classifier (CPU only, pinned JAX in .venv-train; make demo/test never need it).
train:
	test -x .venv-train/bin/python || python3 -m venv .venv-train
	.venv-train/bin/pip install --quiet -r models/train/requirements.txt
	.venv-train/bin/python models/train/train.py

clean:
	$(CARGO) clean
	rm -rf var .deps
