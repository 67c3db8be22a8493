// The `cpu` target's in-process compiler: C++20 source → ELF object bytes, with clang
// (libclang-cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qk/error.hpp"
#include "runtime/cpu_target.hpp"

namespace qk::runtime {

/// A header made visible to every compile at `path` (an absolute virtual path such as
/// "/qk/templates/cpu/gemm.hpp"), from memory: the kernel templates are embedded in the library.
/// ClangCompiler::create() copies the contents, so they need not outlive the call.
struct VirtualHeader {
  std::string path;
  std::string_view contents;
};

struct CompilerConfig {
  CpuTarget target = {};                       ///< -march=target.cpu plus target.features
  std::vector<VirtualHeader> headers = {};     ///< served from memory, over the real file system
  std::vector<std::string> include_dirs = {};  ///< -I, in order, e.g. "/qk/templates"
  /// Source text precompiled once into a header (PCH) that every compile includes implicitly,
  /// e.g. "#include <immintrin.h>\n#include \"cpu/gemm.hpp\"\n". Empty = no PCH.
  std::string pch_prelude = {};
  int opt_level = 3;  ///< -O<opt_level>, 0…3
};

/// Where a compiler keeps its precompiled header between processes (runtime/module_supply.hpp
/// keeps it in the kernel cache). Building the PCH is most of a cold compile (about 0.75 s of a
/// W8A8 kernel's 0.95 s), so a process that must compile starts from the PCH an earlier one built.
struct PchStore {
  /// The bytes an earlier build saved, or nullopt. Bytes that no longer fit (a system header
  /// changed since) are found out by a test compile, then replaced.
  std::function<std::optional<std::vector<std::uint8_t>>()> load;
  /// Keeps the bytes of a PCH just built and how long the build took; a failure only costs the
  /// next process a rebuild.
  std::function<void(std::span<const std::uint8_t>, double build_ms)> save;
  /// Called when the bytes of load() passed the check and serve this compiler. May be empty.
  std::function<void()> reused;
};

struct CompiledObject {
  std::vector<std::uint8_t> bytes;  ///< a relocatable ELF object (x86-64, PIC)
  double compile_ms = 0;            ///< wall time of compile(), in milliseconds
};

/// Compiles kernel sources for one CpuTarget in process: no compiler binary, no temporary files.
///
/// Every compile uses: -std=c++20 -O<opt_level> -fno-exceptions -fno-rtti -fno-math-errno
/// -ffp-contract=on -fPIC -march=<cpu> plus the target's features, clang's resource headers
/// (<immintrin.h>) and the system's C/C++ headers, the virtual headers and include_dirs.
///
/// Thread-safety: compile(), version() and flags_key() may be called from several threads at once;
/// each compile has its own clang instance and LLVM context, and shares only the immutable PCH.
///
/// Example:
///   auto cc = ClangCompiler::create({.target = CpuTarget::host()});
///   auto obj = (*cc)->compile("extern \"C\" int f() { return 42; }", "answer");
class ClangCompiler {
 public:
  /// Checks that clang's resource headers exist and the configuration. The compiler arguments
  /// and the PCH of config.pch_prelude are made by the first compile(), once: a process that only
  /// loads cached kernels never pays for them.
  /// Errors: Errc::invalid_argument (bad opt_level, relative header path), Errc::io_error
  /// (clang's resource directory is missing).
  static Expected<std::unique_ptr<ClangCompiler>> create(CompilerConfig config);
  ~ClangCompiler();
  ClangCompiler(const ClangCompiler&) = delete;
  ClangCompiler& operator=(const ClangCompiler&) = delete;

  /// Compiles C++20 `source` (which may #include the virtual headers; the PCH is used implicitly)
  /// to an ELF object in memory. The same source, name and configuration give the same bytes.
  /// `name` (e.g. the kernel's canonical name) names the source file in diagnostics
  /// ("<name>.cpp:3:5: error: …") and is the error's `where`. The first compile of this object
  /// takes the PCH from `pch_store` when it holds one that works, else builds it and saves it
  /// there; later compiles ignore `pch_store` (the PCH is made once per compiler object).
  /// Errors: Errc::compile_error whose message holds clang's full diagnostics and the flags (on
  /// the first compile, also a prelude that does not compile); Errc::invalid_argument when the
  /// clang driver cannot build the compiler arguments.
  Expected<CompiledObject> compile(std::string_view source, std::string_view name,
                                   const PchStore* pch_store = nullptr) const;

  /// "clang 19.1.7": the compiler and its version, part of every cache key.
  std::string version() const;

  /// Everything besides the target that changes the generated code, as canonical text for the
  /// cache key: the flags, and digests of the PCH prelude and of the virtual headers and include
  /// directories (whose contents a source may include).
  std::string flags_key() const;

  /// The command line equivalent to a compile (for logs): "clang++ -std=c++20 -O3 … -march=…".
  /// The target's features are not spelled out (see CpuTarget::key()).
  std::string command_line() const;

  /// The configuration this compiler was created with (the target, the headers' paths, …).
  const CompilerConfig& config() const;

 private:
  struct Impl;
  explicit ClangCompiler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qk::runtime
