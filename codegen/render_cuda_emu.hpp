// Renders a CUDA kernel for cuda-emu: the CUDA translation unit of render_cuda, unchanged, after
// the emulation header (templates/emu/cuda_emu.hpp), plus one extern "C" entry that runs the
// kernel as one CUDA thread. The in-process clang compiles it for the host.
#pragma once

#include <string>
#include <string_view>

#include "codegen/render_cuda.hpp"

namespace qk::codegen {

struct RenderedEmuKernel {
  std::string name;    ///< the CUDA kernel's canonical name + "_emu"
  std::string source;  ///< C++ for the host
};

/// The entry every rendered cuda-emu kernel defines: `void qk_emu_entry(const void* args)`, args
/// pointing to the kernel's argument struct (templates/cuda/abi.h).
inline constexpr std::string_view kEmuEntrySymbol = "qk_emu_entry";
/// The producer's entry, defined where the kernel has one (RenderedCudaKernel::has_producer):
/// `void qk_emu_producer_entry(const void* args)`, args pointing to a QkCudaQuantizeArgs.
inline constexpr std::string_view kEmuProducerEntrySymbol = "qk_emu_producer_entry";

RenderedEmuKernel render_cuda_emu(const RenderedCudaKernel& kernel);

/// What every cuda-emu compile includes first (its precompiled header): the emulation header
/// and the CUDA kernel templates.
std::string cuda_emu_pch_prelude();

}  // namespace qk::codegen
