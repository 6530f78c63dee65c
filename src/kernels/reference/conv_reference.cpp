#include "kernels/reference/conv_reference.h"

#include <algorithm>

namespace fovea::kernels {
namespace {

// Calls f(n, g, oc, o_flat, ic, k_flat, x_index) for every (output, weight tap) pair whose
// input position lies inside the unpadded input: the sum in the definition, spelled out.
// oc and ic are absolute channels; o_flat/k_flat index the output pixel and kernel tap.
template <class F>
void for_each_tap(const ConvGeometry& g, F&& f) {
  const int64_t cig = g.C_in_per_group(), cog = g.C_out_per_group();
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oc = 0; oc < g.C_out; ++oc) {
      const int64_t grp = oc / cog;
      for (int64_t od = 0; od < g.out[0]; ++od)
        for (int64_t oh = 0; oh < g.out[1]; ++oh)
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            const int64_t o_flat = (od * g.out[1] + oh) * g.out[2] + ow;
            for (int64_t icg = 0; icg < cig; ++icg) {
              const int64_t ic = grp * cig + icg;
              for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
                const int64_t id = od * g.stride[0] - g.pad_lo[0] + kd * g.dilation[0];
                if (id < 0 || id >= g.in[0]) continue;
                for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                  const int64_t ih = oh * g.stride[1] - g.pad_lo[1] + kh * g.dilation[1];
                  if (ih < 0 || ih >= g.in[1]) continue;
                  for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                    const int64_t iw = ow * g.stride[2] - g.pad_lo[2] + kw * g.dilation[2];
                    if (iw < 0 || iw >= g.in[2]) continue;
                    const int64_t k_flat = (kd * g.kernel[1] + kh) * g.kernel[2] + kw;
                    const int64_t x_index =
                        ((n * g.C_in + ic) * g.in[0] + id) * g.in[1] * g.in[2] + ih * g.in[2] + iw;
                    f(n, oc, o_flat, icg, k_flat, x_index);
                  }
                }
              }
            }
          }
    }
}

}  // namespace

void conv_forward_reference(const ConvGeometry& g, const float* x, const float* w,
                            const ConvEpilogue& ep, float* y, float*) noexcept {
  const int64_t P = g.out_pixels(), K = g.kernel_pixels(), cig = g.C_in_per_group();
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oc = 0; oc < g.C_out; ++oc)
      std::fill_n(y + (n * g.C_out + oc) * P, P, ep.bias ? ep.bias[oc] : 0.0f);
  for_each_tap(g, [&](int64_t n, int64_t oc, int64_t o, int64_t icg, int64_t k, int64_t xi) {
    y[(n * g.C_out + oc) * P + o] += x[xi] * w[(oc * cig + icg) * K + k];
  });
  if (ep.residual)
    for (int64_t i = 0; i < g.N * g.C_out * P; ++i) y[i] += ep.residual[i];
  if (ep.clamps()) conv_epilogue_rows({.lo = ep.lo, .hi = ep.hi}, 0, g.N * g.C_out, P, P, y);
}

void conv_backward_data_reference(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                  float*) noexcept {
  const int64_t P = g.out_pixels(), K = g.kernel_pixels(), cig = g.C_in_per_group();
  std::fill_n(dx, g.N * g.C_in * g.in_pixels(), 0.0f);
  // dx[x_index] = sum over every (output, tap) that read it of dy * w: the adjoint of forward.
  for_each_tap(g, [&](int64_t n, int64_t oc, int64_t o, int64_t icg, int64_t k, int64_t xi) {
    dx[xi] += dy[(n * g.C_out + oc) * P + o] * w[(oc * cig + icg) * K + k];
  });
}

void conv_backward_weight_reference(const ConvGeometry& g, const float* x, const float* dy,
                                    float* dw, float*) noexcept {
  const int64_t P = g.out_pixels(), K = g.kernel_pixels(), cig = g.C_in_per_group();
  std::fill_n(dw, g.C_out * cig * K, 0.0f);
  for_each_tap(g, [&](int64_t n, int64_t oc, int64_t o, int64_t icg, int64_t k, int64_t xi) {
    dw[(oc * cig + icg) * K + k] += x[xi] * dy[(n * g.C_out + oc) * P + o];
  });
}

}  // namespace fovea::kernels
