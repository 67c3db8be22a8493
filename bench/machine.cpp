#include "bench/machine.hpp"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <latch>
#include <thread>

#include <fmt/format.h>

#include "tuner/measure.hpp"
#include "tuner/rotating_buffers.hpp"

namespace qk::bench {

bool cpu_supports_avx512bw() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

bool cpu_supports_avx512_vnni() {
  return cpu_supports_avx512bw() && __builtin_cpu_supports("avx512vnni");
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    const auto begin = line.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? "unknown" : line.substr(begin);
  }
  return "unknown";
}

namespace {

/// Independent accumulator chains of the peak loop: enough to cover vpdpbusd's latency times its
/// issue rate on current cores (about 5 cycles x up to 2 per cycle), and with the two operands
/// they still fit in the 32 zmm registers, so the loop never touches memory.
constexpr int kChains = 16;
/// Loop iterations between clock reads: 4096 x 16 instructions, tens of microseconds.
constexpr std::int64_t kChunkIterations = 4096;
constexpr double kOpsPerVpdpbusd = 128;  // 16 lanes x 4 u8*s8 products x 2 ops

/// Runs kChunkIterations x kChains vpdpbusd, kChains independent chains; returns a value that
/// depends on every accumulator so that none of them is dead.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) std::int32_t vnni_chunk(std::int32_t seed) {
  const __m512i a = _mm512_set1_epi32(0x01020304 + seed);
  const __m512i b = _mm512_set1_epi32(0x05060708 - seed);
  // Distinct starting values: identical chains would be merged by the compiler.
  __m512i c0 = _mm512_set1_epi32(seed), c1 = _mm512_set1_epi32(seed + 1),
          c2 = _mm512_set1_epi32(seed + 2), c3 = _mm512_set1_epi32(seed + 3),
          c4 = _mm512_set1_epi32(seed + 4), c5 = _mm512_set1_epi32(seed + 5),
          c6 = _mm512_set1_epi32(seed + 6), c7 = _mm512_set1_epi32(seed + 7),
          c8 = _mm512_set1_epi32(seed + 8), c9 = _mm512_set1_epi32(seed + 9),
          c10 = _mm512_set1_epi32(seed + 10), c11 = _mm512_set1_epi32(seed + 11),
          c12 = _mm512_set1_epi32(seed + 12), c13 = _mm512_set1_epi32(seed + 13),
          c14 = _mm512_set1_epi32(seed + 14), c15 = _mm512_set1_epi32(seed + 15);
  static_assert(kChains == 16, "the loop below spells out kChains accumulators");
  for (std::int64_t i = 0; i < kChunkIterations; ++i) {
    // c += dot(u8 a, s8 b) on 16 chains. In asm because GCC 12 compiles the intrinsic's
    // read-modify-write into register copies and spills that would be timed instead.
    // Two statements of 8: an asm takes at most 30 operands and "+v" counts twice.
    asm("vpdpbusd %[b], %[a], %[c0]\n\t"
        "vpdpbusd %[b], %[a], %[c1]\n\t"
        "vpdpbusd %[b], %[a], %[c2]\n\t"
        "vpdpbusd %[b], %[a], %[c3]\n\t"
        "vpdpbusd %[b], %[a], %[c4]\n\t"
        "vpdpbusd %[b], %[a], %[c5]\n\t"
        "vpdpbusd %[b], %[a], %[c6]\n\t"
        "vpdpbusd %[b], %[a], %[c7]"
        : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), [c5] "+v"(c5),
          [c6] "+v"(c6), [c7] "+v"(c7)
        : [a] "v"(a), [b] "v"(b));
    asm("vpdpbusd %[b], %[a], %[c8]\n\t"
        "vpdpbusd %[b], %[a], %[c9]\n\t"
        "vpdpbusd %[b], %[a], %[c10]\n\t"
        "vpdpbusd %[b], %[a], %[c11]\n\t"
        "vpdpbusd %[b], %[a], %[c12]\n\t"
        "vpdpbusd %[b], %[a], %[c13]\n\t"
        "vpdpbusd %[b], %[a], %[c14]\n\t"
        "vpdpbusd %[b], %[a], %[c15]"
        : [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11), [c12] "+v"(c12),
          [c13] "+v"(c13), [c14] "+v"(c14), [c15] "+v"(c15)
        : [a] "v"(a), [b] "v"(b));
  }
  const __m512i x0 = _mm512_xor_si512(_mm512_xor_si512(c0, c1), _mm512_xor_si512(c2, c3));
  const __m512i x1 = _mm512_xor_si512(_mm512_xor_si512(c4, c5), _mm512_xor_si512(c6, c7));
  const __m512i x2 = _mm512_xor_si512(_mm512_xor_si512(c8, c9), _mm512_xor_si512(c10, c11));
  const __m512i x3 = _mm512_xor_si512(_mm512_xor_si512(c12, c13), _mm512_xor_si512(c14, c15));
  return _mm512_reduce_add_epi32(
      _mm512_xor_si512(_mm512_xor_si512(x0, x1), _mm512_xor_si512(x2, x3)));
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return tuner::quantile_sorted(v, 0.5);
}

