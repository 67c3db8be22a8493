// Reading JSON with paths, type checks, unknown-key detection and collected errors.
#include "quant/json_reader.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>
#include <utility>

#include <fmt/format.h>

namespace qk::json_reader {
namespace {

/// Longest rendering of a value inside a message; longer ones are cut (a message must stay one
/// readable line even when the offending value is a 10 kB string).
constexpr std::size_t kMaxShownValue = 80;

bool is_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

/// Cuts `s` to at most kMaxShownValue bytes without splitting a UTF-8 sequence.
std::string shortened(std::string s) {
  if (s.size() <= kMaxShownValue) return s;
  std::size_t cut = kMaxShownValue;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s + "...";
}

/// nlohmann's what() is "[json.exception.parse_error.101] parse error at line 1, column 2:
/// syntax error ..."; keep only the description (the position is reported separately).
std::string parse_error_description(std::string_view what) {
  if (const auto bracket = what.find("] "); bracket != std::string_view::npos)
    what.remove_prefix(bracket + 2);
  if (what.starts_with("parse error")) {
    if (const auto colon = what.find(": "); colon != std::string_view::npos)
      what.remove_prefix(colon + 2);
  }
  return std::string(what);
}

/// A SAX pass over the text that tracks the JSON path of every value, so that a repeated key can
/// be reported where it is, and that records where a syntax error stopped the parser.
class Scanner final : public nlohmann::json_sax<Json> {
 public:
  std::vector<Error> duplicate_keys;
  std::optional<std::size_t> error_position;  ///< characters read when the parser failed
  std::string error_message;

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(false); }
  bool start_array(std::size_t) override { return open(true); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool key(string_t& name) override {
    Frame& frame = stack_.back();
    frame.key = name;
    if (!frame.keys.insert(name).second) {
      duplicate_keys.push_back(plan_error(
          current_path(), fmt::format("duplicate key {}: a JSON object must not repeat a key (the "
                                      "last value would silently replace the earlier one)",
                                      json_quote(name))));
    }
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const Json::exception& ex) override {
    error_position = position;
    error_message = parse_error_description(ex.what());
    return false;
  }

 private:
  // A frame holds only its own step of the path (not the whole path, which would make deep
  // nesting quadratic); the full path is built only when an error needs it.
  struct Frame {
    bool is_array = false;
    std::size_t next_index = 0;  ///< arrays: index of the next element
    std::set<std::string> keys;  ///< objects: keys seen so far
    std::string key;             ///< objects: the key whose value is being read
  };

  /// The path of the value being read in the innermost container.
  std::string current_path() const {
    std::string path;
    for (const Frame& frame : stack_) {
      // An array's current element is the last one started: next_index was advanced past it.
      path =
          frame.is_array ? element_path(path, frame.next_index - 1) : child_path(path, frame.key);
    }
    return path;
  }
  bool value() {
    if (!stack_.empty() && stack_.back().is_array) ++stack_.back().next_index;
    return true;
  }
  bool open(bool is_array) {
    value();  // a container is also an element of its parent
    stack_.emplace_back().is_array = is_array;
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  std::vector<Frame> stack_;
};

}  // namespace

TextPosition position_of(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  const std::string_view before = text.substr(0, offset);
  TextPosition pos;
  pos.line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const auto last_newline = before.rfind('\n');
  const std::size_t line_start = last_newline == std::string_view::npos ? 0 : last_newline + 1;
  pos.column = offset - line_start + 1;
  return pos;
}

std::optional<Json> parse_document(std::string_view text, std::vector<Error>& errors) {
  Scanner scanner;
  Json::sax_parse(text.begin(), text.end(), &scanner);
  if (scanner.error_position) {
    // nlohmann counts the characters it read, the failing one included: point at that one.
    std::size_t offset = *scanner.error_position > 0 ? *scanner.error_position - 1 : 0;
    // A UTF-8 byte-order mark is invisible in editors: columns of line 1 start after it.
    std::string_view shown = text;
    constexpr std::string_view kBom = "\xEF\xBB\xBF";
    if (shown.starts_with(kBom) && offset >= kBom.size()) {
      shown.remove_prefix(kBom.size());
      offset -= kBom.size();
    }
    const TextPosition pos = position_of(shown, offset);
    errors.push_back(Error{Errc::parse_error, fmt::format("{}:{}", pos.line, pos.column),
                           scanner.error_message});
    return std::nullopt;
  }
  errors.insert(errors.end(), scanner.duplicate_keys.begin(), scanner.duplicate_keys.end());
  // The scan proved the text well-formed, so this parse cannot fail.
  return Json::parse(text.begin(), text.end());
}

std::string child_path(std::string_view parent, std::string_view key) {
  if (!is_identifier(key)) return fmt::format("{}[{}]", parent, json_quote(key));
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

std::string element_path(std::string_view parent, std::size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

std::string json_quote(std::string_view s) {
  // dump() escapes quotes, backslashes and control characters; invalid UTF-8 (possible for
  // strings that did not come from a parsed document) is replaced rather than thrown on.
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return value.get<bool>() ? "boolean true" : "boolean false";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number " + value.dump();
    case Json::value_t::string:
      return "string " + shortened(json_quote(value.get_ref<const std::string&>()));
    case Json::value_t::array:
      return value.size() == 1 ? "array of 1 element"
                               : fmt::format("array of {} elements", value.size());
    case Json::value_t::object:
      return "object";
    case Json::value_t::binary:
    case Json::value_t::discarded:
      break;
  }
  return "value";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  // One row of the dynamic-programming table at a time.
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitute = diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (const auto candidate : candidates) {
    const std::size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  // A typo changes a few characters: allow 2 edits, or a third of the word for long words, but
  // never so many that most of the word is replaced.
  const std::size_t limit = std::max<std::size_t>(2, std::min(word.size(), best.size()) / 3);
  const bool mostly_replaced = 2 * best_distance > std::max(word.size(), best.size());
  if (best.empty() || best_distance > limit || mostly_replaced) return "";
  return fmt::format(" (did you mean {}?)", best);
}

Error plan_error(std::string path, std::string message) {
  return Error{Errc::invalid_plan, std::move(path), std::move(message)};
}

namespace {
Error type_error(const std::string& path, std::string_view expected, const Json& found) {
  return plan_error(path, fmt::format("expected {}, found {}", expected, describe(found)));
}
}  // namespace

std::optional<std::int64_t> read_integer(const Json& v, const std::string& path,
                                         std::vector<Error>& errors) {
  // Integers are written without a fraction or exponent: 4096.0 and 4e3 are numbers, not
  // integers, and are rejected rather than silently converted.
  if (!v.is_number_integer()) {
    errors.push_back(type_error(path, "an integer", v));
    return std::nullopt;
  }
  if (v.is_number_unsigned() &&
      v.get<std::uint64_t>() >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    errors.push_back(plan_error(path, fmt::format("integer {} is too large (at most {})", v.dump(),
                                                  std::numeric_limits<std::int64_t>::max())));
    return std::nullopt;
  }
  return v.get<std::int64_t>();
}

std::optional<double> read_number(const Json& v, const std::string& path,
                                  std::vector<Error>& errors) {
  if (!v.is_number()) {  // booleans are not numbers
    errors.push_back(type_error(path, "a number", v));
    return std::nullopt;
  }
  return v.get<double>();
}

std::optional<bool> read_boolean(const Json& v, const std::string& path,
                                 std::vector<Error>& errors) {
  if (!v.is_boolean()) {
    errors.push_back(type_error(path, "a boolean (true or false)", v));
    return std::nullopt;
  }
  return v.get<bool>();
}

std::optional<std::string> read_string(const Json& v, const std::string& path,
                                       std::vector<Error>& errors) {
  if (!v.is_string()) {
    errors.push_back(type_error(path, "a string", v));
    return std::nullopt;
  }
  return v.get<std::string>();
}

ObjectReader::ObjectReader(const Json& object, std::string path,
                           std::vector<std::string_view> known_keys, std::vector<Error>& errors)
    : object_(object), path_(std::move(path)), errors_(errors) {
  for (const auto& [key, value] : object_.items()) {
    if (std::find(known_keys.begin(), known_keys.end(), key) != known_keys.end()) continue;
    errors_.push_back(plan_error(path_of(key), fmt::format("unknown key {}{}", json_quote(key),
                                                           did_you_mean(key, known_keys))));
  }
}

const Json* ObjectReader::find(std::string_view key) const {
  const auto it = object_.find(std::string(key));
  return it == object_.end() ? nullptr : &*it;
}

void ObjectReader::error(std::string_view key, std::string message) {
  errors_.push_back(plan_error(path_of(key), std::move(message)));
}

const Json* ObjectReader::lookup(std::string_view key, Need need, const std::string& expected) {
  const Json* v = find(key);
  if (!v && need == Need::required)
    error(key, fmt::format("missing required key {} (expected {})", key, expected));
  return v;
}

std::optional<std::int64_t> ObjectReader::integer(std::string_view key, Need need) {
  const Json* v = lookup(key, need, "an integer");
  return v ? read_integer(*v, path_of(key), errors_) : std::nullopt;
}

std::optional<double> ObjectReader::number(std::string_view key, Need need) {
  const Json* v = lookup(key, need, "a number");
  return v ? read_number(*v, path_of(key), errors_) : std::nullopt;
}

std::optional<bool> ObjectReader::boolean(std::string_view key, Need need) {
  const Json* v = lookup(key, need, "a boolean");
  return v ? read_boolean(*v, path_of(key), errors_) : std::nullopt;
}

std::optional<std::string> ObjectReader::string(std::string_view key, Need need) {
  const Json* v = lookup(key, need, "a string");
  return v ? read_string(*v, path_of(key), errors_) : std::nullopt;
}

const Json* ObjectReader::array(std::string_view key, Need need) {
  const Json* v = lookup(key, need, "an array");
  if (v && !v->is_array()) {
    errors_.push_back(type_error(path_of(key), "an array", *v));
    return nullptr;
  }
  return v;
}

const Json* ObjectReader::object(std::string_view key, Need need) {
  const Json* v = lookup(key, need, "an object");
  if (v && !v->is_object()) {
    errors_.push_back(type_error(path_of(key), "an object", *v));
    return nullptr;
  }
  return v;
}

}  // namespace qk::json_reader
