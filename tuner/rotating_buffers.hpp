// Benchmark memory: aligned buffers whose pages are already mapped, and copies of a working set
// to cycle through so that every timed run starts with its inputs out of cache (principle 5).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "qk/error.hpp"

namespace qk::tuner {

/// An owned, aligned byte buffer. Large buffers (>= 2 MiB) are 2 MiB-aligned and advised to use
/// transparent huge pages, so that TLB misses do not add noise that differs between runs.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;

  /// `bytes` bytes (at least 1), zero-filled: every page is touched here so that no timed run
  /// pays first-touch page faults. Error (Errc::invalid_argument) when the memory is not there.
  static Expected<AlignedBuffer> allocate(std::size_t bytes);

  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  /// The buffer as an array of T. @pre alignof(T) <= 64
  template <class T>
  T* as() {
    return reinterpret_cast<T*>(data_.get());
  }
  template <class T>
  const T* as() const {
    return reinterpret_cast<const T*>(data_.get());
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte[], Free> data_;
  std::size_t size_ = 0;
};

/// `copies` identical copies of one working set; set(i) is copy i mod copies(), so a caller
/// timing run(i) (tuner::measure) touches each copy once per rotation. Size the rotation with
/// rotation_count() (measure.hpp). Buffers that must rotate together (activations and weights of
/// one run) are separate RotatingBuffers created with the same count.
class RotatingBuffer {
 public:
  RotatingBuffer() = default;

  /// Errors: copies == 0 or empty source (Errc::invalid_argument), allocation failure.
  static Expected<RotatingBuffer> create(std::span<const std::byte> source, std::size_t copies);

  std::size_t copies() const { return copies_.size(); }
  std::size_t bytes_per_copy() const { return copies_.empty() ? 0 : copies_[0].size(); }
  /// Copy i mod copies(). @pre copies() > 0
  std::byte* set(std::size_t i) { return copies_[i % copies_.size()].data(); }
  template <class T>
  T* set_as(std::size_t i) {
    return copies_[i % copies_.size()].as<T>();
  }

 private:
  std::vector<AlignedBuffer> copies_;
};

}  // namespace qk::tuner
