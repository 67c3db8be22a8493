#include "runtime/clang_compiler.hpp"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>

#include <clang/Basic/Diagnostic.h>
#include <clang/Basic/DiagnosticOptions.h>
#include <clang/Basic/Version.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Driver/Compilation.h>
#include <clang/Driver/Driver.h>
#include <clang/Driver/Job.h>
#include <clang/Driver/Tool.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/FrontendActions.h>
#include <clang/Frontend/TextDiagnosticPrinter.h>
#include <clang/Lex/PreprocessorOptions.h>
#include <clang/Serialization/ASTWriter.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/VirtualFileSystem.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>

#include "runtime/llvm_support.hpp"

namespace qk::runtime {
namespace {

// Virtual paths of the files every compile sees besides the configured headers. All live in an
// in-memory file system overlaid on the real one: nothing is written to disk.
constexpr std::string_view kSourceDir = "/qk/src/";                  // sources given to compile()
constexpr std::string_view kPreludePath = "/qk/pch/qk_prelude.hpp";  // CompilerConfig::pch_prelude
constexpr std::string_view kPchPath = "/qk/pch/qk_prelude.pch";      // its precompiled form
// The compilation directory recorded in objects, instead of the process's working directory,
// so that the bytes do not depend on where the process runs.
constexpr std::string_view kCompilationDir = "/qk";

/// A source name usable as a file name: characters outside [A-Za-z0-9_.-] become '_'.
std::string file_stem(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? std::string("kernel") : out;
}

/// A 64-bit digest as cache keys write it: 16 hex digits.
std::string hex64(XXH64_hash_t hash) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash));
  return buf;
}

/// A stable digest of cache-key text: XXH3-64 in hex.
std::string digest(std::string_view text) { return hex64(XXH3_64bits(text.data(), text.size())); }

/// clang's PCH action, but the serialized AST stays in `buffer` instead of going to a file.
class InMemoryPchAction : public clang::GeneratePCHAction {
 public:
  explicit InMemoryPchAction(std::shared_ptr<clang::PCHBuffer> buffer)
      : buffer_(std::move(buffer)) {}

 protected:
  std::unique_ptr<clang::ASTConsumer> CreateASTConsumer(clang::CompilerInstance& ci,
                                                        llvm::StringRef) override {
    const clang::FrontendOptions& fo = ci.getFrontendOpts();
    return std::make_unique<clang::PCHGenerator>(
        ci.getPreprocessor(), ci.getModuleCache(), kPchPath, /*isysroot=*/"", buffer_,
        fo.ModuleFileExtensions, /*AllowASTWithErrors=*/false, fo.IncludeTimestamps);
  }

 private:
  std::shared_ptr<clang::PCHBuffer> buffer_;
};

/// What one run of the clang frontend is asked to do.
struct FrontendJob {
  std::string main_path;  // virtual path of the main file
  std::string source;     // its text (a std::string: clang's lexer needs the terminating '\0')
  bool generate_pch = false;
  clang::FrontendAction* action = nullptr;
  std::unique_ptr<llvm::raw_pwrite_stream> output;  // where an object goes; null for the PCH
};

}  // namespace

struct ClangCompiler::Impl {
  CompilerConfig config;                     // headers[i].contents views header_contents[i]
  std::vector<std::string> header_contents;  // owned copies of the virtual headers
  std::vector<std::string> driver_flags;     // the flags given to the driver, for logs
  std::string flags_key;
  // The driver's -cc1 arguments (without "-cc1") and the serialized PCH of config.pch_prelude
  // (empty without a prelude), made by the first compile(), not by create(): a process whose
  // kernels all come from the cache pays for neither (the driver probes the file system for the
  // C++ installation). Written once under prepare_once, read-only afterwards.
  mutable std::once_flag prepare_once;
  mutable std::vector<std::string> cc1_args;
  mutable std::string pch;
  mutable std::optional<Error> prepare_error;

  void prepare(const PchStore* store) const;
  bool adopt_pch(const PchStore& store) const;
  void build_pch() const;

