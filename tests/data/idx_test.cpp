#include "fovea/data/idx.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fovea/data/dataset.h"
#include "fovea/error.h"

namespace fovea::data {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  const fs::path d = fs::temp_directory_path() / "fovea_idx_test";
  fs::create_directories(d);
  return d;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string idx_error(const fs::path& p) {
  try {
    load_idx(p);
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(Idx, RoundTripPlainAndGzip) {
  const Tensor images = Tensor::arange(2 * 3 * 4).reshape({2, 3, 4});
  for (const char* name : {"images.idx", "images.idx.gz"}) {
    const fs::path p = temp_dir() / name;
    save_idx_u8(p, images);
    const Tensor back = load_idx(p);
    EXPECT_EQ(back.shape(), images.shape()) << name;
    EXPECT_TRUE(allclose(back, images, 0, 0)) << name;
  }
}

TEST(Idx, DecodesBigEndianTypes) {
  // 0x0B: int16, shape [2], values -2 and 258.
  const fs::path p = temp_dir() / "i16.idx";
  write_bytes(p, std::string("\0\0\x0B\x01\0\0\0\x02\xFF\xFE\x01\x02", 12));
  const Tensor t = load_idx(p);
  EXPECT_EQ(t(0), -2.0f);
  EXPECT_EQ(t(1), 258.0f);
  // 0x0D: float32 1.5 = 0x3FC00000.
  write_bytes(p, std::string("\0\0\x0D\x01\0\0\0\x01\x3F\xC0\0\0", 12));
  EXPECT_EQ(load_idx(p)(0), 1.5f);
}

TEST(Idx, DamagedFilesGiveClearErrors) {
  const fs::path p = temp_dir() / "bad.idx";
  write_bytes(p, std::string("\x01\x02\x08\x01\0\0\0\x01\x05", 9));
  EXPECT_NE(idx_error(p).find("not an IDX file"), std::string::npos);
  write_bytes(p, std::string("\0\0\x07\x01\0\0\0\x01\x05", 9));
  EXPECT_NE(idx_error(p).find("unknown type code 0x07"), std::string::npos);
  write_bytes(p, std::string("\0\0\x08\x01\0\0\0\x04\x05\x06", 10));  // says 4, has 2
  EXPECT_NE(idx_error(p).find("truncated"), std::string::npos) << idx_error(p);
  write_bytes(p, std::string("\0\0\x08\x01\0\0\0\x01\x05\x06", 10));  // says 1, has 2
  EXPECT_NE(idx_error(p).find("extra bytes"), std::string::npos);
  write_bytes(p, std::string("\0\0\x08\x03\0\0", 6));
  EXPECT_NE(idx_error(p).find("truncated inside its header"), std::string::npos);
  EXPECT_NE(idx_error(temp_dir() / "missing.idx").find("cannot open"), std::string::npos);
}

TEST(IdxDataset, LoadsMatchingImagesAndLabels) {
  const fs::path d = temp_dir() / "set";
  fs::create_directories(d);
  save_idx_u8(d / "train-images-idx3-ubyte.gz", Tensor::full({3, 2, 2}, 255.0f));
  save_idx_u8(d / "train-labels-idx1-ubyte", Tensor::arange(3));
  const Dataset ds = load_idx_dataset(d, true, fashion_mnist_classes());
  EXPECT_EQ(ds.images.shape(), (Shape{3, 1, 2, 2}));
  EXPECT_EQ(ds.images(2, 0, 1, 1), 1.0f);
  EXPECT_EQ(ds.labels(2), 2.0f);
  EXPECT_EQ(ds.classes[9], "Ankle boot");
  EXPECT_THROW(load_idx_dataset(d, false), IoError);              // no t10k files
  save_idx_u8(d / "train-labels-idx1-ubyte", Tensor::arange(2));  // wrong count
  try {
    load_idx_dataset(d, true);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("one per image"), std::string::npos) << e.what();
  }
  save_idx_u8(d / "train-labels-idx1-ubyte", Tensor::full({3}, 12.0f));  // label out of range
  EXPECT_THROW(load_idx_dataset(d, true), IoError);
  fs::remove_all(d);
}

}  // namespace
}  // namespace fovea::data
