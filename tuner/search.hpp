// Search strategies over a finite list of candidates (tile configs), independent of what a
// candidate is or how it is timed: the caller's evaluate() compiles, checks and measures, and
// may return a failure ("infinitely slow"). Deterministic given the seed (docs/tuning.md,
// "Strategies").
//
// Example:
//   SearchResult r = search(names, default_index, [&](std::size_t i, Fidelity rung) {
//     return time_candidate(i, f);  // Score{median, spread} or Score::failed()
//   }, {.seed = 7});
//   Decision d = decide(r, default_index);
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace qk::tuner {

/// How thoroughly a candidate is measured: screening rung 0, 1, ... of successive halving (each
/// rung measures its fewer survivors longer than the rung before), or kFullFidelity, the whole
/// protocol of measure.hpp.
using Fidelity = int;
inline constexpr Fidelity kFullFidelity = -1;

/// One evaluation's result. A candidate without a median failed (did not compile, gave a wrong
/// result, ran out of resources or of the budget): it ranks after every candidate that ran.
struct Score {
  std::optional<double> median_ns;
  double spread_ns = 0;  ///< interquartile range of the repeats
  static Score failed() { return {}; }
};

using Evaluate = std::function<Score(std::size_t candidate, Fidelity fidelity)>;

/// Evaluates the final rung's candidates together at full fidelity (so that they can be timed
/// side by side, interleaved); returns one score per candidate, in order.
using EvaluateFinal = std::function<std::vector<Score>(const std::vector<std::size_t>&)>;

struct SearchOptions {
  /// Spaces of at most this many candidates are measured exhaustively at full fidelity.
  std::size_t exhaustive_limit = 12;
  /// Larger spaces: how many candidates the seeded random sample takes (the default included).
  std::size_t sample = 24;
  /// Successive halving keeps the best 1/eta of each rung.
  std::size_t eta = 3;
  /// Candidates measured at full fidelity at the end of successive halving.
  std::size_t finalists = 3;
  std::uint64_t seed = 1;
};

struct SearchResult {
  /// Full-fidelity score of every candidate that reached the final rung (indices into names).
  std::vector<std::pair<std::size_t, Score>> finals;
  std::size_t evaluations = 0;  ///< calls of evaluate(), all fidelities
  std::size_t sampled = 0;      ///< distinct candidates evaluated at all
};

/// Searches `names` (one canonical name per candidate, used to break ties deterministically).
/// `keep` (the heuristic default) is always sampled and always measured at full fidelity, so
/// that decide() compares the winner with it side by side.
/// - names.size() <= exhaustive_limit: every candidate at full fidelity;
/// - else: a sample of `sample` candidates drawn with std::mt19937_64(seed), then successive
///   halving: each rung measures its candidates (rung r at fidelity r) and keeps the best
///   ceil(size / eta), until `finalists` remain; those (and `keep`) are measured at full fidelity.
/// @pre keep < names.size()
/// With `evaluate_final`, the full-fidelity candidates (the finalists and `keep`, or a whole small
/// space) are evaluated by it in one call instead of one by one by `evaluate`.
SearchResult search(std::span<const std::string> names, std::size_t keep, const Evaluate& evaluate,
                    const SearchOptions& options = {}, const EvaluateFinal& evaluate_final = {});

/// The candidates search() evaluates first, ascending: all of a space of at most
/// exhaustive_limit, else the seeded sample (always with `keep`). What a caller may prepare
/// (compile) ahead of the search.
std::vector<std::size_t> first_rung(std::size_t size, std::size_t keep,
                                    const SearchOptions& options);

/// How many evaluations search() makes for a space of `size` candidates: exactly this, or one
/// fewer when `keep` is among the finalists. For progress displays.
std::size_t planned_evaluations(std::size_t size, const SearchOptions& options);

/// The config a search settles on.
struct Decision {
  std::size_t chosen = 0;  ///< the winner, or `keep` when no candidate beat it clearly
  bool replaced_default = false;
  std::optional<double> chosen_ns, default_ns;
};

/// The fastest finalist replaces `keep` only when it is faster by more than the noise: its median
/// plus the larger of the two interquartile ranges (and at least `min_gain` of the default's
/// median) must stay below the default's median. Ties between finalists break by name, so the
/// same measurements always give the same choice. A default that failed is replaced by any
/// finalist that ran.
Decision decide(const SearchResult& result, std::span<const std::string> names, std::size_t keep,
                double min_gain = 0.01);

}  // namespace qk::tuner
