#include "tuner/search.hpp"

#include <algorithm>
#include <map>
#include <random>

namespace qk::tuner {
namespace {

/// Orders by score (failures last), then by name.
bool better(const Score& a, const std::string& name_a, const Score& b, const std::string& name_b) {
  if (a.median_ns.has_value() != b.median_ns.has_value()) return a.median_ns.has_value();
  if (a.median_ns && *a.median_ns != *b.median_ns) return *a.median_ns < *b.median_ns;
  return name_a < name_b;
}

std::size_t finalist_count(const SearchOptions& options) {
  return std::max<std::size_t>(options.finalists, 1);
}

/// `count` distinct indices of [0, size) including `keep`, by a partial Fisher-Yates shuffle.
/// Uses the engine's raw output (its sequence is fixed by the standard; distributions are not),
/// so a seed gives the same sample with every standard library.
std::vector<std::size_t> sample_indices(std::size_t size, std::size_t count, std::size_t keep,
                                        std::uint64_t seed) {
  std::vector<std::size_t> pool(size);
  for (std::size_t i = 0; i < size; ++i) pool[i] = i;
  std::swap(pool[0], pool[keep]);
  std::mt19937_64 engine(seed);
  for (std::size_t i = 1; i < count; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(engine() % (size - i));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(count);
  std::sort(pool.begin(), pool.end());
  return pool;
}

/// How many of `size` candidates successive halving keeps for its next rung.
std::size_t survivors(std::size_t size, const SearchOptions& options) {
  const std::size_t eta = std::max<std::size_t>(options.eta, 2);
  return std::max(finalist_count(options), (size + eta - 1) / eta);
}

}  // namespace

std::size_t planned_evaluations(std::size_t size, const SearchOptions& options) {
  if (size <= options.exhaustive_limit) return size;
  std::size_t rung = std::min(options.sample, size), total = 0;
  for (; rung > finalist_count(options); rung = survivors(rung, options)) total += rung;
  return total + rung + 1;  // the finalists and the default, at full fidelity
}

std::vector<std::size_t> first_rung(std::size_t size, std::size_t keep,
                                    const SearchOptions& options) {
  if (size <= options.exhaustive_limit) return sample_indices(size, size, keep, options.seed);
  return sample_indices(size, std::min(options.sample, size), keep, options.seed);
}

SearchResult search(std::span<const std::string> names, std::size_t keep, const Evaluate& evaluate,
                    const SearchOptions& options, const EvaluateFinal& evaluate_final) {
  SearchResult result;
  auto run = [&](std::size_t i, Fidelity f) {
    ++result.evaluations;
    return evaluate(i, f);
  };
  auto run_final = [&](const std::vector<std::size_t>& indices) {
    std::vector<Score> scores;
    if (evaluate_final) {
      result.evaluations += indices.size();
      scores = evaluate_final(indices);
    } else {
      for (std::size_t i : indices) scores.push_back(run(i, kFullFidelity));
    }
    for (std::size_t j = 0; j < indices.size(); ++j)
      result.finals.emplace_back(indices[j], j < scores.size() ? scores[j] : Score::failed());
  };
  std::vector<std::size_t> rung = first_rung(names.size(), keep, options);
  result.sampled = rung.size();
  if (names.size() <= options.exhaustive_limit) {
    run_final(rung);
    return result;
  }
  for (Fidelity level = 0; rung.size() > finalist_count(options); ++level) {
    std::vector<std::pair<std::size_t, Score>> scored;
    for (std::size_t i : rung) scored.emplace_back(i, run(i, level));
    std::sort(scored.begin(), scored.end(), [&](const auto& a, const auto& b) {
      return better(a.second, names[a.first], b.second, names[b.first]);
    });
    const std::size_t kept = survivors(scored.size(), options);
    rung.clear();
    for (std::size_t r = 0; r < kept; ++r) rung.push_back(scored[r].first);
  }
  if (std::find(rung.begin(), rung.end(), keep) == rung.end()) rung.push_back(keep);
  std::sort(rung.begin(), rung.end());
  run_final(rung);
  return result;
}

Decision decide(const SearchResult& result, std::span<const std::string> names, std::size_t keep,
                double min_gain) {
  Decision d;
  d.chosen = keep;
  const Score* default_score = nullptr;
  const std::pair<std::size_t, Score>* best = nullptr;
  for (const auto& entry : result.finals) {
    if (entry.first == keep) default_score = &entry.second;
    if (!best || better(entry.second, names[entry.first], best->second, names[best->first]))
      best = &entry;
  }
  if (default_score) d.default_ns = default_score->median_ns;
  if (!best || !best->second.median_ns) return d;  // nothing ran: keep the default
  if (best->first == keep) {
    d.chosen_ns = d.default_ns;
    return d;
  }
  const Score& b = best->second;
  bool clearly_faster = true;
  if (default_score && default_score->median_ns) {
    const double noise =
        std::max({b.spread_ns, default_score->spread_ns, min_gain * *default_score->median_ns});
    clearly_faster = *b.median_ns + noise < *default_score->median_ns;
  }
  if (clearly_faster) {
    d.chosen = best->first;
    d.replaced_default = true;
    d.chosen_ns = b.median_ns;
  } else {
    d.chosen_ns = d.default_ns;
  }
  return d;
}

}  // namespace qk::tuner
