// Building blocks shared by the zoo networks, named and shaped as torchvision's
// (torchvision.ops.misc.Conv2dNormActivation, SqueezeExcitation, torchvision.ops.StochasticDepth),
// and the weight initialisations torchvision's model constructors apply.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "fovea/nn/conv.h"
#include "fovea/nn/init.h"
#include "fovea/nn/linear.h"
#include "fovea/nn/module.h"
#include "fovea/nn/norm.h"
#include "fovea/random.h"

namespace fovea::zoo {

// nn::BatchNorm2d(channels) with torchvision's momentum 0.1 and the given eps.
std::shared_ptr<nn::BatchNorm2d> batch_norm2d(int64_t channels, double eps = 1e-5);

struct ConvNormActivationOptions {
  int64_t in_channels;
  int64_t out_channels;
  int64_t kernel_size = 3;
  int64_t stride = 1;
  int64_t groups = 1;
};

// Conv2dNormActivation: a Sequential of "0" Conv2d (padding (kernel_size-1)/2, no bias),
// "1" BatchNorm2d and, when `activation` is given, "2" activation.
std::shared_ptr<nn::Sequential> conv_norm_activation(const ConvNormActivationOptions& options,
                                                     std::shared_ptr<nn::Module> activation);

// y = x * scale_activation(fc2(activation(fc1(avgpool(x))))): channel attention (Hu et al.
// 2018). fc1 and fc2 are 1x1 convolutions with bias; the activations default to ReLU and
// Sigmoid as in torchvision.
class SqueezeExcitation : public nn::Module {
 public:
  SqueezeExcitation(int64_t input_channels, int64_t squeeze_channels,
                    std::shared_ptr<nn::Module> activation = nullptr,
                    std::shared_ptr<nn::Module> scale_activation = nullptr);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<nn::Module> avgpool_, fc1_, fc2_, activation_, scale_activation_;
};

// Stochastic depth (Huang et al. 2016), torchvision's "row" mode: in training each example of
// the batch is zeroed with probability p and kept ones are scaled by 1/(1-p); in evaluation,
// and for p = 0, the identity. Draws one uniform number per example from `generator` (the
// global one by default). No parameters.
class StochasticDepth : public nn::Module {
 public:
  explicit StochasticDepth(double p, Generator* generator = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  double p_;
  Generator* generator_;
};

// Calls fn(m) for every module of type M in the tree under root, root included: the loops
// over self.modules() in torchvision's constructors.
template <class M, class Fn>
void for_each_module(nn::Module& root, Fn&& fn) {
  for (auto& [name, module] : root.named_modules())
    if (auto* m = dynamic_cast<M*>(module)) fn(*m);
}

// torchvision's common initialisations (batch norm layers already start at weight 1, bias 0):
// every Conv2d weight ~ N(0, 2 / fan) (kaiming_normal_ for ReLU) and bias = 0; every Linear
// weight by weight_init (left as is when empty) and bias = 0.
void init_conv_kaiming_normal(nn::Module& root, nn::init::FanMode mode);
void init_linear(nn::Module& root, const std::function<void(Tensor&)>& weight_init);

}  // namespace fovea::zoo
