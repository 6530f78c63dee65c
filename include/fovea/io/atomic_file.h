// Writing a file so that readers see either the old contents or the complete new ones:
// write to "<path>.tmp-<pid>", flush, then rename over the target.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>

namespace fovea::io {

// Calls write(stream) on a temporary file beside `path`, then renames it to `path`. On any
// failure (including an exception from `write`) the temporary is removed, `path` is left as
// it was, and IoError (or the original exception) propagates.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write);

}  // namespace fovea::io
