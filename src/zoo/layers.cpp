#include "fovea/zoo/layers.h"

#include <fmt/format.h>

#include "fovea/error.h"
#include "fovea/functional/elementwise.h"
#include "fovea/nn/activation.h"
#include "fovea/nn/pool.h"

namespace fovea::zoo {

namespace F = functional;

std::shared_ptr<nn::BatchNorm2d> batch_norm2d(int64_t channels, double eps) {
  return std::make_shared<nn::BatchNorm2d>(
      nn::BatchNormOptions{.num_features = channels, .eps = eps});
}

std::shared_ptr<nn::Sequential> conv_norm_activation(const ConvNormActivationOptions& o,
                                                     std::shared_ptr<nn::Module> activation) {
  auto block = std::make_shared<nn::Sequential>();
  block->push_back(
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = o.in_channels,
                                                     .out_channels = o.out_channels,
                                                     .kernel_size = o.kernel_size,
                                                     .stride = o.stride,
                                                     .padding = (o.kernel_size - 1) / 2,
                                                     .groups = o.groups,
                                                     .bias = false}));
  block->push_back(batch_norm2d(o.out_channels));
  if (activation) block->push_back(std::move(activation));
  return block;
}

SqueezeExcitation::SqueezeExcitation(int64_t input_channels, int64_t squeeze_channels,
                                     std::shared_ptr<nn::Module> activation,
                                     std::shared_ptr<nn::Module> scale_activation)
    : Module("SqueezeExcitation") {
  auto conv1x1 = [](int64_t in, int64_t out) {
    return std::make_shared<nn::Conv2d>(
        nn::Conv2dOptions{.in_channels = in, .out_channels = out, .kernel_size = 1});
  };
  avgpool_ = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  fc1_ = register_module("fc1", conv1x1(input_channels, squeeze_channels));
  fc2_ = register_module("fc2", conv1x1(squeeze_channels, input_channels));
  activation_ = register_module("activation",
                                activation ? std::move(activation) : std::make_shared<nn::ReLU>());
  scale_activation_ =
      register_module("scale_activation", scale_activation ? std::move(scale_activation)
                                                           : std::make_shared<nn::Sigmoid>());
}

Tensor SqueezeExcitation::forward(const Tensor& x) {
  // (N, C, H, W) -> scale (N, C, 1, 1), broadcast over the plane.
  const Tensor scale = (*scale_activation_)((*fc2_)((*activation_)((*fc1_)((*avgpool_)(x)))));
  return F::mul(scale, x);
}

StochasticDepth::StochasticDepth(double p, Generator* generator)
    : Module("StochasticDepth"), p_(p), generator_(generator) {
  if (!(p >= 0.0 && p <= 1.0))
    throw ValueError(fmt::format("StochasticDepth: p expects a value in [0, 1], got {}", p));
}

Tensor StochasticDepth::forward(const Tensor& x) {
  if (!is_training() || p_ == 0.0) return x;
  if (x.dim() < 1)
    throw ShapeError("StochasticDepth: input expects a batch axis, got a 0-dim tensor");
  // One factor per example, (N, 1, ..., 1): 0 with probability p, else 1/(1-p) (0 when p = 1,
  // as torchvision's bernoulli_ never keeps anything then).
  Shape noise_shape(x.shape().size(), 1);
  noise_shape[0] = x.size(0);
  Tensor noise = Tensor::empty(noise_shape);
  Generator& gen = generator_ ? *generator_ : default_generator();
  const float keep = p_ < 1.0 ? static_cast<float>(1.0 / (1.0 - p_)) : 0.0f;
  for (float& v : noise.span()) v = gen.uniform(0.0f, 1.0f) < p_ ? 0.0f : keep;
  return F::mul(x, noise);
}

std::string StochasticDepth::extra_repr() const {
  return fmt::format("p={}, mode=row", p_);
}

void init_conv_kaiming_normal(nn::Module& root, nn::init::FanMode mode) {
  for_each_module<nn::Conv2d>(root, [mode](nn::Conv2d& conv) {
    nn::init::kaiming_normal_(conv.weight, 0.0f, mode, "relu");
    if (conv.bias.defined()) nn::init::constant_(conv.bias, 0.0f);
  });
}

void init_linear(nn::Module& root, const std::function<void(Tensor&)>& weight_init) {
  for_each_module<nn::Linear>(root, [&weight_init](nn::Linear& linear) {
    if (weight_init) weight_init(linear.weight);
    if (linear.bias.defined()) nn::init::constant_(linear.bias, 0.0f);
  });
}

}  // namespace fovea::zoo
