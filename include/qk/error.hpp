// qk::Error and qk::Expected<T>: how every library function reports failure.
//
// qk returns errors as values (no exceptions inside the library, no exit()/abort()). An Error
// names *where* the problem is (a JSON path such as `layers[3].block_size`, a file, a kernel
// name) and *what* is wrong, including the offending value and the rule or limit it broke.
// The tools turn an Error into one line and a non-zero exit.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace qk {

/// The kind of failure, for callers that branch on it; the text is in Error::message.
enum class Errc {
  invalid_argument,  ///< a value passed through the C++ API breaks a precondition
  invalid_plan,      ///< a plan or layer config breaks a rule of docs/plan.md
  parse_error,       ///< malformed input text (JSON syntax)
  unsupported,       ///< a valid request that this version or target does not implement
  io_error,          ///< a file could not be read or written
  compile_error,     ///< generated code did not compile or link (the message has the log)
};

struct Error {
  Errc code = Errc::invalid_argument;
  std::string where;    ///< what the error is about: JSON path, file, kernel name; may be empty
  std::string message;  ///< what is wrong: the value and the rule it breaks

  /// "where: message", or just the message when `where` is empty.
  std::string str() const { return where.empty() ? message : where + ": " + message; }
};

/// Thrown only by Expected::value() when it holds an error (a caller bug, like
/// std::bad_expected_access). Library code checks has_value() instead.
struct BadExpectedAccess {
  Error error;
};

/// A value or an Error. A minimal C++20 stand-in for std::expected (C++23).
template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Expected(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return check(), std::get<0>(state_); }
  const T& value() const& { return check(), std::get<0>(state_); }
  T&& value() && { return check(), std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// @pre !has_value()
  const Error& error() const { return std::get<1>(state_); }

 private:
  void check() const {
    if (!has_value()) throw BadExpectedAccess{std::get<1>(state_)};
  }
  std::variant<T, Error> state_;
};

/// Success without a value, or an Error.
template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)), ok_(false) {}

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {
    if (!ok_) throw BadExpectedAccess{error_};
  }
  /// @pre !has_value()
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace qk
