#include "kernels/cpu/conv_im2col_unroll.h"

#include <algorithm>
#include <optional>

#include "kernels/cpu/conv_pointwise.h"
#include "kernels/cpu/cpu_features.h"

namespace fovea::kernels {
namespace {

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

// Kernel tap k (kd, kh, kw) of col row r = ic * kernel_pixels + k.
struct Tap {
  int64_t kd, kh, kw;
};

Tap tap_of(const ConvGeometry& g, int64_t k) {
  return {k / (g.kernel[2] * g.kernel[1]), k / g.kernel[2] % g.kernel[1], k % g.kernel[2]};
}

// Calls run_fn(line, count, row) for runs of consecutive output lines of the block (line
// counted from the block's first) that read one input plane `plane` for kernel tap t: row is
// the input row of the run's first line, or null when the run reads padding only; line j of
// the run reads row + j * row_step(g).
template <class T, class F>
void for_each_run(const ConvGeometry& g, const ColBlock& blk, Tap t, T* plane, F&& run_fn) {
  int64_t h_lo, h_hi;
  valid_range(g.out[1], g.in[1], g.stride[1], t.kh * g.dilation[1] - g.pad_lo[1], h_lo, h_hi);
  const int64_t end = blk.line0 + blk.lines;
  for (int64_t line = blk.line0; line < end;) {
    const int64_t od = line / g.out[1], a = line % g.out[1];
    const int64_t b = std::min(g.out[1], a + end - line);
    const int64_t id = od * g.stride[0] - g.pad_lo[0] + t.kd * g.dilation[0];
    const int64_t first = line - blk.line0;
    if (id < 0 || id >= g.in[0]) {
      run_fn(first, b - a, static_cast<T*>(nullptr));
    } else {
      const int64_t c = std::clamp(h_lo, a, b), e = std::clamp(h_hi, c, b);
      const int64_t ih = c * g.stride[1] - g.pad_lo[1] + t.kh * g.dilation[1];
      if (c > a) run_fn(first, c - a, static_cast<T*>(nullptr));
      if (e > c) run_fn(first + c - a, e - c, plane + (id * g.in[1] + ih) * g.in[2]);
      if (b > e) run_fn(first + e - a, b - e, static_cast<T*>(nullptr));
    }
    line += b - a;
  }
}

int64_t row_step(const ConvGeometry& g) {
  return g.stride[1] * g.in[2];
}

// With unit strides along H and W and rows as wide as the output lines, the lines of a run
// lie back to back in both x and col, so a run moves as one contiguous span; only the
// columns that fall into the padding need fixing per line.
bool runs_contiguous(const ConvGeometry& g) {
  return g.stride[1] == 1 && g.stride[2] == 1 && g.in[2] == g.out[2];
}

LineRange line_range(const ConvGeometry& g, Tap t) {
  LineRange r;
  r.off = t.kw * g.dilation[2] - g.pad_lo[2];
  valid_range(g.out[2], g.in[2], g.stride[2], r.off, r.lo, r.hi);
  return r;
}

// Whether a block moves whole planes through the AVX-512 samplers of the pointwise kernels
// (conv_pointwise.h): a strided 1x1 kernel without padding (downsampling: ResNet-18's spent
// 13-17% of their time in the scalar copies of the general path, 7- to 28-pixel lines) on
// blocks of whole images. In col2im each input pixel then takes at most one col entry, so the
// planes are written outright, not zeroed and added into. (At stride 1 the general path moves
// each plane as one span already.)
bool whole_planes(const ConvGeometry& g, const ColBlock& blk) {
  for (int a = 0; a < 3; ++a)
    if (g.kernel[a] != 1 || g.pad_lo[a] != 0 || g.pad_hi[a] != 0) return false;
  return g.in != g.out && blk.line0 == 0 && blk.lines == out_lines(g) && cpu_has_avx512();
}

// Whether the lines that are not contiguous go through AVX-512: im2col's through the row sampler
// of the pointwise kernels (conv_pointwise.h), col2im's through col2im_add_taps_stride2. At
// stride 2 along W: ResNet-18's strided 3x3 and 7x7 layers spent 11-15% of backward data in the
// scalar adds of col2im (lines of 7 to 112 pixels). Other strides keep the plain loops.
bool strided_vector(const ConvGeometry& g) {
  return g.stride[2] == 2 && cpu_has_avx512();
}

}  // namespace

void im2col_block(const ConvGeometry& g, const float* x, int64_t grp, const ColBlock& blk,
                  float* col, bool parallel) {
  const int64_t rows = g.C_in_per_group() * g.kernel_pixels(), ld = blk.columns(g);
  const int64_t ow = g.out[2], s = g.stride[2];
  const bool contiguous = runs_contiguous(g), whole = whole_planes(g, blk);
  const bool vector = strided_vector(g);
  const std::optional<PlaneSampler> sample =
      whole ? std::optional<PlaneSampler>(std::in_place, g) : std::nullopt;
#pragma omp parallel for if (parallel) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    if (whole) {
      const float* plane = x + (blk.n0 * g.C_in + grp * g.C_in_per_group() + r) * g.in_pixels();
      for (int64_t i = 0; i < blk.images; ++i)
        (*sample)(plane + i * g.C_in * g.in_pixels(), col + r * ld + i * blk.lines * ow);
      continue;
    }
    const int64_t ic = r / g.kernel_pixels();
    const Tap t = tap_of(g, r % g.kernel_pixels());
    const LineRange w = line_range(g, t);
    for (int64_t i = 0; i < blk.images; ++i) {
      const float* plane =
          x + ((blk.n0 + i) * g.C_in + grp * g.C_in_per_group() + ic) * g.in_pixels();
      float* dst_image = col + r * ld + i * blk.lines * ow;
      for_each_run(g, blk, t, plane, [&](int64_t line, int64_t count, const float* row) {
        float* dst = dst_image + line * ow;
        if (!row) {
          std::fill_n(dst, count * ow, 0.0f);
          return;
        }
        if (contiguous && w.lo < w.hi) {
          // One span from the first line's first valid pixel to the last line's last.
          std::copy(row + w.lo + w.off, row + (count - 1) * ow + w.hi + w.off, dst + w.lo);
          for (int64_t j = 0; j < count; ++j) {
            std::fill_n(dst + j * ow, w.lo, 0.0f);
            std::fill(dst + j * ow + w.hi, dst + (j + 1) * ow, 0.0f);
          }
          return;
        }
        if (vector && w.lo < w.hi)
          strided_gather_rows(row + w.lo * s + w.off, row_step(g), s, w.hi - w.lo, count,
                              dst + w.lo, ow);
        for (int64_t j = 0; j < count; ++j, dst += ow, row += row_step(g)) {
          std::fill_n(dst, w.lo, 0.0f);
          if (!vector)
            for (int64_t o = w.lo; o < w.hi; ++o) dst[o] = row[o * s + w.off];
          std::fill(dst + w.hi, dst + ow, 0.0f);
        }
      });
    }
  }
}

