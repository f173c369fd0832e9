# kling-preflight: the two set-up commands are `make demo` and `make test` (README.md).
# Both install what a fresh Debian 12 machine lacks (idempotent `make setup`), build, then run.

SHELL := /bin/bash
CARGO ?= cargo
# System FFmpeg 5.1 libraries for ffmpeg-next, libclang for its bindgen step, pkg-config to find them;
# the ffmpeg CLI generates test media and is the benchmark baseline; opencv-data holds the cascade the
# binary embeds (a test compares the copy); python3-pip fetches ONNX Runtime's wheel from PyPI, whose
# shared library runs the embedded person/pose model (scripts/install-onnxruntime.sh).
APT_PACKAGES := pkg-config libclang-dev libavformat-dev libavcodec-dev libavfilter-dev \
	libavdevice-dev libswscale-dev libswresample-dev libavutil-dev ffmpeg opencv-data python3-pip
BENCH_PACKAGES := imagemagick time
# Headless browser for the visual report's end-to-end test (tests/report_html.rs); only `make test` needs it.
TEST_PACKAGES := chromium
BIN := target/release/kling-preflight

.PHONY: setup setup-bench setup-test build demo test lint bench corpus-check clean

setup:
	@bash scripts/setup.sh $(APT_PACKAGES)
	@bash scripts/install-onnxruntime.sh

setup-bench: setup
	@bash scripts/setup.sh $(BENCH_PACKAGES)

setup-test: setup
	@bash scripts/setup.sh $(TEST_PACKAGES)

build: setup
	$(CARGO) build --release --locked

demo: build
	@echo '$$ kling-preflight check fixtures/'
	@$(BIN) check fixtures/; status=$$?; echo "(exit status $$status: 0 clean, 1 errors found, 2 usage error)"; \
	  [ $$status -le 1 ]

test: setup-test
	$(CARGO) test --release --locked

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

bench: setup-bench build
	bash benches/compare.sh

corpus-check: build
	../shared/tools/corpus-check $(BIN)

clean:
	$(CARGO) clean
