# kling-preflight: the two set-up commands are `make demo` and `make test` (README.md).
# Both install what a fresh Debian 12 machine lacks (idempotent `make setup`), build, then run.

SHELL := /bin/bash
CARGO ?= cargo
# System FFmpeg 5.1 libraries for ffmpeg-next, libclang for its bindgen step, pkg-config to find them;
# the ffmpeg CLI generates test media and is the benchmark baseline; python3-pip fetches ONNX Runtime's wheel from PyPI, whose
# shared library runs the embedded person/pose model (scripts/install-onnxruntime.sh).
APT_PACKAGES := pkg-config libclang-dev libavformat-dev libavcodec-dev libavfilter-dev \
	libavdevice-dev libswscale-dev libswresample-dev libavutil-dev ffmpeg python3-pip
BENCH_PACKAGES := imagemagick time
# Headless browser for the visual report's end-to-end test (tests/report_html.rs); only `make test` needs it.
# GNU time measures peak memory in tests/broken_files.rs.
TEST_PACKAGES := chromium time
BIN := target/release/kling-preflight
# `make image`: debootstrap builds the base root filesystem from Debian's archive (no registry image
# is pulled), buildah builds the Containerfile on it, podman stores/exports/pushes the result.
IMAGE_PACKAGES := debootstrap buildah podman
# The Debian packages of the libraries the binary links (objdump -p target/dist/kling-preflight | grep
# NEEDED); libc6 and libgcc-s1 come with every Debian base.
IMAGE_LIB_PACKAGES := libavutil57 libavformat59 libavcodec59 libavfilter8 libswscale6
IMAGE ?= kling-preflight
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
IMAGE_BASE := localhost/kling-preflight-base:bookworm
DEBIAN_MIRROR ?= http://deb.debian.org/debian
# Extra shared libraries for the image: by default the folder where `make setup` installs ONNX Runtime
# (the pose model's runtime), so the image judges people as the host does; its
# files land in /usr/local/lib/kling-preflight, which is on the image's LD_LIBRARY_PATH.
IMAGE_EXTRA ?= /usr/local/lib/kling-preflight
DIST_BIN := target/dist/kling-preflight

.PHONY: setup setup-bench setup-test build demo test lint bench corpus-check man clean \
	setup-image dist image-base image-context image image-verify schema

setup:
	@bash scripts/setup.sh $(APT_PACKAGES)
	@bash scripts/install-onnxruntime.sh

setup-bench: setup
	@bash scripts/setup.sh $(BENCH_PACKAGES)

setup-test: setup
	@bash scripts/setup.sh $(TEST_PACKAGES)

setup-image: setup
	@bash scripts/setup.sh $(IMAGE_PACKAGES)

build: setup
	$(CARGO) build --release --locked

demo: build
	@echo '$$ kling-preflight check fixtures/'
	@$(BIN) check fixtures/; status=$$?; echo "(exit status $$status: 0 clean, 1 errors found, 2 usage error)"; \
	  [ $$status -le 1 ]

# The pose model's tests skip themselves where ONNX Runtime is missing (a bare `cargo test`);
# make test has installed it, so there a skip is a failure.
test: setup-test
	KLING_PREFLIGHT_REQUIRE_POSE=1 $(CARGO) test --release --locked

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --locked -- -D warnings

bench: setup-bench build
	bash benches/compare.sh

corpus-check: build
	../shared/tools/corpus-check $(BIN)

# The man page, generated from the command-line definition (view: man -l target/man/kling-preflight.1).
man: build
	mkdir -p target/man
	$(BIN) man > target/man/kling-preflight.1

# The binary people carry: LTO, stripped (Cargo.toml's [profile.dist] says why panic stays unwind).
dist: setup
	KLING_PREFLIGHT_BUILD_COMMIT=$$(git rev-parse --short=12 HEAD 2>/dev/null) $(CARGO) build --profile dist --locked
	@ls -l $(DIST_BIN)

# The base layer: Debian 12 minbase + the FFmpeg runtime libraries + the user `kling`, imported once.
target/image/rootfs.tar: scripts/image-rootfs.sh
	@mkdir -p target/image
	IMAGE_LIB_PACKAGES="$(IMAGE_LIB_PACKAGES)" bash scripts/image-rootfs.sh $@ $(DEBIAN_MIRROR)

image-base: setup-image target/image/rootfs.tar
	podman image exists $(IMAGE_BASE) || podman import \
	  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	  target/image/rootfs.tar $(IMAGE_BASE)

# The build context: the binary, the licences, and extra/ (a copy of $(IMAGE_EXTRA) if it exists).
image-context: dist
	rm -rf target/image/context && mkdir -p target/image/context/extra
	cp $(DIST_BIN) Containerfile LICENSE-MIT LICENSE-APACHE NOTICE target/image/context/
	if [ -d "$(IMAGE_EXTRA)" ]; then cp -a "$(IMAGE_EXTRA)"/. target/image/context/extra/; fi

# RUN steps cannot start a container runtime here (crun rlimits/cgroups); buildah's chroot
# isolation can, and the Containerfile's RUN finds the base ready anyway.
image: image-base image-context
	buildah bud --isolation chroot --build-arg BASE=$(IMAGE_BASE) \
	  -t $(IMAGE):$(IMAGE_TAG) -f target/image/context/Containerfile target/image/context
	@podman image ls $(IMAGE):$(IMAGE_TAG)

# Run the image's filesystem through chroot (containers cannot start here): same report as the host.
image-verify: image
	bash scripts/image-verify.sh $(IMAGE):$(IMAGE_TAG) $(DIST_BIN)

# Rewrite docs/*.schema.json from the report types (tests/schema.rs fails while they are stale).
schema:
	KLING_PREFLIGHT_UPDATE_SCHEMA=1 $(CARGO) test --release --locked --test schema committed_schemas_match_the_report_types

clean:
	$(CARGO) clean
