// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header mapping each tensor name to {"dtype", "shape",
// "data_offsets": [begin, end]} (byte offsets into the data section that follows) plus an
// optional "__metadata__" object of string values, then the raw little-endian tensor data.
//
// Fovea writes float32 ("F32") tensors, in the order given, through a temporary file renamed
// into place; it reads F32 and converts F64, F16, BF16, I64 and I32 to float32.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fovea/tensor.h"

namespace fovea::io {

using NamedTensorList = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  NamedTensorList tensors;  // in file order (by data offset)
  Metadata metadata;
};

void save_safetensors(const std::filesystem::path& path, const NamedTensorList& tensors,
                      const Metadata& metadata = {});

// Throws IoError naming the file and the problem for anything malformed: a header length
// past the end, invalid JSON, unknown dtype, offsets out of range or not matching the shape.
SafetensorsContents load_safetensors(const std::filesystem::path& path);

}  // namespace fovea::io
