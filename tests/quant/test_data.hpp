// Deterministic random inputs for the quant tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace qk::test {

/// rows x cols normal(0, stddev) values from a fixed seed, with every `outlier_every`-th column
/// scaled by `outlier_gain` (activation outlier channels, as in LLMs; 0 = none).
inline std::vector<float> random_matrix(std::int64_t rows, std::int64_t cols, unsigned seed,
                                        float stddev = 1.0f, std::int64_t outlier_every = 0,
                                        float outlier_gain = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      float v = normal(rng);
      if (outlier_every > 0 && j % outlier_every == 0) v *= outlier_gain;
      out[i * cols + j] = v;
    }
  return out;
}

}  // namespace qk::test
