#include "runtime/cuda_backend.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include <fmt/format.h>

#include "codegen/render_cuda.hpp"
#include "templates/embedded.hpp"

namespace qk::runtime {
namespace {

/// The numeric fields of CubinAttributes in their stored order, by name.
struct IntField {
  std::string_view name;
  int CubinAttributes::*direct = nullptr;
  int CudaResources::*resource = nullptr;
};
constexpr IntField kIntFields[] = {
    {"threads", &CubinAttributes::threads, nullptr},
    {"dynamic_smem", &CubinAttributes::dynamic_smem_bytes, nullptr},
    {"registers", nullptr, &CudaResources::registers},
    {"stack", nullptr, &CudaResources::stack_bytes},
    {"spill_stores", nullptr, &CudaResources::spill_store_bytes},
    {"spill_loads", nullptr, &CudaResources::spill_load_bytes},
    {"static_smem", nullptr, &CudaResources::static_smem_bytes},
    {"barriers", nullptr, &CudaResources::barriers},
};
constexpr std::string_view kLowered = "lowered";
/// The producer's fields (all or none), after the GEMM's.
constexpr std::string_view kProducer = "producer";
constexpr IntField kProducerFields[] = {
    {"producer_registers", nullptr, &CudaResources::registers},
    {"producer_spill_stores", nullptr, &CudaResources::spill_store_bytes},
    {"producer_spill_loads", nullptr, &CudaResources::spill_load_bytes},
};

int& field_of(CubinAttributes& a, const IntField& f) {
  return f.direct ? a.*f.direct : a.resources.*f.resource;
}
int& producer_field_of(CubinAttributes& a, const IntField& f) {
  return a.producer_resources.*f.resource;
}

Error bad_attributes(std::string_view text, std::string message) {
  return Error{Errc::parse_error, "cubin attributes '" + std::string(text) + "'",
               std::move(message)};
}

}  // namespace

bool operator==(const CubinAttributes& a, const CubinAttributes& b) {
  if (a.lowered_name != b.lowered_name || a.producer_lowered_name != b.producer_lowered_name)
    return false;
  CubinAttributes x = a, y = b;
  return std::all_of(std::begin(kIntFields), std::end(kIntFields),
                     [&](const IntField& f) { return field_of(x, f) == field_of(y, f); }) &&
         std::all_of(
             std::begin(kProducerFields), std::end(kProducerFields),
             [&](const IntField& f) { return producer_field_of(x, f) == producer_field_of(y, f); });
}

std::string format_cubin_attributes(const CubinAttributes& attributes) {
  std::string out = fmt::format("{}={}", kLowered, attributes.lowered_name);
  CubinAttributes copy = attributes;
  for (const IntField& f : kIntFields) out += fmt::format(";{}={}", f.name, field_of(copy, f));
  if (!attributes.producer_lowered_name.empty()) {
    out += fmt::format(";{}={}", kProducer, attributes.producer_lowered_name);
    for (const IntField& f : kProducerFields)
      out += fmt::format(";{}={}", f.name, producer_field_of(copy, f));
  }
  return out;
}

Expected<CubinAttributes> parse_cubin_attributes(std::string_view text) {
  CubinAttributes out;
  std::vector<std::string_view> seen;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t end = std::min(rest.find(';'), rest.size());
    const std::string_view item = rest.substr(0, end);
    rest = end < rest.size() ? rest.substr(end + 1) : std::string_view();
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return bad_attributes(text, fmt::format("'{}' is not field=value", item));
    const std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      return bad_attributes(text, fmt::format("field '{}' appears twice", name));
    seen.push_back(name);
    if (name == kLowered) {
      out.lowered_name = std::string(value);
      continue;
    }
    if (name == kProducer) {
      out.producer_lowered_name = std::string(value);
      continue;
    }
    auto named = [&](const IntField& x) { return x.name == name; };
    const auto* f = std::find_if(std::begin(kIntFields), std::end(kIntFields), named);
    const auto* p = std::find_if(std::begin(kProducerFields), std::end(kProducerFields), named);
    if (f == std::end(kIntFields) && p == std::end(kProducerFields))
      return bad_attributes(text, fmt::format("unknown field '{}'", name));
    int& slot = f != std::end(kIntFields) ? field_of(out, *f) : producer_field_of(out, *p);
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), slot);
    if (ec != std::errc() || ptr != value.data() + value.size() || slot < 0)
      return bad_attributes(text,
                            fmt::format("{} is '{}', not a non-negative integer", name, value));
  }
  const bool producer = std::find(seen.begin(), seen.end(), kProducer) != seen.end();
  const std::size_t fields =
      std::size(kIntFields) + 1 + (producer ? std::size(kProducerFields) + 1 : 0);
  if (seen.size() != fields || out.lowered_name.empty() ||
      (producer && out.producer_lowered_name.empty()))
    return bad_attributes(text, fmt::format("has {} of its {} fields (or an empty lowered name)",
                                            seen.size(), fields));
  return out;
}

CudaBackend::CudaBackend(std::unique_ptr<NvrtcCompiler> compiler)
    : compiler_(std::move(compiler)) {}

Expected<std::unique_ptr<CudaBackend>> CudaBackend::create(NvrtcConfig config) {
  auto compiler = NvrtcCompiler::create(std::move(config));
  if (!compiler) return compiler.error();
  return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(*compiler)));
}

cache::BinaryKey CudaBackend::binary_key(const codegen::CudaKernelSpec& spec) const {
  return {codegen::canonical_name(spec),
          codegen::spec_hash(spec),
          std::string(templates::revision("cuda")),
          std::string(to_string(spec.arch)),
          compiler_->version(),
          compiler_->flags_key()};
}

Expected<CudaCubin> CudaBackend::cubin(const codegen::CudaKernelSpec& spec,
                                       cache::KernelCache* cache) const {
  const cache::BinaryKey key = binary_key(spec);
  if (cache) {
    // A cache that cannot be read, or a record whose attributes do not parse, is not fatal:
    // compile (and the store below replaces the bad record).
    auto found = cache->find_binary(key);
    if (found && *found) {
      if (auto attributes = parse_cubin_attributes((*found)->attributes))
        return CudaCubin{key.kernel, std::move((*found)->blob), std::move(*attributes),
                         (*found)->compile_ms, true};
    }
  }
  const codegen::RenderedCudaKernel kernel = codegen::render_cuda(spec);
  std::vector<std::string> companions;
  if (kernel.has_producer()) companions.push_back(kernel.producer.name_expression);
  auto compiled =
      compiler_->compile(kernel.source, kernel.name, spec.arch, kernel.name_expression, companions);
  if (!compiled) return compiled.error();
  CudaCubin out{kernel.name,
                std::move(compiled->cubin),
                {compiled->lowered_name, kernel.threads, kernel.smem_bytes, compiled->resources},
                compiled->compile_ms,
                false};
  if (kernel.has_producer()) {
    out.attributes.producer_lowered_name = compiled->companions.front().lowered_name;
    out.attributes.producer_resources = compiled->companions.front().resources;
  }
  if (cache) {
    // The cubin is good without its cached copy; the next build compiles it again.
    if (auto stored = cache->store_binary(key, out.cubin, out.compile_ms,
                                          format_cubin_attributes(out.attributes));
        !stored)
      fmt::print(stderr, "qk: warning: compiled {} but could not store it in {}: {}\n", kernel.name,
                 cache->path().string(), stored.error().str());
  }
  return out;
}

}  // namespace qk::runtime
