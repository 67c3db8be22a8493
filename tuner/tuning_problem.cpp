#include "tuner/tuning_problem.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "quant/float_formats.hpp"
#include "quant/tolerance.hpp"
#include "tuner/measure.hpp"

namespace qk::tuner {
namespace {

constexpr float kRowZeroPeak = 4.0f;  // the tensor's absmax, in row 0
constexpr float kStaticScale = kRowZeroPeak / 127.0f;
constexpr float kOutputScale = 0.05f;  // int8 outputs: any valid scale checks the same rules
// A layer so small that this many copies fit in the last-level cache is measured warm: a
// rotation over 4x the LLC would take thousands of copies of it (and as many packings).
constexpr std::size_t kMaxCopies = 64;

std::size_t copies_for(std::size_t bytes) {
  return std::min(kMaxCopies, rotation_count(bytes, last_level_cache_bytes()));
}

std::vector<float> uniform(std::size_t count, std::uint64_t seed, float amplitude) {
  std::mt19937_64 engine(seed);
  std::vector<float> v(count);
  // The raw engine output mapped to [-1, 1): no distribution object, same data everywhere.
  for (float& x : v) x = amplitude * (static_cast<float>(engine() >> 40) / 8388608.0f - 1.0f);
  return v;
}

float stored_as_float(const std::uint8_t* p, QuantType t) {
  std::uint16_t h = 0;
  switch (t) {
    case QuantType::fp32: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case QuantType::fp16:
      std::memcpy(&h, p, 2);
      return quant::fp16_to_float(h);
    case QuantType::bf16:
      std::memcpy(&h, p, 2);
      return quant::bf16_to_float(h);
    default:
      return static_cast<float>(static_cast<std::int8_t>(*p));
  }
}

}  // namespace

Expected<std::shared_ptr<const LayerWeights>> LayerWeights::create(const Kernel& kernel,
                                                                   std::uint64_t seed) {
  const LayerConfig& layer = kernel.layer();
  auto weights = std::make_shared<LayerWeights>();
  const auto w = uniform(static_cast<std::size_t>(layer.n * layer.k), seed, 0.05f);
  auto quantized = quant::quantize_weights(w, layer.n, layer.k, quant::weight_format_of(layer));
  if (!quantized) return quantized.error();
  weights->quantized_ = std::move(*quantized);
  weights->bias_ = uniform(static_cast<std::size_t>(layer.n), seed + 1, 0.5f);
  const auto bytes = static_cast<std::size_t>(weight_storage_bytes(layer));
  const std::size_t copies = copies_for(bytes);
  for (std::size_t c = 0; c < copies; ++c) {
    auto packed = kernel.pack(weights->quantized_);
    if (!packed) return packed.error();
    weights->packed_.push_back(std::move(*packed));
  }
  return std::shared_ptr<const LayerWeights>(std::move(weights));
}

Expected<TuningProblem> TuningProblem::create(const LayerConfig& layer,
                                              std::shared_ptr<const LayerWeights> weights,
                                              std::int64_t m, std::uint64_t seed) {
  TuningProblem p;
  p.layer_ = layer;
  p.weights_ = std::move(weights);
  p.m_ = m;
  std::vector<float> a = uniform(static_cast<std::size_t>(m * layer.k), seed, 1.0f);
  a[0] = kRowZeroPeak;

  const std::size_t in_bytes = bits_of(layer.input_dtype) / 8;
  std::vector<std::uint8_t> encoded(a.size() * in_bytes);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (layer.input_dtype == QuantType::fp32) {
      std::memcpy(&encoded[i * 4], &a[i], 4);
    } else {
      const std::uint16_t h = layer.input_dtype == QuantType::fp16 ? quant::float_to_fp16(a[i])
                                                                   : quant::float_to_bf16(a[i]);
      std::memcpy(&encoded[i * 2], &h, 2);
    }
  }
  const std::size_t sets = copies_for(encoded.size());
  auto inputs = RotatingBuffer::create(std::as_bytes(std::span(encoded)), sets);
  if (!inputs) return inputs.error();
  p.inputs_ = std::move(*inputs);
  p.out_.resize(static_cast<std::size_t>(m * layer.n) * (bits_of(layer.epilogue.output) / 8));

  p.checked_rows_ = {0, m / 2, m - 1};
  p.checked_rows_.erase(std::unique(p.checked_rows_.begin(), p.checked_rows_.end()),
                        p.checked_rows_.end());
  std::vector<float> rows;
  for (std::int64_t r : p.checked_rows_)
    rows.insert(rows.end(), a.begin() + r * layer.k, a.begin() + (r + 1) * layer.k);
  p.params_ = {p.weights_->bias(), kStaticScale, kOutputScale};
  auto reference = quant::reference_gemm(
      layer,
      {rows, static_cast<std::int64_t>(p.checked_rows_.size()), &p.weights_->quantized(),
       layer.epilogue.bias ? std::span<const float>(p.weights_->bias()) : std::span<const float>(),
       kStaticScale, kOutputScale});
  if (!reference) return reference.error();
  p.reference_ = std::move(*reference);
  return p;
}

Expected<void> TuningProblem::call(const Kernel& kernel, std::size_t i) {
  return kernel({inputs_.set(i), layer_.input_dtype, m_, layer_.k, layer_.k}, weights_->copy(i),
                {out_.data(), layer_.epilogue.output, m_, layer_.n, layer_.n}, params_);
}

void TuningProblem::run(const Kernel& kernel, std::size_t i) {
  (void)call(kernel, i);  // the same call succeeded in check()
}

Expected<void> TuningProblem::check(const Kernel& kernel) {
  std::fill(out_.begin(), out_.end(), std::uint8_t{0xEE});  // no stale result can pass
  if (auto ran = call(kernel, 0); !ran) return ran;
  const std::size_t out_bytes = bits_of(layer_.epilogue.output) / 8;
  std::vector<float> y;
  for (std::int64_t r : checked_rows_)
    for (std::int64_t j = 0; j < layer_.n; ++j)
      y.push_back(stored_as_float(&out_[static_cast<std::size_t>(r * layer_.n + j) * out_bytes],
                                  layer_.epilogue.output));
  if (auto ok = quant::compare_to_reference(layer_, reference_, y); !ok)
    return Error{Errc::compile_error, kernel.name(m_),
                 fmt::format("wrong result at M = {} (checked rows {}): {}", m_,
                             fmt::join(checked_rows_, ", "), ok.error().message)};
  return {};
}

}  // namespace qk::tuner
