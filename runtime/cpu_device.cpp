#include "runtime/cpu_device.hpp"

#include <fstream>
#include <utility>

#include <fmt/format.h>
#include <xxhash.h>

namespace qk::runtime {
namespace {

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (!line.starts_with("model name")) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const std::size_t start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return "unknown";
}

/// " | <LLVM CPU> | " and " threads | isa <8 hex digits>": the parts of a fingerprint that depend
/// on the code target only.
std::pair<std::string, std::string> code_target_parts(const CpuTarget& code_target) {
  const std::string key = code_target.key();
  return {fmt::format(" | {} | ", code_target.cpu),
          fmt::format(" threads | isa {:08x}",
                      static_cast<std::uint32_t>(XXH3_64bits(key.data(), key.size())))};
}

}  // namespace

std::string cpu_device_fingerprint(const CpuTarget& code_target, int threads) {
  static const std::string model = cpu_model_name();
  const auto [cpu, isa] = code_target_parts(code_target);
  return fmt::format("cpu:{}{}{}{}", model, cpu, threads, isa);
}

bool fingerprint_of_code_target(std::string_view fingerprint, const CpuTarget& code_target) {
  const auto [cpu, isa] = code_target_parts(code_target);
  if (!fingerprint.starts_with("cpu:") || !fingerprint.ends_with(isa)) return false;
  // The threads between the CPU name and the suffix: digits only (a model name may hold " | ").
  const std::string_view head = fingerprint.substr(0, fingerprint.size() - isa.size());
  const std::size_t at = head.rfind(cpu);
  if (at == std::string_view::npos) return false;
  const std::string_view threads = head.substr(at + cpu.size());
  return !threads.empty() && threads.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace qk::runtime
