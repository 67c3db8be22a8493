#include "bench/gpu/w8a8_problem.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "quant/float_formats.hpp"

namespace qk::bench::gpu {
namespace {

std::vector<float> random_values(std::int64_t count, unsigned seed, float stddev,
                                 std::int64_t outlier_every = 0, float outlier_gain = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> out(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = normal(rng);
    // A few large input channels, as SmoothQuant's models have before smoothing.
    if (outlier_every > 0 && i % outlier_every == 0) out[i] *= outlier_gain;
  }
  return out;
}

std::vector<std::uint8_t> bytes_of_floats(const std::vector<float>& v) {
  std::vector<std::uint8_t> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// The values as the 16-bit patterns of `type` (fp16 or bf16), rounded to nearest even.
std::vector<std::uint8_t> bits16_of(const std::vector<float>& v, QuantType type) {
  std::vector<std::uint8_t> out(v.size() * 2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::uint16_t h =
        type == QuantType::bf16 ? quant::float_to_bf16(v[i]) : quant::float_to_fp16(v[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

Expected<HostProblem> finish(const LayerConfig& variant, std::int64_t m, std::int64_t n,
                             std::int64_t k, std::vector<float> a, const std::vector<float>& w,
                             std::vector<float> bias, float static_scale) {
  HostProblem p;
  p.layer = variant;
  p.layer.n = n;
  p.layer.k = k;
  p.m = m;
  for (float& x : a) x = quant::round_to(variant.input_dtype, x);
  p.a = std::move(a);
  auto weights = quant::quantize_weights(w, n, k, quant::weight_format_of(p.layer));
  if (!weights) return weights.error();
  p.weights = std::move(*weights);
  p.bias = variant.epilogue.bias ? std::move(bias) : std::vector<float>(n, 0.0f);
  p.static_scale = static_scale;
  return p;
}

}  // namespace

std::vector<LayerConfig> w8a8_cuda_variants() {
  std::vector<LayerConfig> out;
  for (QuantType input : {QuantType::fp16, QuantType::bf16})
    for (ActivationScaling scaling :
         {ActivationScaling::static_per_tensor, ActivationScaling::dynamic_per_token})
      for (bool bias : {false, true})
        for (QuantType output : {QuantType::fp16, QuantType::bf16}) {
          LayerConfig layer;
          layer.n = 4096;
          layer.k = 4096;
          layer.input_dtype = input;
          layer.activation_scaling = scaling;
          layer.epilogue = {bias, Activation::none, output};
          out.push_back(layer);
        }
  return out;
}

std::string variant_label(const LayerConfig& layer) {
  return fmt::format(
      "{} {} {}->{}", to_string(layer.input_dtype),
      layer.activation_scaling == ActivationScaling::static_per_tensor ? "st" : "tok",
      layer.epilogue.bias ? "+bias " : "", to_string(layer.epilogue.output));
}

Expected<HostProblem> random_problem(const LayerConfig& variant, std::int64_t m, std::int64_t n,
                                     std::int64_t k, unsigned seed) {
  return finish(variant, m, n, k, random_values(m * k, seed, 1.0f, 7, 30.0f),
                random_values(n * k, seed + 1, 0.05f), random_values(n, seed + 2, 0.5f), 0.05f);
}

HostProblem as_variant(const HostProblem& base, const LayerConfig& variant) {
  HostProblem p = base;
  p.layer.activation_scaling = variant.activation_scaling;
  p.layer.epilogue = variant.epilogue;
  if (!variant.epilogue.bias) std::fill(p.bias.begin(), p.bias.end(), 0.0f);
  return p;
}

Expected<HostProblem> exact_problem(const LayerConfig& variant, std::int64_t m, std::int64_t n,
                                    std::int64_t k) {
  if (k < 32)
    return Error{Errc::invalid_argument, "k",
                 fmt::format("is {}, the exact problem needs >= 32", k)};
  // Column 0 of A holds 127 in every row and column 0 of W zeros: per-token scales are
  // 127 / 127 = 1 and the column adds nothing. Column 1 of W holds 127 in every row (weight
  // scales 1). Elsewhere A in {-1, 0, 1} and W in {-3..3}: |acc| <= 127 + 30 * 3 = 217 for
  // k = 32; larger k keep A's extra columns at 0. The bias is an integer in [-8, 8].
  std::vector<float> a(static_cast<std::size_t>(m * k), 0.0f), w(static_cast<std::size_t>(n * k));
  for (std::int64_t i = 0; i < m; ++i) {
    a[i * k] = 127;
    for (std::int64_t j = 1; j < 32; ++j) a[i * k + j] = static_cast<float>((i + 2 * j) % 3 - 1);
  }
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t j = 0; j < k; ++j)
      w[r * k + j] = j == 0 ? 0.0f : j == 1 ? 127.0f : static_cast<float>((3 * r + j) % 7 - 3);
  std::vector<float> bias(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) bias[r] = static_cast<float>(r % 17 - 8);
  return finish(variant, m, n, k, std::move(a), w, std::move(bias), 1.0f);
}

Expected<quant::GemmReference> reference_rows(const HostProblem& p,
                                              const std::vector<std::int64_t>& rows) {
  const std::int64_t k = p.layer.k;
  std::vector<float> a;
  for (std::int64_t r : rows) a.insert(a.end(), p.a.begin() + r * k, p.a.begin() + (r + 1) * k);
  return quant::reference_gemm(p.layer, {a, static_cast<std::int64_t>(rows.size()), &p.weights,
                                         p.bias, p.static_scale, 0.0f});
}

Expected<DeviceOperands> upload(const runtime::CudaDevice& device, const HostProblem& p) {
  const std::vector<std::uint8_t> a = bits16_of(p.a, p.layer.input_dtype);
  const std::vector<std::uint8_t> w_scale = bytes_of_floats(p.weights.scales);
  const std::vector<std::uint8_t> a_scale = bytes_of_floats({p.static_scale});
  const std::vector<std::uint8_t> bias = bytes_of_floats(p.bias);
  const std::size_t y_bytes = static_cast<std::size_t>(p.m * p.layer.n) * 2;
  // Per-channel weights have one scale per row; a per-tensor scale would be broadcast (abi.h).
  if (p.weights.scales.size() != static_cast<std::size_t>(p.layer.n))
    return Error{Errc::invalid_argument, "weights",
                 fmt::format("have {} scales; the cuda kernel reads one per channel ({})",
                             p.weights.scales.size(), p.layer.n)};
  auto alloc_copy = [&](const std::vector<std::uint8_t>& host) -> Expected<runtime::DeviceBuffer> {
    auto buffer = runtime::DeviceBuffer::allocate(device, std::max<std::size_t>(host.size(), 16));
    if (!buffer) return buffer.error();
    if (auto ok = buffer->upload(host); !ok) return ok.error();
    return buffer;
  };
  auto da = alloc_copy(a);
  if (!da) return da.error();
  auto dw = alloc_copy(p.weights.codes);
  if (!dw) return dw.error();
  auto dws = alloc_copy(w_scale);
  if (!dws) return dws.error();
  auto das = alloc_copy(a_scale);
  if (!das) return das.error();
  auto db = alloc_copy(bias);
  if (!db) return db.error();
  auto dy = runtime::DeviceBuffer::allocate(device, y_bytes);
  if (!dy) return dy.error();
  if (auto ok = dy->fill(0xEE); !ok) return ok.error();  // unwritten outputs show as NaN
  return DeviceOperands{std::move(*da),  std::move(*dw), std::move(*dws),
                        std::move(*das), std::move(*db), std::move(*dy)};
}

QkCudaGemmArgs w8a8_args(const DeviceOperands& ops, const HostProblem& p) {
  QkCudaGemmArgs args{};
  args.a = ops.a.get();
  args.w = static_cast<const int8_t*>(ops.w.get());
  args.w_scale = static_cast<const float*>(ops.w_scale.get());
  args.a_scale = static_cast<const float*>(ops.a_scale.get());
  args.bias = p.layer.epilogue.bias ? static_cast<const float*>(ops.bias.get()) : nullptr;
  args.y = ops.y.get();
  args.m = static_cast<int>(p.m);
  args.n = static_cast<int>(p.layer.n);
  args.k = static_cast<int>(p.layer.k);
  args.out_inv_scale = 0.0f;  // the bench's outputs are fp16/bf16, never requantized
  return args;
}

Expected<std::vector<float>> download_rows(const DeviceOperands& ops, const HostProblem& p,
                                           const std::vector<std::int64_t>& rows) {
  const std::int64_t n = p.layer.n;
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(p.m * n) * 2);
  if (auto ok = ops.y.download(bytes); !ok) return ok.error();
  std::vector<float> out;
  for (std::int64_t r : rows)
    for (std::int64_t c = 0; c < n; ++c) {
      std::uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * (r * n + c), 2);
      out.push_back(p.layer.epilogue.output == QuantType::bf16 ? quant::bf16_to_float(h)
                                                               : quant::fp16_to_float(h));
    }
  return out;
}

}  // namespace qk::bench::gpu
