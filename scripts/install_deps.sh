#!/usr/bin/env bash
# Installs every Debian package qk needs to build and test. This is the one list: add new
# dependencies here (and name them in the README with why). Fast and silent when all are present.
set -euo pipefail

packages=(
  cmake ninja-build g++          # the build
  libgtest-dev                   # tests (GoogleTest via ctest)
  nlohmann-json3-dev             # plan.json parsing
  libcli11-dev                   # command-line parsing of the qk-* tools
  libfmt-dev                     # formatting of messages and tables
  # the cpu target's in-process compiler and JIT (runtime/): LLVM 19's libLLVM and ORC headers,
  # clang 19's libclang-cpp, its headers, its CMake package (in clang-19) and its resource
  # headers (<immintrin.h>, in libclang-common-19-dev)
  llvm-19-dev libclang-19-dev libclang-cpp19-dev clang-19 libclang-common-19-dev
  libboost-context-dev           # cuda-emu: each CUDA thread runs as a fiber (runtime/emu_block.*)
  libsqlite3-dev                 # the kernel cache: one SQLite file (cache/, docs/cache.md)
  libxxhash-dev                  # the cache's key hashes and blob checksums (XXH3-128)
  # qk-bench's baselines (bench/, docs/bench.md): oneDNN's int8 matmul and OpenBLAS's sgemm.
  # oneDNN's CMake package requires OpenCL (headers and the ICD loader's libOpenCL.so), which
  # libdnnl-dev only recommends.
  libdnnl-dev libopenblas-dev opencl-c-headers ocl-icd-opencl-dev
  python3-pip                    # installs cuobjdump from PyPI (below)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "qk: installing missing packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The CUDA toolkit is part of this project's machine image, not a Debian package: its headers
# are the independent oracle for the FP8/FP16/BF16 conversion tests.
cuda_root="${CUDA_HOME:-/usr/local/cuda}"
if [ ! -f "$cuda_root/include/cuda_fp8.h" ]; then
  echo "qk: CUDA toolkit headers not found at $cuda_root/include (set CUDA_HOME)" >&2
  exit 1
fi

# nvdisasm (the SASS) and cuobjdump (the resource usage) read the cubins NVRTC produces (the cuda
# target's tests, docs/cuda.md). The toolkit image lacks both; NVIDIA publishes them on PyPI.
# Installed into a folder of their own (no environment is changed); tests/CMakeLists.txt looks
# for them there.
cuda_tools="${XDG_CACHE_HOME:-$HOME/.cache}/qk/cuda-tools"
if [ ! -x "$cuda_tools/nvidia/cu13/bin/cuobjdump" ] || [ ! -x "$cuda_tools/nvidia/cu13/bin/nvdisasm" ]; then
  echo "qk: installing nvdisasm and cuobjdump (PyPI) into $cuda_tools"
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --upgrade --target "$cuda_tools" "nvidia-cuda-nvdisasm==13.5.37" \
    "nvidia-cuda-cuobjdump==13.5.37" >/dev/null
fi
