#include "fovea/data/image.h"

#include <fmt/format.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cmath>
#include <memory>
#include <ostream>
#include <vector>

#include "fovea/error.h"
#include "fovea/functional/interpolate.h"
#include "fovea/io/atomic_file.h"

namespace fovea::data {
namespace {

struct StbiFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

// stb_image_write's callback: appends the encoded bytes to the std::ostream in `context`.
void write_to_stream(void* context, void* data, int size) {
  static_cast<std::ostream*>(context)->write(static_cast<const char*>(data), size);
}

}  // namespace

Tensor load_image(const std::filesystem::path& path, int channels) {
  if (channels < 0 || channels > 4)
    throw ValueError(
        fmt::format("load_image: channels expects 0 (the file's own) or 1 to 4, got {}", channels));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw IoError(fmt::format(
        "load_image: '{}' {}", path.string(),
        std::filesystem::exists(path, ec) ? "is not a regular file" : "does not exist"));
  int w = 0, h = 0, file_channels = 0;
  // stb's failure reason is thread-local, so decoding in parallel is safe.
  std::unique_ptr<stbi_uc, StbiFree> pixels(
      stbi_load(path.c_str(), &w, &h, &file_channels, channels));
  if (!pixels)
    throw IoError(
        fmt::format("load_image: cannot decode '{}': {}", path.string(), stbi_failure_reason()));
  const int64_t C = channels ? channels : file_channels, H = h, W = w;
  Tensor image = Tensor::empty({C, H, W});  // (C, H, W) from stb's interleaved (H, W, C)
  float* dst = image.data();
  const stbi_uc* src = pixels.get();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i) dst[c * H * W + i] = src[i * C + c] / 255.0f;
  return image;
}

void save_image_png(const std::filesystem::path& path, const Tensor& chw) {
  if (!chw.defined() || chw.dim() != 3 || chw.size(0) < 1 || chw.size(0) > 4 || chw.size(1) < 1 ||
      chw.size(2) < 1)
    throw ShapeError(fmt::format(
        "save_image_png: image expects shape (C, H, W) with C in 1..4 and H, W >= 1, got {}",
        chw.defined() ? shape_str(chw.shape()) : "an undefined tensor"));
  const int64_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  std::vector<unsigned char> bytes(static_cast<size_t>(C * H * W));  // (H, W, C)
  const float* src = chw.data();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i) {
      const float v = src[c * H * W + i];
      const float clamped = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;  // NaN -> 0
      bytes[static_cast<size_t>(i * C + c)] =
          static_cast<unsigned char>(std::lround(clamped * 255.0f));
    }
  io::write_file_atomically(path, [&](std::ostream& out) {
    if (!stbi_write_png_to_func(write_to_stream, &out, static_cast<int>(W), static_cast<int>(H),
                                static_cast<int>(C), bytes.data(), static_cast<int>(W * C)))
      throw IoError(fmt::format("save_image_png: cannot encode '{}'", path.string()));
  });
}

Tensor resize_image(const Tensor& chw, int64_t h, int64_t w) {
  if (!chw.defined() || chw.dim() != 3)
    throw ShapeError(fmt::format("resize_image: image expects shape (C, H, W), got {}",
                                 chw.defined() ? shape_str(chw.shape()) : "an undefined tensor"));
  if (h < 1 || w < 1)
    throw ValueError(fmt::format("resize_image: size expects values >= 1, got ({}, {})", h, w));
  namespace F = functional;
  const Tensor resized = F::interpolate(
      chw.reshape({1, chw.size(0), chw.size(1), chw.size(2)}),
      F::InterpolateOptions<2>{
          .size = {h, w}, .mode = F::InterpolateMode::kBilinear, .align_corners = false});
  return resized.reshape({chw.size(0), h, w});
}

}  // namespace fovea::data
