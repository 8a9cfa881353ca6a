# Thin front end over CMake/Ninja/CTest; the README's two commands live here.
#   make demo   install missing build dependencies, build, run the demo scenario
#   make test   same set-up, then the whole test suite (plain build, then
#               AddressSanitizer + UndefinedBehaviorSanitizer build)
BUILD     ?= build
ASAN_BUILD?= build-asan
WERROR    ?= OFF
JOBS      ?= $(shell nproc)
CMAKE_GEN  = -G Ninja -DTDXMMU_WERROR=$(WERROR)

.PHONY: all deps build demo test test-plain test-asan install clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/tdxmmu run examples/demo.tds

test: test-plain test-asan

test-plain: build
	ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug \
		-DTDXMMU_SANITIZE=address,undefined

test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(ASAN_BUILD) -j $(JOBS) --output-on-failure

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
