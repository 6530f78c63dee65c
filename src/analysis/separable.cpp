#include "fovea/analysis/separable.h"

// The kernels are 3×3 to 11×11: SIMD buys nothing, and GCC 12 warns (falsely) about
// uninitialised registers inside Eigen's AVX-512 packet code. Only this file uses Eigen.
#define EIGEN_DONT_VECTORIZE
#include <Eigen/SVD>
// (Eigen first, so the define reaches all of it.)
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "analysis/report_format.h"
#include "fovea/error.h"
#include "fovea/nn/conv.h"

namespace fovea::analysis {
namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The SVD of the (kh, kw) kernel at `k`, in double precision.
Eigen::JacobiSVD<Eigen::MatrixXd> kernel_svd(const float* k, int64_t kh, int64_t kw, bool vectors) {
  const Eigen::MatrixXd m = Eigen::Map<const RowMatrixF>(k, kh, kw).cast<double>();
  return Eigen::JacobiSVD<Eigen::MatrixXd>(m,
                                           vectors ? Eigen::ComputeThinU | Eigen::ComputeThinV : 0);
}

int64_t numerical_rank(const Eigen::VectorXd& sigma, double rtol) {
  if (sigma.size() == 0 || sigma[0] == 0.0) return 0;
  return std::ranges::count_if(sigma, [&](double s) { return s > rtol * sigma[0]; });
}

void check_tolerance(std::string_view op, double rtol) {
  if (!(rtol >= 0.0 && rtol < 1.0))
    throw ValueError(fmt::format("{}: rtol expects a value in [0, 1), got {}", op, rtol));
}

void check_weight(std::string_view op, const Tensor& w) {
  if (!w.defined()) throw ValueError(fmt::format("{}: weight is undefined", op));
  if (w.dim() != 4)
    throw ShapeError(fmt::format("{}: weight expects shape (C_out, C_in/groups, kH, kW), got {}",
                                 op, shape_str(w.shape())));
}

}  // namespace

KernelSpectrum kernel_spectrum(const Tensor& kernel, double rtol) {
  constexpr std::string_view op = "kernel_spectrum";
  check_tolerance(op, rtol);
  if (!kernel.defined() || kernel.dim() != 2)
    throw ShapeError(fmt::format("{}: kernel expects shape (kH, kW), got {}", op,
                                 kernel.defined() ? shape_str(kernel.shape()) : "undefined"));
  const auto svd = kernel_svd(kernel.data(), kernel.size(0), kernel.size(1), false);
  const Eigen::VectorXd& sigma = svd.singularValues();
  return {.singular_values = std::vector<double>(sigma.begin(), sigma.end()),
          .rank = numerical_rank(sigma, rtol)};
}

SeparableFactors separable_factors(const Tensor& weight, int64_t rank) {
  constexpr std::string_view op = "separable_factors";
  check_weight(op, weight);
  const int64_t out = weight.size(0), in = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  if (rank < 1 || rank > std::min(kh, kw))
    throw ValueError(fmt::format("{}: rank expects a value in 1..{} (min(kH, kW)), got {}", op,
                                 std::min(kh, kw), rank));
  SeparableFactors f{.rank = rank,
                     .vertical = Tensor::empty({out, in, rank, kh}),
                     .horizontal = Tensor::empty({out, in, rank, kw})};
  double dropped = 0, total = 0;  // squared Frobenius norms
  for (int64_t pair = 0; pair < out * in; ++pair) {
    const auto svd = kernel_svd(weight.data() + pair * kh * kw, kh, kw, true);
    const Eigen::VectorXd& sigma = svd.singularValues();
    for (int64_t i = 0; i < sigma.size(); ++i) {
      total += sigma[i] * sigma[i];
      if (i >= rank) dropped += sigma[i] * sigma[i];
    }
    for (int64_t r = 0; r < rank; ++r) {
      const double scale = std::sqrt(sigma[r]);
      float* u = f.vertical.data() + (pair * rank + r) * kh;
      float* v = f.horizontal.data() + (pair * rank + r) * kw;
      for (int64_t y = 0; y < kh; ++y) u[y] = static_cast<float>(scale * svd.matrixU()(y, r));
      for (int64_t x = 0; x < kw; ++x) v[x] = static_cast<float>(scale * svd.matrixV()(x, r));
    }
  }
  f.relative_error = total > 0 ? std::sqrt(dropped / total) : 0.0;
  return f;
}

Tensor SeparableFactors::reconstruct() const {
  const int64_t out = vertical.size(0), in = vertical.size(1), kh = vertical.size(3),
                kw = horizontal.size(3);
  Tensor w = Tensor::zeros({out, in, kh, kw});
  for (int64_t pair = 0; pair < out * in; ++pair)
    for (int64_t r = 0; r < rank; ++r) {
      const float* u = vertical.data() + (pair * rank + r) * kh;
      const float* v = horizontal.data() + (pair * rank + r) * kw;
      float* k = w.data() + pair * kh * kw;
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x) k[y * kw + x] += u[y] * v[x];
    }
  return w;
}

ConvCost factored_cost(int64_t kh, int64_t kw, int64_t pairs, int64_t rank) {
  return {.standard = kh * kw * pairs, .cheaper = rank * (kh + kw) * pairs};
}

ConvCost depthwise_separable_cost(int64_t kh, int64_t kw, int64_t in_channels,
                                  int64_t out_channels) {
  return {.standard = kh * kw * in_channels * out_channels,
          .cheaper = kh * kw * in_channels + in_channels * out_channels};
}

