// Runs the fovea command-line program from a test. The test programs live in build-*/tests/
// and the CLI in build-*/tools/fovea/, so the binary is found next to the test executable
// (tests/CMakeLists.txt passes no path to it).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fovea::testing {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::filesystem::path fovea_binary() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path() / ".." / "tools" / "fovea" /
         "fovea";
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `fovea args...` with stdout and stderr captured (stderr through a mkstemp file, so a
// test's own TempDir is left alone).
inline CliResult run_fovea(const std::vector<std::string>& args) {
  std::string err_path = (std::filesystem::temp_directory_path() / "fovea_cli_XXXXXX").string();
  const int fd = ::mkstemp(err_path.data());
  if (fd < 0) return {};
  ::close(fd);
  std::string command = shell_quote(fovea_binary().string());
  for (const std::string& a : args) {
    command += ' ';
    command += shell_quote(a);
  }
  command += " 2>";
  command += shell_quote(err_path);
  CliResult r;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) r.out.append(buffer, n);
    const int status = ::pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::ifstream err(err_path);
  r.err.assign(std::istreambuf_iterator<char>(err), {});
  std::filesystem::remove(err_path);
  return r;
}

}  // namespace fovea::testing

// Skips the test when the CLI has not been built (a test-only build).
#define FOVEA_REQUIRE_CLI()                                                          \
  do {                                                                               \
    if (!std::filesystem::exists(::fovea::testing::fovea_binary()))                  \
      GTEST_SKIP() << "fovea CLI not built at " << ::fovea::testing::fovea_binary(); \
  } while (0)
