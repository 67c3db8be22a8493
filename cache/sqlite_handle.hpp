// RAII wrappers over SQLite's C API for qk's cache, and the one way a SQLite failure becomes a
// qk::Error: Errc::io_error, `where` = the database file, the message = what qk was doing, SQLite's
// own message and code, and the qk source file and line that saw it (QK_CHECK_SQLITE).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <source_location>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "qk/error.hpp"

namespace qk::cache {

/// How long one cache operation waits for another connection's lock (SQLite's busy timeout, and
/// the budget of retry_busy()) before it fails with SQLITE_BUSY.
inline constexpr std::chrono::milliseconds kBusyTimeout{10000};

/// The Error for SQLite status `rc` on connection `db` (may be null) of file `path`, while doing
/// `what`. Also records `rc` as this thread's last SQLite failure (see last_sqlite_failure()).
Error sqlite_error(sqlite3* db, int rc, std::string_view what, const std::string& path,
                   const char* file, int line);

/// The primary SQLite status of the last sqlite_error() made on this thread, or SQLITE_OK after
/// clear_last_sqlite_failure(). Lets retry_busy() tell a lock conflict from a real failure
/// without parsing messages.
int last_sqlite_failure();
void clear_last_sqlite_failure();

/// True for the statuses that mean "another connection holds a lock": worth retrying.
inline bool is_busy(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

}  // namespace qk::cache

/// Evaluates `call` (an SQLite C API call returning a status); on anything but SQLITE_OK returns
/// from the enclosing function (which returns qk::Expected<...>) with the Error for it.
/// Example: QK_CHECK_SQLITE(db_.get(), db_.path(), sqlite3_busy_timeout(db_.get(), 10000), "…");
#define QK_CHECK_SQLITE(db, path, call, what)                                                    \
  do {                                                                                           \
    const int qk_sqlite_rc_ = (call);                                                            \
    if (qk_sqlite_rc_ != SQLITE_OK)                                                              \
      return ::qk::cache::sqlite_error((db), qk_sqlite_rc_, (what), (path), __FILE__, __LINE__); \
  } while (0)

namespace qk::cache {

/// One prepared statement. Parameters are 1-based as in SQLite; columns are 0-based.
class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3_stmt* stmt, sqlite3* db, std::string path)
      : stmt_(stmt), db_(db), path_(std::move(path)) {}
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  sqlite3_stmt* get() const { return stmt_; }

  // Each call that can fail records its caller's file and line in the Error.
  Expected<void> bind(int index, std::string_view text,
                      std::source_location caller = std::source_location::current());
  /// An empty blob is bound as a zero-length BLOB, not as NULL.
  Expected<void> bind(int index, std::span<const std::uint8_t> blob,
                      std::source_location caller = std::source_location::current());
  Expected<void> bind(int index, std::int64_t value,
                      std::source_location caller = std::source_location::current());
  Expected<void> bind(int index, double value,
                      std::source_location caller = std::source_location::current());
  /// nullopt is bound as NULL.
  Expected<void> bind(int index, std::optional<double> value,
                      std::source_location caller = std::source_location::current());

  /// Runs one step: true when a row is ready to read, false when the statement is done.
  Expected<bool> step(std::source_location caller = std::source_location::current());
  /// Steps until done, for statements that return no rows.
  Expected<void> run(std::source_location caller = std::source_location::current());

  std::string column_text(int column) const;
  std::vector<std::uint8_t> column_blob(int column) const;
  std::int64_t column_int64(int column) const;
  double column_double(int column) const;
  bool column_is_null(int column) const;

  /// Resets the statement and clears its bindings so that it can be run again; also ends the
  /// read transaction an unfinished SELECT holds (which would block WAL checkpoints).
  void reset();

 private:
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;  ///< owned by the Db; for error messages
  std::string path_;
};

/// Binds `first`, `rest`… to parameters index, index + 1, …
template <class First, class... Rest>
Expected<void> bind_all(Stmt& stmt, int index, First&& first, Rest&&... rest) {
  if (auto r = stmt.bind(index, std::forward<First>(first)); !r) return r;
  if constexpr (sizeof...(rest) > 0) {
    return bind_all(stmt, index + 1, std::forward<Rest>(rest)...);
  } else {
    return {};
  }
}

/// Steps `stmt` to the end, calling on_row(stmt) for every row.
template <class F>
Expected<void> for_each_row(Stmt& stmt, F&& on_row) {
  for (;;) {
    Expected<bool> row = stmt.step();
    if (!row) return row.error();
    if (!*row) return {};
    on_row(stmt);
  }
}

/// Prepares `sql` (a SELECT without parameters) on `db` and calls on_row for each of its rows.
template <class Database, class F>
Expected<void> select_each(const Database& db, std::string_view sql, F&& on_row) {
  auto stmt = db.prepare(sql);
  if (!stmt) return stmt.error();
  return for_each_row(*stmt, std::forward<F>(on_row));
}

/// Resets a statement when leaving a scope, whatever the path out.
class ResetOnExit {
 public:
  explicit ResetOnExit(Stmt& stmt) : stmt_(stmt) {}
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;
  ~ResetOnExit() { stmt_.reset(); }

 private:
  Stmt& stmt_;
};

/// One connection to one database file.
class Db {
 public:
  /// Opens `file` with `flags` (SQLITE_OPEN_*), extended result codes on. Sets nothing else: the
  /// caller chooses the busy timeout and pragmas. An error names the file.
  static Expected<Db> open(const std::filesystem::path& file,
                           int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                           std::source_location caller = std::source_location::current());

  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  /// Closes the connection (statements prepared on it must be gone first).
  ~Db();

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }

  /// Runs one or more SQL statements that return no rows (DDL, pragmas, BEGIN/COMMIT).
  Expected<void> exec(std::string_view sql, std::string_view what,
                      std::source_location caller = std::source_location::current());
  /// Prepares one statement; `what` names the purpose in errors (default: the SQL itself).
  Expected<Stmt> prepare(std::string_view sql, std::string_view what = {},
                         std::source_location caller = std::source_location::current()) const;

  /// Runs `body` inside BEGIN IMMEDIATE … COMMIT (the write lock is taken up front, so that the
  /// busy timeout applies and a WAL reader never has to upgrade); rolls back if anything fails.
  Expected<void> transaction(const std::function<Expected<void>()>& body);

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

/// Runs `attempt` (returning Expected<...>) again while it fails on a lock conflict
/// (is_busy(last_sqlite_failure())) and `budget` has not run out, sleeping a little longer each
/// time. SQLite's busy timeout already waits for most locks; this covers the cases where SQLite
/// returns SQLITE_BUSY at once (a WAL snapshot gone stale, recovery running in another process,
/// a journal-mode change).
template <class F>
auto retry_busy(std::chrono::milliseconds budget, F&& attempt) -> decltype(attempt()) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    clear_last_sqlite_failure();
    auto result = attempt();
    if (result.has_value() || !is_busy(last_sqlite_failure()) ||
        std::chrono::steady_clock::now() + pause >= deadline) {
      return result;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace qk::cache
