#include "quant/pack_cpu.hpp"

#include <fmt/format.h>

namespace qk::quant {
namespace {

std::int64_t round_up(std::int64_t x, std::int64_t step) {
  return (x + step - 1) / step * step;
}

std::int64_t panel_offset(std::int64_t k_padded, std::int64_t row, std::int64_t k) {
  const std::int64_t panel = row / kCpuPanelN, lane = row % kCpuPanelN;
  return panel * kCpuPanelN * k_padded + (k / kCpuPackK) * kCpuPanelN * kCpuPackK +
         lane * kCpuPackK + k % kCpuPackK;
}

}  // namespace

Expected<CpuPackedWeights> pack_cpu_int8(const QuantizedWeights& w) {
  if (w.format.type != QuantType::int8 || w.format.granularity == WeightGranularity::per_group)
    return Error{Errc::unsupported, "pack_cpu_int8",
                 fmt::format("packs per-tensor or per-channel int8 weights, not {} {}",
                             to_string(w.format.type), to_string(w.format.granularity))};
  CpuPackedWeights p;
  p.type = w.format.type;
  p.n = w.n;
  p.k = w.k;
  p.n_padded = round_up(w.n, kCpuPanelN);
  p.k_padded = round_up(w.k, kCpuPackK);
  p.panels.assign(static_cast<std::size_t>(p.n_padded * p.k_padded), 0);
  p.scales.assign(static_cast<std::size_t>(p.n_padded), 0.0f);
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
    p.scales[row] = w.scale(row, 0);
  }
  return p;
}

std::int8_t cpu_packed_weight(const CpuPackedWeights& packed, std::int64_t row, std::int64_t k) {
  return packed.panels[panel_offset(packed.k_padded, row, k)];
}

}  // namespace qk::quant
