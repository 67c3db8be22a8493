// The CPU that code of the `cpu` target is generated for. Part of every cache key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "qk/error.hpp"

namespace qk::runtime {

/// The CPU code is generated for: an LLVM CPU name plus explicit features.
///
/// `features` holds LLVM feature names with a sign: "+avx512vnni" enables, "-avx512vnni" disables
/// (a disabled feature appears only where the CPU name would otherwise imply it). host() and
/// portable() list every enabled feature, including those the CPU name implies, so that a target
/// can be compared with a machine feature by feature.
///
/// Example: `CpuTarget{"x86-64-v4", {"+avx512bw", "+avx512f", "+avx512vnni", ...}}`
struct CpuTarget {
  std::string cpu;                    ///< LLVM CPU name, e.g. "sapphirerapids", "x86-64-v4"
  std::vector<std::string> features;  ///< sorted, e.g. {"+avx512bw", "+avx512vnni", ...}

  /// The machine this process runs on: llvm::sys::getHostCPUName() and the enabled features of
  /// llvm::sys::getHostCPUFeatures(), sorted (as clang's -march=native sees them).
  /// @post !cpu.empty(); runs_on_host(host())
  static CpuTarget host();

  /// A portable level for caches shipped to other machines:
  /// - "avx512": x86-64-v4 (AVX-512 F/BW/CD/DQ/VL) + avx512vnni; avx512bf16 is not assumed.
  /// - "avx2":   x86-64-v3 (AVX2, FMA, BMI2, F16C); avxvnni is not assumed.
  /// - "amx":    "avx512" + amx-tile + amx-int8 (Sapphire Rapids and later); never implied by
  ///   "avx512", whose code must run on CPUs without AMX.
  /// An unknown level is Errc::invalid_argument naming the known ones.
  static Expected<CpuTarget> portable(std::string_view level);

  /// Whether code for this target may use `feature` ("avx512vnni" or "+avx512vnni"): listed as
  /// enabled, or implied by `cpu` and not listed as disabled.
  bool has(std::string_view feature) const;

  /// Canonical text for cache keys and logs: "cpu=<cpu>;<features sorted, deduplicated, joined
  /// by ','>", e.g. "cpu=sapphirerapids;+avx512bw,+avx512vnni". Independent of the order of
  /// `features`.
  std::string key() const;

  friend bool operator==(const CpuTarget&, const CpuTarget&) = default;
};

/// Whether code for `target` can run on this machine: every feature it enables, and every feature
/// its CPU name implies (unless it disables it), is one the host has. An unknown CPU name → false.
bool runs_on_host(const CpuTarget& target);

}  // namespace qk::runtime
