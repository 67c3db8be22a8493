// The data a layer is tuned on: weights packed once and copied so that every timed run reads
// them cold, activations per M bucket in the layer's input dtype (rotated likewise), and the
// reference outputs every candidate is checked against before its time counts (docs/tuning.md,
// "Measurement").
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "qk/jit.hpp"
#include "quant/reference_gemm.hpp"
#include "tuner/rotating_buffers.hpp"

namespace qk::tuner {

/// A layer's weights, quantized and packed (any kernel of the layer packs them alike).
class LayerWeights {
 public:
  /// Random weights for `layer`, packed by `kernel` into enough copies that cycling through them
  /// streams at least kRotationCacheMultiple x the last-level cache (at most 64 copies: a layer
  /// whose 64 copies fit in the LLC is measured warm).
  static Expected<std::shared_ptr<const LayerWeights>> create(const Kernel& kernel,
                                                              std::uint64_t seed);

  const quant::QuantizedWeights& quantized() const { return quantized_; }
  const PackedWeights& copy(std::size_t i) const { return packed_[i % packed_.size()]; }
  std::size_t copies() const { return packed_.size(); }
  const std::vector<float>& bias() const { return bias_; }

 private:
  quant::QuantizedWeights quantized_;
  std::vector<PackedWeights> packed_;
  std::vector<float> bias_;  // [n], used when the layer has a bias
};

/// One bucket's problem: M = bucket rows of activations over the layer's weights.
class TuningProblem {
 public:
  /// Activations are uniform in [-1, 1] except one element of row 0 at 4: the tensor's absmax
  /// lies in row 0, so a reference over rows {0, M/2, M-1} sees the same per-tensor scale as the
  /// whole input, and checking three rows costs 3 x n x k reference products, whatever M is.
  static Expected<TuningProblem> create(const LayerConfig& layer,
                                        std::shared_ptr<const LayerWeights> weights, std::int64_t m,
                                        std::uint64_t seed);

  /// One run of `kernel` on rotation set i (timed by the caller). @pre check(kernel) succeeded
  void run(const Kernel& kernel, std::size_t i);
  /// Runs `kernel` once and compares the checked rows with the reference (docs/numerics.md §8).
  /// The error says which row and element differ.
  Expected<void> check(const Kernel& kernel);

  std::int64_t m() const { return m_; }

 private:
  Expected<void> call(const Kernel& kernel, std::size_t i);

  LayerConfig layer_;
  std::shared_ptr<const LayerWeights> weights_;
  std::int64_t m_ = 0;
  RotatingBuffer inputs_;          // [m, k] in the layer's input dtype
  std::vector<std::uint8_t> out_;  // [m, n] in the layer's output dtype
  std::vector<std::int64_t> checked_rows_;
  quant::GemmReference reference_;  // of checked_rows_
  RunParams params_;
};

}  // namespace qk::tuner
