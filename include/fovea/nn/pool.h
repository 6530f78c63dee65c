// Pooling and upsampling modules wrapping fovea::functional (no parameters).
#pragma once

#include "fovea/functional/interpolate.h"
#include "fovea/functional/pool.h"
#include "fovea/nn/module.h"

namespace fovea::nn {

template <int D>
class MaxPool : public Module {
 public:
  explicit MaxPool(const functional::MaxPoolOptions<D>& options);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const functional::MaxPoolOptions<D>& options() const { return options_; }

 private:
  functional::MaxPoolOptions<D> options_;
};
using MaxPool1d = MaxPool<1>;
using MaxPool2d = MaxPool<2>;
using MaxPool3d = MaxPool<3>;

template <int D>
class AvgPool : public Module {
 public:
  explicit AvgPool(const functional::AvgPoolOptions<D>& options);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const functional::AvgPoolOptions<D>& options() const { return options_; }

 private:
  functional::AvgPoolOptions<D> options_;
};
using AvgPool1d = AvgPool<1>;
using AvgPool2d = AvgPool<2>;
using AvgPool3d = AvgPool<3>;

template <int D>
class LPPool : public Module {
 public:
  LPPool(double norm_type, const functional::LpPoolOptions<D>& options);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const functional::LpPoolOptions<D>& options() const { return options_; }

 private:
  double norm_type_;
  functional::LpPoolOptions<D> options_;
};
using LPPool1d = LPPool<1>;
using LPPool2d = LPPool<2>;

template <int D>
class AdaptiveAvgPool : public Module {
 public:
  explicit AdaptiveAvgPool(const ExpandingArray<D>& output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  ExpandingArray<D> output_size_;
};
using AdaptiveAvgPool1d = AdaptiveAvgPool<1>;
using AdaptiveAvgPool2d = AdaptiveAvgPool<2>;
using AdaptiveAvgPool3d = AdaptiveAvgPool<3>;

template <int D>
class AdaptiveMaxPool : public Module {
 public:
  explicit AdaptiveMaxPool(const ExpandingArray<D>& output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  ExpandingArray<D> output_size_;
};
using AdaptiveMaxPool1d = AdaptiveMaxPool<1>;
using AdaptiveMaxPool2d = AdaptiveMaxPool<2>;
using AdaptiveMaxPool3d = AdaptiveMaxPool<3>;

// Max-unpooling needs the indices of the max pooling it inverts: call forward(x, indices).
template <int D>
class MaxUnpool : public Module {
 public:
  explicit MaxUnpool(const functional::MaxUnpoolOptions<D>& options);
  Tensor forward(const Tensor& x) override;  // throws: indices are required
  Tensor forward(const Tensor& x, const Tensor& indices);

 private:
  functional::MaxUnpoolOptions<D> options_;
};
using MaxUnpool1d = MaxUnpool<1>;
using MaxUnpool2d = MaxUnpool<2>;
using MaxUnpool3d = MaxUnpool<3>;

// Resizes by scale factor or to a size with nearest/(bi/tri)linear/bicubic interpolation.
template <int D>
class Upsample : public Module {
 public:
  explicit Upsample(const functional::InterpolateOptions<D>& options);
  Tensor forward(const Tensor& x) override;
  const functional::InterpolateOptions<D>& options() const { return options_; }

 private:
  functional::InterpolateOptions<D> options_;
};

}  // namespace fovea::nn
