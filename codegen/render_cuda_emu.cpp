#include "codegen/render_cuda_emu.hpp"

#include <fmt/format.h>

#include "templates/embedded.hpp"

namespace qk::codegen {

RenderedEmuKernel render_cuda_emu(const RenderedCudaKernel& kernel) {
  // The name expression is codegen's own ("qk::cuda::w8a8_gemm<qk_gen::…_config>").
  return {kernel.name + "_emu",
          fmt::format("#include \"emu/cuda_emu.hpp\"\n{}\nextern \"C\" void {}(const void* args) "
                      "{{\n  qk::emu::run_thread(&{}, args);\n}}\n",
                      kernel.source, kEmuEntrySymbol, kernel.name_expression)};
}

std::string cuda_emu_pch_prelude() {
  std::string prelude = "#include \"emu/cuda_emu.hpp\"\n";
  for (const templates::TemplateFile& file : templates::files())
    if (file.path.starts_with("cuda/") && file.path.ends_with(".cuh"))
      prelude += fmt::format("#include \"{}\"\n", file.path);
  return prelude;
}

}  // namespace qk::codegen
