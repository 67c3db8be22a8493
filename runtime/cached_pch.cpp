#include "runtime/cached_pch.hpp"

#include <atomic>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace qk::runtime {
namespace {
std::atomic<std::int64_t> g_built{0}, g_reused{0};
}  // namespace

cache::BinaryKey pch_key(std::string_view target_name, std::string_view template_revision,
                         std::string_view target_key, const ClangCompiler& compiler) {
  // The flags pin the PCH's contents (prelude and header digests).
  return cache::precompiled_header_key(target_name, std::string(template_revision),
                                       std::string(target_key), compiler.version(),
                                       compiler.flags_key());
}

PchStore cached_pch(cache::KernelCache* cache, cache::BinaryKey key) {
  PchStore store;
  store.load = [cache, key]() -> std::optional<std::vector<std::uint8_t>> {
    auto found = cache->find_binary(key);
    if (!found || !*found) return std::nullopt;
    return std::move((*found)->blob);
  };
  store.save = [cache, key](std::span<const std::uint8_t> bytes, double build_ms) {
    ++g_built;
    if (auto stored = cache->store_binary(key, bytes, build_ms); !stored)
      fmt::print(stderr,
                 "qk: warning: built the precompiled header {} but could not store it in {}: {}\n",
                 key.kernel, cache->path().string(), stored.error().str());
  };
  store.reused = [] { ++g_reused; };
  return store;
}

PchCounts pch_counts() {
  return {g_built.load(), g_reused.load()};
}

}  // namespace qk::runtime
