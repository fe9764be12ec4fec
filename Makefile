# The README's commands. Each target installs what is missing (Debian packages), configures, builds.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Ninja when present (decided when cmake runs: on a fresh machine `deps` installs it first).
GEN = $$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all deps configure build demo test test-asan bench clean

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

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE slow

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer (CI runs this too).
test-asan: deps
	cmake -S . -B $(BUILD)-asan $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUET_SANITIZE=ON -DDUET_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j $(JOBS) -LE "slow|install"

bench: build
	@bash scripts/install-deps.sh --peer
	bash bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan
