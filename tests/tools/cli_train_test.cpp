// The main job through the command line, as a user runs it: train on a small IDX data set,
// evaluate, predict, resume, and the errors bad input gets.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "fovea/data/idx.h"
#include "fovea/data/image.h"
#include "fovea/random.h"
#include "run_cli.h"
#include "temp_dir.h"

namespace fovea {
namespace {

using testing::run_fovea;
using testing::TempDir;

constexpr const char* kTinyModel = "conv(4,3,pad=1) relu maxpool(2) flatten linear(10)";

// An MNIST-style directory of 8x8 images whose class is the brightest row (0..7 of 10 classes).
void write_idx_set(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  Generator gen(3);
  for (const char* split : {"train", "t10k"}) {
    const int64_t n = std::string(split) == "train" ? 256 : 64;
    Tensor images = Tensor::empty({n, 8, 8}), labels = Tensor::empty({n});
    for (int64_t i = 0; i < n; ++i) {
      const int64_t row = static_cast<int64_t>(gen.next_u64() % 8);
      labels.data()[i] = static_cast<float>(row);
      for (int64_t y = 0; y < 8; ++y)
        for (int64_t x = 0; x < 8; ++x) images(i, y, x) = y == row ? 250.0f : gen.uniform(0, 60);
    }
    data::save_idx_u8(dir / (std::string(split) + "-images-idx3-ubyte.gz"), images);
    data::save_idx_u8(dir / (std::string(split) + "-labels-idx1-ubyte.gz"), labels);
  }
}

TEST(CliTrain, TrainsEvaluatesPredictsAndResumes) {
  TempDir tmp;
  write_idx_set(tmp / "data");
  const std::string ck = (tmp / "model.safetensors").string();
  const std::string log = (tmp / "log.jsonl").string();
  auto r = run_fovea({"train",
                      "--data",
                      (tmp / "data").string(),
                      "--model",
                      kTinyModel,
                      "--epochs",
                      "2",
                      "--batch-size",
                      "16",
                      "--optimizer",
                      "adam",
                      "--lr",
                      "0.01",
                      "--schedule",
                      "none",
                      "--seed",
                      "1",
                      "--threads",
                      "1",
                      "--checkpoint",
                      ck,
                      "--log-json",
                      log});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("test acc"), std::string::npos) << r.out;  // the epoch table
  std::ifstream in(log);
  std::string line;
  std::vector<nlohmann::json> epochs;
  while (std::getline(in, line)) epochs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(epochs.size(), 2u);
  for (const char* key :
       {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "images_per_s"})
    EXPECT_TRUE(epochs[1].contains(key)) << key;
  EXPECT_LT(epochs[1]["train_loss"].get<double>(), epochs[0]["train_loss"].get<double>());
  EXPECT_GT(epochs[1]["test_acc"].get<double>(), 0.5);

  r = run_fovea({"eval", "--checkpoint", ck, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto eval = nlohmann::json::parse(r.out);
  EXPECT_NEAR(eval["accuracy"].get<double>(), epochs[1]["test_acc"].get<double>(), 1e-9);
  // Every convolution algorithm choice evaluates the same network to the same accuracy.
  for (const std::string algo : {"reference", "autotune", "auto"}) {
    r = run_fovea({"eval", "--checkpoint", ck, "--json", "--conv-algo", algo});
    ASSERT_EQ(r.exit_code, 0) << algo << ": " << r.err;
    EXPECT_NEAR(nlohmann::json::parse(r.out)["accuracy"].get<double>(),
                eval["accuracy"].get<double>(), 1e-9)
        << algo;
  }

  // An image of class 5 (bright row 5) as a PNG of the training size.
  Tensor img = Tensor::zeros({1, 8, 8});
  for (int64_t x = 0; x < 8; ++x) img(0, 5, x) = 1.0f;
  data::save_image_png(tmp / "five.png", img);
  r = run_fovea(
      {"predict", "--checkpoint", ck, (tmp / "five.png").string(), "--top-k", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto pred = nlohmann::json::parse(r.out);
  ASSERT_EQ(pred[0]["top"].size(), 2u);
  EXPECT_EQ(pred[0]["top"][0]["class"], "5");

  // Resuming a finished run for one more epoch continues from epoch 3.
  r = run_fovea({"train", "--data", (tmp / "data").string(), "--epochs", "3", "--batch-size", "16",
                 "--optimizer", "adam", "--lr", "0.01", "--schedule", "none", "--threads", "1",
                 "--resume", ck, "--log-json", log});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream again(log);
  std::getline(again, line);
  EXPECT_EQ(nlohmann::json::parse(line)["epoch"], 3);
}

TEST(CliTrain, BadInputPrintsErrorAndExitsNonZero) {
  TempDir tmp;
  auto r = run_fovea({"train", "--frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--help"), std::string::npos) << r.err;

  r = run_fovea({"train", "--conv-algo", "winograd_f99"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--conv-algo"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("winograd_f99"), std::string::npos) << r.err;

  r = run_fovea({"train", "--data", (tmp / "nowhere").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: data directory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hint:"), std::string::npos) << r.err;

  std::ofstream(tmp / "broken.safetensors") << "this is not a checkpoint";
  r = run_fovea({"eval", "--checkpoint", (tmp / "broken.safetensors").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: load_safetensors"), std::string::npos) << r.err;

  r = run_fovea({"eval", "--checkpoint", (tmp / "missing.safetensors").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;

  // A checkpoint, then an image of the wrong size.
  write_idx_set(tmp / "data");
  const std::string ck = (tmp / "m.safetensors").string();
  ASSERT_EQ(run_fovea({"train", "--data", (tmp / "data").string(), "--model", kTinyModel,
                       "--epochs", "1", "--threads", "1", "--checkpoint", ck})
                .exit_code,
            0);
  data::save_image_png(tmp / "big.png", Tensor::zeros({1, 12, 12}));
  r = run_fovea({"predict", "--checkpoint", ck, (tmp / "big.png").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is 12x12 but the checkpoint expects 8x8"), std::string::npos) << r.err;

  r = run_fovea({"train", "--data", (tmp / "data").string(), "--model", "conv(4,3) frob"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("'frob' at column 11 is not a layer"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fovea
