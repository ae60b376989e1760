# The README's two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
STRICT ?= 0
export STRICT

.PHONY: run build test lint test-rust bench fmt clean-data

## Build everything and serve on http://127.0.0.1:8080 (SQLite + embedded ZITADEL emulator).
run: build
	$(TARGET_DIR)/release/gatehouse serve

## Release build of the host (the plugins and the portal are built and embedded by it).
build:
	$(CARGO) build --release -p gatehouse-cli

## The whole test suite: formatting, lints, and every test (STRICT=1: no suite may skip).
test: lint test-rust

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test --workspace --no-fail-fast

## Benchmarks (ratios measured in one run; see docs/performance.md).
bench:
	$(CARGO) bench --workspace

fmt:
	$(CARGO) fmt --all

## Remove the local development data (database, dev master key, emulator state).
clean-data:
	rm -rf data
