#include "data_source.h"

#include <fmt/format.h>

#include <filesystem>

#include "fovea/data/image_folder.h"
#include "fovea/error.h"

namespace fovea::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

bool is_idx_dir(const fs::path& d) {
  return fs::exists(d / "train-images-idx3-ubyte.gz") ||
         fs::exists(d / "train-images-idx3-ubyte") || fs::exists(d / "t10k-images-idx3-ubyte.gz") ||
         fs::exists(d / "t10k-images-idx3-ubyte");
}

fs::path resolve(const std::string& source) {
  if (source == "fashion-mnist") {
    if (!fs::is_directory(kFashionMnistDir))
      throw IoError(fmt::format(
          "data set fashion-mnist is not installed ({} is missing)\nhint: install it with "
          "'apt-get install dataset-fashion-mnist' (scripts/install_deps.sh dataset-fashion-mnist)",
          kFashionMnistDir));
    return kFashionMnistDir;
  }
  if (!fs::is_directory(source))
    throw IoError(fmt::format(
        "data directory '{}' does not exist\nhint: --data takes fashion-mnist, a directory of IDX "
        "files, or an image folder with train/ and test/ sub-folders",
        source));
  return source;
}

data::Dataset load_split(const fs::path& dir, const std::string& source, bool train) {
  if (is_idx_dir(dir)) {
    const bool fashion =
        source == "fashion-mnist" || dir.string().find("fashion") != std::string::npos;
    return data::load_idx_dataset(
        dir, train, fashion ? data::fashion_mnist_classes() : std::vector<std::string>{});
  }
  const std::vector<std::string> names =
      train ? std::vector<std::string>{"train"} : std::vector<std::string>{"test", "val"};
  for (const auto& n : names)
    if (fs::is_directory(dir / n)) return data::load_image_folder(dir / n);
  throw IoError(fmt::format(
      "data directory '{}' has neither IDX files nor an image folder '{}/'\nhint: an image folder "
      "needs train/ and test/ (or val/), each with one sub-folder per class",
      dir.string(), names[0]));
}

}  // namespace

DataSplits load_data(const std::string& source, int64_t limit_train, int64_t limit_test) {
  const fs::path dir = resolve(source);
  DataSplits s{load_split(dir, source, true), load_split(dir, source, false), source};
  if (s.train.classes != s.test.classes)
    throw IoError(
        fmt::format("data '{}': the train and test splits have different classes", source));
  if (limit_train > 0) s.train = data::take(s.train, limit_train);
  if (limit_test > 0) s.test = data::take(s.test, limit_test);
  return s;
}

data::Dataset load_test_data(const std::string& source, int64_t limit) {
  data::Dataset d = load_split(resolve(source), source, false);
  return limit > 0 ? data::take(d, limit) : d;
}

}  // namespace fovea::cli