Throughput summarize_passes(std::vector<double> passes) {
  Throughput t;
  t.best = *std::max_element(passes.begin(), passes.end());
  t.median = median_of(passes);
  t.passes = std::move(passes);
  return t;
}

/// Runs work(thread_index) on `threads` threads released together; returns the wall time in
/// seconds from the first thread's start to the last thread's end (thread creation excluded).
template <class Work>
double timed_parallel(int threads, const Work& work) {
  std::vector<std::int64_t> start(threads), end(threads);
  std::latch ready(threads);
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.arrive_and_wait();
      start[t] = tuner::steady_now_ns();
      work(t);
      end[t] = tuner::steady_now_ns();
    });
  }
  for (std::thread& th : pool) th.join();
  const std::int64_t first = *std::min_element(start.begin(), start.end());
  const std::int64_t last = *std::max_element(end.begin(), end.end());
  return static_cast<double>(last - first) * 1e-9;
}

/// Sum of the 64-bit words of p[0, bytes), bytes a multiple of 256, 4 x 64 bytes per step.
__attribute__((target("avx512f"))) std::uint64_t sum_avx512(const std::byte* p, std::size_t bytes) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  for (std::size_t i = 0; i < bytes; i += 256) {
    s0 = _mm512_add_epi64(s0, _mm512_load_si512(p + i));
    s1 = _mm512_add_epi64(s1, _mm512_load_si512(p + i + 64));
    s2 = _mm512_add_epi64(s2, _mm512_load_si512(p + i + 128));
    s3 = _mm512_add_epi64(s3, _mm512_load_si512(p + i + 192));
  }
  return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(
      _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3))));
}

std::uint64_t sum_portable(const std::byte* p, std::size_t bytes) {
  const auto* w = reinterpret_cast<const std::uint64_t*>(p);
  std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (std::size_t i = 0; i < bytes / 8; i += 4) {
    s0 += w[i];
    s1 += w[i + 1];
    s2 += w[i + 2];
    s3 += w[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

}  // namespace

Expected<Throughput> vnni_peak_gops(int threads, const PeakOptions& options) {
  if (threads < 1 || options.passes < 1 || !(options.seconds_per_pass > 0)) {
    return Error{Errc::invalid_argument, "vnni_peak_gops",
                 fmt::format("threads {} and passes {} must be >= 1 and seconds_per_pass {} > 0",
                             threads, options.passes, options.seconds_per_pass)};
  }
  if (!cpu_supports_avx512_vnni())
    return Error{Errc::unsupported, "vnni_peak_gops", "this CPU has no AVX-512 VNNI (vpdpbusd)"};

  std::vector<double> passes;
  std::atomic<std::int32_t> sink{0};
  const auto budget_ns = static_cast<std::int64_t>(options.seconds_per_pass * 1e9);
  for (int pass = 0; pass < options.passes; ++pass) {
    std::vector<std::int64_t> chunks(threads, 0);
    const double seconds = timed_parallel(threads, [&](int t) {
      const std::int64_t begin = tuner::steady_now_ns();
      std::int32_t local = 0;
      do {
        local += vnni_chunk(t + static_cast<std::int32_t>(chunks[t]));
        ++chunks[t];
      } while (tuner::steady_now_ns() - begin < budget_ns);
      sink.fetch_add(local, std::memory_order_relaxed);
    });
    double ops = 0;
    for (std::int64_t c : chunks)
      ops += static_cast<double>(c) * kChunkIterations * kChains * kOpsPerVpdpbusd;
    passes.push_back(ops / seconds * 1e-9);
  }
  return summarize_passes(std::move(passes));
}

Expected<Throughput> dram_read_gbps(int threads, const BandwidthOptions& options) {
  if (threads < 1 || options.passes < 1 || options.bytes < (std::size_t{1} << 20)) {
    return Error{Errc::invalid_argument, "dram_read_gbps",
                 fmt::format("threads {} and passes {} must be >= 1 and bytes {} >= 1 MiB", threads,
                             options.passes, options.bytes)};
  }
  // Each thread's slice is a multiple of 256 bytes (the unrolled loop's step).
  const std::size_t slice = options.bytes / static_cast<std::size_t>(threads) / 256 * 256;
  Expected<tuner::AlignedBuffer> buffer = tuner::AlignedBuffer::allocate(slice * threads);
  if (!buffer) return buffer.error();
  std::memset(buffer->data(), 1, buffer->size());
  const bool avx512 = __builtin_cpu_supports("avx512f");

  std::vector<double> passes;
  std::atomic<std::uint64_t> sink{0};
  for (int pass = 0; pass < options.passes; ++pass) {
    const double seconds = timed_parallel(threads, [&](int t) {
      const std::byte* p = buffer->data() + static_cast<std::size_t>(t) * slice;
      sink.fetch_add(avx512 ? sum_avx512(p, slice) : sum_portable(p, slice),
                     std::memory_order_relaxed);
    });
    passes.push_back(static_cast<double>(slice * threads) / seconds * 1e-9);
  }
  return summarize_passes(std::move(passes));
}

}  // namespace qk::bench
