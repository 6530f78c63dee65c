#include "fovea/conv_arithmetic.h"

#include <fmt/format.h>

#include "fovea/error.h"

namespace fovea {
namespace {

void check_axis(int64_t kernel, int64_t stride, int64_t dilation, std::string_view op) {
  if (stride < 1)
    throw ValueError(fmt::format("{}: stride expects values >= 1, got {}", op, stride));
  if (dilation < 1)
    throw ValueError(fmt::format("{}: dilation expects values >= 1, got {}", op, dilation));
  if (kernel < 1)
    throw ValueError(fmt::format("{}: kernel size expects values >= 1, got {}", op, kernel));
}

}  // namespace

PadAmount resolve_padding(PaddingMode mode, int64_t lo, int64_t hi, int64_t kernel,
                          int64_t dilation, int64_t stride, std::string_view op) {
  const int64_t span = dilation * (kernel - 1);
  switch (mode) {
    case PaddingMode::kValid:
      return {0, 0};
    case PaddingMode::kFull:
      return {span, span};
    case PaddingMode::kSame:
      if (stride != 1)
        throw ValueError(fmt::format(
            "{}: padding 'same' expects stride 1 along every axis, got stride {}", op, stride));
      return {span / 2, span - span / 2};
    case PaddingMode::kExplicit:
      break;
  }
  if (lo < 0 || hi < 0)
    throw ValueError(fmt::format("{}: padding expects values >= 0, got ({}, {})", op, lo, hi));
  return {lo, hi};
}

int64_t conv_output_size(int64_t n, int64_t kernel, int64_t stride, int64_t pad_lo, int64_t pad_hi,
                         int64_t dilation, std::string_view op) {
  check_axis(kernel, stride, dilation, op);
  if (pad_lo < 0 || pad_hi < 0)
    throw ValueError(
        fmt::format("{}: padding expects values >= 0, got ({}, {})", op, pad_lo, pad_hi));
  const int64_t padded = n + pad_lo + pad_hi;
  const int64_t extent = dilation * (kernel - 1) + 1;
  if (extent > padded)
    throw ShapeError(
        fmt::format("{}: kernel expects to fit in the padded input, but its extent {} (kernel {}, "
                    "dilation {}) exceeds the padded input size {} (input {} + padding {} + {})",
                    op, extent, kernel, dilation, padded, n, pad_lo, pad_hi));
  return (padded - extent) / stride + 1;
}

int64_t conv_output_size(int64_t n, int64_t kernel, int64_t stride, PadAmount pad, int64_t dilation,
                         std::string_view op) {
  return conv_output_size(n, kernel, stride, pad.lo, pad.hi, dilation, op);
}

int64_t conv_transpose_output_size(int64_t n, int64_t kernel, int64_t stride, int64_t padding,
                                   int64_t output_padding, int64_t dilation, std::string_view op) {
  check_axis(kernel, stride, dilation, op);
  if (padding < 0)
    throw ValueError(fmt::format("{}: padding expects values >= 0, got {}", op, padding));
  if (output_padding < 0 || (output_padding >= stride && output_padding >= dilation))
    throw ValueError(fmt::format(
        "{}: output_padding expects a value >= 0 and smaller than stride ({}) or dilation ({}), "
        "got {}",
        op, stride, dilation, output_padding));
  const int64_t out = (n - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1;
  if (out < 1)
    throw ShapeError(
        fmt::format("{}: output size expects a value >= 1, but input {} with kernel {}, stride {}, "
                    "padding {}, dilation {} gives {}",
                    op, n, kernel, stride, padding, dilation, out));
  return out;
}

int64_t conv_param_count(int64_t in_channels, int64_t out_channels, std::span<const int64_t> kernel,
                         int64_t groups, bool bias) {
  if (groups < 1 || in_channels % groups != 0 || out_channels % groups != 0)
    throw ValueError(fmt::format(
        "conv_param_count: groups expects a divisor of in_channels ({}) and out_channels ({}), "
        "got {}",
        in_channels, out_channels, groups));
  int64_t k = 1;
  for (int64_t s : kernel) k *= s;
  return out_channels * (in_channels / groups) * k + (bias ? out_channels : 0);
}

}  // namespace fovea
