// The measurement protocol with a fake clock: every duration is scripted, nothing real is timed.
#include "tuner/measure.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

namespace qk::tuner {
namespace {

/// A clock that only moves when a fake run says how long it took.
struct FakeTimeline {
  std::int64_t now = 1'000;  // not zero: measure must not assume the clock starts at 0
  std::vector<std::size_t> indices;
  std::function<std::int64_t(std::size_t)> duration_of;  // ns taken by run(i)

  NowNs clock() {
    return [this] { return now; };
  }
  std::function<void(std::size_t)> runner() {
    return [this](std::size_t i) {
      indices.push_back(i);
      now += duration_of(i);
    };
  }
};

MeasureOptions options(int warmup, int min_repeats, int max_repeats, double min_seconds,
                       double max_seconds, double target = 0.02) {
  MeasureOptions o;
  o.warmup = warmup;
  o.min_repeats = min_repeats;
  o.max_repeats = max_repeats;
  o.min_seconds = min_seconds;
  o.max_seconds = max_seconds;
  o.target_rel_spread = target;
  return o;
}

TEST(MeasureProtocol, WarmupRunsAreNotTimed) {
  FakeTimeline t;
  // Warm-up runs take 10 s each: timing them would both show in the samples and hit max_seconds.
  t.duration_of = [](std::size_t i) -> std::int64_t { return i < 3 ? 10'000'000'000 : 1'000; };
  const Measurement m = measure(t.runner(), options(3, 5, 5, 0.0, 1.0), t.clock());
  EXPECT_EQ(m.repeats, 5);
  ASSERT_EQ(m.samples_ns.size(), 5u);
  for (double s : m.samples_ns) EXPECT_EQ(s, 1'000);
  EXPECT_EQ(t.indices.size(), 8u);  // 3 warm-up + 5 timed
}

TEST(MeasureProtocol, RotationIndexCountsEveryRunIncludingWarmup) {
  FakeTimeline t;
  t.duration_of = [](std::size_t) -> std::int64_t { return 1'000; };
  const Measurement m = measure(t.runner(), options(2, 7, 7, 0.0, 1.0), t.clock());
  std::vector<std::size_t> expected(9);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(t.indices, expected);
  EXPECT_EQ(m.repeats, 7);
}

TEST(MeasureProtocol, StopsAtMaxRepeatsWhenNeverSteady) {
  FakeTimeline t;
  // Alternating 1 and 2 us: spread (p75 - p25) / median stays far above 2%.
  t.duration_of = [](std::size_t i) -> std::int64_t { return i % 2 ? 2'000 : 1'000; };
  const Measurement m = measure(t.runner(), options(0, 10, 50, 0.0, 100.0), t.clock());
  EXPECT_EQ(m.repeats, 50);
  EXPECT_EQ(m.stop, StopReason::max_repeats);
}

TEST(MeasureProtocol, StopsAtMaxSecondsWhenNeverSteady) {
  FakeTimeline t;
  t.duration_of = [](std::size_t i) -> std::int64_t { return i % 2 ? 2'000'000 : 1'000'000; };
  // 10 ms cap, runs alternate 1 and 2 ms: the cap is reached after 7 runs (1+2+1+2+1+2+1 = 10).
  const Measurement m = measure(t.runner(), options(0, 3, 1000, 0.0, 0.010), t.clock());
  EXPECT_EQ(m.repeats, 7);
  EXPECT_EQ(m.stop, StopReason::max_seconds);
}

TEST(MeasureProtocol, MaxSecondsBeatsMinRepeats) {
  FakeTimeline t;
  t.duration_of = [](std::size_t) -> std::int64_t { return 3'000'000'000; };  // 3 s per run
  const Measurement m = measure(t.runner(), options(1, 10, 200, 0.2, 2.0), t.clock());
  EXPECT_EQ(m.repeats, 1);
  EXPECT_EQ(m.stop, StopReason::max_seconds);
  EXPECT_EQ(m.median_ns, 3e9);
}

TEST(MeasureProtocol, StopsEarlyOnceSteadyAfterBothFloors) {
  FakeTimeline t;
  t.duration_of = [](std::size_t) -> std::int64_t { return 1'000'000; };  // a steady 1 ms
  // Floors: 10 runs and 5 ms; the 10 runs take 10 ms, so 10 runs it is.
  const Measurement m = measure(t.runner(), options(0, 10, 200, 0.005, 2.0), t.clock());
  EXPECT_EQ(m.repeats, 10);
  EXPECT_EQ(m.stop, StopReason::steady);
  EXPECT_EQ(m.spread(), 0.0);
}

TEST(MeasureProtocol, SteadySampleStillWaitsForMinSeconds) {
  FakeTimeline t;
  t.duration_of = [](std::size_t) -> std::int64_t { return 1'000'000; };
  const Measurement m = measure(t.runner(), options(0, 2, 200, 0.050, 2.0), t.clock());
  EXPECT_EQ(m.repeats, 50);  // 50 x 1 ms reaches the 50 ms floor
  EXPECT_EQ(m.stop, StopReason::steady);
}

TEST(MeasureProtocol, SteadySampleStillWaitsForMinRepeats) {
  FakeTimeline t;
  t.duration_of = [](std::size_t) -> std::int64_t { return 1'000'000'000; };  // 1 s per run
  const Measurement m = measure(t.runner(), options(0, 4, 200, 0.0, 100.0), t.clock());
  EXPECT_EQ(m.repeats, 4);
  EXPECT_EQ(m.stop, StopReason::steady);
}

TEST(MeasureProtocol, BecomesSteadyWhenOutliersAreOutsideTheQuartiles) {
  FakeTimeline t;
  // One slow outlier every 10 runs: the interquartile range ignores it.
  t.duration_of = [](std::size_t i) -> std::int64_t { return i % 10 == 5 ? 9'000 : 1'000; };
  const Measurement m = measure(t.runner(), options(0, 10, 200, 0.0, 100.0), t.clock());
  EXPECT_EQ(m.repeats, 10);
  EXPECT_EQ(m.stop, StopReason::steady);
  EXPECT_EQ(m.median_ns, 1'000);
}

TEST(MeasureProtocol, SummaryOfKnownDurations) {
  FakeTimeline t;
  const std::vector<std::int64_t> durations = {500, 100, 400, 200, 300};
  t.duration_of = [&](std::size_t i) { return durations[i]; };
  const Measurement m = measure(t.runner(), options(0, 5, 5, 0.0, 100.0), t.clock());
  ASSERT_EQ(m.repeats, 5);
  EXPECT_EQ(m.median_ns, 300);
  EXPECT_EQ(m.p25_ns, 200);
  EXPECT_EQ(m.p75_ns, 400);
  EXPECT_EQ(m.min_ns, 100);
  EXPECT_DOUBLE_EQ(m.spread(), 200.0 / 300.0);
  EXPECT_EQ(m.samples_ns, (std::vector<double>{500, 100, 400, 200, 300}));  // run order
}

TEST(MeasureProtocol, EvenCountInterpolatesBetweenOrderStatistics) {
  const Measurement m = summarize({4, 1, 3, 2});
  EXPECT_DOUBLE_EQ(m.median_ns, 2.5);
  EXPECT_DOUBLE_EQ(m.p25_ns, 1.75);
  EXPECT_DOUBLE_EQ(m.p75_ns, 3.25);
  EXPECT_DOUBLE_EQ(m.min_ns, 1);
  EXPECT_EQ(m.repeats, 4);
}

TEST(MeasureProtocol, SingleSampleAndZeroDurations) {
  const Measurement one = summarize({7});
  EXPECT_EQ(one.median_ns, 7);
  EXPECT_EQ(one.p25_ns, 7);
  EXPECT_EQ(one.p75_ns, 7);
  EXPECT_EQ(one.spread(), 0.0);
  EXPECT_EQ(summarize({0, 0, 0}).spread(), 0.0);
  EXPECT_TRUE(std::isinf(summarize({0, 0, 0, 5}).spread()));
}

TEST(MeasureProtocol, OutOfRangeOptionsAreClamped) {
  FakeTimeline t;
  t.duration_of = [](std::size_t i) -> std::int64_t { return 1'000 + 500 * (i % 2); };
  const Measurement m = measure(t.runner(), options(-4, -1, 0, -1.0, 100.0), t.clock());
  EXPECT_EQ(m.repeats, 1);          // max_repeats 0 -> 1
  EXPECT_EQ(t.indices.size(), 1u);  // negative warm-up -> none
}

TEST(MeasureRotation, CountCoversTheCacheMultiple) {
  static_assert(kRotationCacheMultiple == 4, "the cases below are worked out for 4x the LLC");
  constexpr std::size_t llc = std::size_t{32} << 20;
  EXPECT_EQ(rotation_count(45'088'768, llc), 3u);  // int8 weights of 4096 x 11008: 3 x 43 MiB
  EXPECT_EQ(rotation_count(std::size_t{1} << 20, llc), 128u);
  EXPECT_EQ(rotation_count(4 * llc, llc), 1u);      // exactly 4x the cache: one copy
  EXPECT_EQ(rotation_count(4 * llc - 1, llc), 2u);  // a byte short: two
  EXPECT_EQ(rotation_count(9 * llc, llc), 1u);
  EXPECT_EQ(rotation_count(3, 10), 14u);  // ceil(40 / 3)
  EXPECT_EQ(rotation_count(0, llc), 1u);
  EXPECT_EQ(rotation_count(100, 0), 1u);
  EXPECT_EQ(rotation_count(1, std::numeric_limits<std::size_t>::max()),
            std::numeric_limits<std::size_t>::max());  // saturates instead of wrapping
}

TEST(MeasureRotation, ParsesSysfsCacheSizes) {
  EXPECT_EQ(parse_cache_size("32768K"), std::size_t{32} << 20);
  EXPECT_EQ(parse_cache_size("32768K\n"), std::size_t{32} << 20);
  EXPECT_EQ(parse_cache_size("2M"), std::size_t{2} << 20);
  EXPECT_EQ(parse_cache_size("1G"), std::size_t{1} << 30);
  EXPECT_EQ(parse_cache_size("512"), 512u);
  EXPECT_EQ(parse_cache_size(""), std::nullopt);
  EXPECT_EQ(parse_cache_size("K"), std::nullopt);
  EXPECT_EQ(parse_cache_size("12X"), std::nullopt);
  EXPECT_EQ(parse_cache_size("-1K"), std::nullopt);
}

class MeasureSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() /
        ("qk_measure_sysfs_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void add(const std::string& index, const std::string& level, const std::string& type,
           const std::string& size) {
    const auto d = dir_ / index;
    std::filesystem::create_directories(d);
    std::ofstream(d / "level") << level << "\n";
    std::ofstream(d / "type") << type << "\n";
    std::ofstream(d / "size") << size << "\n";
  }
  std::filesystem::path dir_;
};

TEST_F(MeasureSysfs, PicksLevelThree) {
  add("index0", "1", "Data", "32K");
  add("index1", "1", "Instruction", "32K");
  add("index2", "2", "Unified", "1024K");
  add("index3", "3", "Unified", "32768K");
  EXPECT_EQ(read_llc_bytes(dir_), std::size_t{32} << 20);
}

TEST_F(MeasureSysfs, FallsBackToTheHighestLevelAndSkipsInstructionCaches) {
  add("index0", "1", "Data", "48K");
  add("index1", "2", "Instruction", "4096K");
  add("index2", "2", "Unified", "2048K");
  EXPECT_EQ(read_llc_bytes(dir_), std::size_t{2} << 20);
}

TEST_F(MeasureSysfs, NothingReadableIsNullopt) {
  EXPECT_EQ(read_llc_bytes(dir_), std::nullopt);
  add("index0", "3", "Unified", "lots");
  EXPECT_EQ(read_llc_bytes(dir_), std::nullopt);
  EXPECT_EQ(read_llc_bytes(dir_ / "missing"), std::nullopt);
}

}  // namespace
}  // namespace qk::tuner

// measure_interleaved: contenders alternate within each round, so a change of the host's speed
// hits both; the fake clock advances by each contender's cost times the current regime.
TEST(MeasureInterleaved, RatioSurvivesARegimeChangeThatBackToBackMeasuresWouldMix) {
  std::int64_t now = 0;
  double regime = 1.0;  // the host's slowdown factor
  int calls = 0;
  auto contender = [&](double cost) {
    return [&, cost](std::size_t) {
      now += static_cast<std::int64_t>(cost * regime);
      if (++calls == 40) regime = 2.0;  // halfway through, the host halves our speed
    };
  };
  const qk::tuner::MeasureOptions options{0, 40, 40, 0.0, 100.0, 0.0};
  auto clock = [&] { return now; };
  const auto m = qk::tuner::measure_interleaved({contender(1000), contender(1500)}, options, clock);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].repeats, 40);
  EXPECT_EQ(m[1].repeats, 40);
  // Each side saw 20 fast and 20 slow runs: the medians are in the same regime mix.
  EXPECT_NEAR(m[1].median_ns / m[0].median_ns, 1.5, 1e-9);

  // Back to back, the first contender runs fast and the second slow: the ratio is off by 2x.
  now = 0;
  regime = 1.0;
  calls = 0;
  const auto a = qk::tuner::measure(contender(1000), options, clock);
  const auto b = qk::tuner::measure(contender(1500), options, clock);
  EXPECT_NEAR(b.median_ns / a.median_ns, 3.0, 1e-9);
}

TEST(MeasureInterleaved, RotatesWhoRunsFirstAndCountsEachContendersRuns) {
  std::vector<std::pair<int, std::size_t>> order;
  std::int64_t now = 0;
  auto contender = [&](int id) {
    return [&, id](std::size_t i) {
      order.emplace_back(id, i);
      now += 10;
    };
  };
  const qk::tuner::MeasureOptions options{1, 2, 2, 0.0, 100.0, 0.0};
  qk::tuner::measure_interleaved({contender(0), contender(1)}, options, [&] { return now; });
  // Warm-up 0 1; round 0: 0 1; round 1: 1 0. Each contender counts its own runs.
  const std::vector<std::pair<int, std::size_t>> expected{{0, 0}, {1, 0}, {0, 1},
                                                          {1, 1}, {1, 2}, {0, 2}};
  EXPECT_EQ(order, expected);
}
