// SmoothQuant's per-channel smoothing (docs/numerics.md §9; Xiao et al. 2023): moves activation
// outliers into the weights, channel by channel along K, so that per-token activation scales and
// per-channel weight scales (both on outer dimensions) can quantize the layer well.
//
//   s_j = max|X_j|^alpha / max|W_j|^(1 - alpha),   X' = X / s (per column j),  W'[:, j] = W[:, j] *
//   s_j
//
// X W^T is unchanged in exact arithmetic. The division of X is folded into the operator that
// produces X (a norm's gamma and beta), so it costs nothing at run time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qk/error.hpp"

namespace qk::quant {

/// Per input channel j of K: max over rows of |X[:, j]| of calibration activations x ([rows, k]).
/// Non-finite values are ignored, as in finite_absmax.
std::vector<float> channel_absmax(std::span<const float> x, std::int64_t rows, std::int64_t k);

/// Smoothing factors s ([k]) from per-channel activation and weight absmax (each [k]; for
/// several linears reading the same input, pass the max of their weight absmax). Evaluated in
/// double and rounded to float. A channel whose activation or weight absmax is 0 or not finite
/// gets s_j = 1 (nothing to balance). Errors: alpha outside [0, 1], sizes that differ.
Expected<std::vector<float>> smoothquant_factors(std::span<const float> act_absmax,
                                                 std::span<const float> weight_absmax,
                                                 double alpha);

/// W'[:, j] = W[:, j] * s_j for w ([n, k] row-major).
void fold_smoothing_into_weights(std::span<float> w, std::int64_t n, std::span<const float> s);

/// gamma_j /= s_j and beta_j /= s_j of the norm that produces X (beta may be empty), so that
/// the norm emits X / s directly.
void fold_smoothing_into_norm(std::span<float> gamma, std::span<float> beta,
                              std::span<const float> s);

}  // namespace qk::quant
