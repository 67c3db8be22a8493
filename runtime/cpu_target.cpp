#include "runtime/cpu_target.hpp"

#include <algorithm>
#include <set>

#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringMap.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/X86TargetParser.h>

namespace qk::runtime {
namespace {

/// The features an x86 CPU name implies, closed under implication (avx512f → avx2 → avx → …).
/// Empty for a name LLVM does not know.
std::set<std::string> implied_by_cpu(std::string_view cpu) {
  std::set<std::string> out;
  if (llvm::X86::parseArchX86(cpu) == llvm::X86::CK_None) return out;
  llvm::SmallVector<llvm::StringRef, 64> direct;
  llvm::X86::getFeaturesForCPU(cpu, direct);
  llvm::StringMap<bool> closure;
  for (llvm::StringRef f : direct) {
    closure[f] = true;
    llvm::X86::updateImpliedFeatures(f, true, closure);
  }
  for (const auto& entry : closure)
    if (entry.second) out.insert(entry.first().str());
  return out;
}

std::string_view strip_sign(std::string_view feature) {
  if (!feature.empty() && (feature.front() == '+' || feature.front() == '-'))
    feature.remove_prefix(1);
  return feature;
}

bool contains(const std::vector<std::string>& features, char sign, std::string_view name) {
  return std::any_of(features.begin(), features.end(), [&](const std::string& f) {
    return !f.empty() && f.front() == sign && std::string_view(f).substr(1) == name;
  });
}

/// `cpu` plus every feature it implies and `extra` (with their implications), as a target.
CpuTarget closed_target(std::string cpu, std::initializer_list<const char*> extra) {
  std::set<std::string> names = implied_by_cpu(cpu);
  llvm::StringMap<bool> closure;
  for (const char* f : extra) {
    closure[f] = true;
    llvm::X86::updateImpliedFeatures(f, true, closure);
  }
  for (const auto& entry : closure)
    if (entry.second) names.insert(entry.first().str());
  CpuTarget target{std::move(cpu), {}};
  for (const std::string& n : names) target.features.push_back("+" + n);
  return target;
}

}  // namespace

CpuTarget CpuTarget::host() {
  CpuTarget target;
  target.cpu = llvm::sys::getHostCPUName().str();
  const llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  for (const auto& entry : host)
    if (entry.second) target.features.push_back("+" + entry.first().str());
  // A CPU name implies features that this machine may still lack (a VM masking PKU or AVX-512):
  // disable those explicitly, as clang's -march=native does.
  for (const std::string& f : implied_by_cpu(target.cpu)) {
    auto it = host.find(f);
    if (it != host.end() && !it->second) target.features.push_back("-" + f);
  }
  std::sort(target.features.begin(), target.features.end());
  return target;
}

Expected<CpuTarget> CpuTarget::portable(std::string_view level) {
  // x86-64-v4 is the psABI level with AVX-512 F/BW/CD/DQ/VL; VNNI is what makes int8 GEMMs fast.
  if (level == "avx512") return closed_target("x86-64-v4", {"avx512vnni"});
  if (level == "avx2") return closed_target("x86-64-v3", {});
  // AMX is a level of its own, never part of avx512: avx512 caches must run on VNNI-only CPUs.
  if (level == "amx") return closed_target("x86-64-v4", {"avx512vnni", "amx-tile", "amx-int8"});
  return Error{Errc::invalid_argument, "cpu target",
               "unknown portable level '" + std::string(level) +
                   "'; known levels: avx512 (x86-64-v4 + avx512vnni), avx2 (x86-64-v3), amx "
                   "(avx512 + amx-tile, amx-int8)"};
}

bool CpuTarget::has(std::string_view feature) const {
  const std::string_view name = strip_sign(feature);
  if (contains(features, '+', name)) return true;
  if (contains(features, '-', name)) return false;
  return implied_by_cpu(cpu).count(std::string(name)) > 0;
}

std::string CpuTarget::key() const {
  const std::set<std::string> sorted(features.begin(), features.end());
  std::string out = "cpu=" + cpu + ";";
  bool first = true;
  for (const std::string& f : sorted) {
    if (!first) out += ',';
    out += f;
    first = false;
  }
  return out;
}

bool runs_on_host(const CpuTarget& target) {
  if (llvm::X86::parseArchX86(target.cpu) == llvm::X86::CK_None) return false;
  const llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  // A feature the host detection does not report at all (x87) is part of every x86-64 CPU.
  auto host_has = [&](const std::string& f) {
    auto it = host.find(f);
    return it == host.end() || it->second;
  };
  for (const std::string& f : target.features)
    if (!f.empty() && f.front() == '+' && !host_has(f.substr(1))) return false;
  for (const std::string& f : implied_by_cpu(target.cpu))
    if (!contains(target.features, '-', f) && !host_has(f)) return false;
  return true;
}

}  // namespace qk::runtime
