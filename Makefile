# rdsguard: `make demo` runs an audit of an emulated organization; `make test` runs every test.
# The demo, the tests and CI share one dev-profile build; only `make bench` builds in release.

VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < tests/emulator/requirements.txt | cut -d' ' -f1)
BROWSER_STAMP := $(VENV)/.browser-$(shell cksum < tests/browser/requirements.txt | cut -d' ' -f1)
IAM_STAMP := $(VENV)/.iam-$(shell cksum < tests/iam/requirements.txt | cut -d' ' -f1)
IAM_NODE := tests/iam/node_modules/.package-lock.json

.PHONY: setup iam-tools demo test test-rust test-emulator test-browser bench-html browser-deps lint fmt clean bench bench-audit bench-peer bench-scale test-fleetsim

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
	$(PYTHON) tests/emulator/demo.py --binary $${CARGO_TARGET_DIR:-target}/debug/rdsguard

## test: unit tests, integration tests against the emulator, the emulator's own tests, report.html in Chromium
test: setup test-rust test-emulator test-browser

test-rust: setup iam-tools
	cargo test --all-targets

test-emulator: setup
	$(PYTHON) -m pytest tests/emulator -q -p no:cacheprovider

## test-browser: report.html in Debian's headless Chromium (tests/browser); installs what it needs
test-browser: browser-deps
	cargo build --quiet
	$(PYTHON) -m pytest tests/browser -q -p no:cacheprovider

## bench-html: size and render/load/filter/sort times of a 10,000-source report.html (docs/html-report.md)
bench-html: browser-deps
	cargo build --quiet
	RDSGUARD_SCALE=10000 $(PYTHON) -m pytest tests/browser -q -p no:cacheprovider -s -k scale

## browser-deps: Debian's chromium and chromium-driver (as root, when missing) and selenium in .venv
browser-deps: setup $(BROWSER_STAMP)
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

$(BROWSER_STAMP): tests/browser/requirements.txt | setup
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/browser/requirements.txt
	rm -f $(VENV)/.browser-*
	touch $@

## iam-tools: the test-only IAM tools the offline IAM proofs use (tests/integration/iam_offline.rs):
## @cloud-copilot/iam-simulate (npm ci in tests/iam, pinned by its package-lock.json), parliament, cfn-lint
## and statelint (.venv; statelint judges the Step Functions definition, tests/integration/step_functions.rs)
iam-tools: setup $(IAM_STAMP) $(IAM_NODE)

$(IAM_NODE): tests/iam/package.json tests/iam/package-lock.json
	cd tests/iam && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(IAM_STAMP): tests/iam/requirements.txt | setup
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/iam/requirements.txt
	rm -f $(VENV)/.iam-*
	touch $@

## lint: formatting, clippy and the docs (broken intra-doc links), warnings as errors
lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items --quiet

fmt:
	cargo fmt

## bench: the peer comparison, then the scale audit; last line `bench audit: ...` (docs/performance.md)
bench: bench-peer bench-audit

## bench-audit: release rdsguard against the fleet simulator (tests/fleetsim): 1,000 accounts x 4 regions x
## 20,000 databases at 40 ms per call; BENCH_* variables change the fleet (see tests/fleetsim/bench.sh)
bench-audit:
	tests/fleetsim/bench.sh

## bench-peer: rdsguard vs Cloud Custodian's c7n-org on the emulator, 50 accounts x 10 instances, one run each
bench-peer: setup
	cargo build --release --quiet -p rdsguard
	$(PYTHON) tests/fleetsim/peer.py

## bench-scale: wall time and peak memory at 10, 100 and 1,000 accounts (20 databases per account)
bench-scale:
	cargo build --release --quiet -p rdsguard -p fleetsim
	for n in 10 100 1000; do \
	  BENCH_NO_BUILD=1 BENCH_ACCOUNTS=$$n BENCH_SOURCES=$$((n * 20)) tests/fleetsim/bench.sh | tail -1 || exit 1; \
	done

## test-fleetsim: the simulator's own tests, the AWS SDK parsing its answers included
test-fleetsim:
	cargo test -p fleetsim

clean:
	cargo clean
	rm -rf $(VENV)
