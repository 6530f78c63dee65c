#include "fovea/nn/pool.h"

#include <fmt/format.h>

#include "fovea/error.h"

namespace fovea::nn {
namespace {

namespace F = functional;

template <int D>
std::string arr(const ExpandingArray<D>& a) {
  return D == 1 ? fmt::format("{}", a[0]) : fmt::format("({})", fmt::join(a.values(), ", "));
}

}  // namespace

template <int D>
MaxPool<D>::MaxPool(const F::MaxPoolOptions<D>& o)
    : Module(fmt::format("MaxPool{}d", D)), options_(o) {}

template <int D>
Tensor MaxPool<D>::forward(const Tensor& x) {
  if constexpr (D == 1)
    return F::max_pool1d(x, options_);
  else if constexpr (D == 2)
    return F::max_pool2d(x, options_);
  else
    return F::max_pool3d(x, options_);
}

template <int D>
std::string MaxPool<D>::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}",
                     arr<D>(options_.kernel_size),
                     arr<D>(options_.stride), arr<D>(options_.padding),
                     arr<D>(options_.dilation), options_.ceil_mode ? "True" : "False");
}

template <int D>
AvgPool<D>::AvgPool(const F::AvgPoolOptions<D>& o)
    : Module(fmt::format("AvgPool{}d", D)), options_(o) {}

template <int D>
Tensor AvgPool<D>::forward(const Tensor& x) {
  if constexpr (D == 1)
    return F::avg_pool1d(x, options_);
  else if constexpr (D == 2)
    return F::avg_pool2d(x, options_);
  else
    return F::avg_pool3d(x, options_);
}

template <int D>
std::string AvgPool<D>::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", arr<D>(options_.kernel_size),
                     arr<D>(options_.stride),
                     arr<D>(options_.padding));
}

template <int D>
LPPool<D>::LPPool(double norm_type, const F::LpPoolOptions<D>& o)
    : Module(fmt::format("LPPool{}d", D)), norm_type_(norm_type), options_(o) {}

template <int D>
Tensor LPPool<D>::forward(const Tensor& x) {
  if constexpr (D == 1)
    return F::lp_pool1d(x, norm_type_, options_);
  else if constexpr (D == 2)
    return F::lp_pool2d(x, norm_type_, options_);
  else
    return F::lp_pool3d(x, norm_type_, options_);
}

template <int D>
std::string LPPool<D>::extra_repr() const {
  return fmt::format("norm_type={}, kernel_size={}, stride={}", norm_type_,
                     arr<D>(options_.kernel_size),
                     arr<D>(options_.stride));
}

template <int D>
AdaptiveAvgPool<D>::AdaptiveAvgPool(const ExpandingArray<D>& s)
    : Module(fmt::format("AdaptiveAvgPool{}d", D)), output_size_(s) {}

template <int D>
Tensor AdaptiveAvgPool<D>::forward(const Tensor& x) {
  if constexpr (D == 1)
    return F::adaptive_avg_pool1d(x, output_size_);
  else if constexpr (D == 2)
    return F::adaptive_avg_pool2d(x, output_size_);
  else
    return F::adaptive_avg_pool3d(x, output_size_);
}

template <int D>
std::string AdaptiveAvgPool<D>::extra_repr() const {
  return "output_size=" + arr<D>(output_size_);
}

template <int D>
AdaptiveMaxPool<D>::AdaptiveMaxPool(const ExpandingArray<D>& s)
    : Module(fmt::format("AdaptiveMaxPool{}d", D)), output_size_(s) {}

template <int D>
Tensor AdaptiveMaxPool<D>::forward(const Tensor& x) {
  if constexpr (D == 1)
    return F::adaptive_max_pool1d(x, output_size_);
  else if constexpr (D == 2)
    return F::adaptive_max_pool2d(x, output_size_);
  else
    return F::adaptive_max_pool3d(x, output_size_);
}

template <int D>
std::string AdaptiveMaxPool<D>::extra_repr() const {
  return "output_size=" + arr<D>(output_size_);
}

template <int D>
MaxUnpool<D>::MaxUnpool(const F::MaxUnpoolOptions<D>& o)
    : Module(fmt::format("MaxUnpool{}d", D)), options_(o) {}

template <int D>
Tensor MaxUnpool<D>::forward(const Tensor&) {
  throw ValueError(fmt::format(
      "{}: forward expects the max pooling indices: call forward(x, indices)", type_name()));
}

template <int D>
Tensor MaxUnpool<D>::forward(const Tensor& x, const Tensor& indices) {
  if constexpr (D == 1)
    return F::max_unpool1d(x, indices, options_);
  else if constexpr (D == 2)
    return F::max_unpool2d(x, indices, options_);
  else
    return F::max_unpool3d(x, indices, options_);
}

template <int D>
Upsample<D>::Upsample(const F::InterpolateOptions<D>& o) : Module("Upsample"), options_(o) {}

template <int D>
Tensor Upsample<D>::forward(const Tensor& x) {
  return F::interpolate(x, options_);
}

template class MaxPool<1>;
template class MaxPool<2>;
template class MaxPool<3>;
template class AvgPool<1>;
template class AvgPool<2>;
template class AvgPool<3>;
template class LPPool<1>;
template class LPPool<2>;
template class AdaptiveAvgPool<1>;
template class AdaptiveAvgPool<2>;
template class AdaptiveAvgPool<3>;
template class AdaptiveMaxPool<1>;
template class AdaptiveMaxPool<2>;
template class AdaptiveMaxPool<3>;
template class MaxUnpool<1>;
template class MaxUnpool<2>;
template class MaxUnpool<3>;
template class Upsample<1>;
template class Upsample<2>;
template class Upsample<3>;

}  // namespace fovea::nn
