#include "runtime/cpu_backend.hpp"

#include <map>
#include <mutex>

#include <fmt/format.h>

#include "codegen/render_cpu.hpp"
#include "runtime/amx_permission.hpp"
#include "templates/embedded.hpp"

namespace qk::runtime {
namespace {

// The templates are served to clang from memory under this folder.
constexpr std::string_view kTemplateRoot = "/qk/templates";

CompilerConfig compiler_config(const CpuTarget& target) {
  CompilerConfig config;
  config.target = target;
  // Only the cpu target's templates: their hash is part of every binary's key (flags_key), so
  // serving the other targets' files too would make editing those recompile every cpu kernel.
  for (const auto& file : templates::files())
    if (file.path.starts_with("cpu/"))
      config.headers.push_back({fmt::format("{}/{}", kTemplateRoot, file.path), file.text});
  config.include_dirs = {std::string(kTemplateRoot)};
  config.pch_prelude = codegen::cpu_pch_prelude();
  return config;
}

/// The kernels' ISA for code of `target` before AMX is considered: avx512 with AVX-512 VNNI
/// (vpdpbusd), else avx2 with x86-64-v3's AVX2, FMA and F16C; neither is Errc::unsupported.
Expected<codegen::CpuIsa> vector_isa(const CpuTarget& target, const std::string& cpu_level) {
  if (target.has("avx512vnni")) return codegen::CpuIsa::avx512;
  if (target.has("avx2") && target.has("fma") && target.has("f16c")) return codegen::CpuIsa::avx2;
  return Error{Errc::unsupported, "cpu_level " + cpu_level,
               "the cpu kernels need AVX-512 VNNI or AVX2 with FMA and F16C, which " + target.cpu +
                   " lacks"};
}

bool has_amx(const CpuTarget& target) {
  return target.has("amx-tile") && target.has("amx-int8");
}

}  // namespace

CpuBackend::CpuBackend(std::string level, CpuTarget target, codegen::CpuIsa isa,
                       std::unique_ptr<ClangCompiler> compiler, std::unique_ptr<JitLoader> loader)
    : level_(std::move(level)),
      target_(std::move(target)),
      isa_(isa),
      compiler_(std::move(compiler)),
      loader_(std::move(loader)) {}

Expected<std::unique_ptr<CpuBackend>> CpuBackend::create(std::string level, CpuTarget target,
                                                         codegen::CpuIsa isa, bool with_loader) {
  auto compiler = ClangCompiler::create(compiler_config(target));
  if (!compiler) return compiler.error();
  std::unique_ptr<JitLoader> loader;
  if (with_loader) {
    auto created = JitLoader::create();
    if (!created) return created.error();
    loader = std::move(*created);
  }
  return std::unique_ptr<CpuBackend>(new CpuBackend(std::move(level), std::move(target), isa,
                                                    std::move(*compiler), std::move(loader)));
}

Expected<CpuBackend*> CpuBackend::get(const std::string& cpu_level) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<CpuBackend>> backends;
  std::lock_guard lock(mutex);
  if (auto it = backends.find(cpu_level); it != backends.end()) return it->second.get();

  Expected<CpuTarget> target =
      cpu_level == "host" ? Expected<CpuTarget>(CpuTarget::host()) : CpuTarget::portable(cpu_level);
  if (!target) return target.error();
  if (!runs_on_host(*target))
    return Error{Errc::unsupported, "cpu_level " + cpu_level,
                 fmt::format("code for {} cannot run on this machine ({})", target->key(),
                             CpuTarget::host().key())};
  auto isa = vector_isa(*target, cpu_level);
  if (!isa) return isa.error();
  if (*isa == codegen::CpuIsa::avx512 && has_amx(*target)) {
    // W8A8 may then run AMX tiles, if Linux grants the tile state; refused, "host" keeps the
    // VNNI kernels (correct, slower from M = 16 up), "amx" was asked for AMX and fails.
    if (auto granted = request_amx_permission(); granted) {
      isa = codegen::CpuIsa::amx;
    } else if (cpu_level == "amx") {
      return Error{Errc::unsupported, "cpu_level amx", granted.error().str()};
    }
  }
  auto backend = create(cpu_level, std::move(*target), *isa, true);
  if (!backend) return backend.error();
  auto& slot = backends[cpu_level];
  slot = std::move(*backend);
  return slot.get();
}

