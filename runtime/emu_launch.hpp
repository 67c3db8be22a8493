// A cuda-emu launch: every block of the grid run by a BlockRunner, the blocks spread over the
// cores (the blocks of a CUDA grid are independent, so any order is one the GPU might run).
#pragma once

#include "qk/error.hpp"
#include "runtime/emu_block.hpp"

namespace qk::runtime::emu {

/// Runs every block of `launch` and returns when all have ended. Once a block fails, blocks not
/// yet started are skipped. Error: the first failing block's (BlockRunner::run); a grid with a
/// zero dimension (Errc::invalid_argument).
Expected<void> launch(const BlockLaunch& launch);

}  // namespace qk::runtime::emu
