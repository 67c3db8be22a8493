#include "runtime/amx_permission.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace qk::runtime {
namespace {

constexpr int kArchReqXcompPerm = 0x1023;  // ARCH_REQ_XCOMP_PERM, <asm/prctl.h>
constexpr int kXfeatureXtiledata = 18;     // XFEATURE_XTILEDATA: the 8 KiB of tile registers

}  // namespace

Expected<void> request_amx_permission() {
  // The permission is per process and permanent: one request serves every thread and call.
  static const int error = [] {
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0 ? 0 : errno;
  }();
  if (error == 0) return {};
  return Error{Errc::unsupported, "AMX tile state",
               fmt::format("arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) failed: {} (Linux "
                           "5.16 or later on a CPU with AMX is needed)",
                           std::strerror(error))};
}

}  // namespace qk::runtime
