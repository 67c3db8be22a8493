#include "runtime/llvm_support.hpp"

#include <mutex>

#include <llvm/Support/TargetSelect.h>

namespace qk::runtime::detail {

void ensure_llvm_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

std::string to_string(llvm::Error error) {
  return llvm::toString(std::move(error));
}

}  // namespace qk::runtime::detail
