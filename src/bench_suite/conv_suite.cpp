#include "bench_suite/conv_suite.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "fovea/random.h"
#include "fovea/tensor.h"
#include "ops/conv_call.h"

namespace fovea::bench {
namespace {

using kernels::ConvGeometry;
using kernels::ConvPass;

// "16x56x56", "1024" or 1024 -> {16, 56, 56}, {1024}, {1024}.
std::vector<int64_t> parse_spatial(const nlohmann::json& v) {
  if (v.is_number_integer()) return {v.get<int64_t>()};
  std::vector<int64_t> sizes;
  const std::string s = v.get<std::string>();
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find('x', start), s.size());
    sizes.push_back(std::stoll(s.substr(start, end - start)));
    start = end + 1;
  }
  return sizes;
}

int spatial_dims(const ConvLayer& l) {
  if (l.kind == "conv1d") return 1;
  if (l.kind == "conv2d" || l.kind == "convT2d") return 2;
  if (l.kind == "conv3d") return 3;
  throw std::runtime_error(
      fmt::format("layer {}: unknown kind '{}' (expected conv1d, conv2d, "
                  "conv3d or convT2d)",
                  l.name, l.kind));
}

template <int D>
ConvGeometry geometry(const ConvLayer& l) {
  Shape x{l.N, l.C_in};
  x.insert(x.end(), l.in.begin(), l.in.end());
  if (!l.transposed()) {
    const Shape w{l.C_out, l.C_in / l.groups, l.kernel, l.kernel, l.kernel};
    const functional::ConvOptions<D> o{
        .stride = l.stride, .padding = l.padding, .dilation = l.dilation, .groups = l.groups};
    return ops::conv_call<D>("conv suite", x, Shape(w.begin(), w.begin() + 2 + D), std::nullopt, o)
        .g;
  }
  // Transposed: the output padding that gives the file's output size.
  const Shape w{l.C_in, l.C_out / l.groups, l.kernel, l.kernel, l.kernel};
  std::array<int64_t, D> output_padding{};
  for (int a = 0; a < D; ++a)
    output_padding[a] =
        l.out[a] - ((l.in[a] - 1) * l.stride - 2 * l.padding + l.dilation * (l.kernel - 1) + 1);
  const functional::ConvTransposeOptions<D> o{.stride = l.stride,
                                              .padding = l.padding,
                                              .output_padding = output_padding,
                                              .dilation = l.dilation,
                                              .groups = l.groups};
  return ops::conv_transpose_call<D>("conv suite", x, Shape(w.begin(), w.begin() + 2 + D),
                                     std::nullopt, o)
      .g;
}

}  // namespace

std::vector<ConvLayer> load_conv_suite(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error(
        fmt::format("cannot open the layer suite '{}'; set FOVEA_CONV_LAYERS to the path of "
                    "conv_layers.json",
                    path));
  std::vector<ConvLayer> layers;
  try {
    const nlohmann::json doc = nlohmann::json::parse(in);
    for (const auto& j : doc.at("layers")) {
      ConvLayer l;
      l.name = j.at("layer").get<std::string>();
      l.kind = j.at("kind").get<std::string>();
      l.N = j.at("N").get<int64_t>();
      l.C_in = j.at("Cin").get<int64_t>();
      l.C_out = j.at("Cout").get<int64_t>();
      l.in = parse_spatial(j.at("in_spatial"));
      l.out = parse_spatial(j.at("out_spatial"));
      l.kernel = j.at("k").get<int64_t>();
      l.stride = j.value("stride", int64_t{1});
      l.padding = j.value("pad", int64_t{0});
      l.dilation = j.value("dilation", int64_t{1});
      l.groups = j.value("groups", int64_t{1});
      l.gflop = j.at("gflop").get<double>();
      layers.push_back(std::move(l));
    }
  } catch (const std::exception& e) {  // json errors and std::stoll on a bad size string
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
  return layers;
}

ConvGeometry conv_suite_geometry(const ConvLayer& l) {
  const int D = spatial_dims(l);
  if (static_cast<int>(l.in.size()) != D || static_cast<int>(l.out.size()) != D)
    throw std::runtime_error(
        fmt::format("layer {}: a {} layer needs {} spatial sizes", l.name, l.kind, D));
  const ConvGeometry g = D == 1 ? geometry<1>(l) : D == 2 ? geometry<2>(l) : geometry<3>(l);
  // What the ops computed must be what the file says: the larger side of the convolution
  // is its input for a transposed layer.
  const kernels::Dims3& out = l.transposed() ? g.in : g.out;
  for (int a = 0; a < D; ++a)
    if (out[3 - D + a] != l.out[a])
      throw std::runtime_error(
          fmt::format("layer {}: output size {} along axis {}, the file says {}", l.name,
                      out[3 - D + a], a, l.out[a]));
  const double gflop = 2.0 * static_cast<double>(g.macs()) / 1e9;
  if (std::abs(gflop - l.gflop) > 1e-6 * l.gflop)
    throw std::runtime_error(
        fmt::format("layer {}: {} GFLOP per pass, the file says {}", l.name, gflop, l.gflop));
  return g;
}

kernels::ConvPass kernel_pass(const ConvLayer& l, ConvPass pass) {
  if (!l.transposed()) return pass;
  switch (pass) {
    case ConvPass::kForward:
      return ConvPass::kBackwardData;
    case ConvPass::kBackwardData:
      return ConvPass::kForward;
    case ConvPass::kBackwardWeight:
      return ConvPass::kBackwardWeight;
  }
  return pass;
}

ConvBuffers make_conv_buffers(const ConvGeometry& g) {
  const int64_t x_size = g.N * g.C_in * g.in_pixels(), y_size = g.N * g.C_out * g.out_pixels(),
                w_size = g.C_out * g.C_in_per_group() * g.kernel_pixels();
  Generator gen(42);
  return {
      .x = Tensor::rand({x_size}, -1.0f, 1.0f, &gen),
      .w = Tensor::rand({w_size}, -1.0f, 1.0f, &gen),
      .dy = Tensor::rand({y_size}, -1.0f, 1.0f, &gen),
      .y = Tensor::zeros({y_size}),
      .dx = Tensor::zeros({x_size}),
      .dw = Tensor::zeros({w_size}),
  };
}

void run_conv_pass(const kernels::ConvAlgorithm& a, const ConvGeometry& g, ConvPass kpass,
                   ConvBuffers& b, float* workspace) {
  switch (kpass) {
    case ConvPass::kForward:
      a.forward(g, b.x.data(), b.w.data(), {}, b.y.data(), workspace);
      break;
    case ConvPass::kBackwardData:
      a.backward_data(g, b.dy.data(), b.w.data(), b.dx.data(), workspace);
      break;
    case ConvPass::kBackwardWeight:
      a.backward_weight(g, b.x.data(), b.dy.data(), b.dw.data(), workspace);
      break;
  }
}

}  // namespace fovea::bench
