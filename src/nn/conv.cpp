#include "fovea/nn/conv.h"

#include <fmt/format.h>

#include <optional>

#include "fovea/error.h"
#include "fovea/nn/init.h"

namespace fovea::nn {
namespace {

template <int D>
std::string tuple_str(const ExpandingArray<D>& a) {
  return fmt::format("({}{})", fmt::join(a.values(), ", "), D == 1 ? "," : "");
}

template <int D>
std::string padding_str(const Padding<D>& p) {
  switch (p.mode()) {
    case PaddingMode::kValid:
      return "valid";
    case PaddingMode::kSame:
      return "same";
    case PaddingMode::kFull:
      return "full";
    case PaddingMode::kExplicit:
      break;
  }
  if (p.lo() == p.hi()) return tuple_str<D>(p.lo());
  return fmt::format("(lo={}, hi={})", tuple_str<D>(p.lo()), tuple_str<D>(p.hi()));
}

void check_channels(const char* type, int64_t in, int64_t out, int64_t groups) {
  if (in < 1 || out < 1)
    throw ValueError(fmt::format("{}: in_channels and out_channels expect values >= 1, got {}, {}",
                                 type, in, out));
  if (groups < 1 || in % groups != 0 || out % groups != 0)
    throw ValueError(fmt::format(
        "{}: groups expects a divisor of in_channels ({}) and out_channels ({}), got {}", type, in,
        out, groups));
}

template <int D>
Shape kernel_shape(int64_t c0, int64_t c1, const ExpandingArray<D>& k) {
  Shape s{c0, c1};
  for (int a = 0; a < D; ++a) s.push_back(k[a]);
  return s;
}

}  // namespace

template <int D>
ConvNd<D>::ConvNd(const ConvOptions<D>& o) : Module(fmt::format("Conv{}d", D)), options_(o) {
  check_channels(type_name().c_str(), o.in_channels, o.out_channels, o.groups);
  Tensor w =
      Tensor::empty(kernel_shape<D>(o.out_channels, o.in_channels / o.groups, o.kernel_size));
  Tensor b = o.bias ? Tensor::empty({o.out_channels}) : Tensor();
  init::default_layer_init_(w, o.bias ? &b : nullptr);
  weight = register_parameter("weight", w);
  if (o.bias) bias = register_parameter("bias", b);
}

template <int D>
void ConvNd<D>::absorb_affine(std::span<const float> scale, std::span<const float> shift) {
  const int64_t C = options_.out_channels, block = weight.numel() / C;
  if (static_cast<int64_t>(scale.size()) != C || static_cast<int64_t>(shift.size()) != C)
    throw ShapeError(fmt::format("{}: absorb_affine expects {} scales and shifts, got {} and {}",
                                 type_name(), C, scale.size(), shift.size()));
  for (int64_t oc = 0; oc < C; ++oc)
    for (int64_t i = 0; i < block; ++i) weight.data()[oc * block + i] *= scale[oc];
  if (!bias.defined()) bias = register_parameter("bias", Tensor::zeros({C}));
  for (int64_t oc = 0; oc < C; ++oc) bias.data()[oc] = scale[oc] * bias.data()[oc] + shift[oc];
}

template <int D>
Tensor ConvNd<D>::forward(const Tensor& x) {
  const functional::ConvOptions<D> f = functional_options(activation_);
  const std::optional<Tensor> b = bias.defined() ? std::optional<Tensor>(bias) : std::nullopt;
  if constexpr (D == 1) return functional::conv1d(x, weight, b, f);
  if constexpr (D == 2) return functional::conv2d(x, weight, b, f);
  if constexpr (D == 3) return functional::conv3d(x, weight, b, f);
}

template <int D>
Tensor ConvNd<D>::forward_add(const Tensor& x, const Tensor& residual,
                              functional::FusedActivation after) requires(D == 2) {
  if (activation_ != functional::FusedActivation::kNone)
    throw ValueError(fmt::format(
        "Conv2d.forward_add: layer expects no fused activation of its own (the join's comes "
        "after the residual), got one"));
  const std::optional<Tensor> b = bias.defined() ? std::optional<Tensor>(bias) : std::nullopt;
  return functional::conv2d_add(x, weight, b, residual, functional_options(after));
}

template <int D>
functional::ConvOptions<D> ConvNd<D>::functional_options(
    functional::FusedActivation activation) const {
  return {.stride = options_.stride,
          .padding = options_.padding,
          .dilation = options_.dilation,
          .groups = options_.groups,
          .activation = activation};
}

template <int D>
std::string ConvNd<D>::extra_repr() const {
  const auto& o = options_;
  std::string s = fmt::format("{}, {}, kernel_size={}, stride={}", o.in_channels, o.out_channels,
                              tuple_str<D>(o.kernel_size), tuple_str<D>(o.stride));
  if (o.padding.mode() != PaddingMode::kExplicit || o.padding.lo() != o.padding.hi() ||
      o.padding.lo() != std::array<int64_t, D>{})
    s += ", padding=" + padding_str<D>(o.padding);
  bool unit_dilation = true;
  for (int64_t d : o.dilation.values()) unit_dilation = unit_dilation && d == 1;
  if (!unit_dilation) s += ", dilation=" + tuple_str<D>(o.dilation);
  if (o.groups != 1) s += fmt::format(", groups={}", o.groups);
  if (!o.bias) s += ", bias=False";
  return s;
}

template <int D>
ConvTransposeNd<D>::ConvTransposeNd(const ConvTransposeOptions<D>& o)
    : Module(fmt::format("ConvTranspose{}d", D)), options_(o) {
  check_channels(type_name().c_str(), o.in_channels, o.out_channels, o.groups);
  Tensor w =
      Tensor::empty(kernel_shape<D>(o.in_channels, o.out_channels / o.groups, o.kernel_size));
  Tensor b = o.bias ? Tensor::empty({o.out_channels}) : Tensor();
  init::default_layer_init_(w, o.bias ? &b : nullptr);
  weight = register_parameter("weight", w);
  if (o.bias) bias = register_parameter("bias", b);
}

template <int D>
Tensor ConvTransposeNd<D>::forward(const Tensor& x) {
  const functional::ConvTransposeOptions<D> f{.stride = options_.stride,
                                              .padding = options_.padding,
                                              .output_padding = options_.output_padding,
                                              .dilation = options_.dilation,
                                              .groups = options_.groups};
  const std::optional<Tensor> b = bias.defined() ? std::optional<Tensor>(bias) : std::nullopt;
  if constexpr (D == 1) return functional::conv_transpose1d(x, weight, b, f);
  if constexpr (D == 2) return functional::conv_transpose2d(x, weight, b, f);
  if constexpr (D == 3) return functional::conv_transpose3d(x, weight, b, f);
}

template <int D>
std::string ConvTransposeNd<D>::extra_repr() const {
  const auto& o = options_;
  std::string s =
      fmt::format("{}, {}, kernel_size={}, stride={}, padding={}", o.in_channels, o.out_channels,
                  tuple_str<D>(o.kernel_size), tuple_str<D>(o.stride), tuple_str<D>(o.padding));
  s += ", output_padding=" + tuple_str<D>(o.output_padding);
  if (o.groups != 1) s += fmt::format(", groups={}", o.groups);
  if (!o.bias) s += ", bias=False";
  return s;
}

template class ConvNd<1>;
template class ConvNd<2>;
template class ConvNd<3>;
template class ConvTransposeNd<1>;
template class ConvTransposeNd<2>;
template class ConvTransposeNd<3>;

}  // namespace fovea::nn