  /// The files of one compile: the virtual headers, the prelude and its PCH, the main file.
  llvm::IntrusiveRefCntPtr<llvm::vfs::FileSystem> make_file_system(const FrontendJob& job) const {
    auto memory = llvm::makeIntrusiveRefCnt<llvm::vfs::InMemoryFileSystem>();
    // Modification time 0 everywhere: the PCH records its inputs' times and checks them on use.
    auto add = [&](std::string_view path, std::string_view text) {
      memory->addFileNoOwn(path, 0, llvm::MemoryBufferRef(llvm::StringRef(text), path));
    };
    for (const VirtualHeader& h : config.headers) add(h.path, h.contents);
    if (!config.pch_prelude.empty()) add(kPreludePath, config.pch_prelude);
    if (!pch.empty()) add(kPchPath, pch);
    add(job.main_path, job.source);
    // A physical file system of its own: its working directory is not the process's, and is
    // never changed under another thread's compile.
    auto overlay = llvm::makeIntrusiveRefCnt<llvm::vfs::OverlayFileSystem>(
        llvm::IntrusiveRefCntPtr<llvm::vfs::FileSystem>(
            llvm::vfs::createPhysicalFileSystem().release()));
    overlay->pushOverlay(memory);
    return overlay;
  }

  /// Runs the frontend once. Returns whether it succeeded; `diagnostics` gets clang's text.
  bool run(FrontendJob job, std::string& diagnostics) const {
    llvm::raw_string_ostream diag_stream(diagnostics);
    auto invocation = std::make_shared<clang::CompilerInvocation>();
    {
      auto opts = llvm::makeIntrusiveRefCnt<clang::DiagnosticOptions>();
      clang::TextDiagnosticPrinter printer(diag_stream, opts.get());
      clang::DiagnosticsEngine arg_diags(llvm::makeIntrusiveRefCnt<clang::DiagnosticIDs>(), opts,
                                         &printer, /*ShouldOwnClient=*/false);
      std::vector<const char*> args;
      for (const std::string& a : cc1_args) args.push_back(a.c_str());
      if (!clang::CompilerInvocation::CreateFromArgs(*invocation, args, arg_diags)) return false;
    }
    clang::FrontendOptions& fo = invocation->getFrontendOpts();
    fo.Inputs.clear();
    const clang::InputKind cxx(clang::Language::CXX);
    fo.Inputs.emplace_back(job.main_path, job.generate_pch ? cxx.getHeader() : cxx);
    fo.ProgramAction = job.generate_pch ? clang::frontend::GeneratePCH : clang::frontend::EmitObj;
    // The driver asks for -disable-free (a compiler process exits right after); we live on.
    fo.DisableFree = false;
    invocation->getCodeGenOpts().DisableFree = false;
    invocation->getCodeGenOpts().MainFileName =
        job.main_path.substr(job.main_path.find_last_of('/') + 1);
    invocation->getDiagnosticOpts().ShowColors = false;
    auto& features = invocation->getTargetOpts().FeaturesAsWritten;
    features.insert(features.end(), config.target.features.begin(), config.target.features.end());
    if (!job.generate_pch && !pch.empty())
      invocation->getPreprocessorOpts().ImplicitPCHInclude = std::string(kPchPath);

    clang::CompilerInstance ci;
    ci.setInvocation(invocation);
    ci.createDiagnostics(new clang::TextDiagnosticPrinter(diag_stream, &ci.getDiagnosticOpts()),
                         /*ShouldOwnClient=*/true);
    // "N errors generated." goes to the verbose stream (stderr by default): keep it with the rest.
    ci.setVerboseOutputStream(std::make_unique<llvm::raw_string_ostream>(diagnostics));
    ci.createFileManager(make_file_system(job));
    if (job.output) ci.setOutputStream(std::move(job.output));
    const bool ok = ci.ExecuteAction(*job.action);
    return ok && !ci.getDiagnostics().hasErrorOccurred();
  }

  std::string command_line() const {
    std::string out = "clang++";
    for (const std::string& f : driver_flags) out += " " + f;
    out += " (+" + std::to_string(config.target.features.size()) + " target features of " +
           config.target.cpu + ")";
    return out;
  }
};

