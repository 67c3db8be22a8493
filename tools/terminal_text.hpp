// Printing free text (layer names, model strings from a plan) on a terminal as data: escaped so
// that it can never move the cursor, change colors or reorder text, and measured for alignment.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace qk::tools {

enum class EscapeMode {
  /// Everything but printable ASCII is escaped (and `\` doubled): table cells stay aligned and
  /// a name can never move the cursor, change colors or reorder text.
  ascii,
  /// Printable UTF-8 is kept; control, invalid, invisible and bidirectional characters are
  /// escaped. For error lines, whose messages already quote values JSON-style.
  text,
};

/// `s` with non-printable characters escaped (\n, \t, \xNN, \u{XXXX}): names and model strings
/// are free text from the plan and are printed as data, never interpreted by the terminal.
std::string escape(std::string_view s, EscapeMode mode);

/// Display width of our own cells: one column per code point (cells are ASCII but for "×").
std::size_t width(std::string_view s);

/// `rows` (the first is the header) as lines of columns padded to their widest cell, two spaces
/// apart; the columns listed in `right_aligned` (numbers) are padded on the left.
std::string format_table(const std::vector<std::vector<std::string>>& rows,
                         const std::vector<std::size_t>& right_aligned = {});

}  // namespace qk::tools
