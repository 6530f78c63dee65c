#include "kernels/cpu/conv_im2col_gemm.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>

namespace fovea::kernels {
namespace {

// Row-major C = alpha·op(A)·op(B) + beta·C through oneDNN. Inside an OpenMP parallel region
// oneDNN runs it on the calling thread only.
void sgemm(char ta, char tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

int64_t col_rows(const ConvGeometry& g) {
  return g.C_in_per_group() * g.kernel_pixels();
}

// Output positions o in [lo, hi) read input o*stride + offset inside [0, n).
void valid_range(int64_t n_out, int64_t n_in, int64_t stride, int64_t offset, int64_t& lo,
                 int64_t& hi) {
  // o*stride + offset >= 0  <=>  o >= ceil(-offset / stride)
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // o*stride + offset < n_in  <=>  o < ceil((n_in - offset) / stride)
  hi = n_in - offset <= 0 ? 0 : (n_in - offset + stride - 1) / stride;
  lo = std::min(lo, n_out);
  hi = std::clamp(hi, lo, n_out);
}

// Calls row_fn(row, ic, kd, kh, kw) for each col row, split over the threads of an enclosing
// parallel region (or run serially when `parallel` is false).
template <class F>
void for_each_col_row(const ConvGeometry& g, bool parallel, F&& row_fn) {
  const int64_t rows = col_rows(g);
#pragma omp parallel for if (parallel) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = r;
    const int64_t kw = t % g.kernel[2];
    t /= g.kernel[2];
    const int64_t kh = t % g.kernel[1];
    t /= g.kernel[1];
    const int64_t kd = t % g.kernel[0];
    row_fn(r, t / g.kernel[0], kd, kh, kw);
  }
}

// col (K, P) from one image-group x_g (C_in/groups, D, H, W); padding reads as zero.
void im2col(const ConvGeometry& g, const float* x_g, float* col, bool parallel) {
  const int64_t P = g.out_pixels();
  for_each_col_row(g, parallel, [&](int64_t r, int64_t ic, int64_t kd, int64_t kh, int64_t kw) {
    float* dst = col + r * P;
    const float* src = x_g + ic * g.in_pixels();
    const int64_t off_w = kw * g.dilation[2] - g.pad_lo[2];
    int64_t w_lo, w_hi;
    valid_range(g.out[2], g.in[2], g.stride[2], off_w, w_lo, w_hi);
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const int64_t id = od * g.stride[0] - g.pad_lo[0] + kd * g.dilation[0];
      for (int64_t oh = 0; oh < g.out[1]; ++oh, dst += g.out[2]) {
        const int64_t ih = oh * g.stride[1] - g.pad_lo[1] + kh * g.dilation[1];
        if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) {
          std::fill_n(dst, g.out[2], 0.0f);
          continue;
        }
        // Input column of output ow is ow*stride + off_w (off_w may be negative).
        const float* row = src + (id * g.in[1] + ih) * g.in[2];
        std::fill_n(dst, w_lo, 0.0f);
        if (g.stride[2] == 1) {
          std::copy(row + w_lo + off_w, row + w_hi + off_w, dst + w_lo);
        } else {
          for (int64_t ow = w_lo; ow < w_hi; ++ow) dst[ow] = row[ow * g.stride[2] + off_w];
        }
        std::fill(dst + w_hi, dst + g.out[2], 0.0f);
      }
    }
  });
}