namespace {

Expected<void> check_config(const CompilerConfig& config) {
  if (config.opt_level < 0 || config.opt_level > 3)
    return Error{Errc::invalid_argument, "CompilerConfig.opt_level",
                 "is " + std::to_string(config.opt_level) + "; must be 0, 1, 2 or 3"};
  if (config.target.cpu.empty())
    return Error{Errc::invalid_argument, "CompilerConfig.target.cpu", "is empty"};
  for (const std::string& f : config.target.features)
    if (f.size() < 2 || (f.front() != '+' && f.front() != '-'))
      return Error{Errc::invalid_argument, "CompilerConfig.target.features",
                   "'" + f + "' must start with '+' or '-'"};
  for (const VirtualHeader& h : config.headers)
    if (h.path.empty() || h.path.front() != '/')
      return Error{Errc::invalid_argument, "CompilerConfig.headers",
                   "path '" + h.path + "' must be absolute"};
  return {};
}

/// The -cc1 arguments (without "-cc1") that clang++ would run for `flags`: the driver adds the
/// system include paths of libstdc++ and libc, the resource directory, the PIC level, … Its input
/// is a placeholder that each run replaces. On failure, `diagnostics` says why.
std::vector<std::string> driver_cc1_args(const std::vector<std::string>& flags,
                                         const std::string& resource_dir,
                                         std::string& diagnostics) {
  llvm::raw_string_ostream diag_stream(diagnostics);
  auto opts = llvm::makeIntrusiveRefCnt<clang::DiagnosticOptions>();
  clang::TextDiagnosticPrinter printer(diag_stream, opts.get());
  clang::DiagnosticsEngine diags(llvm::makeIntrusiveRefCnt<clang::DiagnosticIDs>(), opts, &printer,
                                 /*ShouldOwnClient=*/false);
  clang::driver::Driver driver(QK_CLANG_EXECUTABLE, llvm::sys::getProcessTriple(), diags, "qk");
  driver.setCheckInputsExist(false);
  const std::string input = std::string(kSourceDir) + "qk_input.cpp";
  std::vector<std::string> argv = {QK_CLANG_EXECUTABLE,
                                   "-c",
                                   "-x",
                                   "c++",
                                   input,
                                   "-o",
                                   input + ".o",  // never written: objects go to memory
                                   "-resource-dir",
                                   resource_dir,
                                   "-ffile-compilation-dir=" + std::string(kCompilationDir),
                                   "-fno-color-diagnostics"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  std::vector<const char*> argv_c;
  for (const std::string& a : argv) argv_c.push_back(a.c_str());
  std::unique_ptr<clang::driver::Compilation> compilation(driver.BuildCompilation(argv_c));
  std::vector<std::string> out;
  if (!compilation || diags.hasErrorOccurred()) return out;
  for (const clang::driver::Command& job : compilation->getJobs()) {
    if (std::string_view(job.getCreator().getName()) != "clang") continue;
    for (const char* a : job.getArguments())
      if (std::string_view(a) != "-cc1") out.emplace_back(a);
    break;
  }
  return out;
}

/// The flags key: the code-changing flags but -march (the target is keyed apart), then digests of
/// the prelude and of what a source can include (include directories, virtual headers).
std::string make_flags_key(const CompilerConfig& cfg, const std::vector<std::string>& flags) {
  std::string key;
  for (const std::string& f : flags) {
    if (f.rfind("-march=", 0) == 0 || f.rfind("-I", 0) == 0) continue;
    key += (key.empty() ? "" : " ") + f;
  }
  key += ";prelude=";
  key += cfg.pch_prelude.empty() ? std::string("none") : "xxh3:" + digest(cfg.pch_prelude);

  // The digest of "-I<dir>\n" per include directory, then "<path>\n<size>\n<contents>\n" per
  // virtual header in path order, streamed: the headers are about 200 KiB, and joining them into
  // one string first took about 0.25 ms of a cache hit's 4-5 ms in a fresh process.
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  auto feed = [&state](std::string_view text) {
    XXH3_64bits_update(&state, text.data(), text.size());
  };
  for (const std::string& dir : cfg.include_dirs) {
    feed("-I");
    feed(dir);
    feed("\n");
  }
  std::vector<const VirtualHeader*> sorted;
  for (const VirtualHeader& h : cfg.headers) sorted.push_back(&h);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](auto* a, auto* b) { return a->path < b->path; });
  for (const VirtualHeader* h : sorted) {
    feed(h->path);
    feed("\n");
    feed(std::to_string(h->contents.size()));
    feed("\n");
    feed(h->contents);
    feed("\n");
  }
  key += ";headers=xxh3:" + hex64(XXH3_64bits_digest(&state));
  return key;
}

}  // namespace

