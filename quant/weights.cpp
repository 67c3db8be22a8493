#include "quant/weights.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "quant/float_formats.hpp"
#include "quant/int4_pack.hpp"
#include "quant/quantize.hpp"

namespace qk::quant {

WeightFormat weight_format_of(const LayerConfig& layer) {
  return {layer.weight_quant, layer.weight_granularity, layer.block_size, layer.weight_symmetric};
}

std::int64_t QuantizedWeights::row_bytes() const {
  return (k * bits_of(format.type) + 7) / 8;
}

std::int64_t QuantizedWeights::groups() const {
  return format.granularity == WeightGranularity::per_group ? k / format.block_size : 1;
}

std::int64_t QuantizedWeights::group_of(std::int64_t k_index) const {
  return format.granularity == WeightGranularity::per_group ? k_index / format.block_size : 0;
}

std::int64_t QuantizedWeights::param_index(std::int64_t row, std::int64_t k_index) const {
  if (format.granularity == WeightGranularity::per_tensor) return 0;
  return row * groups() + group_of(k_index);
}

float QuantizedWeights::scale(std::int64_t row, std::int64_t k_index) const {
  return scales[param_index(row, k_index)];
}

int QuantizedWeights::int_value(std::int64_t row, std::int64_t k_index) const {
  const std::uint8_t* row_codes = codes.data() + row * row_bytes();
  if (format.type == QuantType::int8) return static_cast<std::int8_t>(row_codes[k_index]);
  const int code = int4_code_at({row_codes, static_cast<std::size_t>(row_bytes())}, k_index);
  const int zero = format.symmetric ? kInt4SymmetricZero : zero_points[param_index(row, k_index)];
  return code - zero;
}

namespace {
template <class Bits>
Bits load_bits(const std::uint8_t* p) {
  Bits bits;
  std::memcpy(&bits, p, sizeof bits);
  return bits;
}
}  // namespace

float QuantizedWeights::unscaled_value(std::int64_t row, std::int64_t k_index) const {
  const std::uint8_t* row_codes = codes.data() + row * row_bytes();
  switch (format.type) {
    case QuantType::int8:
    case QuantType::int4:
      return static_cast<float>(int_value(row, k_index));
    case QuantType::fp8_e4m3:
    case QuantType::fp8_e5m2:
      return fp8_to_float(row_codes[k_index], fp8_format_of(format.type));
    case QuantType::fp16:
      return fp16_to_float(load_bits<std::uint16_t>(row_codes + 2 * k_index));
    case QuantType::bf16:
      return bf16_to_float(load_bits<std::uint16_t>(row_codes + 2 * k_index));
    case QuantType::fp32:
      return load_bits<float>(row_codes + 4 * k_index);
  }
  return 0.0f;
}

float QuantizedWeights::value(std::int64_t row, std::int64_t k_index) const {
  const float v = unscaled_value(row, k_index);
  return is_float(format.type) ? v : v * scale(row, k_index);
}

namespace {

Expected<void> check_format(std::span<const float> w, std::int64_t n, std::int64_t k,
                            const WeightFormat& f) {
  auto fail = [](std::string what) {
    return Error{Errc::invalid_argument, "quantize_weights", std::move(what)};
  };
  if (n <= 0 || k <= 0) return fail(fmt::format("n = {} and k = {} must be positive", n, k));
  if (static_cast<std::int64_t>(w.size()) != n * k)
    return fail(fmt::format("{} weights given for n * k = {}", w.size(), n * k));
  if (f.granularity == WeightGranularity::per_group && (f.block_size <= 0 || k % f.block_size != 0))
    return fail(fmt::format("k = {} is not a multiple of block_size {}", k, f.block_size));
  if (!f.symmetric && f.type != QuantType::int4)
    return fail(
        fmt::format("asymmetric weights are supported for int4 only, not {}", to_string(f.type)));
  return {};
}

// The elements sharing one scale: a [rows, cols] block at (row0, col0) of the [n, k] matrix.
struct ScaleBlock {
  std::int64_t row0, rows, col0, cols;
};

ScaleBlock block_of(const QuantizedWeights& q, std::int64_t row, std::int64_t group) {
  switch (q.format.granularity) {
    case WeightGranularity::per_tensor:
      return {0, q.n, 0, q.k};
    case WeightGranularity::per_channel:
      return {row, 1, 0, q.k};
    case WeightGranularity::per_group:
      return {row, 1, group * q.format.block_size, q.format.block_size};
  }
  return {};
}

struct FiniteRange {
  float lo = 0.0f, hi = 0.0f, absmax = 0.0f;
};

FiniteRange finite_range(std::span<const float> w, std::int64_t k, const ScaleBlock& b) {
  FiniteRange r;
  for (std::int64_t i = b.row0; i < b.row0 + b.rows; ++i) {
    const auto row = w.subspan(i * k + b.col0, b.cols);
    r.absmax = std::max(r.absmax, finite_absmax(row));
    for (float v : row) {
      if (!std::isfinite(v)) continue;
      r.lo = std::min(r.lo, v);
      r.hi = std::max(r.hi, v);
    }
  }
  return r;
}

void store_float(QuantizedWeights& q, std::span<const float> w) {
  const int bytes = bits_of(q.format.type) / 8;
  for (std::size_t i = 0; i < w.size(); ++i) {
    std::uint8_t* dst = q.codes.data() + i * bytes;
    if (q.format.type == QuantType::fp32) {
      std::memcpy(dst, &w[i], 4);
    } else {
      const std::uint16_t bits =
          q.format.type == QuantType::fp16 ? float_to_fp16(w[i]) : float_to_bf16(w[i]);
      std::memcpy(dst, &bits, 2);
    }
  }
}

}  // namespace

Expected<QuantizedWeights> quantize_weights(std::span<const float> w, std::int64_t n,
                                            std::int64_t k, const WeightFormat& format) {
  if (auto ok = check_format(w, n, k, format); !ok) return ok.error();
  QuantizedWeights q;
  q.format = format;
  q.n = n;
  q.k = k;
  q.codes.assign(static_cast<std::size_t>(n * q.row_bytes()), 0);
  if (is_float(format.type)) {
    store_float(q, w);
    return q;
  }

  const bool per_tensor = format.granularity == WeightGranularity::per_tensor;
  const std::int64_t scale_rows = per_tensor ? 1 : n;
  q.scales.resize(static_cast<std::size_t>(scale_rows * q.groups()));
  if (!format.symmetric) q.zero_points.resize(q.scales.size());

  std::vector<std::uint8_t> int4_codes;
  if (format.type == QuantType::int4) int4_codes.resize(static_cast<std::size_t>(n * k));

  for (std::int64_t r = 0; r < scale_rows; ++r) {
    for (std::int64_t g = 0; g < q.groups(); ++g) {
      const ScaleBlock b = block_of(q, r, g);
      const FiniteRange range = finite_range(w, k, b);
      float scale = symmetric_scale(range.absmax, format.type);
      int zero = kInt4SymmetricZero;
      if (!format.symmetric) {
        const AsymmetricInt4 p = asymmetric_int4_params(range.lo, range.hi);
        scale = p.scale;
        zero = p.zero_point;
        q.zero_points[r * q.groups() + g] = static_cast<std::uint8_t>(zero);
      }
      q.scales[r * q.groups() + g] = scale;
      const float inv = inverse_scale(scale);
      for (std::int64_t i = b.row0; i < b.row0 + b.rows; ++i) {
        for (std::int64_t j = b.col0; j < b.col0 + b.cols; ++j) {
          const float x = w[i * k + j];
          switch (format.type) {
            case QuantType::int8:
              q.codes[i * q.row_bytes() + j] = static_cast<std::uint8_t>(quantize_int8(x, inv));
              break;
            case QuantType::int4:
              int4_codes[i * k + j] = quantize_int4(x, inv, zero);
              break;
            default:
              q.codes[i * q.row_bytes() + j] = quantize_fp8(x, inv, fp8_format_of(format.type));
              break;
          }
        }
      }
    }
  }
  if (format.type == QuantType::int4) q.codes = pack_int4(int4_codes, n, k);
  return q;
}

std::vector<float> dequantize_weights(const QuantizedWeights& weights) {
  std::vector<float> out(static_cast<std::size_t>(weights.n * weights.k));
  for (std::int64_t i = 0; i < weights.n; ++i)
    for (std::int64_t j = 0; j < weights.k; ++j) out[i * weights.k + j] = weights.value(i, j);
  return out;
}

}  // namespace qk::quant
