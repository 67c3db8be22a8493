// Renders a CPU kernel spec into C++ source: a single constexpr config value handed to the
// generic kernel template, and two extern "C" trampolines. Only values codegen produced itself
// (enum names from its tables, integers) appear in the source; nothing from a plan does.
#pragma once

#include <string>

#include "codegen/cpu_kernel_spec.hpp"

namespace qk::codegen {

struct RenderedKernel {
  std::string name;             ///< canonical_name(spec)
  std::string source;           ///< the translation unit to compile
  std::string quantize_symbol;  ///< extern "C" QkCpuQuantizeFn (templates/cpu/abi.h)
  std::string gemm_symbol;      ///< extern "C" QkCpuGemmFn
};

RenderedKernel render_cpu(const CpuKernelSpec& spec);

/// The text the compiler precompiles once (a PCH): everything the rendered sources include.
std::string cpu_pch_prelude();

}  // namespace qk::codegen
