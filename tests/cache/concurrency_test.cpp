// Tests of the cache under concurrent use (docs/cache.md, "Concurrency"): threads sharing one
// KernelCache, two connections in one process, and two processes writing one file at once.
// Each ends with every record present and SQLite's integrity check passing.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/temp_dir.hpp"
#include "cache/kernel_cache.hpp"
#include "cache/sqlite_handle.hpp"

namespace {

namespace fs = std::filesystem;
using qk::cache::BinaryKey;
using qk::cache::KernelCache;

constexpr int kRecords = 200;

using qk::test::TempDir;

BinaryKey key_of(const std::string& writer, int i) {
  return BinaryKey{"qk_w8a8_cpu_" + writer + "_" + std::to_string(i),
                   "spec" + std::to_string(i),
                   "tmpl",
                   "cpu=x86-64-v4",
                   "clang 19.1.7",
                   ""};
}

std::vector<std::uint8_t> blob_of(const std::string& writer, int i) {
  std::vector<std::uint8_t> out(64 + static_cast<std::size_t>(i % 97));
  for (std::size_t j = 0; j < out.size(); ++j) {
    out[j] = static_cast<std::uint8_t>(j * 31 + static_cast<std::size_t>(i) + writer.size());
  }
  return out;
}

/// Stores `writer`'s records, finding each right after storing it; returns the failures.
std::vector<std::string> store_and_find(KernelCache& cache, const std::string& writer) {
  std::vector<std::string> failures;
  for (int i = 0; i < kRecords; ++i) {
    if (auto stored = cache.store_binary(key_of(writer, i), blob_of(writer, i), i); !stored) {
      failures.push_back("store " + writer + std::to_string(i) + ": " + stored.error().str());
      continue;
    }
    auto found = cache.find_binary(key_of(writer, i));
    if (!found) {
      failures.push_back("find " + writer + std::to_string(i) + ": " + found.error().str());
    } else if (!found->has_value() || (*found)->blob != blob_of(writer, i)) {
      failures.push_back("find " + writer + std::to_string(i) + ": missing or wrong bytes");
    }
  }
  return failures;
}

/// Every writer's records are in `file`, with the right bytes, and the file is intact.
void expect_all_present(const fs::path& file, const std::vector<std::string>& writers) {
  auto cache = KernelCache::open(file);
  ASSERT_TRUE(cache.has_value()) << cache.error().str();
  for (const std::string& writer : writers) {
    for (int i = 0; i < kRecords; ++i) {
      auto found = (*cache)->find_binary(key_of(writer, i));
      ASSERT_TRUE(found.has_value()) << found.error().str();
      ASSERT_TRUE(found->has_value()) << writer << " " << i << " is missing";
      EXPECT_EQ((*found)->blob, blob_of(writer, i));
    }
  }
  auto list = (*cache)->list_binaries();
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), writers.size() * kRecords);
  EXPECT_EQ((*cache)->stats().corrupt_evicted, 0);

  auto db = qk::cache::Db::open(file, SQLITE_OPEN_READONLY);
  ASSERT_TRUE(db.has_value()) << db.error().str();
  auto check = db->prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.has_value());
  ASSERT_TRUE(*check->step());
  EXPECT_EQ(check->column_text(0), "ok");
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < 10; ++i) out += "  " + lines[i] + "\n";
  return out;
}

TEST(CacheConcurrency, TwoThreadsShareOneCache) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  auto cache = KernelCache::open(file);
  ASSERT_TRUE(cache.has_value()) << cache.error().str();
  std::vector<std::string> failures[2];
  std::thread a([&] { failures[0] = store_and_find(**cache, "a"); });
  std::thread b([&] { failures[1] = store_and_find(**cache, "b"); });
  a.join();
  b.join();
  EXPECT_TRUE(failures[0].empty()) << join(failures[0]);
  EXPECT_TRUE(failures[1].empty()) << join(failures[1]);
  const qk::cache::CacheStats stats = (*cache)->stats();
  EXPECT_EQ(stats.stores, 2 * kRecords);
  EXPECT_EQ(stats.hits, 2 * kRecords);
  EXPECT_EQ(stats.misses, 0);
  cache->reset();
  expect_all_present(file, {"a", "b"});
}

TEST(CacheConcurrency, TwoConnectionsWriteOneFileFromTwoThreads) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  auto first = KernelCache::open(file);
  auto second = KernelCache::open(file);
  ASSERT_TRUE(first.has_value()) << first.error().str();
  ASSERT_TRUE(second.has_value()) << second.error().str();
  std::vector<std::string> failures[2];
  std::thread a([&] { failures[0] = store_and_find(**first, "a"); });
  std::thread b([&] { failures[1] = store_and_find(**second, "b"); });
  a.join();
  b.join();
  EXPECT_TRUE(failures[0].empty()) << join(failures[0]);
  EXPECT_TRUE(failures[1].empty()) << join(failures[1]);
  // Each connection sees the other's records.
  auto cross = (*first)->find_binary(key_of("b", kRecords - 1));
  ASSERT_TRUE(cross && cross->has_value());
  first->reset();
  second->reset();
  expect_all_present(file, {"a", "b"});
}

TEST(CacheConcurrency, TwoProcessesCreateAndWriteOneFile) {
  TempDir dir;
  const fs::path file = dir.path() / "sub" / "kernels.db";
  // Both processes open the not-yet-existing file at about the same time: creation and the
  // schema's first migration race too. No connection is open here across fork().
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    auto cache = KernelCache::open(file);
    if (!cache) {
      std::fprintf(stderr, "child: %s\n", cache.error().str().c_str());
      code = 1;
    } else {
      for (const std::string& failure : store_and_find(**cache, "child")) {
        std::fprintf(stderr, "child: %s\n", failure.c_str());
        code = 2;
      }
    }
    _exit(code);
  }
  std::vector<std::string> failures;
  {
    auto cache = KernelCache::open(file);
    if (!cache) {
      failures.push_back(cache.error().str());
    } else {
      failures = store_and_find(**cache, "parent");
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child failed (its messages are on stderr)";
  EXPECT_TRUE(failures.empty()) << join(failures);
  expect_all_present(file, {"child", "parent"});
}

}  // namespace
