#include "quant/smoothquant.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace qk::quant {

std::vector<float> channel_absmax(std::span<const float> x, std::int64_t rows, std::int64_t k) {
  std::vector<float> amax(static_cast<std::size_t>(k), 0.0f);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < k; ++j) {
      const float v = x[i * k + j];
      if (std::isfinite(v)) amax[j] = std::max(amax[j], std::fabs(v));
    }
  return amax;
}

Expected<std::vector<float>> smoothquant_factors(std::span<const float> act_absmax,
                                                 std::span<const float> weight_absmax,
                                                 double alpha) {
  if (!(alpha >= 0.0 && alpha <= 1.0))
    return Error{Errc::invalid_argument, "smoothquant_alpha",
                 fmt::format("{} is outside [0, 1]", alpha)};
  if (act_absmax.size() != weight_absmax.size())
    return Error{Errc::invalid_argument, "smoothquant_factors",
                 fmt::format("{} activation channels but {} weight channels", act_absmax.size(),
                             weight_absmax.size())};
  std::vector<float> s(act_absmax.size(), 1.0f);
  for (std::size_t j = 0; j < s.size(); ++j) {
    const double a = act_absmax[j], w = weight_absmax[j];
    if (!(a > 0.0 && std::isfinite(a) && w > 0.0 && std::isfinite(w))) continue;
    const auto factor = static_cast<float>(std::pow(a, alpha) / std::pow(w, 1.0 - alpha));
    // Extreme ratios could leave float's range; such a channel is better left unsmoothed.
    if (std::isfinite(factor) && factor > 0.0f) s[j] = factor;
  }
  return s;
}

void fold_smoothing_into_weights(std::span<float> w, std::int64_t n, std::span<const float> s) {
  const auto k = static_cast<std::int64_t>(s.size());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < k; ++j) w[i * k + j] *= s[j];
}

void fold_smoothing_into_norm(std::span<float> gamma, std::span<float> beta,
                              std::span<const float> s) {
  for (std::size_t j = 0; j < s.size(); ++j) {
    gamma[j] /= s[j];
    if (!beta.empty()) beta[j] /= s[j];
  }
}

}  // namespace qk::quant
