#include "tuner/rotating_buffers.hpp"

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace qk::tuner {
namespace {

TEST(MeasureBuffers, SmallBuffersAreCacheLineAlignedAndZeroed) {
  Expected<AlignedBuffer> b = AlignedBuffer::allocate(1000);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->size(), 1000u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data()) % 64, 0u);
  for (std::size_t i = 0; i < b->size(); ++i) ASSERT_EQ(b->data()[i], std::byte{0});
}

TEST(MeasureBuffers, LargeBuffersAreHugePageAligned) {
  Expected<AlignedBuffer> b = AlignedBuffer::allocate((std::size_t{2} << 20) + 3);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b->data()) % (std::size_t{2} << 20), 0u);
}

TEST(MeasureBuffers, RotationHoldsDistinctIdenticalCopiesAndWraps) {
  std::vector<std::uint8_t> source(4096);
  for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<std::uint8_t>(i * 7);
  Expected<RotatingBuffer> r = RotatingBuffer::create(std::as_bytes(std::span(source)), 3);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->copies(), 3u);
  EXPECT_EQ(r->bytes_per_copy(), source.size());
  std::set<std::byte*> distinct;
  for (std::size_t i = 0; i < 3; ++i) {
    distinct.insert(r->set(i));
    EXPECT_EQ(std::memcmp(r->set(i), source.data(), source.size()), 0);
  }
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_EQ(r->set(3), r->set(0));
  EXPECT_EQ(r->set(7), r->set(1));
  EXPECT_EQ(r->set_as<std::uint8_t>(5)[1], 7);
}

TEST(MeasureBuffers, RotationRejectsNoCopiesOrEmptySource) {
  std::vector<std::uint8_t> source(16);
  EXPECT_EQ(RotatingBuffer::create(std::as_bytes(std::span(source)), 0).error().code,
            Errc::invalid_argument);
  EXPECT_EQ(RotatingBuffer::create({}, 2).error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace qk::tuner
