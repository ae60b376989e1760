# The README's two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
HOST_TRIPLE := $(shell rustc -vV | sed -n 's/^host: //p')
STRICT ?= 0
export STRICT

.PHONY: run build admin test lint test-rust test-admin test-plugins bench fmt clean-data

## Build everything and serve on http://127.0.0.1:8080 (SQLite + embedded ZITADEL emulator).
run: build
	$(TARGET_DIR)/release/gatehouse serve

## Release build of the host. The built-in plugins are compiled by plugin-host's build script;
## the portal's files are embedded from admin/dist, so the portal is built first.
build: admin
	@echo "==> building the host (release; the first build takes several minutes)"
	$(CARGO) build --release -p gatehouse-cli

admin/node_modules/.package-lock.json: admin/package-lock.json
	@echo "==> installing the portal's npm packages"
	npm --prefix admin ci --no-audit --no-fund

## The admin portal: type check, bundle, and check that nothing loads from another origin.
admin: admin/node_modules/.package-lock.json
	@echo "==> building the admin portal"
	npm --prefix admin run build

## The whole test suite: formatting, lints, and every test (STRICT=1: no suite may skip).
test: lint test-admin test-plugins test-rust

lint:
	@echo "==> formatting and lints"
	$(CARGO) fmt --all -- --check
	cd plugins && $(CARGO) fmt --all -- --check
	cd sdk-guest && $(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd plugins && $(CARGO) clippy --workspace --all-targets --target $(HOST_TRIPLE) -- -D warnings
	cd sdk-guest && $(CARGO) clippy --all-targets -- -D warnings

test-admin: admin
	@echo "==> portal unit tests"
	npm --prefix admin test

test-plugins:
	@echo "==> built-in plugins and the guest SDK (native unit tests)"
	cd plugins && $(CARGO) test --workspace --target $(HOST_TRIPLE)
	cd sdk-guest && $(CARGO) test

test-rust:
	@echo "==> host tests (SQLite and PostgreSQL, browser, judges)"
	$(CARGO) test --workspace --no-fail-fast

## Benchmarks (ratios measured in one run; see docs/performance.md).
bench:
	$(CARGO) bench --workspace

fmt:
	$(CARGO) fmt --all
	cd plugins && $(CARGO) fmt --all
	cd sdk-guest && $(CARGO) fmt --all

## Remove the local development data (database, dev master key, emulator state).
clean-data:
	rm -rf data