void col2im_block(const ConvGeometry& g, float* col, int64_t grp, int64_t c0, int64_t channels,
                  const ColBlock& blk, float* dx, bool parallel) {
  const int64_t kp = g.kernel_pixels(), kw = g.kernel[2], ld = blk.columns(g);
  const int64_t ow = g.out[2], s = g.stride[2];
  const bool contiguous = runs_contiguous(g), whole = whole_planes(g, blk);
  // The ranges of the taps along W (the same for every kd, kh), worked out once; the vector path
  // takes them together.
  const bool grouped = kw <= kCol2imTapGroup, vector = grouped && strided_vector(g);
  LineRange taps[kCol2imTapGroup];
  for (int64_t j = 0; grouped && j < kw; ++j) taps[j] = line_range(g, {0, 0, j});
#pragma omp parallel for if (parallel) schedule(static)
  for (int64_t plane_index = 0; plane_index < blk.images * channels; ++plane_index) {
    const int64_t i = plane_index / channels, c = plane_index % channels;
    float* plane = dx + ((blk.n0 + i) * g.C_in + grp * g.C_in_per_group() + c0 + c) * g.in_pixels();
    if (whole) {
      pointwise_spread_plane(g, col + c * ld + i * blk.lines * ow, plane);
      continue;
    }
    if (blk.line0 == 0) std::fill_n(plane, g.in_pixels(), 0.0f);
    // The taps along W of one (kd, kh) add into the same dx lines: per line, in the taps' order,
    // so every dx pixel takes its col entries in the order of k.
    for (int64_t k0 = 0; k0 < kp; k0 += kw) {
      const Tap t = tap_of(g, k0);
      float* src_image = col + (c * kp + k0) * ld + i * blk.lines * ow;
      for_each_run(g, blk, t, plane, [&](int64_t line, int64_t count, float* row) {
        if (!row) return;
        float* src_line = src_image + line * ow;
        if (vector) {
          col2im_add_taps_stride2(src_line, ld, ow, taps, kw, count, row, row_step(g));
          return;
        }
        for (int64_t dk = 0; dk < kw; ++dk) {
          const LineRange w = grouped ? taps[dk] : line_range(g, {t.kd, t.kh, dk});
          if (w.lo >= w.hi) continue;
          float* src = src_line + dk * ld;
          if (contiguous) {
            // Zero the columns that read padding, then add the run as one span.
            for (int64_t j = 0; j < count; ++j) {
              std::fill_n(src + j * ow, w.lo, 0.0f);
              std::fill(src + j * ow + w.hi, src + (j + 1) * ow, 0.0f);
            }
            float* out = row + w.off;
            for (int64_t o = w.lo; o < (count - 1) * ow + w.hi; ++o) out[o] += src[o];
            continue;
          }
          float* r = row;
          for (int64_t j = 0; j < count; ++j, src += ow, r += row_step(g))
            for (int64_t o = w.lo; o < w.hi; ++o) r[o * s + w.off] += src[o];
        }
      });
    }
  }
}

