#include "runtime/cpu_device.hpp"

#include <fstream>

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

}  // namespace

std::string cpu_device_fingerprint(const CpuTarget& code_target, int threads) {
  static const std::string model = cpu_model_name();
  const std::string key = code_target.key();
  return fmt::format("cpu:{} | {} | {} threads | isa {:08x}", model, code_target.cpu, threads,
                     static_cast<std::uint32_t>(XXH3_64bits(key.data(), key.size())));
}

}  // namespace qk::runtime
