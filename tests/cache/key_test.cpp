// Tests of the cache's key hash and blob checksum (cache/key.hpp): XXH3-128 against xxHash's
// published vectors, the length-prefixed serialization, and the golden hash of one key (a stored
// format: if it changes, every cache file's keys change with it).
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "cache/key.hpp"

namespace {

using qk::cache::BinaryKey;

BinaryKey sample_key() {
  return BinaryKey{"qk_w8a8_cpu_mr6_nr64_kc512",
                   "spec0123",
                   "tmpl4567",
                   "cpu=sapphirerapids;+avx512bw,+avx512vnni",
                   "clang 19.1.7",
                   "-O3"};
}

std::vector<std::uint8_t> bytes_of(std::string_view text) {
  return std::vector<std::uint8_t>(text.begin(), text.end());
}

TEST(CacheKey, ChecksumMatchesXxh128ReferenceVectors) {
  // XXH3-128 (seed 0) of "" and "abc" as xxhsum -H2 prints them (xxHash's test vectors).
  EXPECT_EQ(qk::cache::blob_checksum({}), "99aa06d3014798d86001c324468d497f");
  EXPECT_EQ(qk::cache::blob_checksum(bytes_of("abc")), "06b05ab6733a618578af5f94892f3950");
}

TEST(CacheKey, BinaryChecksumIsTheBlobsWithoutAttributesAndCoversThemOtherwise) {
  const auto blob = bytes_of("abc");
  EXPECT_EQ(qk::cache::binary_checksum(blob, ""), qk::cache::blob_checksum(blob))
      << "rows written before schema version 3 must stay valid";
  const std::string with = qk::cache::binary_checksum(blob, "registers=122");
  EXPECT_NE(with, qk::cache::blob_checksum(blob));
  EXPECT_NE(with, qk::cache::binary_checksum(blob, "registers=121"));
  EXPECT_NE(with, qk::cache::binary_checksum(bytes_of("abd"), "registers=122"));
  const std::string bytes =
      qk::cache::length_prefixed("qk.cache.Binary.v3", {"abc", "registers=122"});
  EXPECT_EQ(with, qk::cache::blob_checksum(bytes_of(bytes)));
}

TEST(CacheKey, CanonicalBytesAreTagThenLengthPrefixedFields) {
  const BinaryKey key{"k", "s", "t", "sm_90a", "nvrtc 13.0", ""};
  std::string expected = "qk.cache.BinaryKey.v1";
  for (std::string_view field : {"k", "s", "t", "sm_90a", "nvrtc 13.0", ""}) {
    expected += static_cast<char>(field.size());
    expected += std::string(7, '\0');
    expected += field;
  }
  EXPECT_EQ(qk::cache::canonical_key_bytes(key), expected);
}

TEST(CacheKey, FieldBoundariesCannotBeConfused) {
  BinaryKey a = sample_key();
  BinaryKey b = sample_key();
  a.target = "sm_8";
  a.compiler = "0nvrtc";
  b.target = "sm_80";
  b.compiler = "nvrtc";
  EXPECT_NE(qk::cache::canonical_key_bytes(a), qk::cache::canonical_key_bytes(b));
  EXPECT_NE(qk::cache::key_hash(a), qk::cache::key_hash(b));
}

TEST(CacheKey, KeyHashIsTheStoredGoldenValue) {
  // Golden: the key hash is stored in every cache file. A change here needs a schema migration.
  EXPECT_EQ(qk::cache::key_hash(sample_key()), "45a43e7b4fa19951848555baa19d16db");
  const std::string bytes = qk::cache::canonical_key_bytes(sample_key());
  EXPECT_EQ(qk::cache::key_hash(sample_key()), qk::cache::blob_checksum(bytes_of(bytes)));
}

TEST(CacheKey, EveryFieldChangesTheHash) {
  std::set<std::string> hashes{qk::cache::key_hash(sample_key())};
  for (std::string BinaryKey::*field :
       {&BinaryKey::kernel, &BinaryKey::spec_hash, &BinaryKey::template_revision,
        &BinaryKey::target, &BinaryKey::compiler, &BinaryKey::flags}) {
    BinaryKey key = sample_key();
    key.*field += "x";
    hashes.insert(qk::cache::key_hash(key));
  }
  EXPECT_EQ(hashes.size(), 7u);
}

TEST(CacheKey, HashesAre32LowercaseHexDigits) {
  for (const std::string& hash :
       {qk::cache::key_hash(sample_key()), qk::cache::blob_checksum(bytes_of("qk"))}) {
    ASSERT_EQ(hash.size(), 32u);
    for (char c : hash) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << hash;
  }
}

TEST(CacheKey, CheckKeyNamesTheEmptyField) {
  EXPECT_TRUE(qk::cache::check_key(sample_key()).has_value());
  BinaryKey no_flags = sample_key();
  no_flags.flags.clear();
  EXPECT_TRUE(qk::cache::check_key(no_flags).has_value()) << "flags may be empty";

  BinaryKey no_target = sample_key();
  no_target.target.clear();
  const auto result = qk::cache::check_key(no_target);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, qk::Errc::invalid_argument);
  EXPECT_EQ(result.error().where, "BinaryKey.target");
}

TEST(CacheKey, DescribeDifferenceNamesTheFirstDifferingField) {
  BinaryKey other = sample_key();
  EXPECT_EQ(qk::cache::describe_difference(sample_key(), other), "");
  other.compiler = "clang 18.1.0";
  EXPECT_EQ(qk::cache::describe_difference(sample_key(), other),
            "compiler: 'clang 19.1.7' vs 'clang 18.1.0'");
}

}  // namespace
