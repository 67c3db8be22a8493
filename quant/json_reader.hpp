// A small helper for reading JSON documents with exact diagnostics: every value is read at a JSON
// path (`layers[3].block_size`), type mismatches name the expected type and what was found,
// unknown keys are reported with the closest known key, and every problem is collected as a
// qk::Error instead of stopping at the first one. Used by plan_json.cpp; internal to qk_quant.
//
// Example:
//   std::vector<qk::Error> errors;
//   auto doc = qk::json_reader::parse_document(text, errors);
//   qk::json_reader::ObjectReader top(*doc, "", {"layers", "model"}, errors);
//   std::optional<std::string> model = top.string("model");
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "qk/enum_names.hpp"
#include "qk/error.hpp"

namespace qk::json_reader {

/// Keeps the keys in document order, so that unknown keys are reported in the order written.
using Json = nlohmann::ordered_json;

/// 1-based line and column (in bytes) of a byte offset in a text.
struct TextPosition {
  std::size_t line = 1;
  std::size_t column = 1;
};

/// @pre offset <= text.size() (an offset past the end is clamped to the end)
TextPosition position_of(std::string_view text, std::size_t offset);

/// Parses `text` as strict JSON (no comments, no trailing commas).
/// On a syntax error appends one Errc::parse_error whose `where` is "LINE:COLUMN" and returns
/// nullopt. A key repeated inside one object is an Errc::invalid_plan at that key's path (JSON
/// would silently keep the last value); the document is still returned.
std::optional<Json> parse_document(std::string_view text, std::vector<Error>& errors);

/// `parent.key`, or `parent["odd key"]` when the key is not an identifier; `key` at the root.
std::string child_path(std::string_view parent, std::string_view key);
/// `parent[index]`.
std::string element_path(std::string_view parent, std::size_t index);

/// `s` as a JSON string literal: quoted, with control characters escaped.
std::string json_quote(std::string_view s);
/// What a value is, for messages: `string "abc"`, `number 4096.5`, `boolean true`, `null`,
/// `array of 3 elements`, `object`. Long values are shortened.
std::string describe(const Json& value);

/// Levenshtein distance (insertions, deletions, substitutions), case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b);
/// " (did you mean KEY?)" for the candidate closest to `word` when it is close enough to be a
/// likely typo, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

/// Errc::invalid_plan at `path`.
Error plan_error(std::string path, std::string message);

// Reading one value at `path`: the value, or nullopt after appending an error to `errors`.
std::optional<std::int64_t> read_integer(const Json& v, const std::string& path,
                                         std::vector<Error>& errors);
std::optional<double> read_number(const Json& v, const std::string& path,
                                  std::vector<Error>& errors);
std::optional<bool> read_boolean(const Json& v, const std::string& path,
                                 std::vector<Error>& errors);
std::optional<std::string> read_string(const Json& v, const std::string& path,
                                       std::vector<Error>& errors);

/// An enum name from the EnumNames<E> table; an unknown name lists the accepted ones.
template <class E>
std::optional<E> read_enum(const Json& v, const std::string& path, std::vector<Error>& errors) {
  const auto name = read_string(v, path, errors);
  if (!name) return std::nullopt;
  if (const auto value = from_string<E>(*name)) return value;
  std::vector<std::string_view> names;
  for (const auto& entry : EnumNames<E>::table) names.push_back(entry.second);
  errors.push_back(plan_error(path, json_quote(*name) + " is not one of " + allowed_names<E>() +
                                        did_you_mean(*name, names)));
  return std::nullopt;
}

enum class Need { optional, required };

/// Reads the keys of one JSON object at `path`. Construction reports every key that is not in
/// `known_keys` (with a suggestion); each accessor reports a wrong type, or a missing key when
/// it is Need::required.
/// @pre `object` is a JSON object and outlives the reader.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string path, std::vector<std::string_view> known_keys,
               std::vector<Error>& errors);

  bool has(std::string_view key) const { return find(key) != nullptr; }
  /// The value of `key`, or nullptr when absent (no error).
  const Json* find(std::string_view key) const;
  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const { return child_path(path_, key); }
  /// Appends an Errc::invalid_plan at this object's `key`.
  void error(std::string_view key, std::string message);

  std::optional<std::int64_t> integer(std::string_view key, Need need = Need::optional);
  std::optional<double> number(std::string_view key, Need need = Need::optional);
  std::optional<bool> boolean(std::string_view key, Need need = Need::optional);
  std::optional<std::string> string(std::string_view key, Need need = Need::optional);
  /// The array at `key` (nullptr when absent or not an array, with an error as above).
  const Json* array(std::string_view key, Need need = Need::optional);
  /// The object at `key` (nullptr when absent or not an object, with an error as above).
  const Json* object(std::string_view key, Need need = Need::optional);

  template <class E>
  std::optional<E> enumeration(std::string_view key, Need need = Need::optional) {
    const Json* v = lookup(key, need, "a string (one of " + allowed_names<E>() + ")");
    return v ? read_enum<E>(*v, path_of(key), errors_) : std::nullopt;
  }

 private:
  /// find(), plus a "missing required key" error when `need` is required and the key is absent.
  const Json* lookup(std::string_view key, Need need, const std::string& expected);

  const Json& object_;
  std::string path_;
  std::vector<Error>& errors_;
};

}  // namespace qk::json_reader
