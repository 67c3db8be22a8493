// How the in-process targets (cpu, cuda-emu) supply a loaded kernel module for a cache key: from
// memory, from the kernel cache, or by compiling and storing it; each key once, however many
// threads ask at the same time.
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "cache/kernel_cache.hpp"
#include "qk/error.hpp"
#include "runtime/cached_pch.hpp"
#include "runtime/clang_compiler.hpp"

namespace qk::runtime {

/// How a kernel was supplied, for qk::jit::stats().
enum class Supply { memory, cache, compiled, recompiled_after_eviction };

/// The modules supplied so far, by key. Thread-safe.
template <class Module>
class ModuleSupply {
 public:
  using Result = Expected<std::shared_ptr<const Module>>;

  /// The module of `key`: the one already made (or being made by another thread: this call then
  /// waits for it), else make(supply). A failure is not remembered: the next call tries again.
  template <class Make>
  Result get(const std::string& key, Supply* supply, Make&& make) {
    std::promise<Result> promise;
    std::shared_future<Result> future;
    bool mine = false;
    {
      std::lock_guard lock(mutex_);
      auto [it, inserted] = modules_.try_emplace(key);
      if (inserted) {
        it->second = promise.get_future().share();
        mine = true;
      }
      future = it->second;
    }
    if (!mine) {
      *supply = Supply::memory;
      return future.get();
    }
    Result result = make(supply);
    if (!result) {
      std::lock_guard lock(mutex_);
      modules_.erase(key);
    }
    promise.set_value(result);
    return result;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_future<Result>> modules_;
};

/// `source` compiled by `compiler`, whose precompiled header is kept in `cache` (may be null: then
/// not kept) under `pch_key` (cached_pch.hpp).
inline Expected<CompiledObject> compile_with_cached_pch(const ClangCompiler& compiler,
                                                        cache::KernelCache* cache,
                                                        const cache::BinaryKey& pch_key,
                                                        std::string_view source,
                                                        std::string_view name) {
  const std::optional<PchStore> pch =
      cache ? std::optional(cached_pch(cache, pch_key)) : std::nullopt;
  return compiler.compile(source, name, pch ? &*pch : nullptr);
}

/// The module of `key` made by `load` from the object in `cache` (may be null), or, when the cache
/// has no intact copy or it does not load, from `source` compiled by `compiler` and then stored in
/// the cache (a failure to store is a warning: the kernel works without its cached copy). With a
/// cache, the compiler's precompiled header is kept there too, under `pch_key` (cached_pch.hpp).
template <class Load>
auto load_cached_or_compile(const cache::BinaryKey& key, cache::KernelCache* cache,
                            const ClangCompiler& compiler, const cache::BinaryKey& pch_key,
                            std::string_view source, std::string_view name, Supply* supply,
                            Load&& load) -> decltype(load(std::span<const std::uint8_t>{})) {
  const std::int64_t evicted_before = cache ? cache->stats().corrupt_evicted : 0;
  if (cache) {
    // A cache that cannot be read (or a binary that does not load) is not fatal: compile.
    auto found = cache->find_binary(key);
    if (found && *found) {
      auto loaded = load(std::span<const std::uint8_t>((*found)->blob));
      if (loaded) {
        *supply = Supply::cache;
        return loaded;
      }
    }
  }
  auto object = compile_with_cached_pch(compiler, cache, pch_key, source, name);
  if (!object) return object.error();
  if (cache) {
    if (auto stored = cache->store_binary(key, object->bytes, object->compile_ms); !stored)
      fmt::print(stderr, "qk: warning: compiled {} but could not store it in {}: {}\n", name,
                 cache->path().string(), stored.error().str());
  }
  *supply = cache && cache->stats().corrupt_evicted > evicted_before
                ? Supply::recompiled_after_eviction
                : Supply::compiled;
  return load(std::span<const std::uint8_t>(object->bytes));
}

}  // namespace qk::runtime
