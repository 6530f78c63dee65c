#include "fovea/io/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "fovea/error.h"

namespace fovea::io {
namespace {

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("fovea_st_test_" + name);
}

std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t len = header.size();
  std::memcpy(out.data(), &len, 8);
  return out + header + data;
}

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string load_error(const std::filesystem::path& p) {
  try {
    load_safetensors(p);
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripIsBitExactWithMetadataAndOrder) {
  const NamedTensorList tensors = {{"features.0.weight", Tensor::randn({4, 1, 3, 3})},
                                   {"features.0.bias", Tensor::randn({4})},
                                   {"bn.num_batches_tracked", Tensor::full({}, 7.0f)}};
  const auto p = temp_path("roundtrip.safetensors");
  save_safetensors(p, tensors, {{"spec", "conv(4,3) relu"}, {"epoch", "3"}});
  const SafetensorsContents c = load_safetensors(p);
  ASSERT_EQ(c.tensors.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(c.tensors[i].first, tensors[i].first);
    EXPECT_EQ(c.tensors[i].second.shape(), tensors[i].second.shape());
    EXPECT_EQ(std::memcmp(c.tensors[i].second.data(), tensors[i].second.data(),
                          tensors[i].second.numel() * 4),
              0);
  }
  EXPECT_EQ(c.metadata.at("spec"), "conv(4,3) relu");
  EXPECT_EQ(c.metadata.at("epoch"), "3");
  std::filesystem::remove(p);
}

TEST(Safetensors, ReadsOtherDtypes) {
  const auto p = temp_path("dtypes.safetensors");
  const uint16_t f16[2] = {0x3C00, 0xC100};  // 1.0, -2.5
  const uint16_t bf16[1] = {0x4049};         // 3.140625
  const double f64[1] = {0.5};
  std::string data(reinterpret_cast<const char*>(f16), 4);
  data += std::string(reinterpret_cast<const char*>(bf16), 2);
  data += std::string(reinterpret_cast<const char*>(f64), 8);
  write_bytes(p, raw_file(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},)"
                          R"("c":{"dtype":"F64","shape":[1],"data_offsets":[6,14]}})",
                          data));
  const auto c = load_safetensors(p);
  EXPECT_EQ(c.tensors[0].second(1), -2.5f);
  EXPECT_EQ(c.tensors[1].second(0), 3.140625f);
  EXPECT_EQ(c.tensors[2].second(0), 0.5f);
  std::filesystem::remove(p);
}

TEST(Safetensors, DamagedFilesGiveClearErrors) {
  const auto p = temp_path("bad.safetensors");
  write_bytes(p, "abc");
  EXPECT_NE(load_error(p).find("too short"), std::string::npos);
  std::string bytes = raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "");
  bytes[0] = 'z';  // header length far past the end
  write_bytes(p, bytes);
  EXPECT_NE(load_error(p).find("header"), std::string::npos);
  write_bytes(p, raw_file("{not json", ""));
  EXPECT_NE(load_error(p).find("invalid JSON"), std::string::npos);
  write_bytes(p, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234"));
  EXPECT_NE(load_error(p).find("data_offsets"), std::string::npos);
  write_bytes(p, raw_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "12"));
  EXPECT_NE(load_error(p).find("dtype U8"), std::string::npos);
  write_bytes(p, raw_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", "12345678"));
  EXPECT_NE(load_error(p).find("malformed"), std::string::npos);
  EXPECT_NE(load_error(temp_path("missing.safetensors")).find("cannot open"), std::string::npos);
  std::filesystem::remove(p);
}

TEST(Safetensors, FailedSaveKeepsThePreviousFile) {
  const auto p = temp_path("keep.safetensors");
  save_safetensors(p, {{"w", Tensor::ones({2})}});
  EXPECT_THROW(save_safetensors(p, {{"w", Tensor()}}), ValueError);
  EXPECT_THROW(save_safetensors(p, {{"w", Tensor::ones({1})}, {"w", Tensor::ones({1})}}),
               ValueError);
  EXPECT_EQ(load_safetensors(p).tensors.at(0).second.numel(), 2);
  std::filesystem::remove(p);
}

}  // namespace
}  // namespace fovea::io
