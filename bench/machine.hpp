// What this machine can do, measured in the same run as the benchmarks it puts in context: the
// int8 dot-product peak (AVX-512 VNNI) and the DRAM read bandwidth. Figures from another moment
// are meaningless on a shared host whose CPU share changes, so qk-bench measures both itself.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "qk/error.hpp"

namespace qk::bench {

/// A rate measured over several passes; `best` is the ceiling (interference only lowers a rate),
/// `median` the typical pass.
struct Throughput {
  double best = 0;
  double median = 0;
  std::vector<double> passes;  ///< every pass's rate, in pass order
};

/// The CPU runs AVX-512F/BW and VNNI (vpdpbusd), checked with CPUID at run time.
bool cpu_supports_avx512_vnni();
/// The CPU runs AVX-512F and BW (the vector loops of the baselines' quantization).
bool cpu_supports_avx512bw();
/// "model name" of /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

struct PeakOptions {
  double seconds_per_pass = 0.1;  ///< wall time of one pass
  int passes = 3;
};

/// Int8 dot-product peak in Gop/s (one u8 x s8 multiply-add = 2 ops, so one 512-bit vpdpbusd =
/// 64 MACs = 128 ops): `threads` std::threads each run 16 independent vpdpbusd chains on
/// registers only (16 covers the instruction's latency on every AVX-512 VNNI core) for
/// `seconds_per_pass`; the rate of a pass is all threads' ops over the span from the first
/// thread's start to the last one's end.
/// Errors: threads < 1 or passes < 1 (Errc::invalid_argument), no AVX-512 VNNI (unsupported).
Expected<Throughput> vnni_peak_gops(int threads, const PeakOptions& options = {});

struct BandwidthOptions {
  std::size_t bytes = std::size_t{512} << 20;  ///< buffer read per pass; far beyond any LLC
  int passes = 5;
};

/// DRAM read bandwidth in GB/s (1e9 bytes/s): `threads` std::threads read disjoint slices of one
/// buffer with 512-bit loads summed into registers (the sum is kept, so no load is optimized
/// away; AVX-512F, else 64-bit loads), one pass = the whole buffer once.
/// Errors: threads < 1, passes < 1, bytes < 1 MiB (invalid_argument), allocation failure.
Expected<Throughput> dram_read_gbps(int threads, const BandwidthOptions& options = {});

}  // namespace qk::bench
