#include "fovea/train/trainer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fovea/error.h"
#include "fovea/io/safetensors.h"
#include "fovea/random.h"
#include "fovea/train/checkpoint.h"

namespace fovea::train {
namespace {

namespace fs = std::filesystem;

// Two classes of 1x8x8 images: bright left half (0) or bright right half (1), plus noise.
data::Dataset halves(int64_t n, uint64_t seed) {
  Generator gen(seed);
  Tensor images = Tensor::empty({n, 1, 8, 8});
  Tensor labels = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(gen.next_u64() % 2);
    labels.data()[i] = static_cast<float>(label);
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x)
        images(i, 0, y, x) = ((x < 4) == (label == 0) ? 0.7f : 0.2f) + gen.uniform(-0.2f, 0.2f);
  }
  return {images, labels, {"left", "right"}};
}

constexpr const char* kSpec = "conv(4,3,pad=1) bn relu maxpool(2) flatten dropout(0.2) linear(2)";

TrainOptions options(int64_t epochs) {
  return {.model = kSpec,
          .epochs = epochs,
          .batch_size = 16,
          .lr = 0.05,
          .optimizer = "sgd",
          .schedule = "none",
          .seed = 7};
}

fs::path temp(const std::string& name) {
  return fs::temp_directory_path() / ("fovea_train_" + name);
}

TEST(Trainer, LossFallsAndAccuracyRises) {
  const auto history = train(options(4), halves(256, 1), halves(64, 2));
  ASSERT_EQ(history.size(), 4u);
  EXPECT_LT(history.back().train_loss, 0.5 * history.front().train_loss);
  EXPECT_GT(history.back().test_acc, 0.95);
}

TEST(Trainer, SameSeedSameLosses) {
  const auto a = train(options(2), halves(128, 1), halves(32, 2));
  const auto b = train(options(2), halves(128, 1), halves(32, 2));
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].train_loss, b[i].train_loss);
    EXPECT_EQ(a[i].test_loss, b[i].test_loss);
  }
}

TEST(Trainer, ResumeEqualsUninterruptedRun) {
  for (const std::string optimizer : {"sgd", "adam"}) {
    TrainOptions full = options(3);
    full.optimizer = optimizer;
    full.lr = optimizer == "sgd" ? 0.05 : 0.01;
    full.schedule = "cosine";
    full.checkpoint = temp("full.safetensors");
    train(full, halves(96, 1), halves(32, 2));

    // Interrupt the same 3-epoch run after its first epoch's checkpoint, then resume it.
    TrainOptions first = full;
    first.checkpoint = temp("part.safetensors");
    TrainCallbacks stop_after_one;
    stop_after_one.on_epoch = [](const EpochStats& s) {
      if (s.epoch == 1) throw std::runtime_error("interrupted");
    };
    EXPECT_THROW(train(first, halves(96, 1), halves(32, 2), stop_after_one), std::runtime_error);
    TrainOptions rest = full;
    rest.resume = first.checkpoint;
    rest.checkpoint = temp("resumed.safetensors");
    const auto resumed_history = train(rest, halves(96, 1), halves(32, 2));
    EXPECT_EQ(resumed_history.size(), 2u);
    EXPECT_EQ(resumed_history.front().epoch, 2);

    const auto a = io::load_safetensors(full.checkpoint).tensors;
    const auto b = io::load_safetensors(rest.checkpoint).tensors;
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_EQ(std::memcmp(a[i].second.data(), b[i].second.data(), a[i].second.numel() * 4), 0)
          << optimizer << " " << a[i].first;
    }
  }
}

TEST(Trainer, CheckpointRoundTripIsBitExact) {
  TrainOptions o = options(1);
  o.checkpoint = temp("roundtrip.safetensors");
  train(o, halves(64, 1), halves(16, 2));
  const LoadedCheckpoint ck = load_checkpoint(o.checkpoint);
  EXPECT_EQ(ck.info.spec, kSpec);
  EXPECT_EQ(ck.info.classes, (std::vector<std::string>{"left", "right"}));
  EXPECT_EQ(ck.info.input_shape, (Shape{1, 8, 8}));
  EXPECT_EQ(ck.info.epoch, 1);
  ASSERT_TRUE(ck.optimizer.has_value());
  const fs::path again = temp("roundtrip2.safetensors");
  save_checkpoint(again, *ck.model.model, ck.info);
  const auto a = io::load_safetensors(o.checkpoint).tensors;
  const auto b = io::load_safetensors(again).tensors;
  for (size_t i = 0; i < b.size(); ++i)
    EXPECT_EQ(std::memcmp(a[i].second.data(), b[i].second.data(), a[i].second.numel() * 4), 0);
}

TEST(Trainer, CheckpointReadableByAPlainSafetensorsReader) {
  // tests/train/read_safetensors.py parses the format with Python's standard library alone (no
  // torch, no safetensors package) and prints name, shape and sum of each tensor.
  TrainOptions o = options(1);
  o.checkpoint = temp("python.safetensors");
  train(o, halves(32, 1), halves(16, 2));
  if (std::system("python3 -c 'import struct, json' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 not available";
  const fs::path out = temp("python.txt");
  const std::string cmd = std::string("python3 ") + FOVEA_TESTS_DIR +
                          "/train/read_safetensors.py " + o.checkpoint + " > " + out.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string line;
  int count = 0;
  const auto tensors = io::load_safetensors(o.checkpoint).tensors;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string name;
    double sum = 0;
    row >> name >> sum;
    double expected = 0;
    for (const auto& [n, t] : tensors)
      if (n == name)
        for (float v : t.span()) expected += v;
    EXPECT_NEAR(sum, expected, 1e-3 + 1e-5 * std::abs(expected)) << name;
    ++count;
  }
  EXPECT_EQ(count, static_cast<int>(tensors.size()));
}

TEST(Trainer, BadOptionsAndMismatchedData) {
  TrainOptions o = options(1);
  o.optimizer = "rmsprop";
  EXPECT_THROW(train(o, halves(16, 1), halves(16, 2)), ValueError);
  o = options(1);
  o.model = "conv(4,3) flatten linear(3)";  // 3 outputs for 2 classes
  EXPECT_THROW(train(o, halves(16, 1), halves(16, 2)), ValueError);
  o = options(1);
  o.resume = temp("does_not_exist.safetensors");
  EXPECT_THROW(train(o, halves(16, 1), halves(16, 2)), IoError);
}

}  // namespace
}  // namespace fovea::train
