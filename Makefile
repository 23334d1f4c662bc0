# Entry points for a fresh Debian 12 machine, run as root (see README.md):
#   make demo    install packages, fetch the models, build, compare demo photos
#   make test    install packages, fetch the models, build, write the onnxruntime
#                reference data, run ctest and the fuzz smoke test
#   make bench   time the engine against onnxruntime, and compare, pairs and video
#                against the reference pipeline, into docs/benchmarks.md
# Every step skips work that is already done, so repeated runs are quick.

BUILD_DIR ?= build
# Parallel compile jobs; the project's machines and CI have 2 cores.
JOBS ?= 2
# Extra CMake options, e.g. CMAKE_ARGS="-DFACESIM_SANITIZE=ON".
CMAKE_ARGS ?=
MODEL_DIR ?= models/default

.PHONY: all deps models configure build oracle test demo bench clean

all: build

deps:
	scripts/install-deps.sh

models: deps
	scripts/fetch-models.sh $(MODEL_DIR)

configure: deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# onnxruntime's outputs for the engine tests, in $(BUILD_DIR)/test-work/oracle.
oracle: deps models
	scripts/make-oracle.sh $(BUILD_DIR)/test-work/oracle $(MODEL_DIR)

test: build oracle
	scripts/run-tests.sh $(BUILD_DIR)

demo: build models
	scripts/demo.sh --cli $(BUILD_DIR)/facesim

bench: build models
	bench/run-engine.sh --build $(BUILD_DIR)
	FACESIM_CLI=$(BUILD_DIR)/facesim bench/bench-compare.sh
	bench/bench-pairs.sh --build $(BUILD_DIR) --repeat 3
	FACESIM_CLI=$(BUILD_DIR)/facesim bench/bench-video.sh

clean:
	rm -rf $(BUILD_DIR)
