#include "runtime/jit_loader.hpp"

#include <atomic>

#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectFileInterface.h>
#include <llvm/Support/MemoryBuffer.h>

#include "runtime/llvm_support.hpp"

namespace qk::runtime {
namespace {

// ORC reports the cause of a failed link (an unresolved symbol, a bad relocation) to the session's
// error reporter, and gives the caller of the lookup only "failed to materialize". The link runs on
// the thread that asked for it (LLJIT's default in-place dispatcher), so load() collects the
// causes of its own failures here.
thread_local std::string* link_errors = nullptr;

}  // namespace

struct JitLoader::Impl {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::atomic<std::uint64_t> counter{0};
};

struct JitModule::Impl {
  std::shared_ptr<JitLoader::Impl> loader;  // keeps the JIT alive as long as the module
  llvm::orc::JITDylib* dylib = nullptr;
  std::string name;

  ~Impl() {
    // Frees the module's code and data, and deregisters its unwind tables. Nobody to tell if
    // that fails (a destructor); the memory is then merely kept.
    if (dylib) llvm::consumeError(loader->jit->getExecutionSession().removeJITDylib(*dylib));
  }
};

JitModule::JitModule(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JitModule::JitModule(JitModule&&) noexcept = default;
JitModule& JitModule::operator=(JitModule&&) noexcept = default;
JitModule::~JitModule() = default;

const std::string& JitModule::name() const {
  static const std::string moved_from = "(moved-from module)";
  return impl_ ? impl_->name : moved_from;
}

Expected<void*> JitModule::symbol(std::string_view name) const {
  if (!impl_)
    return Error{Errc::invalid_argument, std::string(name), "lookup in a moved-from JitModule"};
  llvm::orc::LLJIT& jit = *impl_->loader->jit;
  // Only this module's JITDylib, not its links: a process symbol is not one of the module's.
  auto address = jit.getExecutionSession().lookup(llvm::orc::makeJITDylibSearchOrder(impl_->dylib),
                                                  jit.mangleAndIntern(name));
  if (!address)
    return Error{Errc::invalid_argument, impl_->name,
                 "no symbol '" + std::string(name) + "' in this module (" +
                     detail::to_string(address.takeError()) + ")"};
  return address->getAddress().toPtr<void*>();
}

JitLoader::JitLoader(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
JitLoader::~JitLoader() = default;

Expected<std::unique_ptr<JitLoader>> JitLoader::create() {
  detail::ensure_llvm_initialized();
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return Error{
        Errc::unsupported, "JitLoader",
        "could not create the JIT for this machine: " + detail::to_string(jit.takeError())};
  (*jit)->getExecutionSession().setErrorReporter([](llvm::Error error) {
    if (link_errors)
      *link_errors += detail::to_string(std::move(error)) + "\n";
    else
      llvm::consumeError(std::move(error));
  });
  auto impl = std::make_shared<Impl>();
  impl->jit = std::move(*jit);
  return std::unique_ptr<JitLoader>(new JitLoader(std::move(impl)));
}

Expected<JitModule> JitLoader::load(std::span<const std::uint8_t> object, std::string_view name,
                                    std::span<const HostSymbol> host_symbols) {
  llvm::orc::LLJIT& jit = *impl_->jit;
  llvm::orc::ExecutionSession& session = jit.getExecutionSession();
  const std::string unique_name = std::string(name) + "#" + std::to_string(++impl_->counter);
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char*>(object.data()), object.size()), unique_name);

  auto interface = llvm::orc::getObjectFileInterface(session, buffer->getMemBufferRef());
  if (!interface)
    return Error{Errc::invalid_argument, std::string(name),
                 "not a loadable object file (" + std::to_string(object.size()) +
                     " bytes): " + detail::to_string(interface.takeError())};
  if (interface->InitSymbol)
    return Error{Errc::unsupported, std::string(name),
                 "the object has static initializers (.init_array / .ctors), which the loader "
                 "does not run: kernels must not need dynamic initialization of globals"};

  // A JITDylib of its own, linked (LLJIT's default link order) against the process's symbols.
  auto dylib = jit.createJITDylib(unique_name);
  if (!dylib)
    return Error{Errc::invalid_argument, std::string(name),
                 "could not create a JITDylib: " + detail::to_string(dylib.takeError())};
  if (!jit.getProcessSymbolsJITDylib()) {
    auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
        jit.getDataLayout().getGlobalPrefix());
    if (!process) {
      llvm::consumeError(session.removeJITDylib(*dylib));
      return Error{Errc::unsupported, std::string(name),
                   "no access to the process's symbols: " + detail::to_string(process.takeError())};
    }
    dylib->addGenerator(std::move(*process));
  }
  JitModule module(std::make_unique<JitModule::Impl>(impl_, &*dylib, unique_name));
  if (!host_symbols.empty()) {
    llvm::orc::SymbolMap definitions;
    for (const HostSymbol& s : host_symbols)
      definitions[jit.mangleAndIntern(s.name)] = {llvm::orc::ExecutorAddr::fromPtr(s.address),
                                                  llvm::JITSymbolFlags::Exported |
                                                      llvm::JITSymbolFlags::Callable};
    if (auto error = dylib->define(llvm::orc::absoluteSymbols(std::move(definitions))))
      return Error{Errc::invalid_argument, std::string(name),
                   "could not define the host symbols: " + detail::to_string(std::move(error))};
  }
  if (auto error = jit.addObjectFile(*dylib, std::move(buffer)))
    return Error{Errc::compile_error, std::string(name),
                 "could not add the object: " + detail::to_string(std::move(error))};

  // Link now: look up every symbol the object defines.
  llvm::orc::SymbolLookupSet symbols;
  for (const auto& entry : interface->SymbolFlags)
    symbols.add(entry.first, llvm::orc::SymbolLookupFlags::WeaklyReferencedSymbol);
  std::string causes;
  link_errors = &causes;
  auto linked = session.lookup(
      llvm::orc::makeJITDylibSearchOrder(&*dylib, llvm::orc::JITDylibLookupFlags::MatchAllSymbols),
      std::move(symbols));
  link_errors = nullptr;
  if (!linked)
    return Error{Errc::compile_error, std::string(name),
                 "could not link the object: " + causes + detail::to_string(linked.takeError())};
  return module;
}

}  // namespace qk::runtime
