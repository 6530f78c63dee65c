#include "fovea/train/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <memory>

#include "fovea/autograd.h"
#include "fovea/data/loader.h"
#include "fovea/error.h"
#include "fovea/functional/loss.h"
#include "fovea/nn/spec.h"
#include "fovea/optim/adam.h"
#include "fovea/optim/schedule.h"
#include "fovea/optim/sgd.h"
#include "fovea/random.h"
#include "fovea/train/checkpoint.h"
#include "fovea/zoo/zoo.h"

namespace fovea::train {
namespace {

namespace F = functional;
using Clock = std::chrono::steady_clock;

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainOptions& o,
                                                 std::vector<Tensor> params) {
  if (o.optimizer == "sgd")
    return std::make_unique<optim::SGD>(
        std::move(params),
        optim::SGDOptions{.lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay});
  if (o.optimizer == "adam")
    return std::make_unique<optim::Adam>(
        std::move(params), optim::AdamOptions{.lr = o.lr, .weight_decay = o.weight_decay});
  if (o.optimizer == "adamw")
    return std::make_unique<optim::AdamW>(
        std::move(params), optim::AdamWOptions{.lr = o.lr, .weight_decay = o.weight_decay});
  throw ValueError(
      fmt::format("train: optimizer expects sgd, adam or adamw, got '{}'", o.optimizer));
}

// Schedules advance once per batch over the whole run.
std::unique_ptr<optim::LRScheduler> make_schedule(const TrainOptions& o, optim::Optimizer& opt,
                                                  int64_t total_steps) {
  if (o.schedule == "none") return nullptr;
  if (o.schedule == "step")  // x0.1 after each third of the run
    return std::make_unique<optim::StepLR>(
        opt,
        optim::StepLROptions{.step_size = std::max<int64_t>(1, total_steps / 3), .gamma = 0.1});
  if (o.schedule == "cosine")
    return std::make_unique<optim::CosineAnnealingLR>(
        opt, optim::CosineAnnealingLROptions{.t_max = total_steps});
  if (o.schedule == "onecycle")
    return std::make_unique<optim::OneCycleLR>(
        opt, optim::OneCycleLROptions{.max_lr = o.lr, .total_steps = total_steps});
  throw ValueError(
      fmt::format("train: schedule expects none, step, cosine or onecycle, got '{}'", o.schedule));
}

// Number of rows of (N, C) logits whose argmax equals the label.
int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const int64_t n = logits.size(0), c = logits.size(1);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * c;
    const int64_t best = std::max_element(row, row + c) - row;
    correct += best == static_cast<int64_t>(labels.data()[i]);
  }
  return correct;
}

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  return seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1;
}

Shape example_shape(const data::Dataset& d) {
  return Shape(d.images.shape().begin() + 1, d.images.shape().end());
}

}  // namespace

std::pair<std::vector<float>, std::vector<float>> channel_stats(const data::Dataset& d) {
  const int64_t n = d.images.size(0), c = d.images.size(1);
  const int64_t plane = d.images.numel() / (n * c);
  std::vector<float> mean(c), stddev(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    double s = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* p = d.images.data() + (i * c + ch) * plane;
      for (int64_t k = 0; k < plane; ++k) s += p[k], sq += double(p[k]) * p[k];
    }
    const double count = double(n) * plane, m = s / count;
    mean[ch] = static_cast<float>(m);
    stddev[ch] = static_cast<float>(std::sqrt(std::max(1e-12, sq / count - m * m)));
  }
  return {mean, stddev};
}

EvalResult evaluate(nn::Module& model, const data::Dataset& data, const std::vector<float>& mean,
                    const std::vector<float>& std, int64_t batch_size) {
  autograd::NoGradGuard no_grad;
  model.eval();
  data::DataLoader loader(data,
                          {.batch_size = batch_size, .shuffle = false, .mean = mean, .std = std});
  EvalResult r;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    const data::Batch batch = loader.batch(b);
    const Tensor logits = model.forward(batch.images);
    const Tensor loss = F::cross_entropy(logits, batch.labels, {.reduction = F::Reduction::kSum});
    loss_sum += loss.data()[0];
    correct += count_correct(logits, batch.labels);
    r.count += batch.labels.numel();
  }
  r.loss = loss_sum / r.count;
  r.acc = double(correct) / r.count;
  return r;
}

