// Re-timing stored winners on this device before trusting them (qk-cache verify --retime): a
// winner shipped in a cache, or measured on a noisy day, must still beat its default here, side
// by side, or the default takes its place (docs/tuning.md, "Trusting a shipped cache").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cache/tuning_records.hpp"
#include "tuner/workload_tuner.hpp"

namespace qk::tuner {

struct RetimeResult {
  cache::WinnerRecord stored;  ///< the record as it was
  std::string workload_json;
  std::optional<double> winner_ns, default_ns;  ///< measured now, side by side
  bool confirmed = false;  ///< the winner still beats the default by more than the noise
  std::string problem;     ///< why it could not be measured (then it is not confirmed)
};

/// Re-times the `top_k` winners of settings.cache recorded for this device (settings.cpu_level,
/// settings.threads) and this qk's template revision whose tile differs from their default, the
/// largest claimed speedups first, each beside its default with the full measurement protocol
/// (interleaved run by run: measure_interleaved).
/// A winner that is not confirmed is replaced in the cache by its default (with the times just
/// measured), so compile() runs the default for that bucket from now on.
Expected<std::vector<RetimeResult>> retime_winners(const TuneSettings& settings, std::size_t top_k);

}  // namespace qk::tuner
