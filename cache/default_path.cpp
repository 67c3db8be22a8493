// KernelCache::default_path(): where the QK_CACHE knob and the XDG base-directory rules put the
// cache file.
#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

#include <pwd.h>
#include <unistd.h>

#include "cache/kernel_cache.hpp"

namespace qk::cache {

namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

/// The user's home folder from the password database, for processes started without HOME.
std::string home_from_passwd() {
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<std::size_t>(size) : 16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(getuid(), &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr ||
      found->pw_dir == nullptr) {
    return {};
  }
  return found->pw_dir;
}

}  // namespace

std::filesystem::path KernelCache::default_path() {
  if (std::string file = env_or_empty("QK_CACHE"); !file.empty()) return file;
  // The XDG base-directory specification says a relative XDG_CACHE_HOME is invalid: ignore it.
  if (std::filesystem::path xdg = env_or_empty("XDG_CACHE_HOME");
      !xdg.empty() && xdg.is_absolute()) {
    return xdg / "qk" / "kernels.db";
  }
  std::string home = env_or_empty("HOME");
  if (home.empty()) home = home_from_passwd();
  if (!home.empty()) return std::filesystem::path(home) / ".cache" / "qk" / "kernels.db";
  std::error_code ec;
  std::filesystem::path temp = std::filesystem::temp_directory_path(ec);
  if (ec) temp = "/tmp";
  return temp / ("qk-" + std::to_string(getuid())) / "kernels.db";
}

}  // namespace qk::cache
