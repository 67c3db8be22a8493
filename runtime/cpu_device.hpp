// The device fingerprint of the cpu target: what a tuning record belongs to (docs/tuning.md,
// "Keys"). A tile that wins on one CPU model, core count or code target may lose on another, so
// any of them differing is a different device.
#pragma once

#include <string>
#include <string_view>

#include "runtime/cpu_target.hpp"

namespace qk::runtime {

/// "cpu:<model name> | <LLVM CPU> | <threads> threads | isa <8 hex digits>", e.g.
/// "cpu:AMD EPYC 9R14 96-Core Processor | znver4 | 2 threads | isa 3f2a91c0": the model name of
/// /proc/cpuinfo ("unknown" when unreadable), the code target's CPU name, the threads a call
/// uses, and a hash of the code target's full feature key (CpuTarget::key()).
std::string cpu_device_fingerprint(const CpuTarget& code_target, int threads);

/// Whether `fingerprint` is one of cpu_device_fingerprint(code_target, …) on any machine (any
/// model name, any threads): what a winner tuned for code of `code_target` elsewhere is keyed by.
bool fingerprint_of_code_target(std::string_view fingerprint, const CpuTarget& code_target);

}  // namespace qk::runtime
