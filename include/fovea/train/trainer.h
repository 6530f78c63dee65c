// The training loop behind `fovea train`: data, model from a spec, optimizer, schedule,
// per-epoch evaluation, checkpoints and exact resumption.
//
// Determinism: with the same seed and thread count, the model's initial weights (drawn after
// manual_seed(seed)), the data order and augmentation of each epoch (DataLoader: from seed and
// epoch) and the dropout masks (the global generator is reseeded from seed and epoch at the
// start of each epoch) are the same, so losses repeat run to run, and a run resumed from a
// checkpoint continues exactly as the uninterrupted one would have.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fovea/data/dataset.h"
#include "fovea/nn/module.h"

namespace fovea::train {

struct TrainOptions {
  std::string model = "fmnist-cnn";  // spec string or zoo name (its classifier sized to the data)
  int64_t epochs = 3;
  int64_t batch_size = 64;
  // The defaults reach 91% test accuracy on Fashion-MNIST in 3 epochs (see README.md).
  double lr = 0.002;
  std::string optimizer = "adam";  // sgd | adam | adamw
  double momentum = 0.9;           // SGD momentum (Adam: beta1 stays 0.9)
  double weight_decay = 0.0;
  std::string schedule = "cosine";  // none | step | cosine | onecycle (stepped per batch)
  bool augment = false;             // random crop (padding 2) and horizontal flip
  uint64_t seed = 0;
  std::string checkpoint = {};             // written after every epoch when non-empty
  std::string resume = {};                 // checkpoint to continue from
  std::string data_name = {};              // recorded in the checkpoint
  std::vector<float> mean = {}, std = {};  // normalisation; empty: computed from the train set
};

struct EpochStats {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_acc = 0, test_loss = 0, test_acc = 0;
  double seconds = 0, images_per_s = 0;
};

struct Progress {
  int64_t epoch, epochs, batch, batches, images;
  double loss, acc, seconds;  // running averages over the epoch so far; seconds elapsed
};

// Callbacks for progress display and logging; any may be empty.
struct TrainCallbacks {
  std::function<void(const Progress&)> on_batch;
  std::function<void(const EpochStats&)> on_epoch;
};

// Trains on `train_set`, evaluating on `test_set` after every epoch. Returns the stats of the
// epochs run (after `resume`, only the remaining ones). Throws on bad options.
std::vector<EpochStats> train(const TrainOptions& options, const data::Dataset& train_set,
                              const data::Dataset& test_set, const TrainCallbacks& callbacks = {});

struct EvalResult {
  double loss = 0, acc = 0;
  int64_t count = 0;
};

// Mean cross-entropy and accuracy of `model` (put in eval mode) on normalised data.
EvalResult evaluate(nn::Module& model, const data::Dataset& data, const std::vector<float>& mean,
                    const std::vector<float>& std, int64_t batch_size = 500);

// Per-channel mean and standard deviation of a data set's images.
std::pair<std::vector<float>, std::vector<float>> channel_stats(const data::Dataset& data);

}  // namespace fovea::train
