// The emulator's services (templates/emu/abi.h) as the host symbols a cuda-emu kernel links to.
#pragma once

#include <span>

#include "runtime/jit_loader.hpp"

namespace qk::runtime::emu {

/// Every qk_emu_* function of templates/emu/abi.h, by name, for JitLoader::load.
std::span<const HostSymbol> service_symbols();

}  // namespace qk::runtime::emu