std::vector<EpochStats> train(const TrainOptions& o, const data::Dataset& train_set,
                              const data::Dataset& test_set, const TrainCallbacks& cb) {
  if (o.epochs < 1)
    throw ValueError(fmt::format("train: epochs expects a value >= 1, got {}", o.epochs));
  if (o.batch_size < 1)
    throw ValueError(fmt::format("train: batch_size expects a value >= 1, got {}", o.batch_size));
  if (!(o.lr > 0)) throw ValueError(fmt::format("train: lr expects a value > 0, got {}", o.lr));

  CheckpointInfo info;
  nn::SpecModel built;
  std::optional<optim::OptimizerState> saved_optimizer;
  if (!o.resume.empty()) {
    LoadedCheckpoint ck = load_checkpoint(o.resume);
    if (ck.info.input_shape != example_shape(train_set))
      throw ValueError(fmt::format(
          "train: the checkpoint '{}' expects inputs of shape {}, the data has {}", o.resume,
          shape_str(ck.info.input_shape), shape_str(example_shape(train_set))));
    built = std::move(ck.model);
    info = ck.info;
    saved_optimizer = ck.optimizer;
  } else {
    manual_seed(o.seed);  // the initial weights
    built = zoo::build_model(o.model, example_shape(train_set),
                             static_cast<int64_t>(train_set.classes.size()));
    info.spec = built.spec;
    info.input_shape = built.input_shape;
    info.classes = train_set.classes;
    if (o.mean.empty()) {
      std::tie(info.mean, info.std) = channel_stats(train_set);
    } else {
      info.mean = o.mean;
      info.std = o.std;
    }
    info.seed = o.seed;
  }
  const int64_t classes = built.output_shape.empty() ? 0 : built.output_shape.back();
  if (built.output_shape.size() != 1 || classes != static_cast<int64_t>(train_set.classes.size()))
    throw ValueError(fmt::format(
        "train: the model's output expects one score per class ({} classes), got shape {}",
        train_set.classes.size(), shape_str(built.output_shape)));
  info.data = o.data_name;
  info.batch_size = o.batch_size;
  info.scheduler = o.schedule;
  nn::Module& model = *built.model;

  data::DataLoader loader(train_set, {.batch_size = o.batch_size,
                                      .seed = info.seed,
                                      .mean = info.mean,
                                      .std = info.std,
                                      .crop_padding = o.augment ? 2 : 0,
                                      .horizontal_flip = o.augment});
  auto optimizer = make_optimizer(o, model.parameters());
  if (saved_optimizer) optimizer->load_state_dict(*saved_optimizer);
  auto schedule = make_schedule(o, *optimizer, o.epochs * loader.num_batches());
  if (schedule && info.scheduler_last_epoch > 0)
    schedule->load_state_dict({.last_epoch = info.scheduler_last_epoch});

  std::vector<EpochStats> history;
  for (int64_t epoch = info.epoch; epoch < o.epochs; ++epoch) {
    model.train();
    loader.start_epoch(epoch);
    manual_seed(epoch_seed(info.seed, epoch));  // dropout masks of this epoch
    const auto start = Clock::now();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t b = 0; b < loader.num_batches(); ++b) {
      const data::Batch batch = loader.batch(b);
      optimizer->zero_grad();
      const Tensor logits = model.forward(batch.images);
      const Tensor loss = F::cross_entropy(logits, batch.labels);
      loss.backward();
      optimizer->step();
      if (schedule) schedule->step();
      const int64_t n = batch.labels.numel();
      loss_sum += static_cast<double>(loss.data()[0]) * n;
      correct += count_correct(logits, batch.labels);
      seen += n;
      if (cb.on_batch) {
        const double secs = std::chrono::duration<double>(Clock::now() - start).count();
        cb.on_batch({epoch + 1, o.epochs, b + 1, loader.num_batches(), seen, loss_sum / seen,
                     double(correct) / seen, secs});
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const EvalResult test = evaluate(model, test_set, info.mean, info.std);
    EpochStats s{epoch + 1, loss_sum / seen, double(correct) / seen, test.loss,
                 test.acc,  seconds,         seen / seconds};
    info.epoch = epoch + 1;
    info.scheduler_last_epoch = schedule ? schedule->last_epoch() : 0;
    if (!o.checkpoint.empty()) save_checkpoint(o.checkpoint, model, info, optimizer.get());
    history.push_back(s);
    if (cb.on_epoch) cb.on_epoch(s);
  }
  return history;
}

}  // namespace fovea::train
