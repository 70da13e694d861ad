# rdsguard: `make demo` runs an audit of an emulated organization; `make test` runs every test.
# The demo, the tests and CI share one dev-profile build; only `make bench` builds in release.

VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < tests/emulator/requirements.txt | cut -d' ' -f1)

.PHONY: setup demo test test-rust test-emulator lint fmt clean

## setup: the local virtualenv with the pinned emulator (moto) the tests start themselves
setup: $(STAMP)

$(STAMP): tests/emulator/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

## demo: build, start the emulator, seed a demo organization, run a real audit, print where the reports are
demo: setup
	cargo build --quiet
	$(PYTHON) tests/emulator/demo.py --binary target/debug/rdsguard

## test: unit tests, integration tests against the emulator, and the emulator's own tests
test: setup test-rust test-emulator

test-rust: setup
	cargo test --all-targets

test-emulator: setup
	$(PYTHON) -m pytest tests/emulator -q -p no:cacheprovider

## lint: formatting and clippy, warnings as errors
lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt

clean:
	cargo clean
	rm -rf $(VENV)