Expected<std::unique_ptr<CpuBackend>> CpuBackend::compile_only(const std::string& cpu_level) {
  auto target = CpuTarget::portable(cpu_level);
  if (!target) return target.error();
  auto isa = vector_isa(*target, cpu_level);
  if (!isa) return isa.error();
  // The ISA of a machine of this level that runs it: "amx" is only ever run with the tile state
  // granted (get() refuses it otherwise).
  if (*isa == codegen::CpuIsa::avx512 && has_amx(*target)) isa = codegen::CpuIsa::amx;
  return create(cpu_level, std::move(*target), *isa, false);
}

cache::BinaryKey CpuBackend::binary_key(const codegen::CpuKernelSpec& spec) const {
  return {codegen::canonical_name(spec),
          codegen::spec_hash(spec),
          std::string(templates::revision("cpu")),
          target_.key(),
          compiler_->version(),
          compiler_->flags_key()};
}

cache::BinaryKey CpuBackend::pch_key() const {
  return runtime::pch_key("cpu", templates::revision("cpu"), target_.key(), *compiler_);
}

Expected<void> CpuBackend::check(const codegen::CpuKernelSpec& spec) const {
  if (spec.isa != codegen::code_isa(isa_) || (spec.tile.amx && isa_ != codegen::CpuIsa::amx))
    return Error{
        Errc::invalid_argument, codegen::canonical_name(spec),
        fmt::format("a kernel for {}{} cannot be compiled for {} ({}), whose kernels are {}",
                    to_string(spec.isa), spec.tile.amx ? " with AMX tiles" : "", target_.cpu,
                    target_.key(), to_string(isa_))};
  return {};
}

Expected<std::shared_ptr<const CpuKernelModule>> CpuBackend::kernel(
    const codegen::CpuKernelSpec& spec, cache::KernelCache* cache, Supply* supply_out) {
  if (auto checked = check(spec); !checked) return checked.error();
  if (!loader_)
    return Error{Errc::unsupported, codegen::canonical_name(spec),
                 fmt::format("this backend of {} only compiles (CpuBackend::compile_only); "
                             "CpuBackend::get runs kernels",
                             target_.key())};
  return kernels_.get(cache::key_hash(binary_key(spec)), supply_out, [&](Supply* supply) {
    const codegen::RenderedKernel rendered = codegen::render_cpu(spec);
    return load_cached_or_compile(
        binary_key(spec), cache, *compiler_, pch_key(), rendered.source, rendered.name, supply,
        [&](std::span<const std::uint8_t> object) { return load(spec, object); });
  });
}

Expected<CpuBackend::StoredObject> CpuBackend::compile_into(const codegen::CpuKernelSpec& spec,
                                                            cache::KernelCache& cache) const {
  if (auto checked = check(spec); !checked) return checked.error();
  const cache::BinaryKey key = binary_key(spec);
  // A cache that cannot be read is not fatal here either: compile, and the store says why not.
  if (auto found = cache.find_binary(key); found && *found)
    return StoredObject{key.kernel, static_cast<std::int64_t>((*found)->blob.size()),
                        (*found)->compile_ms, true};
  const codegen::RenderedKernel rendered = codegen::render_cpu(spec);
  auto object =
      compile_with_cached_pch(*compiler_, &cache, pch_key(), rendered.source, rendered.name);
  if (!object) return object.error();
  if (auto stored = cache.store_binary(key, object->bytes, object->compile_ms); !stored)
    return stored.error();
  return StoredObject{key.kernel, static_cast<std::int64_t>(object->bytes.size()),
                      object->compile_ms, false};
}

CpuBackend::Result CpuBackend::load(const codegen::CpuKernelSpec& spec,
                                    std::span<const std::uint8_t> object) {
  const codegen::RenderedKernel names = codegen::render_cpu(spec);
  auto module = loader_->load(object, names.name);
  if (!module) return module.error();
  auto quantize = module->symbol(names.quantize_symbol);
  if (!quantize) return quantize.error();
  auto gemm = module->symbol(names.gemm_symbol);
  if (!gemm) return gemm.error();
  auto kernel = std::make_shared<CpuKernelModule>(CpuKernelModule{
      spec, names.name, std::move(*module), reinterpret_cast<QkCpuQuantizeFn>(*quantize),
      reinterpret_cast<QkCpuGemmFn>(*gemm)});
  return std::shared_ptr<const CpuKernelModule>(std::move(kernel));
}

}  // namespace qk::runtime