// dx_g (C_in/groups, D, H, W) = col2im(col): the adjoint of im2col. Rows of one input
// channel write the same plane, so threads split over channels, not rows.
void col2im(const ConvGeometry& g, const float* col, float* dx_g, bool parallel) {
  const int64_t P = g.out_pixels(), kp = g.kernel_pixels();
#pragma omp parallel for if (parallel) schedule(static)
  for (int64_t ic = 0; ic < g.C_in_per_group(); ++ic) {
    float* dst = dx_g + ic * g.in_pixels();
    std::fill_n(dst, g.in_pixels(), 0.0f);
    for (int64_t k = 0; k < kp; ++k) {
      const int64_t kw = k % g.kernel[2], kh = k / g.kernel[2] % g.kernel[1],
                    kd = k / (g.kernel[2] * g.kernel[1]);
      const float* src = col + (ic * kp + k) * P;
      const int64_t off_w = kw * g.dilation[2] - g.pad_lo[2];
      int64_t w_lo, w_hi;
      valid_range(g.out[2], g.in[2], g.stride[2], off_w, w_lo, w_hi);
      for (int64_t od = 0; od < g.out[0]; ++od) {
        const int64_t id = od * g.stride[0] - g.pad_lo[0] + kd * g.dilation[0];
        for (int64_t oh = 0; oh < g.out[1]; ++oh, src += g.out[2]) {
          const int64_t ih = oh * g.stride[1] - g.pad_lo[1] + kh * g.dilation[1];
          if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) continue;
          float* row = dst + (id * g.in[1] + ih) * g.in[2];
          for (int64_t ow = w_lo; ow < w_hi; ++ow) row[ow * g.stride[2] + off_w] += src[ow];
        }
      }
    }
  }
}

// How the threads share the work. With enough images, each thread takes whole images; with
// enough groups (depthwise and grouped layers at small batch), whole groups; in both cases it
// runs single-threaded GEMMs on its own col buffer. Otherwise one (image, group) at a time with
// the threads inside im2col and the GEMM. Splitting coarsely matters: thousands of tiny
// parallel regions (one per group) cost more than the arithmetic.
enum class Split { kNone, kImages, kGroups };

Split split_of(const ConvGeometry& g) {
  const int64_t threads = omp_get_max_threads();
  if (threads > 1 && g.N >= threads) return Split::kImages;
  if (threads > 1 && g.groups >= threads) return Split::kGroups;
  return Split::kNone;
}

int64_t col_buffers(const ConvGeometry& g) {
  return split_of(g) == Split::kNone ? 1 : omp_get_max_threads();
}

// Calls body(i, thread) for i in [0, count): over the threads when `parallel`, else on the
// calling thread. Without a split no OpenMP region is opened at all: an inactive (if(false))
// region would make the im2col and GEMM regions inside it nested, and libgomp starts fresh
// threads for nested teams on every call.
template <class Body>
void for_each_index(bool parallel, int64_t count, Body&& body) {
  if (!parallel) {
    for (int64_t i = 0; i < count; ++i) body(i, 0);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) body(i, omp_get_thread_num());
}

}  // namespace

bool conv_im2col_gemm_supports(const ConvGeometry&, ConvPass) {
  return true;
}

size_t conv_im2col_gemm_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  // Pointwise convolutions need no col: x (or dx) is already the col matrix.
  size_t floats =
      !g.is_pointwise() ? static_cast<size_t>(col_buffers(g) * col_rows(g) * g.out_pixels()) : 0;
  // Backward weight with images split over threads: one partial dw per extra thread.
  if (pass == ConvPass::kBackwardWeight && split_of(g) == Split::kImages)
    floats += static_cast<size_t>((col_buffers(g) - 1) * g.C_out * col_rows(g));
  return floats;
}

void conv_forward_im2col_gemm(const ConvGeometry& g, const float* x, const float* w, const float* b,
                              float* y, float* workspace) noexcept {
  const int64_t P = g.out_pixels(), K = col_rows(g), cog = g.C_out_per_group();
  const bool split = split_of(g) != Split::kNone;
  // Each (image, group) writes its own outputs, so any split of the pairs is race-free.
  for_each_index(split, g.N * g.groups, [&](int64_t i, int64_t thread) {
    const int64_t n = i / g.groups, grp = i % g.groups;
    float* col = workspace ? workspace + thread * K * P : nullptr;
    const float* x_g = x + (n * g.C_in + grp * g.C_in_per_group()) * g.in_pixels();
    float* y_g = y + (n * g.C_out + grp * cog) * P;
    if (!g.is_pointwise()) im2col(g, x_g, col, !split);
    if (b)
      for (int64_t oc = 0; oc < cog; ++oc) std::fill_n(y_g + oc * P, P, b[grp * cog + oc]);
    sgemm('N', 'N', cog, P, K, w + grp * cog * K, K, g.is_pointwise() ? x_g : col, P,
          b ? 1.0f : 0.0f, y_g, P);
  });
}

