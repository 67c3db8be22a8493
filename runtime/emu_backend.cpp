#include "runtime/emu_backend.hpp"

#include <mutex>

#include <fmt/format.h>

#include "codegen/render_cuda_emu.hpp"
#include "runtime/cpu_target.hpp"
#include "runtime/emu_services.hpp"
#include "templates/embedded.hpp"

namespace qk::runtime {
namespace {

constexpr std::string_view kTemplateRoot = "/qk/templates";

CompilerConfig compiler_config() {
  CompilerConfig config;
  config.target = CpuTarget::host();
  // The cuda and emu templates only: editing the cpu target's leaves cuda-emu binaries valid.
  for (const auto& file : templates::files())
    if (file.path.starts_with("cuda/") || file.path.starts_with("emu/"))
      config.headers.push_back({fmt::format("{}/{}", kTemplateRoot, file.path), file.text});
  config.include_dirs = {std::string(kTemplateRoot)};
  config.pch_prelude = codegen::cuda_emu_pch_prelude();
  // Emulation is for checking results: -O1 compiles in about half the time of -O3, and the
  // emulator's own switching dominates the run time of an emulated kernel anyway.
  config.opt_level = 1;
  return config;
}

}  // namespace

std::string emu_template_revision() {
  return fmt::format("cuda:{};emu:{}", templates::revision("cuda"), templates::revision("emu"));
}

EmuBackend::EmuBackend(std::unique_ptr<ClangCompiler> compiler, std::unique_ptr<JitLoader> loader)
    : compiler_(std::move(compiler)), loader_(std::move(loader)) {}

Expected<EmuBackend*> EmuBackend::get() {
  static std::mutex mutex;
  static std::unique_ptr<EmuBackend> backend;
  std::lock_guard lock(mutex);
  if (backend) return backend.get();
  auto compiler = ClangCompiler::create(compiler_config());
  if (!compiler) return compiler.error();
  auto loader = JitLoader::create();
  if (!loader) return loader.error();
  backend.reset(new EmuBackend(std::move(*compiler), std::move(*loader)));
  return backend.get();
}

cache::BinaryKey EmuBackend::binary_key(const codegen::CudaKernelSpec& spec) const {
  return {codegen::canonical_name(spec) + "_emu",
          codegen::spec_hash(spec),
          emu_template_revision(),
          "cuda-emu;" + compiler_->config().target.key(),
          compiler_->version(),
          compiler_->flags_key()};
}

Expected<std::shared_ptr<const EmuKernelModule>> EmuBackend::kernel(
    const codegen::CudaKernelSpec& spec, cache::KernelCache* cache, Supply* supply_out) {
  return kernels_.get(cache::key_hash(binary_key(spec)), supply_out, [&](Supply* supply) {
    const codegen::RenderedEmuKernel rendered =
        codegen::render_cuda_emu(codegen::render_cuda(spec));
    return load_cached_or_compile(
        binary_key(spec), cache, *compiler_,
        pch_key("cuda_emu", emu_template_revision(), "cuda-emu;" + compiler_->config().target.key(),
                *compiler_),
        rendered.source, rendered.name, supply,
        [&](std::span<const std::uint8_t> object) { return load(spec, object); });
  });
}

EmuBackend::Result EmuBackend::load(const codegen::CudaKernelSpec& spec,
                                    std::span<const std::uint8_t> object) {
  codegen::RenderedCudaKernel rendered = codegen::render_cuda(spec);
  std::string name = rendered.name + "_emu";
  auto module = loader_->load(object, name, emu::service_symbols());
  if (!module) return module.error();
  auto entry = module->symbol(codegen::kEmuEntrySymbol);
  if (!entry) return entry.error();
  emu::ThreadEntry producer = nullptr;
  if (rendered.has_producer()) {
    auto producer_entry = module->symbol(codegen::kEmuProducerEntrySymbol);
    if (!producer_entry) return producer_entry.error();
    producer = reinterpret_cast<emu::ThreadEntry>(*producer_entry);
  }
  return std::shared_ptr<const EmuKernelModule>(std::make_shared<EmuKernelModule>(
      EmuKernelModule{spec, std::move(rendered), std::move(name), std::move(*module),
                      reinterpret_cast<emu::ThreadEntry>(*entry), producer}));
}

}  // namespace qk::runtime
