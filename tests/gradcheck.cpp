#include "gradcheck.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace fovea::testing {
namespace {

std::string input_name(const GradcheckOptions& o, size_t k) {
  return k < o.names.size() ? o.names[k] : fmt::format("input {}", k);
}

// "[1, 0, 2]": the multi-index of flat element i of a row-major tensor of this shape.
std::string index_str(const Shape& shape, int64_t i) {
  Shape index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = i % shape[d];
    i /= shape[d];
  }
  return shape_str(index);
}

// The flat indices to check: all, or `limit` spread evenly from first to last.
std::vector<int64_t> indices_to_check(int64_t numel, int64_t limit) {
  std::vector<int64_t> idx;
  if (limit <= 0 || numel <= limit) {
    for (int64_t i = 0; i < numel; ++i) idx.push_back(i);
  } else if (limit == 1) {
    idx.push_back(0);
  } else {
    for (int64_t j = 0; j < limit; ++j) idx.push_back(j * (numel - 1) / (limit - 1));
  }
  return idx;
}

struct Worst {
  double ratio = 0.0;  // |analytic - numeric| / (atol + rtol*|numeric|); > 1 fails
  size_t input = 0;
  int64_t element = -1;
  double analytic = 0.0, numeric = 0.0;
};

// NaN is worse than any number.
bool worse(double a, double b) {
  return std::isnan(a) ? !std::isnan(b) : !std::isnan(b) && a > b;
}

}  // namespace

double weighted_sum(const Tensor& y, const Tensor& r) {
  if (y.shape() != r.shape())
    throw std::invalid_argument(fmt::format("weighted_sum: r expects y's shape {}, got {}",
                                            shape_str(y.shape()), shape_str(r.shape())));
  double sum = 0.0;
  for (int64_t i = 0; i < y.numel(); ++i)
    sum += static_cast<double>(y.data()[i]) * static_cast<double>(r.data()[i]);
  return sum;
}

std::string check_gradients(const DifferentiableFn& f, std::vector<Tensor> inputs,
                            const std::vector<Tensor>& analytic_grads, const Tensor& r,
                            const GradcheckOptions& options) {
  if (analytic_grads.size() != inputs.size())
    return fmt::format("{} analytic gradients for {} inputs", analytic_grads.size(), inputs.size());
  for (Tensor& t : inputs)
    if (t.defined()) t = t.clone();  // perturb our own copies only

  {
    const Tensor y = f(inputs);
    if (!y.defined() || y.shape() != r.shape())
      return fmt::format("f's output shape {} differs from the probe r's {}",
                         y.defined() ? shape_str(y.shape()) : "(undefined)", shape_str(r.shape()));
  }
  auto loss = [&] { return weighted_sum(f(inputs), r); };

  Worst worst;
  int64_t failed = 0, checked = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& g = analytic_grads[k];
    if (!g.defined()) continue;
    Tensor& v = inputs[k];
    if (!v.defined() || g.shape() != v.shape())
      return fmt::format("analytic gradient of {} has shape {}, the input {}",
                         input_name(options, k), shape_str(g.shape()),
                         v.defined() ? shape_str(v.shape()) : "is undefined");
    for (int64_t i : indices_to_check(v.numel(), options.max_elements_per_input)) {
      float& element = v.data()[i];
      const float saved = element;
      element = saved + options.eps;
      const double plus = loss();
      element = saved - options.eps;
      const double minus = loss();
      element = saved;
      // The actual step: saved ± eps rounded to float32.
      const double step =
          static_cast<double>(saved + options.eps) - static_cast<double>(saved - options.eps);
      const double numeric = (plus - minus) / step;
      const double analytic = g.data()[i];
      const double err = std::fabs(analytic - numeric);
      const double ratio = err / (options.atol + options.rtol * std::fabs(numeric));
      ++checked;
      if (!(ratio <= 1.0)) ++failed;
      if (worst.element < 0 || worse(ratio, worst.ratio)) worst = {ratio, k, i, analytic, numeric};
    }
  }
  if (failed == 0) return "";
  const Shape& shape = inputs[worst.input].shape();
  return fmt::format(
      "{} of {} checked elements differ; worst: {} {} is {:.6g} analytically but {:.6g} by "
      "central difference (|diff| {:.3g} > atol {} + rtol {} * |numeric|, eps {})",
      failed, checked, input_name(options, worst.input), index_str(shape, worst.element),
      worst.analytic, worst.numeric, std::fabs(worst.analytic - worst.numeric), options.atol,
      options.rtol, options.eps);
}

}  // namespace fovea::testing
