// Reading, writing and resizing single images.
//
// Images are (C, H, W) float32 tensors with values in [0, 1], as torchvision's ToTensor makes
// them: 8-bit sample k becomes k / 255 (a division, so the floats are the same as PyTorch's).
// Decoding is stb_image's: PNG, JPEG (baseline and progressive, no arithmetic coding), BMP,
// GIF (first frame), TGA, PNM (.ppm, .pgm), PSD, HDR and PIC; samples of 16-bit PNGs are
// scaled down to 8 bits.
#pragma once

#include <cstdint>
#include <filesystem>

#include "fovea/tensor.h"

namespace fovea::data {

// The image in `path` as (C, H, W). `channels` 0 keeps the file's own count (1 grey, 2 grey +
// alpha, 3 RGB, 4 RGBA); 1 to 4 converts to that many (stb's conversion: grey = (77 R + 150 G +
// 29 B) >> 8, alpha dropped or set opaque). Throws ValueError for channels outside 0..4 and
// IoError naming the file when it is missing or cannot be decoded (with stb's reason).
Tensor load_image(const std::filesystem::path& path, int channels = 0);

// Writes a (C, H, W) image with C in 1..4 as an 8-bit PNG: each value is clamped to [0, 1]
// (NaN counts as 0) and rounded to the nearest k / 255, so load_image gives back exactly the
// values that already were multiples of 1 / 255. The file is written to a temporary name and
// renamed. Throws ShapeError for another shape, IoError when the file cannot be written.
void save_image_png(const std::filesystem::path& path, const Tensor& chw);

// The (C, H, W) image resized to (C, h, w) by bilinear interpolation with align_corners=false
// (F::interpolate, no antialiasing: shrinking by more than 2x skips pixels, unlike
// torchvision's antialiased Resize on PIL images). Throws ShapeError for another rank and
// ValueError for h or w below 1.
Tensor resize_image(const Tensor& chw, int64_t h, int64_t w);

}  // namespace fovea::data
