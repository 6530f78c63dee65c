#include "fovea/data/image.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fovea/error.h"
#include "temp_dir.h"

namespace fovea::data {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

// Interleaved (H, W, C) bytes with distinct, known values.
std::vector<unsigned char> pattern(int h, int w, int c) {
  std::vector<unsigned char> bytes(static_cast<size_t>(h * w * c));
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 37 + 11);
  return bytes;
}

// The expected (C, H, W) tensor of interleaved bytes: k / 255.
void expect_image(const Tensor& t, const std::vector<unsigned char>& hwc, int h, int w, int c) {
  ASSERT_EQ(t.shape(), (Shape{c, h, w}));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k)
        EXPECT_EQ(t(k, y, x), hwc[(y * w + x) * c + k] / 255.0f) << k << ' ' << y << ' ' << x;
}

std::string io_error(const fs::path& p, int channels = 0) {
  try {
    load_image(p, channels);
  } catch (const IoError& e) {
    return e.what();
  }
  return "(no IoError)";
}

TEST(LoadImage, PngKeepsItsChannelsExactly) {
  const TempDir d;
  for (int c : {1, 2, 3, 4}) {
    const auto bytes = pattern(3, 5, c);
    const fs::path p = d / fmt::format("c{}.png", c);
    ASSERT_TRUE(stbi_write_png(p.c_str(), 5, 3, c, bytes.data(), 5 * c));
    expect_image(load_image(p), bytes, 3, 5, c);
  }
}

TEST(LoadImage, BmpAndTgaExactlyJpegClosely) {
  const TempDir d;
  const auto bytes = pattern(4, 3, 3);
  ASSERT_TRUE(stbi_write_bmp((d / "a.bmp").c_str(), 3, 4, 3, bytes.data()));
  ASSERT_TRUE(stbi_write_tga((d / "a.tga").c_str(), 3, 4, 3, bytes.data()));
  expect_image(load_image(d / "a.bmp"), bytes, 4, 3, 3);
  expect_image(load_image(d / "a.tga"), bytes, 4, 3, 3);
  // JPEG is lossy: a flat colour comes back within a few levels.
  const std::vector<unsigned char> flat(8 * 8 * 3, 200);
  ASSERT_TRUE(stbi_write_jpg((d / "a.jpg").c_str(), 8, 8, 3, flat.data(), 100));
  const Tensor jpg = load_image(d / "a.jpg");
  ASSERT_EQ(jpg.shape(), (Shape{3, 8, 8}));
  for (float v : jpg.span()) EXPECT_NEAR(v, 200 / 255.0f, 3 / 255.0f);
}

TEST(LoadImage, ConvertsChannels) {
  const TempDir d;
  const std::vector<unsigned char> rgb = {255, 0, 0, 10, 200, 30};  // 1 x 2
  ASSERT_TRUE(stbi_write_png((d / "rgb.png").c_str(), 2, 1, 3, rgb.data(), 6));
  const Tensor grey = load_image(d / "rgb.png", 1);
  ASSERT_EQ(grey.shape(), (Shape{1, 1, 2}));
  // stb's luma: (77 R + 150 G + 29 B) >> 8.
  EXPECT_EQ(grey(0, 0, 0), ((77 * 255) >> 8) / 255.0f);
  EXPECT_EQ(grey(0, 0, 1), ((77 * 10 + 150 * 200 + 29 * 30) >> 8) / 255.0f);
  const Tensor rgba = load_image(d / "rgb.png", 4);
  ASSERT_EQ(rgba.shape(), (Shape{4, 1, 2}));
  EXPECT_EQ(rgba(3, 0, 1), 1.0f);  // opaque
  EXPECT_EQ(rgba(1, 0, 1), 200 / 255.0f);

  const std::vector<unsigned char> g = {0, 128};
  ASSERT_TRUE(stbi_write_png((d / "grey.png").c_str(), 2, 1, 1, g.data(), 2));
  const Tensor to_rgb = load_image(d / "grey.png", 3);
  ASSERT_EQ(to_rgb.shape(), (Shape{3, 1, 2}));
  for (int c = 0; c < 3; ++c) EXPECT_EQ(to_rgb(c, 0, 1), 128 / 255.0f);
}