void ClangCompiler::Impl::prepare(const PchStore* store) const {
  std::string diagnostics;
  cc1_args = driver_cc1_args(driver_flags, QK_CLANG_RESOURCE_DIR, diagnostics);
  if (cc1_args.empty()) {
    prepare_error = Error{
        Errc::invalid_argument, "clang driver",
        "could not build the compiler arguments:\n" + diagnostics + "flags: " + command_line()};
    return;
  }
  if (config.pch_prelude.empty() || (store && adopt_pch(*store))) return;
  const auto start = std::chrono::steady_clock::now();
  build_pch();
  if (store && !prepare_error)
    store->save(std::span(reinterpret_cast<const std::uint8_t*>(pch.data()), pch.size()),
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
}

bool ClangCompiler::Impl::adopt_pch(const PchStore& store) const {
  std::optional<std::vector<std::uint8_t>> stored = store.load();
  if (!stored || stored->empty()) return false;
  pch.assign(stored->begin(), stored->end());
  // clang checks a PCH against the headers it was built from (their sizes and times) and the
  // options: an empty translation unit that includes it compiles only if it still fits.
  clang::SyntaxOnlyAction action;
  std::string diagnostics;
  if (run({std::string(kSourceDir) + "qk_pch_check.cpp", "", false, &action, nullptr},
          diagnostics)) {
    if (store.reused) store.reused();
    return true;
  }
  pch.clear();
  return false;
}

void ClangCompiler::Impl::build_pch() const {
  if (config.pch_prelude.empty()) return;
  std::string diagnostics;
  auto buffer = std::make_shared<clang::PCHBuffer>();
  InMemoryPchAction action(buffer);
  FrontendJob job{std::string(kPreludePath), config.pch_prelude, /*generate_pch=*/true, &action,
                  nullptr};
  if (!run(std::move(job), diagnostics) || !buffer->IsComplete) {
    prepare_error =
        Error{Errc::compile_error, "CompilerConfig.pch_prelude",
              "the prelude does not compile:\n" + diagnostics + "flags: " + command_line()};
    return;
  }
  pch.assign(buffer->Data.begin(), buffer->Data.end());
}

ClangCompiler::ClangCompiler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClangCompiler::~ClangCompiler() = default;

Expected<std::unique_ptr<ClangCompiler>> ClangCompiler::create(CompilerConfig config) {
  detail::ensure_llvm_initialized();
  const std::string resource_dir = QK_CLANG_RESOURCE_DIR;
  if (!llvm::sys::fs::exists(resource_dir + "/include/immintrin.h"))
    return Error{Errc::io_error, resource_dir,
                 "clang's resource headers (<immintrin.h>) are missing: install the Debian "
                 "package libclang-common-19-dev"};
  if (auto ok = check_config(config); !ok) return ok.error();

  auto impl = std::make_unique<Impl>();
  impl->header_contents.reserve(config.headers.size());  // no reallocation: views stay valid
  for (VirtualHeader& h : config.headers) {
    impl->header_contents.emplace_back(h.contents);
    h.contents = impl->header_contents.back();
  }
  impl->config = std::move(config);
  const CompilerConfig& cfg = impl->config;

  impl->driver_flags = {"-std=c++20",      "-O" + std::to_string(cfg.opt_level),
                        "-fno-exceptions", "-fno-rtti",
                        "-fno-math-errno", "-ffp-contract=on",
                        "-fPIC",           "-march=" + cfg.target.cpu};
  for (const std::string& dir : cfg.include_dirs) impl->driver_flags.push_back("-I" + dir);
  impl->flags_key = make_flags_key(cfg, impl->driver_flags);

  return std::unique_ptr<ClangCompiler>(new ClangCompiler(std::move(impl)));
}

Expected<CompiledObject> ClangCompiler::compile(std::string_view source, std::string_view name,
                                                const PchStore* pch_store) const {
  std::call_once(impl_->prepare_once, [this, pch_store] { impl_->prepare(pch_store); });
  if (impl_->prepare_error) return *impl_->prepare_error;
  const auto start = std::chrono::steady_clock::now();
  llvm::SmallVector<char, 0> object;
  clang::EmitObjAction action;
  FrontendJob job{std::string(kSourceDir) + file_stem(name) + ".cpp", std::string(source),
                  /*generate_pch=*/false, &action,
                  std::make_unique<llvm::raw_svector_ostream>(object)};
  std::string diagnostics;
  if (!impl_->run(std::move(job), diagnostics))
    return Error{Errc::compile_error, std::string(name),
                 "clang could not compile it:\n" + diagnostics + "flags: " + impl_->command_line()};
  if (object.empty())
    return Error{
        Errc::compile_error, std::string(name),
        "clang produced no object code:\n" + diagnostics + "flags: " + impl_->command_line()};
  CompiledObject out;
  out.bytes.assign(object.begin(), object.end());
  out.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::string ClangCompiler::version() const {
  return "clang " CLANG_VERSION_STRING;
}

std::string ClangCompiler::flags_key() const {
  return impl_->flags_key;
}

std::string ClangCompiler::command_line() const {
  return impl_->command_line();
}

const CompilerConfig& ClangCompiler::config() const {
  return impl_->config;
}

}  // namespace qk::runtime
