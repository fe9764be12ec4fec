# The README's commands. Each target installs what is missing (Debian packages), configures, builds.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Ninja when present (decided when cmake runs: on a fresh machine `deps` installs it first).
GEN = $$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

# The build with the Python package's extension, built with the project's venv (scripts/python-venv.sh).
PYTHON_ON = cmake -S . -B $(BUILD) -DDUET_PYTHON=ON -DPython_EXECUTABLE=$$(bash scripts/python-venv.sh | tail -1) > /dev/null

.PHONY: all deps configure build demo test test-python-install test-asan test-tsan test-oracle test-fuzz fuzz lint format bench bench-distributed clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	@$(MAKE) --no-print-directory deps
	cmake -S . -B $(BUILD) $(GEN) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

# DEMO_ARGS: extra flags for `duet demo` (the fresh-root check shortens the run with --epochs 1 --steps 40).
DEMO_ARGS ?=
demo: build
	./$(BUILD)/tools/duet demo $(DEMO_ARGS)

# Every test but the TensorFlow oracle (test-oracle: it needs the peers' venv) and the long fuzz run (test-fuzz).
# The Python package is part of it: its extension is built in $(BUILD) with the project's venv (.venv,
# scripts/python-venv.sh) and its pytest suite runs as a CTest (python.pytest).
test: deps configure
	$(PYTHON_ON)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE "slow|oracle|fuzz-long|python-install"

# `pip install .` into a new, empty venv, then the pytest suite against the installed package (CI runs it).
test-python-install: deps
	bash python/tests/pip_install_test.sh

# The concurrency tests under ThreadSanitizer. One kernel thread (OpenMP's own runtime is not instrumented, so
# its worker threads would be false positives); the 8 threads of each test are the callers' own. The lane
# tests move every product to a plan's second lane, which under the sanitizer is a thread of its own.
test-tsan: deps
	cmake -S . -B $(BUILD)-tsan $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUET_TSAN=ON -DDUET_BUILD_BENCH=OFF -DDUET_BUILD_EXAMPLES=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD)-tsan -j $(JOBS) --target duet_tests
	cd $(BUILD)-tsan && OMP_NUM_THREADS=1 DUET_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ./tests/duet_tests --gtest_filter='Concurrency.*:Function.*:Lanes.*:-Lanes.RecurrentGradients*'

# libFuzzer targets for the file readers, each run for FUZZ_SECONDS (with AddressSanitizer and UBSan; clang).
FUZZ_SECONDS ?= 60
fuzz:
	@bash scripts/install-deps.sh --fuzz
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(BUILD)-fuzz $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUET_FUZZ=ON -DDUET_WERROR=OFF \
	  -DDUET_BUILD_TESTS=OFF -DDUET_BUILD_BENCH=OFF -DDUET_BUILD_EXAMPLES=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD)-fuzz -j $(JOBS)
	bash fuzz/run.sh $(BUILD)-fuzz $(FUZZ_SECONDS)

# The tree follows .clang-format, and the library passes the .clang-tidy checks (needs a configured build for
# compile_commands.json).
SOURCES = $$(git ls-files 'src/*.cpp' 'src/*.h' 'include/*.h' 'tests/*.cpp' 'tests/*.h' 'tools/*.cpp' 'bench/*.cpp' \
            'examples/*.cpp' 'fuzz/*.cpp')
lint: configure
	clang-format --dry-run --Werror $(SOURCES)
	git ls-files 'src/*.cpp' | xargs -P $(JOBS) -n 4 clang-tidy -p $(BUILD) --quiet
format:
	clang-format -i $(SOURCES)

# Every public op against TensorFlow 2.21 (float64 and float32, forward and gradient, edge values); every layer,
# loss, metric and optimizer against Keras 3.15; duet's safetensors read by numpy. The Python packages are the
# pinned venv .venv-peers that install-deps.sh --peer makes (scripts/peers-venv.sh).
test-oracle: deps configure
	@bash scripts/install-deps.sh --peer
	$(PYTHON_ON)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -L oracle

# The random-program differential fuzzer's long run (20,000 programs beyond make test's 300).
test-fuzz: build
	cd $(BUILD) && ctest --output-on-failure -L fuzz-long

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer (CI runs this too).
test-asan: deps
	cmake -S . -B $(BUILD)-asan $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUET_SANITIZE=ON -DDUET_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j $(JOBS) -LE "slow|install|oracle|fuzz-long|portability"

bench: deps configure
	@bash scripts/install-deps.sh --peer
	$(PYTHON_ON)
	cmake --build $(BUILD) -j $(JOBS)
	bash bench/run_all.sh $(BUILD)

# Data-parallel training on this machine: 2 ranks x 1 thread against 1 rank x 2 threads (docs/scaling.md).
bench-distributed: build
	bash bench/distributed.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz
