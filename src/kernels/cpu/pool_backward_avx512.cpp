// The max pool backward in gather form, in AVX-512, for 2-D (and 1-D) pools whose windows
// overlap along H by one row at most (2x2/2, 3x3/2 pad 1, ...) with W stride 1 or 2.
//
// The reference zeroes dx, then scatters dx[index[o]] += dy[o] in output order. When every
// index lies in its own window (as the forward makes them), each dx element is instead the sum,
// in output order, of dy[o] over the windows o that hold it and whose index names it. So dx is
// written once, row piece by row piece, 16 windows at a time: for each tap, the windows' indices
// compared with the tap's positions, and dy added in the lanes that match. No zeroing pass (but
// of rows no window reads), no scalar scatter, no read-modify-write of dx; the adds are the
// reference's, in its order (a lane that does not match keeps its partial sum), so dx is the
// reference's bit for bit, NaN payloads and signed zeros included.
//
// Every (window, element inside it) pair is compared once, so the matches count the windows
// whose index lies inside them; a plane where they fall short of its outputs has an index
// elsewhere in the plane, or an invalid one, and is left to the scatter.
//
// 1 x 64 x 112² 3x3/2 and 64 x 64 x 28² 2x2/2 on one thread of the Zen 5 here: 105-113 us
// against 142-145 for the scatter, and 329-338 against 514-541.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/pool_cpu.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

// Kernel heights and widths the gather takes: its per-tap positions and masks sit in fixed
// arrays.
constexpr int64_t kMaxGatherKernel = 16;

// Bits [lo, hi) of a 16-lane mask, the bounds clamped to [0, 16].
__mmask16 lanes_between(int64_t lo, int64_t hi) {
  lo = std::clamp<int64_t>(lo, 0, 16);
  hi = std::clamp<int64_t>(hi, lo, 16);
  return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}

// How many output rows ahead the gather prefetches its plane.
constexpr int64_t kPrefetchRows = 8;

// What the gather needs of a plane's rows and columns, the same in every plane. Along a row,
// block b covers the positions p0 + [0, 16 kS) (p0 = 16 kS b - pw) and the windows ow0 + [0, 16)
// (ow0 = 16 b; window ow starts at kS ow - pw): lane l of parity t (position p0 + t + kS l) is
// read by window ow0 + l - q through its tap t + kS q.
struct GatherPlan {
  struct Block {
    int64_t ow0, p0;
    // kh W + p0 + t + kS l: the positions of parity t's lanes in row kh of a window, relative
    // to its first row; NaN (equal to no index) where p0 + t + kS l lies outside the row.
    __m512 pos[kMaxGatherKernel][2];
    __mmask16 load[kMaxGatherKernel];  // windows ow0 + l - q inside the output row
    __mmask16 store[2];                // positions p0 + [0, 16) and + [16, 32) in the row
  };
  std::vector<Block> blocks;
  std::vector<int64_t> unread;  // input rows no window reads: zero

  GatherPlan(const PoolGeometry& g, int kS) {
    const int64_t W = g.in[2], OW = g.out[2], pw = g.pad[2];
    for (int64_t ow0 = 0, p0 = -pw; p0 < W; ow0 += 16, p0 += 16 * kS) {
      Block b{};
      b.ow0 = ow0;
      b.p0 = p0;
      for (int t = 0; t < 2; ++t) {
        for (int64_t kh = 0; kh < std::min(g.kernel[1], kMaxGatherKernel); ++kh) {
          alignas(64) float pos[16];
          for (int l = 0; l < 16; ++l) {
            const int64_t w = p0 + t + kS * l;
            pos[l] = w >= 0 && w < W ? static_cast<float>(kh * W + w)
                                     : std::numeric_limits<float>::quiet_NaN();
          }
          b.pos[kh][t] = _mm512_load_ps(pos);
        }
        b.store[t] = lanes_between(-p0 - 16 * t, W - p0 - 16 * t);
      }
      for (int64_t q = 0; q < kMaxGatherKernel; ++q)
        b.load[q] = lanes_between(q - ow0, OW - ow0 + q);
      blocks.push_back(b);
    }
    const int64_t sh = g.stride[1], ph = g.pad[1];
    for (int64_t ih = 0; ih < g.in[1]; ++ih) {
      // Only the last window starting at or before ih can read it first (kernel <= stride + 1).
      const int64_t oh = std::min((ih + ph) / sh, g.out[1] - 1);
      if (ih + ph - oh * sh >= g.kernel[1]) unread.push_back(ih);
    }
  }
};

// dx of one 2-D plane (or 1-D: one row) whose windows overlap along H by one row at most
// (dilation 1, kernel <= stride + 1), W stride kS (1 or 2); kernel width kKW, height kKH and H
// stride kSH fixed at compile time where not 0. Returns how many windows' indices matched an
// element inside them. Block by block, the output rows in order, each adding to the input rows
// it reads: the reference's order of adds (windows in order within a block: q descending). Row
// kh = stride of an output row is row 0 of the next one: its sums carry over in registers.
//
// The indices are compared relative to the first input row of the window (row oh * sh - ph):
// an integer index's difference is exact, and a fractional one's stays fractional, or rounds to
// an integer only where it is below -2^23, far from the positions compared.
template <int kS, int kKW, int kKH, int kSH>
int64_t gather_plane(const PoolGeometry& g, const GatherPlan& plan, const float* dy,
                     const float* indices, float* dx) {
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2], ph = g.pad[1];
  const int64_t kw = kKW > 0 ? kKW : g.kernel[2], kh_n = kKH > 0 ? kKH : g.kernel[1];
  const int64_t sh = kSH > 0 ? kSH : g.stride[1];
  const int64_t q_top = (kw - 1) / kS;  // window offsets q: 0 .. q_top
  const bool overlap = kh_n == sh + 1;
  // Stride 2: the 32 positions of a block hold the lanes of parity 0 and 1 interleaved.
  const __m512i low_half =
      _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high_half = _mm512_add_epi32(low_half, _mm512_set1_epi32(8));
  const __m512i minus_one = _mm512_set1_epi32(-1);
  const __m512 no_window = _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN());
  __m512i matches = _mm512_setzero_si512();
  for (const int64_t ih : plan.unread) std::fill_n(dx + ih * W, W, 0.0f);
  for (const GatherPlan::Block& b : plan.blocks) {
    __m512 carry0 = _mm512_setzero_ps(), carry1 = _mm512_setzero_ps();
    // The block's masks, copied out of the plan for the compiler to keep in mask registers.
    __mmask16 load[kMaxGatherKernel];
    for (int64_t q = 0; q <= q_top; ++q) load[q] = b.load[q];
    const __mmask16 store_lo = b.store[0], store_hi = b.store[1];
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t top = oh * sh - ph;  // the window's first input row
      // The first strip brings the plane in: prefetched kPrefetchRows rows ahead (dy and the
      // indices were written by other threads, or are in DRAM; dx's lines are to be written).
      if (&b == plan.blocks.data() && oh + kPrefetchRows < OH) {
        const int64_t ahead = oh + kPrefetchRows;
        for (int64_t o = 0; o < OW; o += 16) {
          _mm_prefetch(reinterpret_cast<const char*>(dy + ahead * OW + o), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(indices + ahead * OW + o), _MM_HINT_T0);
        }
        // dx: the rows of its window below the previous one's.
        const int64_t last = std::min(H, ahead * sh - ph + kh_n);
        const int64_t first = std::max<int64_t>(0, last - sh);
        for (int64_t i = first * W; i < last * W; i += 16)
          _mm_prefetch(reinterpret_cast<const char*>(dx + i), _MM_HINT_ET0);
      }
      const __m512 base = _mm512_set1_ps(static_cast<float>(top * W));
      // The indices (relative to row top; NaN, equal to no position, for windows outside the
      // output row) and gradients of windows ow0 + l - q.
      __m512 iv[kMaxGatherKernel], dv[kMaxGatherKernel];
      for (int64_t q = 0; q <= q_top; ++q) {
        iv[q] = _mm512_sub_ps(
            _mm512_mask_loadu_ps(no_window, load[q], indices + oh * OW + b.ow0 - q), base);
        dv[q] = _mm512_maskz_loadu_ps(load[q], dy + oh * OW + b.ow0 - q);
      }
      for (int64_t kh = 0; kh < kh_n; ++kh) {
        const int64_t ih = top + kh;
        if (ih < 0 || ih >= H) continue;
        const bool carried = overlap && kh == 0 && oh > 0;
        __m512 acc0 = carried ? carry0 : _mm512_setzero_ps();
        __m512 acc1 = carried ? carry1 : _mm512_setzero_ps();
        // dy added in the lanes whose window's index names the lane's position.
        const auto tap = [&](__m512& acc, int64_t q, const __m512& pos) {
          const __mmask16 hit = _mm512_cmp_ps_mask(iv[q], pos, _CMP_EQ_OQ);
          acc = _mm512_mask_add_ps(acc, hit, acc, dv[q]);
          matches = _mm512_mask_sub_epi32(matches, hit, matches, minus_one);
        };
        for (int64_t q = q_top; q >= 0; --q) {
          tap(acc0, q, b.pos[kh][0]);
          if (kS == 2 && 1 + 2 * q < kw) tap(acc1, q, b.pos[kh][1]);
        }
        if (overlap && kh == sh && oh + 1 < OH) {
          carry0 = acc0;
          carry1 = acc1;
          continue;
        }
        float* out = dx + ih * W + b.p0;
        if constexpr (kS == 1) {
          _mm512_mask_storeu_ps(out, store_lo, acc0);
        } else {
          _mm512_mask_storeu_ps(out, store_lo, _mm512_permutex2var_ps(acc0, low_half, acc1));
          _mm512_mask_storeu_ps(out + 16, store_hi, _mm512_permutex2var_ps(acc0, high_half, acc1));
        }
      }
    }
  }
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, matches);
  int64_t total = 0;
  for (const int32_t n : lanes) total += n;
  return total;
}

