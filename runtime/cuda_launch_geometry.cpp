#include "runtime/cuda_launch_geometry.hpp"

#include <fmt/format.h>

namespace qk::runtime {

namespace {

constexpr std::int64_t kMaxGridY = 65535;  // CUDA C++ Programming Guide, "Compute Capabilities"
constexpr std::int64_t kMaxIndex = (std::int64_t{1} << 31) - 1;

Error bad_dimension(const char* name, std::int64_t value, std::string_view rule) {
  return Error{Errc::invalid_argument, name, fmt::format("{} {}", value, rule)};
}

}  // namespace

Expected<CudaLaunchGeometry> launch_geometry(const codegen::CudaKernelSpec& spec,
                                             const codegen::RenderedCudaKernel& kernel,
                                             std::int64_t m, std::int64_t n, std::int64_t k) {
  if (m < 1 || m > kMaxIndex) return bad_dimension("m", m, "must be in [1, 2^31 - 1]");
  if (n < 1 || n > kMaxIndex) return bad_dimension("n", n, "must be in [1, 2^31 - 1]");
  if (k < 16 || k > kMaxIndex || k % 16 != 0)
    return bad_dimension("k", k, "must be a positive multiple of 16 below 2^31");
  if (spec.group_size > 0 && k % spec.group_size != 0)
    return bad_dimension(
        "k", k, fmt::format("must be a multiple of the weights' group size {}", spec.group_size));
  const std::int64_t grid_y = (m + spec.tile.block_m - 1) / spec.tile.block_m;
  if (grid_y > kMaxGridY)
    return bad_dimension("m", m,
                         fmt::format("needs {} blocks of {} rows; gridDim.y is at most {}", grid_y,
                                     spec.tile.block_m, kMaxGridY));
  return CudaLaunchGeometry{
      .grid_x = static_cast<unsigned>((n + spec.tile.block_n - 1) / spec.tile.block_n),
      .grid_y = static_cast<unsigned>(grid_y),
      .block_x = static_cast<unsigned>(kernel.threads),
      .smem_bytes = static_cast<unsigned>(kernel.smem_bytes),
  };
}

Expected<void> check_alignment(const QkCudaGemmArgs& args) {
  const struct {
    const char* name;
    const void* p;
  } operands[] = {{"a", args.a}, {"w", args.w}, {"y", args.y}};
  for (const auto& o : operands)
    if (o.p == nullptr || reinterpret_cast<std::uintptr_t>(o.p) % 16 != 0)
      return Error{Errc::invalid_argument, o.name,
                   fmt::format("address {} must be non-null and 16-byte aligned", o.p)};
  return {};
}

}  // namespace qk::runtime
