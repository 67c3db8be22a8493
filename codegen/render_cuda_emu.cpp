#include "codegen/render_cuda_emu.hpp"

#include <fmt/format.h>

#include "templates/embedded.hpp"

namespace qk::codegen {

RenderedEmuKernel render_cuda_emu(const RenderedCudaKernel& kernel) {
  // The name expressions are codegen's own ("qk::cuda::gemm<qk_gen::…_config>").
  auto entry = [](std::string_view symbol, const std::string& expression) {
    return fmt::format(
        "extern \"C\" void {}(const void* args) {{\n  qk::emu::run_thread(&{}, args);\n}}\n",
        symbol, expression);
  };
  std::string source = fmt::format("#include \"emu/cuda_emu.hpp\"\n{}\n{}", kernel.source,
                                   entry(kEmuEntrySymbol, kernel.name_expression));
  if (kernel.has_producer())
    source += entry(kEmuProducerEntrySymbol, kernel.producer.name_expression);
  return {kernel.name + "_emu", std::move(source)};
}

std::string cuda_emu_pch_prelude() {
  std::string prelude = "#include \"emu/cuda_emu.hpp\"\n";
  for (const templates::TemplateFile& file : templates::files())
    if (file.path.starts_with("cuda/") && file.path.ends_with(".cuh"))
      prelude += fmt::format("#include \"{}\"\n", file.path);
  return prelude;
}

}  // namespace qk::codegen
