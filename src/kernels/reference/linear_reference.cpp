#include "kernels/reference/linear_reference.h"

#include <algorithm>

namespace fovea::kernels {

void linear_forward_reference(const LinearGeometry& g, const float* x, const float* w,
                              const float* b, float* y) noexcept {
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t o = 0; o < g.out_features; ++o) {
      float acc = b ? b[o] : 0.0f;
      for (int64_t i = 0; i < g.in_features; ++i)
        acc += x[r * g.in_features + i] * w[o * g.in_features + i];
      y[r * g.out_features + o] = acc;
    }
}

void linear_backward_data_reference(const LinearGeometry& g, const float* dy, const float* w,
                                    float* dx) noexcept {
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t i = 0; i < g.in_features; ++i) {
      float acc = 0.0f;
      for (int64_t o = 0; o < g.out_features; ++o)
        acc += dy[r * g.out_features + o] * w[o * g.in_features + i];
      dx[r * g.in_features + i] = acc;
    }
}

void linear_backward_weight_reference(const LinearGeometry& g, const float* x, const float* dy,
                                      float* dw) noexcept {
  for (int64_t o = 0; o < g.out_features; ++o)
    for (int64_t i = 0; i < g.in_features; ++i) {
      float acc = 0.0f;
      for (int64_t r = 0; r < g.rows; ++r)
        acc += dy[r * g.out_features + o] * x[r * g.in_features + i];
      dw[o * g.in_features + i] = acc;
    }
}

void linear_backward_bias_reference(const LinearGeometry& g, const float* dy, float* db) noexcept {
  std::fill_n(db, g.out_features, 0.0f);
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t o = 0; o < g.out_features; ++o) db[o] += dy[r * g.out_features + o];
}

}  // namespace fovea::kernels
