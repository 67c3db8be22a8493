#include "cache/key.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>
#include <xxhash.h>

namespace qk::cache {

namespace {

constexpr std::string_view kKeyTag = "qk.cache.BinaryKey.v1";
constexpr std::string_view kBinaryTag = "qk.cache.Binary.v3";

/// The fields in serialization order, with their names.
std::array<std::pair<std::string_view, const std::string*>, 6> fields_of(const BinaryKey& key) {
  return {{{"kernel", &key.kernel},
           {"spec_hash", &key.spec_hash},
           {"template_revision", &key.template_revision},
           {"target", &key.target},
           {"compiler", &key.compiler},
           {"flags", &key.flags}}};
}

std::string hex128(XXH128_hash_t hash) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);  // big-endian: the order xxhsum prints
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof(canonical.digest));
  for (const unsigned char byte : canonical.digest) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

}  // namespace

std::string length_prefixed(std::string_view tag, std::initializer_list<std::string_view> fields) {
  std::string out(tag);
  for (const std::string_view value : fields) {
    std::uint64_t size = value.size();
    for (int i = 0; i < 8; ++i) {
      out += static_cast<char>(size & 0xff);
      size >>= 8;
    }
    out += value;
  }
  return out;
}

std::string canonical_key_bytes(const BinaryKey& key) {
  return length_prefixed(kKeyTag, {key.kernel, key.spec_hash, key.template_revision, key.target,
                                   key.compiler, key.flags});
}

std::string key_hash(const BinaryKey& key) {
  const std::string bytes = canonical_key_bytes(key);
  return hex128(XXH3_128bits(bytes.data(), bytes.size()));
}

std::string blob_checksum(std::span<const std::uint8_t> bytes) {
  return hex128(XXH3_128bits(bytes.data(), bytes.size()));
}

std::string binary_checksum(std::span<const std::uint8_t> blob, std::string_view attributes) {
  if (attributes.empty()) return blob_checksum(blob);
  const std::string bytes = length_prefixed(
      kBinaryTag,
      {std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()), attributes});
  return hex128(XXH3_128bits(bytes.data(), bytes.size()));
}

Expected<void> check_key(const BinaryKey& key) {
  for (const auto& [name, value] : fields_of(key)) {
    if (name != "flags" && value->empty()) {
      return Error{Errc::invalid_argument, fmt::format("BinaryKey.{}", name),
                   "must not be empty: a key field left empty would let different binaries "
                   "share one key"};
    }
  }
  return {};
}

std::string describe_difference(const BinaryKey& a, const BinaryKey& b) {
  const auto fa = fields_of(a);
  const auto fb = fields_of(b);
  for (std::size_t i = 0; i < fa.size(); ++i) {
    if (*fa[i].second != *fb[i].second) {
      return fmt::format("{}: '{}' vs '{}'", fa[i].first, *fa[i].second, *fb[i].second);
    }
  }
  return {};
}

BinaryKey precompiled_header_key(std::string_view target_name, std::string template_revision,
                                 std::string target, std::string compiler, std::string flags) {
  const std::string name = fmt::format("qk_{}_pch", target_name);
  return {name, name, std::move(template_revision), std::move(target), std::move(compiler),
          std::move(flags)};
}

bool is_precompiled_header(const BinaryKey& key) {
  return key.kernel == key.spec_hash && key.kernel.starts_with("qk_") &&
         key.kernel.ends_with("_pch");
}

}  // namespace qk::cache