SeparabilityReport analyze_separability(const nn::Module& model, const std::string& model_name,
                                        int64_t rank, double rtol) {
  constexpr std::string_view op = "separable";
  check_tolerance(op, rtol);
  if (rank < 1) throw ValueError(fmt::format("{}: rank expects a value >= 1, got {}", op, rank));
  SeparabilityReport report{.model = model_name, .rank = rank, .tolerance = rtol};
  for (const auto& [name, m] : model.named_modules()) {
    const auto* conv = dynamic_cast<const nn::Conv2d*>(m);
    if (!conv) continue;
    const Tensor& w = conv->weight;
    const int64_t out = w.size(0), in = w.size(1), kh = w.size(2), kw = w.size(3);
    if (kh == 1 || kw == 1) continue;
    LayerSeparability l{.name = name,
                        .weight_shape = w.shape(),
                        .groups = conv->options().groups,
                        .kernels = out * in,
                        .mean_spectrum = std::vector<double>(std::min(kh, kw), 0.0),
                        .rank = std::min({rank, kh, kw})};
    double dropped = 0, total = 0;
    int64_t nonzero = 0;
    for (int64_t pair = 0; pair < out * in; ++pair) {
      const auto svd = kernel_svd(w.data() + pair * kh * kw, kh, kw, false);
      const Eigen::VectorXd& sigma = svd.singularValues();
      if (numerical_rank(sigma, rtol) <= 1) ++l.rank1_kernels;
      for (int64_t i = 0; i < sigma.size(); ++i) {
        total += sigma[i] * sigma[i];
        if (i >= l.rank) dropped += sigma[i] * sigma[i];
      }
      if (sigma[0] == 0.0) continue;
      ++nonzero;
      for (int64_t i = 0; i < sigma.size(); ++i) l.mean_spectrum[i] += sigma[i] / sigma[0];
    }
    for (double& s : l.mean_spectrum) s /= static_cast<double>(std::max<int64_t>(nonzero, 1));
    l.relative_error = total > 0 ? std::sqrt(dropped / total) : 0.0;
    l.factored = factored_cost(kh, kw, l.kernels, l.rank);
    if (l.groups == 1) l.depthwise = depthwise_separable_cost(kh, kw, in, out);
    report.layers.push_back(std::move(l));
  }
  return report;
}

std::string separability_json(const SeparabilityReport& r) {
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerSeparability& l : r.layers) {
    nlohmann::ordered_json depthwise = nullptr;
    if (l.depthwise)
      depthwise = {{"standard", l.depthwise->standard}, {"separable", l.depthwise->cheaper}};
    layers.push_back(
        {{"name", l.name},
         {"weight_shape", l.weight_shape},
         {"groups", l.groups},
         {"kernels", l.kernels},
         {"rank1_kernels", l.rank1_kernels},
         {"mean_spectrum", l.mean_spectrum},
         {"rank", l.rank},
         {"relative_error", l.relative_error},
         {"macs_per_position", {{"full", l.factored.standard}, {"factored", l.factored.cheaper}}},
         {"depthwise_separable", depthwise}});
  }
  return nlohmann::ordered_json{
      {"model", r.model}, {"rank", r.rank}, {"tolerance", r.tolerance}, {"layers", layers}}
      .dump();
}

std::string format_separability(const SeparabilityReport& r) {
  std::string out = fmt::format(
      "{}: 2D convolutions as rank-{} separable kernels (rank tolerance {:g})\n"
      "MACs are per output position.\n\n",
      r.model, r.rank, r.tolerance);
  if (r.layers.empty()) return out + "no convolution with a kernel larger than 1x1\n";
  size_t name_width = 5;
  for (const LayerSeparability& l : r.layers) name_width = std::max(name_width, l.name.size());
  out += fmt::format("{:<{}}  {:>16}  {:>15}  {:<26}  {:>9}  {:>21}  {:>21}\n", "layer", name_width,
                     "weight", "rank-1 kernels", "mean σ/σ1", "rel. error", "factored MACs",
                     "depthwise-sep. MACs");
  for (const LayerSeparability& l : r.layers) {
    std::vector<std::string> spectrum;
    // The table shows the first five values (the JSON has them all).
    for (size_t i = 0; i < std::min<size_t>(l.mean_spectrum.size(), 5); ++i)
      spectrum.push_back(fmt::format("{:.2f}", l.mean_spectrum[i]));
    if (l.mean_spectrum.size() > 5) spectrum.push_back("…");
    const std::string depthwise = l.depthwise
                                      ? fmt::format("{} → {}", with_commas(l.depthwise->standard),
                                                    with_commas(l.depthwise->cheaper))
                                      : std::string("(grouped)");
    out += fmt::format(
        "{:<{}}  {:>16}  {:>15}  {:<26}  {:>9.4f}  {:>21}  {:>21}\n", l.name, name_width,
        fmt::format("{}", fmt::join(l.weight_shape, "x")),
        fmt::format("{}/{}", with_commas(l.rank1_kernels), with_commas(l.kernels)),
        fmt::format("{}", fmt::join(spectrum, " ")), l.relative_error,
        fmt::format("{} → {}", with_commas(l.factored.standard), with_commas(l.factored.cheaper)),
        depthwise);
  }
  return out;
}

}  // namespace fovea::analysis
