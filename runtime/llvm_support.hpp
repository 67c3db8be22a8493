// Internal to runtime/: one-time LLVM set-up and llvm::Error → text. Includes LLVM headers, so
// only runtime/*.cpp may include it (the public headers of runtime/ stay free of LLVM).
#pragma once

#include <string>

#include <llvm/Support/Error.h>

namespace qk::runtime::detail {

/// Registers the native target, its asm printer and parser with LLVM (needed by clang's code
/// generator and by ORC). Thread-safe; only the first call does work.
void ensure_llvm_initialized();

/// The message of `error` (consumed).
std::string to_string(llvm::Error error);

}  // namespace qk::runtime::detail