// Whether the geometry's windows are those of a window pool: out is the pool's output size in
// floor or ceil mode along every axis. Adaptive max pooling shares the backward with a geometry
// whose kernel and stride are not set; its windows are not these.
bool window_geometry(const PoolGeometry& g) {
  for (int a = 0; a < 3; ++a) {
    const int64_t span = g.in[a] + 2 * g.pad[a] - g.dilation[a] * (g.kernel[a] - 1) - 1;
    if (span < 0) return false;
    const int64_t floor_out = span / g.stride[a] + 1;
    if (g.out[a] != floor_out && g.out[a] != floor_out + 1) return false;
  }
  return true;
}

}  // namespace

bool max_pool_backward_gather_avx512_supports(const PoolGeometry& g) noexcept {
  return cpu_has_avx512() && g.in[0] == 1 && g.kernel[0] == 1 && g.pad[0] == 0 &&
         g.dilation[1] == 1 && g.kernel[1] <= g.stride[1] + 1 && g.kernel[1] <= kMaxGatherKernel &&
         (g.stride[2] == 1 || g.stride[2] == 2) && g.dilation[2] == 1 &&
         g.kernel[2] <= kMaxGatherKernel && window_geometry(g);
}

void max_pool_backward_gather_avx512(const PoolGeometry& g, const float* dy, const float* indices,
                                     float* dx, uint8_t* gathered) noexcept {
  const int kS = static_cast<int>(g.stride[2]);
  const GatherPlan plan(g, kS);
  const int64_t P_in = g.in_pixels(), P_out = g.out_pixels();
  const int64_t kw = g.kernel[2], kh = g.kernel[1];
  // The common windows (2x2/2, 3x3/2) with their loops unrolled.
  const bool stride2 = kS == 2 && g.stride[1] == 2;
  const auto kernel = kS == 1                         ? gather_plane<1, 0, 0, 0>
                      : stride2 && kw == 2 && kh == 2 ? gather_plane<2, 2, 2, 2>
                      : stride2 && kw == 3 && kh == 3 ? gather_plane<2, 3, 3, 2>
                                                      : gather_plane<2, 0, 0, 0>;
#pragma omp parallel for schedule(static) if (g.planes() * P_out >= kPoolMinParallelOutputs)
  for (int64_t plane = 0; plane < g.planes(); ++plane)
    gathered[plane] =
        kernel(g, plan, dy + plane * P_out, indices + plane * P_out, dx + plane * P_in) == P_out;
}

}  // namespace fovea::kernels
