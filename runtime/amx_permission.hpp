// Linux gives a process the AMX tile state only on request: until then the first tile
// instruction faults (SIGILL). The cpu backend asks once before it chooses AMX tiles.
#pragma once

#include "qk/error.hpp"

namespace qk::runtime {

/// Requests the AMX tile data state for this process (arch_prctl(ARCH_REQ_XCOMP_PERM,
/// XFEATURE_XTILEDATA), Linux 5.16 and later); once per process, thread-safe, the answer
/// remembered. Errors: Errc::unsupported naming the system call and errno's message (a kernel
/// without the call, a machine without AMX, or a policy that refuses it).
/// @post on success, every thread of the process may run tile instructions
Expected<void> request_amx_permission();

}  // namespace qk::runtime
