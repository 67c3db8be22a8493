# The two commands of the README. Each does all set-up on a fresh machine and is fast when
# nothing changed: packages are checked before installing, CMake configures once, builds are
# incremental.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test format clean

all: build

deps:
	@scripts/install_deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@$(BUILD)/tools/qk-plan check examples/plans/*.json
	@echo
	@$(BUILD)/examples/01_compile_one_layer

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
