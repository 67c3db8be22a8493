// Running a built command-line tool from a test: its exit code and what it printed.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace qk::test {

struct Outcome {
  int exit_code = -1;  ///< -1 when the command did not exit normally
  std::string output;
};

/// `s` quoted for /bin/sh.
inline std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Runs `command` with /bin/sh and captures its stdout (append " 2>&1" for stderr too).
inline Outcome run_command(const std::string& command) {
  Outcome result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace qk::test
