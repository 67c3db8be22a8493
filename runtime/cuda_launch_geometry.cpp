#include "runtime/cuda_launch_geometry.hpp"

#include <limits>

#include <fmt/format.h>

#include "templates/cuda/gemm_grid.cuh"

namespace qk::runtime {

namespace {

constexpr std::int64_t kMaxIndex = (std::int64_t{1} << 31) - 1;  // also gridDim.x's limit

std::int64_t output_tiles(const codegen::CudaTile& t, std::int64_t m, std::int64_t n) {
  return ((m + t.block_m - 1) / t.block_m) * ((n + t.block_n - 1) / t.block_n);
}

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
  // The kernel indexes tiles with int (gemm_grid.cuh, BlockWork::tile_index), and raster
  // order puts them all along gridDim.x (at most 2^31 - 1).
  const codegen::CudaTile& t = spec.tile;
  const std::int64_t tiles_m = (m + t.block_m - 1) / t.block_m;
  const std::int64_t tiles_n = (n + t.block_n - 1) / t.block_n;
  if (tiles_m * tiles_n > kMaxIndex)
    return bad_dimension("m", m,
                         fmt::format("times n {} makes {} output tiles of {}x{}; the kernels "
                                     "index at most 2^31 - 1",
                                     n, tiles_m * tiles_n, t.block_m, t.block_n));
  const cuda::GridDims grid = cuda::grid_dims(tiles_m, tiles_n, t.split_k, t.raster);
  return CudaLaunchGeometry{
      .grid_x = static_cast<unsigned>(grid.x),
      .grid_y = static_cast<unsigned>(grid.y),
      .grid_z = static_cast<unsigned>(grid.z),
      .block_x = static_cast<unsigned>(kernel.threads),
      .smem_bytes = static_cast<unsigned>(kernel.smem_bytes),
      .workspace_bytes = gemm_workspace_bytes(spec, m, n),
  };
}

std::uint64_t gemm_workspace_bytes(const codegen::CudaKernelSpec& spec, std::int64_t m,
                                   std::int64_t n) {
  return static_cast<std::uint64_t>(cuda::split_workspace_bytes(
      output_tiles(spec.tile, m, n), spec.tile.split_k, spec.tile.block_m, spec.tile.block_n));
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

Expected<CudaLaunchGeometry> prepare_launch(const codegen::CudaKernelSpec& spec,
                                            const codegen::RenderedCudaKernel& kernel,
                                            const QkCudaGemmArgs& args) {
  auto geometry = launch_geometry(spec, kernel, args.m, args.n, args.k);
  if (!geometry) return geometry.error();
  if (auto aligned = check_alignment(args); !aligned) return aligned.error();
  auto bad = [](const char* name, std::string message) {
    return Error{Errc::invalid_argument, name, std::move(message)};
  };
  const codegen::CudaOperands ops = codegen::operands(spec);
  const bool int4 = ops.w_code == QuantType::int4;
  auto aligned_16 = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  if (ops.w_code != QuantType::fp16 && ops.w_code != QuantType::bf16) {
    if (args.w_scale == nullptr)
      return bad("w_scale", fmt::format("is null; {} reads the weights' scales", kernel.name));
    if (int4 && !aligned_16(args.w_scale))
      return bad("w_scale", fmt::format("address {} must be 16-byte aligned for int4 weights",
                                        static_cast<const void*>(args.w_scale)));
  }
  if (int4 && ops.zero_points && (args.w_zero == nullptr || !aligned_16(args.w_zero)))
    return bad("w_zero", fmt::format("address {} must be non-null and 16-byte aligned: {} reads "
                                     "zero points",
                                     static_cast<const void*>(args.w_zero), kernel.name));
  const bool quantized_a = ops.a_code != QuantType::fp16 && ops.a_code != QuantType::bf16;
  if (quantized_a && spec.scaling == ActivationScaling::static_per_tensor &&
      args.a_scale == nullptr)
    return bad("a_scale", fmt::format("is null; {} was built for static per-tensor scaling, "
                                      "which reads the scale [1]",
                                      kernel.name));
  // numerics §2.3: the inverse of a scale in [FLT_MIN, FLT_MAX] is finite and > 0 (NaN fails).
  if (spec.output == QuantType::int8 &&
      !(args.out_inv_scale > 0.0f && args.out_inv_scale <= std::numeric_limits<float>::max()))
    return bad("out_inv_scale",
               fmt::format("{} must be finite and > 0: {} requantizes Y to int8 with it",
                           args.out_inv_scale, kernel.name));
  if (geometry->workspace_bytes > 0 && (args.workspace == nullptr || !aligned_16(args.workspace)))
    return bad("workspace",
               fmt::format("address {} must be non-null and 16-byte aligned: {} splits K in {} "
                           "slices and needs {} bytes of workspace (gemm_workspace_bytes) for "
                           "m {}, n {}, counters zeroed before the first launch",
                           args.workspace, kernel.name, spec.tile.split_k,
                           geometry->workspace_bytes, args.m, args.n));
  if (spec.bias != (args.bias != nullptr))
    return bad("bias",
               fmt::format("is {}, but {} was built {} a bias", args.bias ? "given" : "null",
                           kernel.name, spec.bias ? "with" : "without"));
  return geometry;
}

}  // namespace qk::runtime
