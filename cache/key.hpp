// What identifies one compiled binary in the cache, and the hashes the cache stores: the key hash
// (which row a BinaryKey names) and the blob checksum (whether a row's bytes are intact). Both are
// XXH3-128 (xxHash), written as 32 lowercase hex digits in xxHash's canonical (big-endian) order.
// Both are stored formats (docs/cache.md): changing either is a schema change.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "qk/error.hpp"

namespace qk::cache {

/// Everything that identifies one compiled binary (architecture principle 3). Any field differing
/// is a different binary: a lookup with any other value is a miss, never a wrong kernel.
struct BinaryKey {
  std::string kernel;             ///< canonical kernel name, e.g. "qk_w8a8_cpu_mr6_nr64_kc512"
  std::string spec_hash;          ///< hash of the full kernel spec (from codegen; opaque here)
  std::string template_revision;  ///< hash of the template sources
  std::string target;             ///< e.g. "cpu=sapphirerapids;+avx512bw,…" or "sm_90a"
  std::string compiler;           ///< compiler and its version, e.g. "clang 19.1.7", "nvrtc 13.0"
  std::string flags;              ///< compile options that change code; may be empty

  friend bool operator==(const BinaryKey&, const BinaryKey&) = default;
};

/// The exact bytes the key hash is taken of: the tag "qk.cache.BinaryKey.v1", then for each field
/// in declaration order its length as 8 bytes little-endian followed by its bytes. The lengths
/// keep field boundaries apart: {"ab", "c"} and {"a", "bc"} serialize differently.
std::string canonical_key_bytes(const BinaryKey& key);

/// `tag`, then each field as its length (8 bytes little-endian) and its bytes: the serialization
/// of every hashed record of the cache (keys, winners).
std::string length_prefixed(std::string_view tag, std::initializer_list<std::string_view> fields);

/// XXH3-128 of canonical_key_bytes(key), 32 lowercase hex digits: binaries.key_hash.
std::string key_hash(const BinaryKey& key);

/// XXH3-128 of `bytes`, 32 lowercase hex digits: binaries.checksum.
/// Example: blob_checksum({}) == "99aa06d3014798d86001c324468d497f".
std::string blob_checksum(std::span<const std::uint8_t> bytes);

/// binaries.checksum of a row: blob_checksum(blob) when `attributes` is empty (every row written
/// before schema version 3 and every binary without attributes), else XXH3-128 of
/// length_prefixed("qk.cache.Binary.v3", {blob, attributes}), so that damage to either is found.
std::string binary_checksum(std::span<const std::uint8_t> blob, std::string_view attributes);

/// Checks the fields a key must have. Errors (Errc::invalid_argument, `where` =
/// "BinaryKey.<field>"): an empty kernel, spec_hash, template_revision, target or compiler — an
/// empty field would make keys of different binaries equal. `flags` may be empty.
Expected<void> check_key(const BinaryKey& key);

/// The key of a precompiled header kept in the cache (runtime/cached_pch.hpp) for `target_name`
/// ("cpu", "cuda_emu"): kernel and spec_hash "qk_<target_name>_pch" (a PCH has no spec; the flags
/// pin its contents), the other fields as given.
BinaryKey precompiled_header_key(std::string_view target_name, std::string template_revision,
                                 std::string target, std::string compiler, std::string flags);

/// Whether `key` names a precompiled header (precompiled_header_key), not a kernel.
bool is_precompiled_header(const BinaryKey& key);

/// The first field whose value differs between `a` and `b`, as "field: 'a value' vs 'b value'";
/// empty when the keys are equal. For error messages.
std::string describe_difference(const BinaryKey& a, const BinaryKey& b);

}  // namespace qk::cache
