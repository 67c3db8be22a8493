#include "tuner/rotating_buffers.hpp"

#include <sys/mman.h>

#include <cstring>

#include <fmt/format.h>

namespace qk::tuner {

namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kCacheLine = 64;
}  // namespace

Expected<AlignedBuffer> AlignedBuffer::allocate(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  const std::size_t alignment = bytes >= kHugePage ? kHugePage : kCacheLine;
  const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;  // aligned_alloc
  if (rounded < bytes)
    return Error{Errc::invalid_argument, "", fmt::format("buffer of {} bytes is too large", bytes)};
  void* p = std::aligned_alloc(alignment, rounded);
  if (p == nullptr) {
    return Error{Errc::invalid_argument, "",
                 fmt::format("cannot allocate a buffer of {:.1f} MiB", rounded / 1048576.0)};
  }
  // Advice only: without THP (or with it disabled) the buffer still works, with 4 KiB pages.
  if (alignment == kHugePage) madvise(p, rounded, MADV_HUGEPAGE);
  std::memset(p, 0, rounded);
  AlignedBuffer buffer;
  buffer.data_.reset(static_cast<std::byte*>(p));
  buffer.size_ = bytes;
  return buffer;
}

Expected<RotatingBuffer> RotatingBuffer::create(std::span<const std::byte> source,
                                                std::size_t copies) {
  if (copies == 0 || source.empty()) {
    return Error{Errc::invalid_argument, "",
                 fmt::format("a rotation needs at least one copy of a non-empty buffer (copies "
                             "{}, {} bytes)",
                             copies, source.size())};
  }
  RotatingBuffer rotating;
  rotating.copies_.reserve(copies);
  for (std::size_t i = 0; i < copies; ++i) {
    Expected<AlignedBuffer> buffer = AlignedBuffer::allocate(source.size());
    if (!buffer) return buffer.error();
    std::memcpy(buffer->data(), source.data(), source.size());
    rotating.copies_.push_back(std::move(*buffer));
  }
  return rotating;
}

}  // namespace qk::tuner