void conv_backward_data_im2col_gemm(const ConvGeometry& g, const float* dy, const float* w,
                                    float* dx, float* workspace) noexcept {
  const int64_t P = g.out_pixels(), K = col_rows(g), cog = g.C_out_per_group();
  const bool split = split_of(g) != Split::kNone;
  for_each_index(split, g.N * g.groups, [&](int64_t i, int64_t thread) {
    const int64_t n = i / g.groups, grp = i % g.groups;
    float* col = workspace ? workspace + thread * K * P : nullptr;
    float* dx_g = dx + (n * g.C_in + grp * g.C_in_per_group()) * g.in_pixels();
    const float* dy_g = dy + (n * g.C_out + grp * cog) * P;
    // Pointwise: dx_g is the col matrix itself, so the GEMM writes it directly.
    float* dcol = g.is_pointwise() ? dx_g : col;
    sgemm('T', 'N', K, P, cog, w + grp * cog * K, K, dy_g, P, 0.0f, dcol, P);
    if (!g.is_pointwise()) col2im(g, dcol, dx_g, !split);
  });
}

void conv_backward_weight_im2col_gemm(const ConvGeometry& g, const float* x, const float* dy,
                                      float* dw, float* workspace) noexcept {
  const int64_t P = g.out_pixels(), K = col_rows(g), cog = g.C_out_per_group();
  const Split split = split_of(g);
  const int64_t dw_size = g.C_out * K;
  float* col_base = g.is_pointwise() ? nullptr : workspace;
  // dw_g += dy_g · col(x_g)ᵀ for one image and group, on the calling thread's col buffer.
  auto accumulate = [&](int64_t n, int64_t grp, float* col, float* dw_out, bool parallel) {
    const float* x_g = x + (n * g.C_in + grp * g.C_in_per_group()) * g.in_pixels();
    const float* dy_g = dy + (n * g.C_out + grp * cog) * P;
    if (!g.is_pointwise()) im2col(g, x_g, col, parallel);
    sgemm('N', 'T', cog, K, P, dy_g, P, g.is_pointwise() ? x_g : col, P, 1.0f,
          dw_out + grp * cog * K, K);
  };
  if (split != Split::kImages) {
    // Split over groups, each thread owning whole groups and so their dw slices; or no split,
    // one image and group at a time with the threads inside im2col and the GEMM.
    std::fill_n(dw, dw_size, 0.0f);
    const bool by_groups = split == Split::kGroups;
    for_each_index(by_groups, g.groups, [&](int64_t grp, int64_t thread) {
      float* col = col_base ? col_base + thread * K * P : nullptr;
      for (int64_t n = 0; n < g.N; ++n) accumulate(n, grp, col, dw, !by_groups);
    });
    return;
  }
  // Images split over threads: each sums its images into a partial dw, added up at the end.
  // The team may be smaller than omp_get_max_threads() (OMP_DYNAMIC, thread limits): only the
  // partial sums of threads that ran are added.
  float* partial_base = workspace + (g.is_pointwise() ? 0 : col_buffers(g) * K * P);
  int64_t team = 1;
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num();
#pragma omp single
    team = omp_get_num_threads();
    float* my_dw = t == 0 ? dw : partial_base + (t - 1) * dw_size;
    float* col = col_base ? col_base + t * K * P : nullptr;
    std::fill_n(my_dw, dw_size, 0.0f);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t grp = 0; grp < g.groups; ++grp) accumulate(n, grp, col, my_dw, false);
  }
  for (int64_t t = 1; t < team; ++t) {
    const float* part = partial_base + (t - 1) * dw_size;
    for (int64_t i = 0; i < dw_size; ++i) dw[i] += part[i];
  }
}

}  // namespace fovea::kernels
