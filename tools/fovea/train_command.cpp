// `fovea train`: trains a network from a spec or zoo name and reports each epoch.
#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "compute_options.h"
#include "data_source.h"
#include "fovea/io/atomic_file.h"
#include "fovea/train/trainer.h"

namespace fovea::cli {
namespace {

struct TrainArgs {
  train::TrainOptions options;
  std::string data = "fashion-mnist";
  ComputeOptions compute;
  std::string log_json;
  int64_t limit_train = 0, limit_test = 0;
};

std::string clock_str(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  return fmt::format("{}:{:02d}", s / 60, s % 60);
}

// A one-line bar redrawn in place on a terminal; plain lines at every tenth otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter() : tty_(isatty(fileno(stdout)) != 0) {}

  void batch(const train::Progress& p) {
    const double ips = p.images / std::max(p.seconds, 1e-9);
    const double eta = p.seconds / p.batch * (p.batches - p.batch);
    if (tty_) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(kWidth * p.batch / p.batches);
      fmt::print("\repoch {}/{} [{}{}] {}/{}  loss {:.4f}  acc {:5.2f}%  {:.0f} img/s  ETA {}  ",
                 p.epoch, p.epochs, std::string(filled, '='), std::string(kWidth - filled, ' '),
                 p.batch, p.batches, p.loss, 100 * p.acc, ips, clock_str(eta));
      if (p.batch == p.batches) fmt::print("\n");
      std::fflush(stdout);
    } else if (p.batch == p.batches || p.batch % std::max<int64_t>(1, p.batches / 10) == 0) {
      fmt::print("epoch {}/{}  batch {}/{}  loss {:.4f}  acc {:.2f}%  {:.0f} img/s  ETA {}\n",
                 p.epoch, p.epochs, p.batch, p.batches, p.loss, 100 * p.acc, ips, clock_str(eta));
      std::fflush(stdout);
    }
  }

  void epoch(const train::EpochStats& s) {
    if (!header_done_) {
      fmt::print("{:>5}  {:>10}  {:>9}  {:>9}  {:>8}  {:>7}  {:>8}\n", "epoch", "train loss",
                 "train acc", "test loss", "test acc", "seconds", "images/s");
      header_done_ = true;
    }
    fmt::print("{:>5}  {:>10.4f}  {:>8.2f}%  {:>9.4f}  {:>7.2f}%  {:>7.1f}  {:>8.0f}\n", s.epoch,
               s.train_loss, 100 * s.train_acc, s.test_loss, 100 * s.test_acc, s.seconds,
               s.images_per_s);
    std::fflush(stdout);
  }

 private:
  bool tty_;
  bool header_done_ = false;
};

void run(const TrainArgs& a) {
  apply_compute_options(a.compute);
  const DataSplits data = load_data(a.data, a.limit_train, a.limit_test);
  train::TrainOptions o = a.options;
  o.data_name = data.name;
  fmt::print("training {} on {} ({} train / {} test images, {} classes) with {} threads\n",
             o.resume.empty() ? o.model : "from " + o.resume, data.name, data.train.size(),
             data.test.size(), data.train.classes.size(), omp_get_max_threads());
  ProgressPrinter printer;
  std::vector<std::string> log_lines;
  train::TrainCallbacks cb;
  cb.on_batch = [&](const train::Progress& p) { printer.batch(p); };
  cb.on_epoch = [&](const train::EpochStats& s) {
    printer.epoch(s);
    if (a.log_json.empty()) return;
    log_lines.push_back(nlohmann::json{
        {"epoch", s.epoch},
        {"train_loss", s.train_loss},
        {"train_acc", s.train_acc},
        {"test_loss", s.test_loss},
        {"test_acc", s.test_acc},
        {"seconds", s.seconds},
        {"images_per_s",
         s.images_per_s}}.dump());
    // Rewritten whole each epoch, so the log on disk is always complete.
    io::write_file_atomically(a.log_json, [&](std::ostream& out) {
      for (const auto& line : log_lines) out << line << '\n';
    });
  };
  train::train(o, data.train, data.test, cb);
  if (!o.checkpoint.empty()) fmt::print("checkpoint: {}\n", o.checkpoint);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  train::TrainOptions& o = args->options;
  CLI::App* cmd =
      app.add_subcommand("train", "Train a network (default: fmnist-cnn on Fashion-MNIST)");
  cmd->add_option("--model", o.model, "Model spec string or zoo name")->capture_default_str();
  cmd->add_option("--data", args->data,
                  "fashion-mnist, an IDX directory, or an image folder with train/ and test/")
      ->capture_default_str();
  cmd->add_option("--epochs", o.epochs, "Epochs to train")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", o.batch_size, "Images per batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--lr", o.lr, "Learning rate (the peak for onecycle)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--optimizer", o.optimizer, "sgd, adam or adamw")
      ->capture_default_str()
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  cmd->add_option("--momentum", o.momentum, "SGD momentum")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--weight-decay", o.weight_decay,
                  "Weight decay (L2 for sgd/adam, decoupled for adamw)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--schedule", o.schedule,
                  "Learning-rate schedule, stepped per batch: none, step (x0.1 each third), "
                  "cosine, onecycle")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "step", "cosine", "onecycle"}));
  cmd->add_flag("--augment", o.augment, "Random crop (padding 2) and horizontal flip");
  add_compute_options(cmd, args->compute);
  cmd->add_option("--seed", o.seed, "Seed for weights, data order, augmentation and dropout")
      ->capture_default_str();
  cmd->add_option("--checkpoint", o.checkpoint, "Write a checkpoint here after every epoch");
  cmd->add_option("--resume", o.resume, "Continue training from this checkpoint")
      ->check(CLI::ExistingFile);
  cmd->add_option("--log-json", args->log_json, "Write one JSON object per epoch to this file");
  cmd->add_option("--limit", args->limit_train, "Use only the first N training images")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--test-limit", args->limit_test, "Use only the first N test images")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([args] { run(*args); });
}

}  // namespace fovea::cli
