// Convolution arithmetic: output sizes, padding modes and parameter counts.
//
// Output size along one axis (cross-correlation or convolution):
//   n_out = floor((n + pad_lo + pad_hi - dilation*(k-1) - 1) / stride) + 1
// Transposed convolution inverts it:
//   n_out = (n - 1)*stride - pad_lo - pad_hi + dilation*(k-1) + output_padding + 1
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "fovea/expanding_array.h"

namespace fovea {

// Padding modes. Same keeps the size at stride 1; when the total padding dilation*(k-1) is
// odd the extra pixel goes at the end, as in PyTorch. Full pads dilation*(k-1) both sides.
struct Valid {};
struct Same {};
struct Full {};

enum class PaddingMode { kExplicit, kValid, kSame, kFull };

template <int D>
class Padding {
 public:
  Padding(int64_t all) { lo_.fill(all), hi_.fill(all); }  // NOLINT: implicit by design
  template <std::integral... I>
  requires(sizeof...(I) == D && D > 1) Padding(I... each)
      : lo_{static_cast<int64_t>(each)...}, hi_(lo_) {}                  // NOLINT
  Padding(const std::array<int64_t, D>& each) : lo_(each), hi_(each) {}  // NOLINT
  Padding(Valid) : Padding(0) { mode_ = PaddingMode::kValid; }           // NOLINT
  Padding(Same) : Padding(0) { mode_ = PaddingMode::kSame; }             // NOLINT
  Padding(Full) : Padding(0) { mode_ = PaddingMode::kFull; }             // NOLINT
  // Different padding before (lo) and after (hi) along each axis.
  static Padding asymmetric(const std::array<int64_t, D>& lo, const std::array<int64_t, D>& hi) {
    Padding p(lo);
    p.hi_ = hi;
    return p;
  }

  PaddingMode mode() const { return mode_; }
  const std::array<int64_t, D>& lo() const { return lo_; }
  const std::array<int64_t, D>& hi() const { return hi_; }

 private:
  PaddingMode mode_ = PaddingMode::kExplicit;
  std::array<int64_t, D> lo_, hi_;
};

struct PadAmount {
  int64_t lo = 0, hi = 0;
};

// The padding one axis gets under `mode`; `lo`/`hi` are used by kExplicit only. Throws
// ValueError for negative padding and for Same with stride != 1 (as PyTorch does).
PadAmount resolve_padding(PaddingMode mode, int64_t lo, int64_t hi, int64_t kernel,
                          int64_t dilation, int64_t stride, std::string_view op = "conv");

// n_out by the formula above. Throws ValueError for stride/dilation/kernel < 1 and
// ShapeError when the dilated kernel does not fit in the padded input. `op` prefixes errors.
int64_t conv_output_size(int64_t n, int64_t kernel, int64_t stride = 1, int64_t pad_lo = 0,
                         int64_t pad_hi = 0, int64_t dilation = 1, std::string_view op = "conv");
int64_t conv_output_size(int64_t n, int64_t kernel, int64_t stride, PadAmount pad,
                         int64_t dilation = 1, std::string_view op = "conv");

// Transposed output size by the formula above. output_padding must be smaller than stride
// or dilation (else the extra pixels would have no input), as in PyTorch.
int64_t conv_transpose_output_size(int64_t n, int64_t kernel, int64_t stride = 1,
                                   int64_t padding = 0, int64_t output_padding = 0,
                                   int64_t dilation = 1, std::string_view op = "conv_transpose");

// Weights + biases of a convolution: out * (in/groups) * prod(kernel) [+ out].
int64_t conv_param_count(int64_t in_channels, int64_t out_channels, std::span<const int64_t> kernel,
                         int64_t groups = 1, bool bias = true);

}  // namespace fovea
