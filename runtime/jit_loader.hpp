// The `cpu` target's loader: ELF objects (from ClangCompiler or the cache) → callable code, with
// LLVM ORC in process.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "qk/error.hpp"

namespace qk::runtime {

class JitLoader;

/// A function of the host program that loaded code may call by name, without the program
/// exporting it (e.g. the cuda-emu services, runtime/emu_services.hpp).
struct HostSymbol {
  std::string_view name;  ///< the symbol as the object refers to it (an extern "C" name)
  void* address;
};

/// Loaded object code; its symbols stay valid while the module lives. Movable, not copyable.
/// A module keeps its loader's JIT alive, so it may outlive the JitLoader that made it.
class JitModule {
 public:
  JitModule(JitModule&&) noexcept;
  JitModule& operator=(JitModule&&) noexcept;
  JitModule(const JitModule&) = delete;
  JitModule& operator=(const JitModule&) = delete;
  /// Removes the module's code and data from the JIT (its JITDylib).
  ~JitModule();

  /// Address of a symbol defined by this module's object (an extern "C" name, or a mangled one).
  /// Only this module is searched: process symbols such as "memset" are not found here.
  /// Error (Errc::invalid_argument) names the symbol and the module.
  Expected<void*> symbol(std::string_view name) const;

  /// Address of an extern "C" function, cast to the function pointer type `Fn`.
  /// Example: `auto f = module.function<int (*)(int)>("twice");`
  template <class Fn>
  Expected<Fn> function(std::string_view name) const {
    auto address = symbol(name);
    if (!address) return address.error();
    return reinterpret_cast<Fn>(*address);
  }

  /// The unique name of the module's JITDylib: the name given to load() plus "#<counter>".
  const std::string& name() const;

 private:
  friend class JitLoader;

/// A function of the host program that loaded code may call by name, without the program
/// exporting it (e.g. the cuda-emu services, runtime/emu_services.hpp).
struct HostSymbol {
  std::string_view name;  ///< the symbol as the object refers to it (an extern "C" name)
  void* address;
};
  struct Impl;
  explicit JitModule(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Loads objects into one in-process LLVM ORC JIT (LLJIT with JITLink). Thread-safe.
///
/// Each object gets a JITDylib of its own, so that objects defining the same symbols (two kernels
/// with the same entry name, template instantiations they both contain) load side by side.
/// Undefined symbols of an object resolve against the process: libc, libm, libstdc++ and
/// libgcc_s (memset, expf, __cxa_guard_acquire, …) and the host program's exported functions
/// (those of an executable only when it is linked with -rdynamic / ENABLE_EXPORTS).
/// Static initializers (.init_array) are not run: load() rejects objects that have them.
class JitLoader {
 public:
  /// Creates the JIT for the host (one LLJIT per loader).
  static Expected<std::unique_ptr<JitLoader>> create();
  ~JitLoader();
  JitLoader(const JitLoader&) = delete;
  JitLoader& operator=(const JitLoader&) = delete;

  /// Loads a relocatable object into a fresh JITDylib named `<name>#<counter>` and links it at
  /// once, so that a missing symbol is an error here rather than at the first call. References to
  /// `host_symbols` resolve to their addresses, before the process's symbols are searched.
  /// Errors: Errc::invalid_argument (not an object of this machine, an unresolved symbol: the
  /// message names it), Errc::unsupported (the object has static initializers).
  Expected<JitModule> load(std::span<const std::uint8_t> object, std::string_view name,
                           std::span<const HostSymbol> host_symbols = {});

 private:
  friend class JitModule;
  struct Impl;
  explicit JitLoader(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace qk::runtime