TEST(LoadImage, ErrorsNameTheFile) {
  const TempDir d;
  const std::string missing = io_error(d / "missing.png");
  EXPECT_NE(missing.find("missing.png"), std::string::npos) << missing;
  EXPECT_NE(missing.find("does not exist"), std::string::npos) << missing;

  std::ofstream(d / "text.png") << "this is not an image\n";
  const std::string text = io_error(d / "text.png");
  EXPECT_NE(text.find("load_image: cannot decode '"), std::string::npos) << text;
  EXPECT_NE(text.find("text.png': "), std::string::npos) << text;
  EXPECT_GT(text.size(), text.find("': ") + 3) << "stb's reason is missing: " << text;

  // A valid PNG cut in half.
  const auto bytes = pattern(16, 16, 3);
  ASSERT_TRUE(stbi_write_png((d / "full.png").c_str(), 16, 16, 3, bytes.data(), 48));
  const auto size = fs::file_size(d / "full.png");
  fs::copy_file(d / "full.png", d / "cut.png");
  fs::resize_file(d / "cut.png", size / 2);
  EXPECT_NE(io_error(d / "cut.png").find("cut.png"), std::string::npos);

  EXPECT_NE(io_error(d.path).find("is not a regular file"), std::string::npos);
  EXPECT_THROW(load_image(d / "full.png", 5), ValueError);
  EXPECT_THROW(load_image(d / "full.png", -1), ValueError);
}

TEST(SaveImagePng, RoundTripIsExactOnMultiplesOf255th) {
  const TempDir d;
  for (int64_t c : {1, 3, 4}) {
    Tensor image = Tensor::empty({c, 3, 7});
    for (int64_t i = 0; i < image.numel(); ++i)
      image.data()[i] = static_cast<float>((i * 53 + 7) % 256) / 255.0f;
    const fs::path p = d / fmt::format("out{}.png", c);
    save_image_png(p, image);
    const Tensor back = load_image(p);
    ASSERT_EQ(back.shape(), image.shape());
    EXPECT_TRUE(allclose(back, image, 0, 0)) << "C = " << c;
  }
  // Only the target remains: the temporary was renamed.
  for (const auto& entry : fs::directory_iterator(d.path))
    EXPECT_EQ(entry.path().extension().string(), ".png") << entry.path().string();
}

TEST(SaveImagePng, ClampsAndRounds) {
  const TempDir d;
  const fs::path p = d / "clamp.png";
  const std::vector<float> values = {-0.5f, 1.5f, NAN, 0.5f, 100.4f / 255.0f, 100.6f / 255.0f};
  save_image_png(p, Tensor::from_vector({1, 2, 3}, values));
  const Tensor back = load_image(p);
  const std::vector<float> expected = {0.0f, 1.0f, 0.0f, 128 / 255.0f, 100 / 255.0f, 101 / 255.0f};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(back.data()[i], expected[i]) << i;
}

TEST(SaveImagePng, RejectsOtherShapes) {
  const TempDir d;
  const fs::path p = d / "bad.png";
  EXPECT_THROW(save_image_png(p, Tensor::zeros({5, 2, 2})), ShapeError);
  EXPECT_THROW(save_image_png(p, Tensor::zeros({2, 2})), ShapeError);
  EXPECT_THROW(save_image_png(p, Tensor::zeros({1, 0, 2})), ShapeError);
  EXPECT_THROW(save_image_png(p, Tensor()), ShapeError);
  EXPECT_FALSE(fs::exists(p));
}

TEST(ResizeImage, BilinearWithoutAlignedCorners) {
  // Channel 1 is ten times channel 0; PyTorch: F.interpolate(x, size=4, mode="bilinear",
  // align_corners=False) of [[0, 1], [2, 3]].
  const Tensor x = Tensor::from_vector({2, 2, 2}, std::vector<float>{0, 1, 2, 3, 0, 10, 20, 30});
  const Tensor y = resize_image(x, 4, 4);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 4}));
  const float expected[4][4] = {{0, 0.25f, 0.75f, 1},
                                {0.5f, 0.75f, 1.25f, 1.5f},
                                {1.5f, 1.75f, 2.25f, 2.5f},
                                {2, 2.25f, 2.75f, 3}};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      EXPECT_FLOAT_EQ(y(0, r, c), expected[r][c]);
      EXPECT_FLOAT_EQ(y(1, r, c), 10 * expected[r][c]);
    }
  // Down to one pixel: the mean of the four (source coordinate 0.5, 0.5).
  EXPECT_FLOAT_EQ(resize_image(x, 1, 1)(0, 0, 0), 1.5f);
  EXPECT_EQ(resize_image(x, 3, 5).shape(), (Shape{2, 3, 5}));
}

TEST(ResizeImage, RejectsBadArguments) {
  EXPECT_THROW(resize_image(Tensor::zeros({1, 1, 2, 2}), 2, 2), ShapeError);
  EXPECT_THROW(resize_image(Tensor::zeros({1, 2, 2}), 0, 2), ValueError);
  EXPECT_THROW(resize_image(Tensor::zeros({1, 2, 2}), 2, -1), ValueError);
}

}  // namespace
}  // namespace fovea::data
