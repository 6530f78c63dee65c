#include "fovea/data/image_folder.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "fovea/data/image.h"
#include "fovea/error.h"
#include "temp_dir.h"

namespace fovea::data {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

// Image k: (C, H, W) of distinct multiples of 1/255 (exact through a PNG).
Tensor known_image(int k, int64_t c = 3, int64_t h = 2, int64_t w = 3) {
  Tensor t = Tensor::empty({c, h, w});
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data()[i] = static_cast<float>((k * 41 + i * 13) % 256) / 255.0f;
  return t;
}

// root/cat/{b, a, c}.png and root/dog/{b.png, a.PNG, extra/0.png} holding images 0..5, plus files
// that are not images. Expected order (torchvision's): cat/a, cat/b, cat/c, dog/a.PNG, dog/b,
// dog/extra/0 (a folder's own files before its sub-folders').
struct Fixture {
  TempDir dir;
  fs::path root = dir.path;
  std::vector<fs::path> files_in_order;
  std::vector<int> image_of;  // which known_image each file in order holds

  Fixture() {
    fs::create_directories(root / "cat");
    fs::create_directories(root / "dog" / "extra");
    const std::map<std::string, int> images = {{"cat/b.png", 0}, {"cat/a.png", 1},
                                               {"cat/c.png", 2}, {"dog/b.png", 3},
                                               {"dog/a.PNG", 4}, {"dog/extra/0.png", 5}};
    for (const auto& [name, k] : images) save_image_png(root / name, known_image(k));
    std::ofstream(root / "cat" / "notes.txt") << "not an image";
    std::ofstream(root / "README") << "a file beside the class folders";
    for (const char* name :
         {"cat/a.png", "cat/b.png", "cat/c.png", "dog/a.PNG", "dog/b.png", "dog/extra/0.png"}) {
      files_in_order.push_back(root / name);
      image_of.push_back(images.at(name));
    }
  }
};

Tensor example(const Dataset& data, int64_t i) {
  const int64_t C = data.images.size(1), H = data.images.size(2), W = data.images.size(3);
  return Tensor::from_vector({C, H, W}, data.images.span().subspan(i * C * H * W, C * H * W));
}

std::string io_error(const fs::path& root, const ImageFolderOptions& options = {}) {
  try {
    load_image_folder(root, options);
  } catch (const IoError& e) {
    return e.what();
  }
  return "(no IoError)";
}

TEST(ImageFolder, ClassesLabelsAndImagesInTorchvisionOrder) {
  const Fixture f;
  const Dataset data = load_image_folder(f.root);
  EXPECT_EQ(data.classes, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(data.images.shape(), (Shape{6, 3, 2, 3}));
  ASSERT_EQ(data.labels.shape(), (Shape{6}));
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(data.labels(i), i < 3 ? 0.0f : 1.0f);
    EXPECT_TRUE(allclose(example(data, i), known_image(f.image_of[i]), 0, 0)) << i;
  }
}

TEST(ImageFolder, ConvertsChannels) {
  const Fixture f;
  const Dataset grey = load_image_folder(f.root, {.channels = 1});
  ASSERT_EQ(grey.images.shape(), (Shape{6, 1, 2, 3}));
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_TRUE(allclose(example(grey, i), load_image(f.files_in_order[i], 1), 0, 0)) << i;

  // Without `channels`, the first image's count (grey here) is used for all.
  save_image_png(f.root / "cat" / "a.png", known_image(1, 1));
  EXPECT_EQ(load_image_folder(f.root).images.shape(), (Shape{6, 1, 2, 3}));
}

TEST(ImageFolder, MismatchedSizesNameTheFileAndBothSizes) {
  const Fixture f;
  save_image_png(f.root / "dog" / "b.png", known_image(3, 3, 4, 5));
  const std::string e = io_error(f.root);
  EXPECT_NE(e.find((f.root / "dog" / "b.png").string()), std::string::npos) << e;
  EXPECT_NE(e.find((f.root / "cat" / "a.png").string()), std::string::npos) << e;
  EXPECT_NE(e.find("4x5"), std::string::npos) << e;
  EXPECT_NE(e.find("2x3"), std::string::npos) << e;
}

TEST(ImageFolder, SizeOptionResizesEveryImage) {
  const Fixture f;
  save_image_png(f.root / "dog" / "b.png", known_image(3, 3, 4, 5));
  const Dataset data = load_image_folder(f.root, {.size = {{3, 4}}});
  ASSERT_EQ(data.images.shape(), (Shape{6, 3, 3, 4}));
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_TRUE(
        allclose(example(data, i), resize_image(load_image(f.files_in_order[i]), 3, 4), 0, 0))
        << i;
}

TEST(ImageFolder, EmptyClassFolderIsAnError) {
  const Fixture f;
  fs::create_directories(f.root / "empty");
  std::ofstream(f.root / "empty" / "notes.txt") << "no images here";
  const std::string e = io_error(f.root);
  EXPECT_NE(e.find((f.root / "empty").string()), std::string::npos) << e;
  EXPECT_NE(e.find("holds no image file"), std::string::npos) << e;
}

TEST(ImageFolder, CorruptImageIsNamedFirstInOrder) {
  const Fixture f;
  std::ofstream(f.root / "dog" / "b.png") << "text, not a PNG";
  std::ofstream(f.root / "dog" / "extra" / "0.png") << "text, not a PNG either";
  const std::string e = io_error(f.root);
  EXPECT_NE(e.find((f.root / "dog" / "b.png").string()), std::string::npos) << e;
  EXPECT_EQ(e.find("0.png"), std::string::npos) << e;
  // Also when the broken file is the first one, decoded before the parallel loop.
  std::ofstream(f.root / "cat" / "a.png") << "text";
  EXPECT_NE(io_error(f.root).find((f.root / "cat" / "a.png").string()), std::string::npos);
}

TEST(ImageFolder, RootErrors) {
  const TempDir d;
  EXPECT_NE(io_error(d / "nowhere").find("does not exist"), std::string::npos);
  std::ofstream(d / "file") << "x";
  EXPECT_NE(io_error(d / "file").find("is not a directory"), std::string::npos);
  EXPECT_NE(io_error(d.path).find("has no class folders"), std::string::npos);
}

TEST(ImageFolder, RejectsBadOptions) {
  const Fixture f;
  EXPECT_THROW(load_image_folder(f.root, {.channels = 5}), ValueError);
  EXPECT_THROW(load_image_folder(f.root, {.size = {{0, 4}}}), ValueError);
}

}  // namespace
}  // namespace fovea::data
