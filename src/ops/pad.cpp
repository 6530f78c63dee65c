// The door of pad: validate as PyTorch's F.pad does (throwing with op, argument, expected,
// given), build the geometry, run the reference kernel.
#include "fovea/functional/pad.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "fovea/autograd.h"
#include "fovea/error.h"
#include "kernels/reference/pad_reference.h"

namespace fovea::functional {
namespace {

using kernels::PadGeometry;

std::string_view mode_name(PadMode m) {
  switch (m) {
    case PadMode::kConstant:
      return "constant";
    case PadMode::kReflect:
      return "reflect";
    case PadMode::kReplicate:
      return "replicate";
    case PadMode::kCircular:
      return "circular";
  }
  return "?";
}

kernels::PadMode kernel_mode(PadMode m) {
  switch (m) {
    case PadMode::kConstant:
      return kernels::PadMode::kConstant;
    case PadMode::kReflect:
      return kernels::PadMode::kReflect;
    case PadMode::kReplicate:
      return kernels::PadMode::kReplicate;
    case PadMode::kCircular:
      return kernels::PadMode::kCircular;
  }
  return kernels::PadMode::kConstant;
}

constexpr std::string_view kUnbatched[] = {"", "(C, W)", "(C, H, W)", "(C, D, H, W)"};
constexpr std::string_view kBatched[] = {"", "(N, C, W)", "(N, C, H, W)", "(N, C, D, H, W)"};

// Checks the amounts against the input shape and mode; returns the geometry of the call.
PadGeometry make_geometry(std::string_view op, const Shape& x, const std::vector<int64_t>& pad,
                          PadMode mode, float value) {
  const int64_t rank = static_cast<int64_t>(x.size());
  const int64_t n_pad = static_cast<int64_t>(pad.size()), k = n_pad / 2;  // k padded axes
  if (rank > kMaxRank || std::ranges::any_of(x, [](int64_t s) { return s < 0; }))
    throw ShapeError(fmt::format("{}: input expects at most {} dimensions of sizes >= 0, got {}",
                                 op, kMaxRank, shape_str(x)));
  if (n_pad % 2 != 0)
    throw ValueError(fmt::format(
        "{}: pad expects an even number of values (before, after for each axis), got {}", op,
        n_pad));
  if (k > rank)
    throw ValueError(fmt::format(
        "{}: pad expects at most 2 values per input dimension ({} for a {}-D input), got {}", op,
        2 * rank, rank, n_pad));
  if (mode != PadMode::kConstant) {
    if (value != 0)
      throw ValueError(
          fmt::format("{}: value expects 0 for mode {} (only constant padding uses it), got {}", op,
                      mode_name(mode), value));
    if (k < 1 || k > 3)
      throw UnsupportedError(fmt::format("{}: pad expects 2, 4 or 6 values for mode {}, got {}", op,
                                         mode_name(mode), n_pad));
    if (rank != k + 1 && rank != k + 2)
      throw ShapeError(fmt::format(
          "{}: input expects {} or {} dimensions, {} or {}, for mode {} with {} pad values, got {} "
          "with shape {}",
          op, k + 1, k + 2, kUnbatched[k], kBatched[k], mode_name(mode), n_pad, rank,
          shape_str(x)));
  }

  PadGeometry g;
  g.mode = kernel_mode(mode);
  g.value = value;
  for (int64_t i = 0; i < rank; ++i) {
    const int64_t slot = 5 - rank + i;
    const int64_t n = x[i];
    g.in[slot] = g.out[slot] = n;
    if (i < rank - k) continue;
    const int64_t lo = pad[2 * (rank - 1 - i)], hi = pad[2 * (rank - 1 - i) + 1];
    const int64_t kept = n - std::max<int64_t>(-lo, 0) - std::max<int64_t>(-hi, 0);
    const int64_t out = n + lo + hi;
    auto fail = [&](std::string_view expected) {
      return ValueError(
          fmt::format("{}: pad expects {} for mode {}, got ({}, {}) for dimension "
                      "{} of the input's shape {}",
                      op, expected, mode_name(mode), lo, hi, i, shape_str(x)));
    };
    if (mode != PadMode::kConstant && n < 1)
      throw ShapeError(
          fmt::format("{}: input expects padded dimensions of size >= 1 for mode {}, "
                      "got shape {}",
                      op, mode_name(mode), shape_str(x)));
    switch (mode) {
      case PadMode::kConstant:
        if (kept < 0) throw fail("crops no larger than the input");
        break;
      case PadMode::kReflect:
        if (lo >= n || hi >= n) throw fail("amounts smaller than the input size");
        if (out < 1) throw fail("an output size >= 1");
        break;
      case PadMode::kReplicate:
        if (out < 1) throw fail("an output size >= 1");
        break;
      case PadMode::kCircular:
        if (kept < 1) throw fail("crops that keep at least one element");
        if (lo > kept || hi > kept)
          throw fail("amounts no larger than the size kept after cropping (no wrapping twice)");
        break;
    }
    g.out[slot] = out;
    g.lo[slot] = lo;
  }
  return g;
}

Shape output_shape(const PadGeometry& g, int64_t rank) {
  return Shape(g.out.end() - rank, g.out.end());
}

}  // namespace

Tensor pad_backward(const Tensor& dy, const Shape& x_shape, const std::vector<int64_t>& pad,
                    PadMode mode) {
  constexpr std::string_view op = "pad_backward";
  const PadGeometry g = make_geometry(op, x_shape, pad, mode, 0.0f);
  if (!dy.defined()) throw ValueError(fmt::format("{}: grad_output is undefined", op));
  const Shape expected = output_shape(g, static_cast<int64_t>(x_shape.size()));
  if (dy.shape() != expected)
    throw ShapeError(fmt::format("{}: grad_output expects the forward output's shape {}, got {}",
                                 op, shape_str(expected), shape_str(dy.shape())));
  Tensor dx = Tensor::empty(x_shape);
  kernels::pad_backward_reference(g, dy.data(), dx.data());
  return dx;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pad, PadMode mode, float value) {
  if (!x.defined()) throw ValueError("pad: input is undefined");
  const PadGeometry g = make_geometry("pad", x.shape(), pad, mode, value);
  Tensor y = Tensor::empty(output_shape(g, x.dim()));
  kernels::pad_forward_reference(g, x.data(), y.data());
  autograd::record("pad", {x}, y,
                   [shape = x.shape(), pad, mode](const Tensor& dy, const std::vector<bool>&) {
                     return std::vector<Tensor>{pad_backward(dy, shape, pad, mode)};
                   });
  return y;
}

}  // namespace fovea::functional
