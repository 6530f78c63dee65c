#include "fovea/io/atomic_file.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <system_error>

#include "fovea/error.h"

namespace fovea::io {

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write) {
  std::filesystem::path tmp = path;
  tmp += fmt::format(".tmp-{}", ::getpid());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw IoError(fmt::format("write: cannot open '{}' for writing", tmp.string()));
      write(out);
      out.flush();
      if (!out) throw IoError(fmt::format("write: writing '{}' failed (disk full?)", tmp.string()));
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec)
      throw IoError(fmt::format("write: cannot rename '{}' to '{}': {}", tmp.string(),
                                path.string(), ec.message()));
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

}  // namespace fovea::io
