// The cpu target's search space, M buckets and tile names (docs/tuning.md, "Search spaces").
#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "codegen/cpu_search_space.hpp"
#include "codegen/m_buckets.hpp"
#include "codegen/workload.hpp"

namespace {

using qk::GemmFamily;
using qk::codegen::CpuTile;

TEST(MBuckets, DecodeSizesThenPowersOfTwoUpToMax) {
  EXPECT_EQ(qk::codegen::m_buckets(1), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(qk::codegen::m_buckets(16), (std::vector<std::int64_t>{1, 2, 4, 8, 16}));
  EXPECT_EQ(qk::codegen::m_buckets(100), (std::vector<std::int64_t>{1, 2, 4, 8, 16, 32, 64, 128}));
}

TEST(MBuckets, RangeKeepsEveryBucketHoldingSomeM) {
  const std::vector<std::int64_t> all{1, 2, 4, 8, 16, 32};
  // Bucket 8 holds 5..8, so a range starting at 6 needs it; 32 holds 17..32.
  EXPECT_EQ(qk::codegen::buckets_in_range(all, 6, 17), (std::vector<std::int64_t>{8, 16, 32}));
  EXPECT_EQ(qk::codegen::buckets_in_range(all, 1, 1), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(qk::codegen::buckets_in_range(all, 3, 4), (std::vector<std::int64_t>{4}));
}

TEST(MBuckets, ParseNamesTheBadItem) {
  EXPECT_EQ(*qk::codegen::parse_m_buckets("1,2,16"), (std::vector<std::int64_t>{1, 2, 16}));
  for (const auto& [text, where] :
       std::vector<std::pair<std::string, std::string>>{{"1,,2", "buckets[1]"},
                                                        {"1,x", "buckets[1]"},
                                                        {"0", "buckets[0]"},
                                                        {"4,2", "buckets[1]"},
                                                        {"", "buckets[0]"}}) {
    auto parsed = qk::codegen::parse_m_buckets(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_EQ(parsed.error().where, where) << text;
  }
}

TEST(CpuSearchSpace, EveryTileIsValidUniqueAndFitsTheBucket) {
  for (GemmFamily family :
       {GemmFamily::w8a8, GemmFamily::w4a8, GemmFamily::w8a16, GemmFamily::w4a16,
        GemmFamily::wfp8a16, GemmFamily::fp16, GemmFamily::bf16, GemmFamily::fp32}) {
    for (std::int64_t m : {1, 4, 16, 128, 2048}) {
      const auto space = qk::codegen::cpu_search_space(family, m, 4096, 11008);
      ASSERT_FALSE(space.empty());
      std::set<std::string> names;
      for (const CpuTile& t : space) {
        EXPECT_TRUE(qk::codegen::validate(t, family).has_value()) << canonical_name(t);
        EXPECT_TRUE(names.insert(canonical_name(t)).second) << "duplicate " << canonical_name(t);
        const CpuTile fallback = qk::codegen::default_cpu_tile(family, m);
        if (t != fallback) {
          EXPECT_LE(t.mr, std::max<std::int64_t>(m, 1)) << canonical_name(t);
        }
      }
      EXPECT_TRUE(names.count(canonical_name(qk::codegen::default_cpu_tile(family, m))))
          << "the default is always a candidate";
      EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
    }
  }
}

TEST(CpuSearchSpace, LargerBucketsOfferMoreShapes) {
  const auto decode = qk::codegen::cpu_search_space(GemmFamily::w8a8, 1, 4096, 4096);
  const auto prefill = qk::codegen::cpu_search_space(GemmFamily::w8a8, 512, 4096, 4096);
  EXPECT_LT(decode.size(), prefill.size());
  for (const CpuTile& t : decode)
    if (t != qk::codegen::default_cpu_tile(GemmFamily::w8a8, 1)) {
      EXPECT_EQ(t.mr, 1);
    }
}

TEST(CpuTileName, ParsesEveryTileOfTheSpaceBack) {
  for (GemmFamily family : {GemmFamily::w8a8, GemmFamily::w4a8})
    for (const CpuTile& t : qk::codegen::cpu_search_space(family, 64, 4096, 4096)) {
      auto parsed = qk::codegen::parse_cpu_tile(canonical_name(t), family);
      ASSERT_TRUE(parsed.has_value()) << parsed.error().str();
      EXPECT_EQ(*parsed, t);
    }
}

// avx2 (every family): every tile fits 16 ymm, the defaults are candidates, names parse back for
// avx2, and the AVX-512 default tiles (25 accumulators) do not fit.
TEST(CpuSearchSpace, Avx2TilesFitSixteenYmm) {
  using qk::codegen::CpuIsa;
  for (std::int64_t m : {1, 4, 16, 128, 2048}) {
    const auto w4a8 = qk::codegen::cpu_search_space(GemmFamily::w4a8, m, 4096, 4096, CpuIsa::avx2);
    for (const CpuTile& t : w4a8) {
      EXPECT_TRUE(qk::codegen::validate(t, GemmFamily::w4a8, CpuIsa::avx2)) << canonical_name(t);
      EXPECT_LE(2 * t.mr * t.nv + t.mr + 7, 16) << canonical_name(t);
    }
    // Decode may stream up to four panels (eight ymm of weights) per thread.
    if (m == 1) {
      EXPECT_TRUE(std::count_if(w4a8.begin(), w4a8.end(),
                                [](const CpuTile& t) { return t.mr == 1 && t.nv == 4; }));
    }
    EXPECT_TRUE(std::count(w4a8.begin(), w4a8.end(),
                           qk::codegen::default_cpu_tile(GemmFamily::w4a8, m, CpuIsa::avx2)));
    const auto space =
        qk::codegen::cpu_search_space(GemmFamily::w8a8, m, 4096, 11008, CpuIsa::avx2);
    ASSERT_GT(space.size(), m > 1 ? 1u : 0u) << m;
    std::set<std::string> names;
    for (const CpuTile& t : space) {
      EXPECT_TRUE(qk::codegen::validate(t, GemmFamily::w8a8, CpuIsa::avx2)) << canonical_name(t);
      EXPECT_LE(2 * t.mr * t.nv + 4 * t.nv + 3, 16) << canonical_name(t);
      names.insert(canonical_name(t));
      auto parsed = qk::codegen::parse_cpu_tile(canonical_name(t), GemmFamily::w8a8, CpuIsa::avx2);
      ASSERT_TRUE(parsed) << parsed.error().str();
      EXPECT_EQ(*parsed, t);
    }
    EXPECT_TRUE(names.count(
        canonical_name(qk::codegen::default_cpu_tile(GemmFamily::w8a8, m, CpuIsa::avx2))));
  }
  // The weight-only and float families: 2 mr nv accumulators, 2 ymm per weight vector, 2 more.
  for (GemmFamily family : {GemmFamily::w8a16, GemmFamily::w4a16, GemmFamily::wfp8a16,
                            GemmFamily::fp16, GemmFamily::bf16, GemmFamily::fp32})
    for (std::int64_t m : {1, 4, 16, 128, 2048}) {
      const auto space = qk::codegen::cpu_search_space(family, m, 4096, 4096, CpuIsa::avx2);
      const CpuTile fallback = qk::codegen::default_cpu_tile(family, m, CpuIsa::avx2);
      EXPECT_TRUE(std::count(space.begin(), space.end(), fallback)) << canonical_name(fallback);
      for (const CpuTile& t : space) {
        EXPECT_TRUE(qk::codegen::validate(t, family, CpuIsa::avx2)) << canonical_name(t);
        EXPECT_LE(2 * t.mr * t.nv + 4 * t.nv + 2, 16) << canonical_name(t);
        EXPECT_EQ(t.kc, 0) << canonical_name(t);
        auto parsed = qk::codegen::parse_cpu_tile(canonical_name(t), family, CpuIsa::avx2);
        ASSERT_TRUE(parsed) << parsed.error().str();
      }
      EXPECT_FALSE(
          qk::codegen::validate(qk::codegen::default_cpu_tile(family, m), family, CpuIsa::avx2))
          << "the avx512 default " << canonical_name(qk::codegen::default_cpu_tile(family, m))
          << " needs more than 16 ymm";
    }
  const CpuTile avx512_default = qk::codegen::default_cpu_tile(GemmFamily::w8a8, 2048);
  auto refused = qk::codegen::validate(avx512_default, GemmFamily::w8a8, CpuIsa::avx2);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().str().find("16"), std::string::npos) << refused.error().str();
  EXPECT_FALSE(
      qk::codegen::parse_cpu_tile(canonical_name(avx512_default), GemmFamily::w8a8, CpuIsa::avx2));
}

// amx (w8a8): the decode buckets keep VNNI tiles, larger ones add AMX tiles within 8 tile
// registers; every name parses back for amx, and no AMX tile passes for avx512 or another family.
TEST(CpuSearchSpace, AmxTilesFitEightTileRegisters) {
  using qk::codegen::CpuIsa;
  for (std::int64_t m : {1, 4, 8, 16, 128, 2048}) {
    const auto space = qk::codegen::cpu_search_space(GemmFamily::w8a8, m, 4096, 11008, CpuIsa::amx);
    const CpuTile fallback = qk::codegen::default_cpu_tile(GemmFamily::w8a8, m, CpuIsa::amx);
    std::size_t amx_tiles = 0;
    std::set<std::string> names;
    for (const CpuTile& t : space) {
      EXPECT_TRUE(qk::codegen::validate(t, GemmFamily::w8a8, CpuIsa::amx)) << canonical_name(t);
      names.insert(canonical_name(t));
      auto parsed = qk::codegen::parse_cpu_tile(canonical_name(t), GemmFamily::w8a8, CpuIsa::amx);
      ASSERT_TRUE(parsed) << parsed.error().str();
      EXPECT_EQ(*parsed, t);
      if (!t.amx) continue;
      ++amx_tiles;
      EXPECT_TRUE(canonical_name(t).ends_with("_amx")) << canonical_name(t);
      EXPECT_EQ(t.mr % 16, 0) << canonical_name(t);
      EXPECT_LE(t.mr / 16 + t.nv + t.mr / 16 * t.nv, 8) << canonical_name(t);
      EXPECT_EQ(t.kc % 64, 0) << canonical_name(t);
      if (t != fallback) {
        EXPECT_LE(t.mr, std::max<std::int64_t>(m, 16)) << canonical_name(t);
      }
      EXPECT_FALSE(qk::codegen::validate(t, GemmFamily::w8a8, CpuIsa::avx512)) << canonical_name(t);
      EXPECT_FALSE(qk::codegen::validate(t, GemmFamily::w4a8, CpuIsa::amx)) << canonical_name(t);
    }
    EXPECT_EQ(amx_tiles > 0, m >= 8) << m;
    EXPECT_TRUE(names.count(canonical_name(fallback)));
    EXPECT_EQ(fallback.amx, m > 8) << m;
  }
  // The other families run their avx512 tiles on amx.
  EXPECT_EQ(qk::codegen::default_cpu_tile(GemmFamily::w4a8, 512, CpuIsa::amx),
            qk::codegen::default_cpu_tile(GemmFamily::w4a8, 512));
  EXPECT_EQ(qk::codegen::code_isa(CpuIsa::amx), CpuIsa::avx512);
}

TEST(CpuTileName, AmxRulesNameTheBrokenLimit) {
  using qk::codegen::CpuIsa;
  const auto error = [](const char* name) {
    auto parsed = qk::codegen::parse_cpu_tile(name, GemmFamily::w8a8, CpuIsa::amx);
    return parsed ? std::string() : parsed.error().str();
  };
  EXPECT_EQ(error("mr32_nv2_kc16384_mc128_nc512_amx"), "");
  EXPECT_NE(error("mr24_nv2_kc16384_mc96_nc512_amx").find("multiple of 16"), std::string::npos);
  EXPECT_NE(error("mr32_nv3_kc16384_mc128_nc480_amx").find("11 AMX tile registers"),
            std::string::npos);
  EXPECT_NE(error("mr32_nv2_kc96_mc128_nc512_amx").find("tdpbusd"), std::string::npos);
  EXPECT_NE(error("mr32_nv2_kc16384_mc128_nc512_amy").find("expected"), std::string::npos);
  auto on_avx512 =
      qk::codegen::parse_cpu_tile("mr32_nv2_kc16384_mc128_nc512_amx", GemmFamily::w8a8);
  ASSERT_FALSE(on_avx512);
  EXPECT_NE(on_avx512.error().str().find("amx level"), std::string::npos)
      << on_avx512.error().str();
}

TEST(CpuTileName, RejectsMalformedAndInvalidNames) {
  for (const char* bad : {"", "mr5", "mr5_nv5_kc16384_mc100", "mr5_nv5_kc16384_mc100_nc960_",
                          "mr5_nv5_kc16384_mc100_ncx", "nv5_mr5_kc16384_mc100_nc960",
                          "mr9_nv9_kc16384_mc99_nc144" /* 91 registers */}) {
    EXPECT_FALSE(qk::codegen::parse_cpu_tile(bad, GemmFamily::w8a8).has_value()) << bad;
  }
}

TEST(Workload, IgnoresNameAndMRangeButNotShapeOrEpilogue) {
  qk::LayerConfig a;
  a.name = "q_proj";
  a.n = 4096;
  a.k = 4096;
  qk::LayerConfig b = a;
  b.name = "k_proj";
  b.m_max = 16;
  EXPECT_EQ(qk::codegen::workload_of(a, "cpu").hash, qk::codegen::workload_of(b, "cpu").hash);
  EXPECT_EQ(qk::codegen::workload_of(a, "cpu").json.find("q_proj"), std::string::npos);
  b.n = 11008;
  EXPECT_NE(qk::codegen::workload_of(a, "cpu").hash, qk::codegen::workload_of(b, "cpu").hash);
  b = a;
  b.epilogue.bias = true;
  EXPECT_NE(qk::codegen::workload_of(a, "cpu").hash, qk::codegen::workload_of(b, "cpu").hash);
  EXPECT_NE(qk::codegen::workload_of(a, "cpu").hash, qk::codegen::workload_of(a, "cuda").hash);
}

}  // namespace
