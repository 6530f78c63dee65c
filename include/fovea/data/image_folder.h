// A folder of images sorted into one sub-folder per class, as torchvision's ImageFolder reads
// it:
//   root/cat/001.png, root/cat/sub/xyz.jpg, root/dog/a.bmp ...
// The classes are the sub-folders of root in sorted (byte) order, label i for the i-th. Each
// class's examples are its image files at any depth, sorted as torchvision walks them (by
// folder path, then by file name). Image files are those whose extension, in any case, is
// .png .jpg .jpeg .bmp .gif .tga .ppm .pgm; other files are skipped.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>

#include "fovea/data/dataset.h"

namespace fovea::data {

struct ImageFolderOptions {
  // Channels of every image: 0 takes the first image's count, 1 to 4 converts (see
  // load_image). torchvision's default loader always converts to RGB: pass 3 for that.
  int channels = 0;
  // (H, W) to resize every image to (resize_image: bilinear, align_corners=false). Without
  // it every image must have the first image's size.
  std::optional<std::array<int64_t, 2>> size = std::nullopt;
};

// All images of `root` in memory: images (N, C, H, W) in [0, 1], labels (N), classes = the
// folder names. Images are decoded in parallel (OpenMP); the result does not depend on the
// thread count. Throws IoError when root is not a directory, has no sub-folders, a class
// folder holds no image file (naming it), an image cannot be read (naming it, and the first
// such in order when several cannot), or, without `size`, an image's size differs from the
// first image's (naming both files and sizes); ValueError for bad options.
Dataset load_image_folder(const std::filesystem::path& root,
                          const ImageFolderOptions& options = {});

}  // namespace fovea::data