void transpose_matrix(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst,
                      int64_t ldd, bool parallel) {
  constexpr int64_t kTile = 16;
  const bool vector = cpu_has_avx512();
  const int64_t tiled_rows = vector ? rows / kTile * kTile : 0;
#pragma omp parallel for if (parallel) schedule(static)
  for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
    const int64_t c1 = std::min(cols, c0 + kTile);
    const int64_t r0 = c1 - c0 == kTile ? tiled_rows : 0;
    if (r0 > 0) transpose_columns_avx512(src + c0, r0, lds, dst + c0 * ldd, ldd);
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t r = r0; r < rows; ++r) dst[c * ldd + r] = src[r * lds + c];
  }
}

void gather_images(const float* t, int64_t C, int64_t P, int64_t c0, int64_t channels, int64_t n0,
                   int64_t images, float* block, bool parallel) {
#pragma omp parallel for if (parallel) schedule(static)
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < images; ++i)
      std::copy_n(t + ((n0 + i) * C + c0 + c) * P, P, block + (c * images + i) * P);
}

void scatter_images(const float* block, const ConvEpilogue& ep, int64_t C, int64_t P, int64_t c0,
                    int64_t channels, int64_t n0, int64_t images, float* t, bool parallel) {
  const ConvEpilogue e = ep;  // a local copy: t's stores cannot alias its bounds (vectorises)
#pragma omp parallel for if (parallel) schedule(static)
  for (int64_t c = 0; c < channels; ++c) {
    const float add = e.bias ? e.bias[c0 + c] : 0.0f;
    for (int64_t i = 0; i < images; ++i) {
      const float* src = block + (c * images + i) * P;
      float* dst = t + ((n0 + i) * C + c0 + c) * P;
      for (int64_t p = 0; p < P; ++p) dst[p] = e.clamp(src[p] + add);
    }
  }
}

}  // namespace fovea::kernels
