// Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d, holding "weight" and "bias"
// (PyTorch's names and shapes) and calling fovea::functional's conv ops, PyTorch's default
// initialisation (see nn/init.h).
//
//   auto conv = std::make_shared<nn::Conv2d>(nn::Conv2dOptions{
//       .in_channels = 3, .out_channels = 16, .kernel_size = 3, .padding = 1});
#pragma once

#include <span>

#include "fovea/functional/conv.h"
#include "fovea/nn/module.h"

namespace fovea::nn {

template <int D>
struct ConvOptions {
  int64_t in_channels;
  int64_t out_channels;
  ExpandingArray<D> kernel_size;
  ExpandingArray<D> stride = 1;
  Padding<D> padding = 0;
  ExpandingArray<D> dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};
using Conv1dOptions = ConvOptions<1>;
using Conv2dOptions = ConvOptions<2>;
using Conv3dOptions = ConvOptions<3>;

template <int D>
class ConvNd : public Module {
 public:
  explicit ConvNd(const ConvOptions<D>& options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const ConvOptions<D>& options() const { return options_; }
  // Makes this layer compute scale[oc] * conv(x)[oc] + shift[oc]: the weights are scaled and
  // the bias (created if the layer had none) becomes scale * bias + shift. How an eval-mode
  // batch norm after it is folded in (nn::fold_batch_norm).
  void absorb_affine(std::span<const float> scale, std::span<const float> shift);
  // Makes this layer apply `activation` to its outputs, in the kernel where no gradient is
  // recorded (nn::fuse_activations, which then turns the activation module into a
  // pass-through). kNone undoes it.
  void fuse_activation(functional::FusedActivation activation) { activation_ = activation; }
  functional::FusedActivation fused_activation() const { return activation_; }
  // `after`(forward(input) + residual) through functional::conv2d_add: in one pass over the
  // output where the kernel can. A ResNet block's last convolution joining its shortcut, called
  // directly (no forward hooks run), so only where none is installed. The layer's own fused
  // activation must be kNone.
  Tensor forward_add(const Tensor& input, const Tensor& residual,
                     functional::FusedActivation after) requires(D == 2);
  Tensor weight;  // (out_channels, in_channels/groups, *kernel_size)
  Tensor bias;    // (out_channels), undefined when options.bias is false

 private:
  functional::ConvOptions<D> functional_options(functional::FusedActivation activation) const;

  ConvOptions<D> options_;
  functional::FusedActivation activation_ = functional::FusedActivation::kNone;
};
using Conv1d = ConvNd<1>;
using Conv2d = ConvNd<2>;
using Conv3d = ConvNd<3>;

template <int D>
struct ConvTransposeOptions {
  int64_t in_channels;
  int64_t out_channels;
  ExpandingArray<D> kernel_size;
  ExpandingArray<D> stride = 1;
  ExpandingArray<D> padding = 0;
  ExpandingArray<D> output_padding = 0;
  ExpandingArray<D> dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};
using ConvTranspose1dOptions = ConvTransposeOptions<1>;
using ConvTranspose2dOptions = ConvTransposeOptions<2>;
using ConvTranspose3dOptions = ConvTransposeOptions<3>;

template <int D>
class ConvTransposeNd : public Module {
 public:
  explicit ConvTransposeNd(const ConvTransposeOptions<D>& options);
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  const ConvTransposeOptions<D>& options() const { return options_; }
  Tensor weight;  // (in_channels, out_channels/groups, *kernel_size)
  Tensor bias;    // (out_channels), undefined when options.bias is false

 private:
  ConvTransposeOptions<D> options_;
};
using ConvTranspose1d = ConvTransposeNd<1>;
using ConvTranspose2d = ConvTransposeNd<2>;
using ConvTranspose3d = ConvTransposeNd<3>;

}  // namespace fovea::nn
