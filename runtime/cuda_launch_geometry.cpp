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
  if (kernel.has_producer() &&
      (args.a_scale == nullptr || reinterpret_cast<std::uintptr_t>(args.a_scale) % 4 != 0))
    return bad("a_scale", fmt::format("address {} must be non-null and 4-byte aligned: {} reads "
                                      "the producer's per-token scales [M] from it",
                                      static_cast<const void*>(args.a_scale), kernel.name));
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

std::size_t quantize_workspace_bytes(std::int64_t m, std::int64_t k) {
  const auto codes = static_cast<std::size_t>(m * k);
  return (codes + 15) / 16 * 16 + 4 * static_cast<std::size_t>(m);
}

QuantizeWorkspace quantize_workspace(void* base, std::int64_t m, std::int64_t k) {
  auto* bytes = static_cast<std::uint8_t*>(base);
  const auto codes = static_cast<std::size_t>(m * k);
  return {bytes, reinterpret_cast<float*>(bytes + (codes + 15) / 16 * 16)};
}

QkCudaQuantizeArgs quantize_args(const QkCudaGemmArgs& gemm, const QuantizeWorkspace& workspace) {
  return {gemm.a, workspace.codes, workspace.scales, gemm.m, gemm.k};
}

QkCudaGemmArgs consume_quantized(QkCudaGemmArgs gemm, const QuantizeWorkspace& workspace) {
  gemm.a = workspace.codes;
  gemm.a_scale = workspace.scales;
  return gemm;
}

Expected<CudaLaunchGeometry> prepare_quantize_launch(const codegen::RenderedCudaKernel& kernel,
                                                     const QkCudaQuantizeArgs& args) {
  if (!kernel.has_producer())
    return Error{
        Errc::invalid_argument, "kernel",
        fmt::format("{} quantizes A in the CTA; it has no producer to launch", kernel.name)};
  if (args.m < 1) return bad_dimension("m", args.m, "must be in [1, 2^31 - 1]");
  if (args.k < 16 || args.k % 16 != 0)
    return bad_dimension("k", args.k, "must be a positive multiple of 16 below 2^31");
  const struct {
    const char* name;
    const void* p;
    int alignment;
  } pointers[] = {{"a", args.a, 16}, {"codes", args.codes, 16}, {"scales", args.scales, 4}};
  for (const auto& p : pointers)
    if (p.p == nullptr || reinterpret_cast<std::uintptr_t>(p.p) % p.alignment != 0)
      return Error{Errc::invalid_argument, p.name,
                   fmt::format("address {} must be non-null and {}-byte aligned for {}'s "
                               "producer",
                               p.p, p.alignment, kernel.name)};
  return CudaLaunchGeometry{
      .grid_x = static_cast<unsigned>(args.m),
      .grid_y = 1,
      .block_x = static_cast<unsigned>(kernel.producer.threads),
      .smem_bytes = static_cast<unsigned>(kernel.producer.smem_bytes),
  };
}

}  // namespace qk::runtime
