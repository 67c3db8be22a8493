#include "quant/pack_cpu.hpp"

#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "quant/quantize.hpp"

namespace qk::quant {
namespace {

std::int64_t round_up(std::int64_t x, std::int64_t step) {
  return (x + step - 1) / step * step;
}

// int4: byte offset of (row, k) and whether it is the high nibble (8 k per 64-byte block).
std::pair<std::int64_t, bool> int4_offset(std::int64_t k_padded, std::int64_t row, std::int64_t k) {
  const std::int64_t panel = row / kCpuPanelN, lane = row % kCpuPanelN;
  const std::int64_t block = k / 8, within = k % 8;
  return {panel * kCpuPanelN * k_padded / 2 + block * 64 + lane * 4 + within % 4, within >= 4};
}

std::int64_t panel_offset(std::int64_t k_padded, std::int64_t row, std::int64_t k) {
  const std::int64_t panel = row / kCpuPanelN, lane = row % kCpuPanelN;
  return panel * kCpuPanelN * k_padded + (k / kCpuPackK) * kCpuPanelN * kCpuPackK +
         lane * kCpuPackK + k % kCpuPackK;
}

// float types: byte offset of (row, k), K-major 16-column panels of `bytes`-byte elements.
std::int64_t float_offset(std::int64_t k_padded, std::int64_t bytes, std::int64_t row,
                          std::int64_t k) {
  const std::int64_t panel = row / kCpuPanelN, lane = row % kCpuPanelN;
  return (panel * kCpuPanelN * k_padded + k * kCpuPanelN + lane) * bytes;
}

// The shape fields and per-channel scales shared by the int8 and fp8 layouts.
CpuPackedWeights byte_panels(const QuantizedWeights& w) {
  CpuPackedWeights p;
  p.type = w.format.type;
  p.n = w.n;
  p.k = w.k;
  p.n_padded = round_up(w.n, kCpuPanelN);
  p.k_padded = round_up(w.k, kCpuPackK);
  // Per-group scales exist for W8A16 only (validate_layer); its groups hold whole 4-k steps.
  const bool grouped = w.format.granularity == WeightGranularity::per_group;
  p.groups = grouped ? w.groups() : 1;
  p.group_k = grouped ? w.format.block_size : p.k_padded;
  p.panels.assign(static_cast<std::size_t>(p.n_padded * p.k_padded), 0);
  p.scales.assign(static_cast<std::size_t>(p.groups * p.n_padded), 0.0f);
  for (std::int64_t row = 0; row < w.n; ++row)
    for (std::int64_t g = 0; g < p.groups; ++g)
      p.scales[g * p.n_padded + row] = w.scale(row, g * p.group_k);
  return p;
}

}  // namespace

Expected<CpuPackedWeights> pack_cpu_int8(const QuantizedWeights& w) {
  if (w.format.type != QuantType::int8)
    return Error{Errc::unsupported, "pack_cpu_int8",
                 fmt::format("packs int8 weights, not {} {}", to_string(w.format.type),
                             to_string(w.format.granularity))};
  CpuPackedWeights p = byte_panels(w);
  p.compensation.assign(static_cast<std::size_t>(p.n_padded), 0);
  for (std::int64_t row = 0; row < w.n; ++row) {
    std::int64_t sum = 0;
    for (std::int64_t k = 0; k < w.k; ++k) {
      const auto value = static_cast<std::int8_t>(w.int_value(row, k));
      p.panels[panel_offset(p.k_padded, row, k)] = value;
      sum += value;
    }
    // Near the K bound 128 * sum exceeds int32. The kernel's sums wrap modulo 2^32 and so may
    // this correction: the difference is still exact (conversion to int32 is modular in C++20).
    p.compensation[row] = static_cast<std::int32_t>(static_cast<std::uint32_t>(128 * sum));
  }
  return p;
}

Expected<CpuPackedWeights> pack_cpu_int4(const QuantizedWeights& w) {
  if (w.format.type != QuantType::int4)
    return Error{Errc::unsupported, "pack_cpu_int4",
                 fmt::format("packs int4 weights, not {}", to_string(w.format.type))};
  CpuPackedWeights p;
  p.type = w.format.type;
  p.n = w.n;
  p.k = w.k;
  p.n_padded = round_up(w.n, kCpuPanelN);
  p.k_padded = round_up(w.k, 8);
  const bool grouped = w.format.granularity == WeightGranularity::per_group;
  p.groups = grouped ? w.groups() : 1;
  p.group_k = grouped ? w.format.block_size : p.k_padded;
  p.panels.assign(static_cast<std::size_t>(p.n_padded * p.k_padded / 2), 0);
  p.scales.assign(static_cast<std::size_t>(p.groups * p.n_padded), 0.0f);
  p.zero_points.assign(p.scales.size(), 0);
  for (std::int64_t row = 0; row < w.n; ++row) {
    for (std::int64_t g = 0; g < p.groups; ++g) {
      const std::int64_t first_k = g * p.group_k;
      p.scales[g * p.n_padded + row] = w.scale(row, first_k);
      p.zero_points[g * p.n_padded + row] =
          w.format.symmetric ? kInt4SymmetricZero : w.zero_points[w.param_index(row, first_k)];
    }
    for (std::int64_t k = 0; k < w.k; ++k) {
      const std::int32_t zero = p.zero_points[(k / p.group_k) * p.n_padded + row];
      const auto code = static_cast<unsigned>(w.int_value(row, k) + zero);
      const auto [offset, high] = int4_offset(p.k_padded, row, k);
      p.panels[offset] = static_cast<std::int8_t>(static_cast<unsigned>(p.panels[offset] & 0xFF) |
                                                  (high ? code << 4 : code));
    }
  }
  return p;
}

Expected<CpuPackedWeights> pack_cpu_fp8(const QuantizedWeights& w) {
  if (!is_fp8(w.format.type) || w.format.granularity == WeightGranularity::per_group)
    return Error{Errc::unsupported, "pack_cpu_fp8",
                 fmt::format("packs per-tensor or per-channel fp8 weights, not {} {}",
                             to_string(w.format.type), to_string(w.format.granularity))};
  CpuPackedWeights p = byte_panels(w);
  for (std::int64_t row = 0; row < w.n; ++row)
    for (std::int64_t k = 0; k < w.k; ++k)
      p.panels[panel_offset(p.k_padded, row, k)] =
          static_cast<std::int8_t>(w.codes[row * w.row_bytes() + k]);
  return p;
}

Expected<CpuPackedWeights> pack_cpu_float(const QuantizedWeights& w) {
  if (!is_float(w.format.type))
    return Error{Errc::unsupported, "pack_cpu_float",
                 fmt::format("packs fp16, bf16 or fp32 weights, not {}", to_string(w.format.type))};
  const std::int64_t bytes = bits_of(w.format.type) / 8;
  CpuPackedWeights p;
  p.type = w.format.type;
  p.n = w.n;
  p.k = w.k;
  p.n_padded = round_up(w.n, kCpuPanelN);
  p.k_padded = round_up(w.k, 64 / (kCpuPanelN * bytes));  // whole 64-byte blocks
  p.group_k = p.k_padded;
  p.panels.assign(static_cast<std::size_t>(p.n_padded * p.k_padded * bytes), 0);
  for (std::int64_t row = 0; row < w.n; ++row)
    for (std::int64_t k = 0; k < w.k; ++k)
      std::memcpy(p.panels.data() + float_offset(p.k_padded, bytes, row, k),
                  w.codes.data() + row * w.row_bytes() + k * bytes,
                  static_cast<std::size_t>(bytes));
  return p;
}

Expected<CpuPackedWeights> pack_cpu(const QuantizedWeights& w) {
  if (w.format.type == QuantType::int4) return pack_cpu_int4(w);
  if (is_fp8(w.format.type)) return pack_cpu_fp8(w);
  if (is_float(w.format.type)) return pack_cpu_float(w);
  return pack_cpu_int8(w);
}

std::uint32_t cpu_packed_bits(const CpuPackedWeights& packed, std::int64_t row, std::int64_t k) {
  if (packed.type == QuantType::int4)
    return static_cast<std::uint32_t>(cpu_packed_weight(packed, row, k));
  if (!is_float(packed.type))
    return static_cast<std::uint8_t>(packed.panels[panel_offset(packed.k_padded, row, k)]);
  const std::int64_t bytes = bits_of(packed.type) / 8;
  std::uint32_t bits = 0;  // little endian, as the canonical storage
  std::memcpy(&bits, packed.panels.data() + float_offset(packed.k_padded, bytes, row, k),
              static_cast<std::size_t>(bytes));
  return bits;
}

std::int8_t cpu_packed_weight(const CpuPackedWeights& packed, std::int64_t row, std::int64_t k) {
  if (packed.type != QuantType::int4) return packed.panels[panel_offset(packed.k_padded, row, k)];
  const auto [offset, high] = int4_offset(packed.k_padded, row, k);
  const auto byte = static_cast<std::uint8_t>(packed.panels[offset]);
  return static_cast<std::int8_t>(high ? byte >> 4 : byte & 0x0F);
}

}  // namespace qk::quant
