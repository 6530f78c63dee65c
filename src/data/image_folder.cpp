#include "fovea/data/image_folder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "fovea/data/image.h"
#include "fovea/error.h"

namespace fovea::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kImageExtensions[] = {".png", ".jpg", ".jpeg", ".bmp",
                                            ".gif", ".tga", ".ppm",  ".pgm"};

bool is_image_file(const fs::directory_entry& entry) {
  if (!entry.is_regular_file()) return false;
  std::string ext = entry.path().extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::ranges::any_of(kImageExtensions, [&](const char* e) { return ext == e; });
}

// The sub-folders of root, sorted by name (torchvision: sorted(os.scandir) entries that are
// directories, following links).
std::vector<fs::path> class_folders(const fs::path& root) {
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) folders.push_back(entry.path());
  std::ranges::sort(folders, {}, [](const fs::path& p) { return p.filename().string(); });
  return folders;
}

// The image files under `folder` at any depth, in torchvision's order: sorted(os.walk(folder))
// visits folders by path string, and each folder's files by name.
std::vector<fs::path> image_files(const fs::path& folder) {
  std::vector<fs::path> files;
  for (const auto& entry :
       fs::recursive_directory_iterator(folder, fs::directory_options::follow_directory_symlink))
    if (is_image_file(entry)) files.push_back(entry.path());
  std::ranges::sort(files, {}, [](const fs::path& p) {
    return std::pair(p.parent_path().string(), p.filename().string());
  });
  return files;
}

std::string size_str(const Tensor& image) {
  return fmt::format("{}x{}", image.size(1), image.size(2));
}

}  // namespace

Dataset load_image_folder(const fs::path& root, const ImageFolderOptions& options) {
  if (options.channels < 0 || options.channels > 4)
    throw ValueError(
        fmt::format("load_image_folder: channels expects 0 (the first image's) or 1 to 4, got {}",
                    options.channels));
  if (options.size && ((*options.size)[0] < 1 || (*options.size)[1] < 1))
    throw ValueError(fmt::format("load_image_folder: size expects values >= 1, got ({}, {})",
                                 (*options.size)[0], (*options.size)[1]));
  if (!fs::is_directory(root))
    throw IoError(fmt::format("load_image_folder: root '{}' {}", root.string(),
                              fs::exists(root) ? "is not a directory" : "does not exist"));

  Dataset data;
  std::vector<fs::path> files;
  std::vector<float> labels;
  try {
    for (const fs::path& folder : class_folders(root)) {
      const std::vector<fs::path> found = image_files(folder);
      if (found.empty())
        throw IoError(
            fmt::format("load_image_folder: class folder '{}' holds no image file (extensions {})",
                        folder.string(), fmt::join(kImageExtensions, " ")));
      files.insert(files.end(), found.begin(), found.end());
      labels.insert(labels.end(), found.size(), static_cast<float>(data.classes.size()));
      data.classes.push_back(folder.filename().string());
    }
  } catch (const fs::filesystem_error& e) {  // e.g. a folder without read permission
    throw IoError(fmt::format("load_image_folder: cannot list '{}': {}", e.path1().string(),
                              e.code().message()));
  }
  if (data.classes.empty())
    throw IoError(
        fmt::format("load_image_folder: root '{}' has no class folders (one sub-folder per class)",
                    root.string()));

  // The first image fixes the channels and, without options.size, the size of all others.
  auto load = [&](size_t i, int channels) {
    Tensor image = load_image(files[i], channels);
    return options.size ? resize_image(image, (*options.size)[0], (*options.size)[1]) : image;
  };
  const Tensor first = load(0, options.channels);
  const int64_t N = static_cast<int64_t>(files.size()), per_image = first.numel();
  const int channels = static_cast<int>(first.size(0));
  data.images = Tensor::empty({N, first.size(0), first.size(1), first.size(2)});
  data.labels = Tensor::from_vector({N}, labels);
  std::copy_n(first.data(), per_image, data.images.data());

  // Exceptions cannot leave an OpenMP loop: each image keeps its error, and the first in file
  // order is thrown, so the message does not depend on the threads.
  std::vector<std::exception_ptr> errors(files.size());
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 1; i < N; ++i) {
    try {
      const Tensor image = load(static_cast<size_t>(i), channels);
      if (image.shape() != first.shape()) {
        errors[i] = std::make_exception_ptr(IoError(
            fmt::format("load_image_folder: '{}' is {} (HxW) but the first image '{}' is {}; give "
                        "options.size to resize them all",
                        files[i].string(), size_str(image), files[0].string(), size_str(first))));
        continue;
      }
      std::copy_n(image.data(), per_image, data.images.data() + i * per_image);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
  return data;
}

}  // namespace fovea::data
