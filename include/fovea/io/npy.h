// NumPy .npy files (format versions 1.0, 2.0 and 3.0).
//
// save_npy writes little-endian float32 ('<f4'), C order, to a temporary file renamed into
// place, so a crash never leaves half a file. load_npy reads '<f4' and, for tests and golden
// data, '<f8' and '<i8' (converted to float32; integers above 2^24 lose precision).
// Anything else (big-endian, Fortran order, other dtypes, rank > 5) raises IoError.
#pragma once

#include <filesystem>

#include "fovea/tensor.h"

namespace fovea::io {

Tensor load_npy(const std::filesystem::path& path);
void save_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace fovea::io
