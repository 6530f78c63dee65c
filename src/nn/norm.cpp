#include "fovea/nn/norm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "fovea/functional/norm.h"

namespace fovea::nn {

BatchNorm::BatchNorm(std::string type_name, const BatchNormOptions& o, std::vector<int64_t> ranks)
    : Module(std::move(type_name)), options_(o), ranks_(std::move(ranks)) {
  if (o.num_features < 1)
    throw ValueError(fmt::format("{}: num_features expects a value >= 1, got {}", this->type_name(),
                                 o.num_features));
  if (o.affine) {
    weight = register_parameter("weight", Tensor::ones({o.num_features}));
    bias = register_parameter("bias", Tensor::zeros({o.num_features}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", Tensor::zeros({o.num_features}));
    running_var = register_buffer("running_var", Tensor::ones({o.num_features}));
    num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}));
  }
}

Tensor BatchNorm::forward(const Tensor& x) {
  if (!x.defined() || std::ranges::find(ranks_, x.dim()) == ranks_.end())
    throw ShapeError(fmt::format("{}: input expects {} dimensions, got shape {}", type_name(),
                                 fmt::join(ranks_, " or "),
                                 x.defined() ? shape_str(x.shape()) : "undefined"));
  if (folded_) {
    if (is_training())
      throw ValueError(
          fmt::format("{}: this layer was folded into the preceding convolution "
                      "for inference (nn::fold_batch_norm) and cannot train",
                      type_name()));
    return x;
  }
  // As PyTorch: batch statistics in training mode, and always when no running stats exist.
  const bool use_batch_stats = is_training() || !options_.track_running_stats;
  double momentum = options_.momentum.value_or(0.0);
  if (is_training() && options_.track_running_stats) {
    num_batches_tracked.data()[0] += 1.0f;
    if (!options_.momentum) momentum = 1.0 / num_batches_tracked.data()[0];
  }
  const auto opt = [](const Tensor& t) {
    return t.defined() ? std::optional<Tensor>(t) : std::nullopt;
  };
  return functional::batch_norm(x, running_mean, running_var, opt(weight), opt(bias),
                                {.training = use_batch_stats,
                                 .momentum = momentum,
                                 .eps = options_.eps,
                                 .activation = activation_});
}

std::pair<std::vector<float>, std::vector<float>> BatchNorm::eval_scale_shift() const {
  const int64_t C = options_.num_features;
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) {
    const double gamma = weight.defined() ? weight.data()[c] : 1.0;
    const double beta = bias.defined() ? bias.data()[c] : 0.0;
    const double s = gamma / std::sqrt(static_cast<double>(running_var.data()[c]) + options_.eps);
    scale[c] = static_cast<float>(s);
    shift[c] = static_cast<float>(beta - s * running_mean.data()[c]);
  }
  return {scale, shift};
}

std::string BatchNorm::extra_repr() const {
  return fmt::format(
      "{}, eps={}, momentum={}, affine={}, track_running_stats={}", options_.num_features,
      options_.eps, options_.momentum ? fmt::format("{}", *options_.momentum) : "None",
      options_.affine ? "True" : "False", options_.track_running_stats ? "True" : "False");
}

}  // namespace fovea::nn
