#include "fovea/io/npy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fovea/error.h"

namespace fovea::io {
namespace {

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("fovea_npy_test_" + name);
}

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

TEST(Npy, RoundTripKeepsShapeAndBits) {
  const Tensor t = Tensor::randn({2, 3, 4});
  const auto p = temp_path("roundtrip.npy");
  save_npy(p, t);
  const Tensor u = load_npy(p);
  EXPECT_EQ(u.shape(), t.shape());
  EXPECT_TRUE(allclose(u, t, 0.0f, 0.0f));
  std::filesystem::remove(p);
}

TEST(Npy, RoundTripRankOneAndZero) {
  const auto p = temp_path("rank1.npy");
  save_npy(p, Tensor::arange(3));
  EXPECT_EQ(load_npy(p).shape(), (Shape{3}));
  save_npy(p, Tensor::full({}, 2.5f));
  const Tensor s = load_npy(p);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.data()[0], 2.5f);
  std::filesystem::remove(p);
}

TEST(Npy, ReadsFloat64AndInt64) {
  const auto p = temp_path("f8.npy");
  const double d[2] = {1.5, -2.25};
  write_bytes(p, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                           std::string(reinterpret_cast<const char*>(d), 16)));
  Tensor t = load_npy(p);
  EXPECT_EQ(t(1), -2.25f);
  const int64_t i[3] = {7, -1, 1 << 20};
  write_bytes(p, npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                           std::string(reinterpret_cast<const char*>(i), 24)));
  t = load_npy(p);
  EXPECT_EQ(t(2), float(1 << 20));
  std::filesystem::remove(p);
}

TEST(Npy, RejectsForeignAndDamagedFiles) {
  const auto p = temp_path("bad.npy");
  write_bytes(p, "hello, not numpy");
  EXPECT_THROW(load_npy(p), IoError);
  write_bytes(p, npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "abcd"));
  EXPECT_THROW(load_npy(p), IoError);
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "abcd"));
  EXPECT_THROW(load_npy(p), IoError);
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", "abcd"));
  try {
    load_npy(p);
    FAIL() << "truncated file loaded";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_npy(temp_path("does_not_exist.npy")), IoError);
  std::filesystem::remove(p);
}

TEST(Npy, FailedSaveLeavesOldFileIntact) {
  const auto p = temp_path("keep.npy");
  save_npy(p, Tensor::arange(3));
  EXPECT_THROW(save_npy(p, Tensor()), ValueError);
  EXPECT_EQ(load_npy(p).numel(), 3);
  EXPECT_THROW(save_npy("/nonexistent_dir/x.npy", Tensor::arange(3)), IoError);
  std::filesystem::remove(p);
}

}  // namespace
}  // namespace fovea::io
