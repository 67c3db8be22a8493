#include "tools/terminal_text.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include <fmt/format.h>

namespace qk::tools {
namespace {

/// Decodes one UTF-8 sequence at the start of `s`: its code point and length, or nullopt when
/// the bytes are not valid UTF-8 (overlong forms and surrogates included).
std::optional<std::pair<char32_t, std::size_t>> decode_utf8(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  // Per lead byte: the sequence length, the payload bits of the lead, the smallest code point
  // that needs this length (anything below is an overlong form).
  struct Form {
    std::size_t length;
    unsigned char mask;
    char32_t min;
  };
  Form form{};
  if (lead >= 0xC2 && lead <= 0xDF)
    form = {2, 0x1F, 0x80};
  else if (lead >= 0xE0 && lead <= 0xEF)
    form = {3, 0x0F, 0x800};
  else if (lead >= 0xF0 && lead <= 0xF4)
    form = {4, 0x07, 0x10000};
  else
    return std::nullopt;
  const std::size_t length = form.length;
  char32_t cp = lead & form.mask;
  const char32_t min = form.min;
  if (s.size() < length) return std::nullopt;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  return std::pair{cp, length};
}

/// Code points that print nothing or change how the terminal shows the text around them.
bool is_invisible(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) ||      // C1 controls
         (cp >= 0x200B && cp <= 0x200F) ||  // zero-width spaces and joiners, LRM/RLM
         (cp >= 0x2028 && cp <= 0x202E) ||  // line/paragraph separators, bidi embeddings
         (cp >= 0x2060 && cp <= 0x2069) ||  // word joiner, bidi isolates
         cp == 0xFEFF;                      // zero-width no-break space (BOM)
}

}  // namespace

std::string escape(std::string_view s, EscapeMode mode) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\n')
        out += "\\n";
      else if (c == '\t')
        out += "\\t";
      else if (c == '\r')
        out += "\\r";
      else if (c < 0x20 || c == 0x7F)
        out += fmt::format("\\x{:02x}", c);
      else if (c == '\\' && mode == EscapeMode::ascii)
        out += "\\\\";
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    const auto decoded = decode_utf8(s.substr(i));
    if (!decoded) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    const auto [cp, length] = *decoded;
    if (mode == EscapeMode::ascii || is_invisible(cp))
      out += fmt::format("\\u{{{:04x}}}", static_cast<std::uint32_t>(cp));
    else
      out.append(s.substr(i, length));
    i += length;
  }
  return out;
}

std::size_t width(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string format_table(const std::vector<std::vector<std::string>>& rows,
                         const std::vector<std::size_t>& right_aligned) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (widths.size() <= c) widths.push_back(0);
      widths[c] = std::max(widths[c], width(row[c]));
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - width(row[c]), ' ');
      const bool right =
          std::find(right_aligned.begin(), right_aligned.end(), c) != right_aligned.end();
      line += (c ? "  " : "") + (right ? pad + row[c] : row[c] + pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace qk::tools
