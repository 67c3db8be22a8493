// The search strategies on synthetic cost landscapes (no real timing: the "measurement" is a
// function of the candidate, with optional noise in the quick rungs).
#include "tuner/search.hpp"

#include <cmath>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace {

using qk::tuner::Fidelity;
using qk::tuner::Score;

std::vector<std::string> names_of(std::size_t count) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < count; ++i) names.push_back(fmt::format("c{:03}", i));
  return names;
}

// A bowl with its minimum at `best`, every cost >= 1000 ns.
Score bowl(std::size_t i, std::size_t best) {
  const double d = static_cast<double>(i) - static_cast<double>(best);
  return {1000.0 + 10.0 * d * d, 5.0};
}

TEST(Search, ExhaustiveFindsTheOptimumOfASmallSpace) {
  const auto names = names_of(10);
  std::map<std::size_t, int> calls;
  auto result = qk::tuner::search(names, 0, [&](std::size_t i, Fidelity f) {
    EXPECT_EQ(f, qk::tuner::kFullFidelity);
    ++calls[i];
    return bowl(i, 7);
  });
  EXPECT_EQ(result.evaluations, 10u);
  EXPECT_EQ(calls.size(), 10u);
  const auto d = qk::tuner::decide(result, names, 0);
  EXPECT_EQ(d.chosen, 7u);
  EXPECT_TRUE(d.replaced_default);
  EXPECT_EQ(*d.chosen_ns, 1000.0);
}

TEST(Search, SuccessiveHalvingFindsTheOptimumWhenSampledAndMeasuresFewFully) {
  const auto names = names_of(200);
  // Sample the whole space so that the optimum is certainly in it; quick rungs are noisy.
  std::size_t full = 0;
  auto result = qk::tuner::search(
      names, 3,
      [&](std::size_t i, Fidelity f) {
        if (f == qk::tuner::kFullFidelity) {
          ++full;
          return bowl(i, 150);
        }
        Score s = bowl(i, 150);
        *s.median_ns *= 1.0 + 0.02 * std::sin(static_cast<double>(i));  // +-2% noise
        return s;
      },
      {.sample = 200, .eta = 3, .finalists = 3, .seed = 11});
  EXPECT_EQ(result.sampled, 200u);
  EXPECT_EQ(full, 4u) << "3 finalists and the default";
  EXPECT_LT(result.evaluations, 200u + 67u + 23u + 8u + 3u + 4u);
  EXPECT_EQ(qk::tuner::decide(result, names, 3).chosen, 150u);
}

TEST(Search, EachRungMeasuresItsSurvivorsAtAHigherFidelity) {
  const auto names = names_of(81);
  std::map<int, std::size_t> per_rung;
  qk::tuner::search(names, 0,
                    [&](std::size_t i, Fidelity f) {
                      ++per_rung[f];
                      return bowl(i, 40);
                    },
                    {.sample = 81, .eta = 3, .finalists = 3, .seed = 2});
  EXPECT_EQ(per_rung[0], 81u);
  EXPECT_EQ(per_rung[1], 27u);
  EXPECT_EQ(per_rung[2], 9u);
  EXPECT_EQ(per_rung[qk::tuner::kFullFidelity], 4u) << "3 finalists and the default";
  EXPECT_EQ(per_rung.size(), 4u);
  EXPECT_EQ(qk::tuner::planned_evaluations(81, {.sample = 81, .eta = 3, .finalists = 3}),
            81u + 27u + 9u + 4u);
  EXPECT_EQ(qk::tuner::planned_evaluations(10, {}), 10u) << "exhaustive";
}

TEST(Search, SampleIsDeterministicGivenTheSeedAndKeepsTheDefault) {
  const auto names = names_of(100);
  auto sampled_with = [&](std::uint64_t seed) {
    std::vector<std::size_t> seen;
    qk::tuner::search(names, 42,
                      [&](std::size_t i, Fidelity f) {
                        if (f == 0) seen.push_back(i);
                        return bowl(i, 0);
                      },
                      {.sample = 16, .seed = seed});
    return seen;
  };
  const auto a = sampled_with(5), b = sampled_with(5), c = sampled_with(6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_GE(a.size(), 16u);
  EXPECT_NE(std::find(a.begin(), a.begin() + 16, 42u), a.begin() + 16) << "the default is sampled";
}

TEST(Search, FailuresAreInfinitelySlowNeverChosen) {
  const auto names = names_of(30);
  auto result = qk::tuner::search(
      names, 0, [&](std::size_t i, Fidelity) { return i % 2 == 1 ? Score::failed() : bowl(i, 13); },
      {.sample = 30, .seed = 1});
  const auto d = qk::tuner::decide(result, names, 0);
  EXPECT_EQ(d.chosen % 2, 0u);
  EXPECT_TRUE(d.chosen == 12 || d.chosen == 14) << d.chosen;
  EXPECT_EQ(d.chosen, 12u) << "equal costs break by name";
}

TEST(Search, DefaultStaysUnlessTheWinnerBeatsTheNoise) {
  const auto names = names_of(3);
  auto with = [&](double winner_ns, double spread) {
    auto result = qk::tuner::search(names, 0, [&](std::size_t i, Fidelity) {
      return i == 0 ? Score{1000.0, spread} : i == 1 ? Score{winner_ns, spread} : Score{2000, 1};
    });
    return qk::tuner::decide(result, names, 0);
  };
  EXPECT_FALSE(with(995.0, 2.0).replaced_default) << "0.5% is inside the 1% floor";
  EXPECT_FALSE(with(960.0, 50.0).replaced_default) << "4% is inside a 5% spread";
  EXPECT_TRUE(with(960.0, 10.0).replaced_default);
  EXPECT_EQ(with(960.0, 10.0).chosen, 1u);
  EXPECT_EQ(*with(995.0, 2.0).chosen_ns, 1000.0) << "the default's time when it stays";
}

TEST(Search, FailedDefaultIsReplacedByAnyCandidateThatRan) {
  const auto names = names_of(3);
  auto result = qk::tuner::search(names, 0, [&](std::size_t i, Fidelity) {
    return i == 2 ? Score{5000.0, 1} : Score::failed();
  });
  const auto d = qk::tuner::decide(result, names, 0);
  EXPECT_EQ(d.chosen, 2u);
  EXPECT_TRUE(d.replaced_default);
}

TEST(Search, NothingRanKeepsTheDefault) {
  const auto names = names_of(3);
  auto result = qk::tuner::search(names, 1, [](std::size_t, Fidelity) { return Score::failed(); });
  const auto d = qk::tuner::decide(result, names, 1);
  EXPECT_EQ(d.chosen, 1u);
  EXPECT_FALSE(d.replaced_default);
}

}  // namespace

namespace {

TEST(Search, FinalRungCanBeEvaluatedTogether) {
  const auto names = names_of(40);
  std::vector<std::vector<std::size_t>> batches;
  auto result = qk::tuner::search(
      names, 5,
      [&](std::size_t i, Fidelity f) {
        EXPECT_NE(f, qk::tuner::kFullFidelity) << "full fidelity goes to the batch";
        return bowl(i, 30);
      },
      {.sample = 40, .seed = 3},
      [&](const std::vector<std::size_t>& indices) {
        batches.push_back(indices);
        std::vector<Score> scores;
        for (std::size_t i : indices) scores.push_back(bowl(i, 30));
        return scores;
      });
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].size(), 4u) << "3 finalists and the default";
  EXPECT_EQ(qk::tuner::decide(result, names, 5).chosen, 30u);
}

}  // namespace
