// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): two zero
// bytes, a type code (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64), the number
// of dimensions, each dimension as a big-endian u32, then the big-endian values. Files may
// be gzip-compressed (read through zlib) or plain.
#pragma once

#include <filesystem>

#include "fovea/tensor.h"

namespace fovea::data {

// The array's values as float32 with its shape (rank 1 to 5). Throws IoError naming the file
// for a wrong magic number, an unknown type code, too many dimensions, or a length that does
// not match the dimensions (truncated or with trailing bytes).
Tensor load_idx(const std::filesystem::path& path);

// Writes an unsigned-byte IDX file (values rounded and clamped to 0..255); gzip-compressed
// when the name ends in ".gz". For tests and for exporting small data sets.
void save_idx_u8(const std::filesystem::path& path, const Tensor& values);

}  // namespace fovea::data
