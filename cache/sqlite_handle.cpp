#include "cache/sqlite_handle.hpp"

#include <utility>

#include <fmt/format.h>

/// Returns from the enclosing function with the Error for `call`'s status, blaming `caller`.
#define QK_CHECK_SQLITE_AT(call, what)                                                           \
  do {                                                                                           \
    const int qk_sqlite_rc_ = (call);                                                            \
    if (qk_sqlite_rc_ != SQLITE_OK)                                                              \
      return sqlite_error(db_, qk_sqlite_rc_, (what), path_, caller.file_name(), caller.line()); \
  } while (0)

namespace qk::cache {

namespace {

thread_local int t_last_failure = SQLITE_OK;

/// "cache/kernel_cache.cpp" from an absolute __FILE__: the folder and the file name.
std::string_view short_source(std::string_view file) {
  const auto last = file.rfind('/');
  if (last == std::string_view::npos || last == 0) return file;
  const auto before = file.rfind('/', last - 1);
  return before == std::string_view::npos ? file : file.substr(before + 1);
}

}  // namespace

Error sqlite_error(sqlite3* db, int rc, std::string_view what, const std::string& path,
                   const char* file, int line) {
  t_last_failure = rc & 0xff;
  // sqlite3_errmsg is the detailed text ("no such table: meta"); sqlite3_errstr the generic one
  // for the code. The connection's message only belongs to this failure if its code matches.
  const std::string generic = sqlite3_errstr(rc);
  std::string detail = generic;
  if (db != nullptr && (sqlite3_extended_errcode(db) & 0xff) == (rc & 0xff)) {
    detail = sqlite3_errmsg(db);
  }
  std::string message = fmt::format("{}: {} (SQLite code {}", what, detail, rc);
  if (detail != generic) message += ": " + generic;
  message += fmt::format(") [{}:{}]", short_source(file), line);
  return Error{Errc::io_error, path, std::move(message)};
}

int last_sqlite_failure() {
  return t_last_failure;
}
void clear_last_sqlite_failure() {
  t_last_failure = SQLITE_OK;
}

// ---- Stmt ----------------------------------------------------------------------------------

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Stmt::~Stmt() {
  sqlite3_finalize(stmt_);
}

Expected<void> Stmt::bind(int index, std::string_view text, std::source_location caller) {
  QK_CHECK_SQLITE_AT(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      fmt::format("binding text parameter {}", index));
  return {};
}

Expected<void> Stmt::bind(int index, std::span<const std::uint8_t> blob,
                          std::source_location caller) {
  // sqlite3_bind_blob with a null pointer binds NULL, which a NOT NULL column refuses.
  const int rc =
      blob.empty() ? sqlite3_bind_zeroblob(stmt_, index, 0)
                   : sqlite3_bind_blob64(stmt_, index, blob.data(), blob.size(), SQLITE_TRANSIENT);
  QK_CHECK_SQLITE_AT(rc, fmt::format("binding blob parameter {}", index));
  return {};
}

Expected<void> Stmt::bind(int index, std::int64_t value, std::source_location caller) {
  QK_CHECK_SQLITE_AT(sqlite3_bind_int64(stmt_, index, value),
                     fmt::format("binding integer parameter {}", index));
  return {};
}

Expected<void> Stmt::bind(int index, double value, std::source_location caller) {
  QK_CHECK_SQLITE_AT(sqlite3_bind_double(stmt_, index, value),
                     fmt::format("binding real parameter {}", index));
  return {};
}

Expected<void> Stmt::bind(int index, std::optional<double> value, std::source_location caller) {
  if (value) return bind(index, *value, caller);
  QK_CHECK_SQLITE_AT(sqlite3_bind_null(stmt_, index),
                     fmt::format("binding NULL parameter {}", index));
  return {};
}

Expected<bool> Stmt::step(std::source_location caller) {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, rc, fmt::format("running `{}`", sqlite3_sql(stmt_)), path_,
                      caller.file_name(), caller.line());
}

Expected<void> Stmt::run(std::source_location caller) {
  for (;;) {
    Expected<bool> row = step(caller);
    if (!row) return row.error();
    if (!*row) return {};
  }
}

std::string Stmt::column_text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return text == nullptr ? std::string() : std::string(text, static_cast<std::size_t>(size));
}

std::vector<std::uint8_t> Stmt::column_blob(int column) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr) return {};  // NULL or a zero-length blob
  return std::vector<std::uint8_t>(data, data + size);
}

std::int64_t Stmt::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}
double Stmt::column_double(int column) const {
  return sqlite3_column_double(stmt_, column);
}
bool Stmt::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

void Stmt::reset() {
  if (stmt_ == nullptr) return;
  // The status sqlite3_reset returns repeats the last step's, which was already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// ---- Db ------------------------------------------------------------------------------------

Expected<Db> Db::open(const std::filesystem::path& file, int flags, std::source_location caller) {
  sqlite3* handle = nullptr;
  const std::string path = file.string();
  const int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error =
        sqlite_error(handle, rc, "opening the database", path, caller.file_name(), caller.line());
    sqlite3_close_v2(handle);  // a handle is returned even on failure (unless out of memory)
    return error;
  }
  sqlite3_extended_result_codes(handle, 1);
  return Db(handle, path);
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Db::~Db() {
  sqlite3_close_v2(db_);
}

Expected<void> Db::exec(std::string_view sql, std::string_view what, std::source_location caller) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // the same text stays available through sqlite3_errmsg
  QK_CHECK_SQLITE_AT(rc, what);
  return {};
}

Expected<Stmt> Db::prepare(std::string_view sql, std::string_view what,
                           std::source_location caller) const {
  sqlite3_stmt* stmt = nullptr;
  QK_CHECK_SQLITE_AT(
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr),
      what.empty() ? fmt::format("preparing `{}`", sql) : std::string(what));
  return Stmt(stmt, db_, path_);
}

Expected<void> Db::transaction(const std::function<Expected<void>()>& body) {
  if (auto begun = exec("BEGIN IMMEDIATE", "starting a write transaction"); !begun) return begun;
  Expected<void> result = body();
  if (result) result = exec("COMMIT", "committing a transaction");
  // On failure roll back, unless SQLite already did (some errors end the transaction by
  // themselves; ROLLBACK would then fail with "no transaction is active").
  if (!result && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return result;
}

}  // namespace qk::cache
