// The AVX-512 half of the grouped kernels (conv_grouped.h). Every load of a source plane is a
// masked load of 16 consecutive flattened positions at q + off[k]: the mask table (built once
// per call) keeps the lanes whose destination exists and whose source element lies inside the
// plane, so the padding reads as zeros and no padded copy is made. Only the entry points leave
// this file (internal linkage below), so no function compiled for AVX-512 can be picked by the
// linker for code that runs before supports() said yes.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/cpu/conv_grouped.h"
#include "kernels/cpu/conv_grouped_plan.h"
#include "kernels/cpu/simd_avx512.h"

#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

namespace fovea::kernels {
namespace {

using avx512::Clamp;
using avx512::first_lanes;
using avx512::sum_each;

constexpr int64_t kLanes = kGroupedLanes;

// base + i as an address only: i may reach before the plane's start or past its end, where
// C++ forbids forming the pointer, but the masked loads given it never touch the lanes out
// there (AVX-512 suppresses their faults).
const float* lane_address(const float* base, int64_t i) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(base) + i * sizeof(float));
}

// The mask table lives in the float workspace: read and written through memcpy (one 16-bit
// load or store), which leaves the floats' type alone.
__mmask16 mask_at(const float* table, int64_t i) {
  uint16_t m;
  std::memcpy(&m, reinterpret_cast<const char*>(table) + i * sizeof(uint16_t), sizeof m);
  return m;
}

// table[v·K + k] = the lanes of destination vector v that exist and whose tap-k source
// element lies inside the source plane.
void build_masks(const GroupedPlan& p, float* table) {
  alignas(64) int32_t row[kLanes], col[kLanes];
  for (int64_t v = 0; v < p.vectors; ++v) {
    const int64_t q0 = v * kLanes;
    for (int64_t l = 0; l < kLanes; ++l) {
      row[l] = static_cast<int32_t>((q0 + l) / p.width);
      col[l] = static_cast<int32_t>((q0 + l) % p.width);
    }
    const __m512i r = _mm512_load_si512(row), c = _mm512_load_si512(col);
    const __mmask16 exists = first_lanes(p.dst_pixels - q0);
    for (int k = 0; k < p.K; ++k) {
      const __m512i sr = _mm512_add_epi32(r, _mm512_set1_epi32(static_cast<int32_t>(p.dh[k])));
      const __m512i sc = _mm512_add_epi32(c, _mm512_set1_epi32(static_cast<int32_t>(p.dw[k])));
      const __mmask16 inside =
          _mm512_cmpge_epi32_mask(sr, _mm512_setzero_si512()) &
          _mm512_cmplt_epi32_mask(sr, _mm512_set1_epi32(static_cast<int32_t>(p.src_h))) &
          _mm512_cmpge_epi32_mask(sc, _mm512_setzero_si512()) &
          _mm512_cmplt_epi32_mask(sc, _mm512_set1_epi32(static_cast<int32_t>(p.width)));
      const uint16_t m = exists & inside;
      std::memcpy(reinterpret_cast<char*>(table) + (v * p.K + k) * sizeof m, &m, sizeof m);
    }
  }
}

// f(integral_constant<int, i>) for i = 0 .. N-1: register tiles indexed by constants in the
// source, so that keeping the accumulators in registers does not wait on GCC's unrolling.
template <int N, class F>
void unroll(F&& f) {
  [&]<int... i>(std::integer_sequence<int, i...>) {
    (f(std::integral_constant<int, i>{}), ...);
  }
  (std::make_integer_sequence<int, N>{});
}

// One register tile of a forward-shaped pass: B destination channels x R vectors of
// positions from v0, each sum started at init[j] and taken over the taps (outer) and the
// source channels (inner), one FMA each. src: the group's first source plane; wp: the block's
// packed weights, B consecutive floats per (tap, source channel). Stores channel j to out[j]
// (channels past a group's last repeat it: the same sums to the same place, stored again,
// which costs less than a condition per store; with one, GCC keeps acc in memory).
template <int B, int R>
void dst_tile(const GroupedPlan& p, const float* masks, const float* src, const float* wp,
              int64_t v0, const float* init, const Clamp& clamp, float* const* out) {
  __m512 acc[B][R];
  unroll<B>([&](auto j) { unroll<R>([&](auto r) { acc[j][r] = _mm512_set1_ps(init[j]); }); });
  const int64_t q0 = v0 * kLanes;
  // Locals: the stores below cannot alias them, so they stay in registers.
  const int64_t K = p.K, src_ch = p.src_ch, src_pixels = p.src_pixels;
  for (int64_t k = 0; k < K; ++k) {
    __mmask16 m[R];
    unroll<R>([&](auto r) { m[r] = mask_at(masks, (v0 + r) * K + k); });
    const float* s = lane_address(src, q0 + p.off[k]);
    for (int64_t c = 0; c < src_ch; ++c, s += src_pixels, wp += B) {
      __m512 xv[R];
      unroll<R>([&](auto r) { xv[r] = _mm512_maskz_loadu_ps(m[r], lane_address(s, r * kLanes)); });
      unroll<B>([&](auto j) {
        const __m512 wv = _mm512_set1_ps(wp[j]);
        unroll<R>([&](auto r) { acc[j][r] = _mm512_fmadd_ps(xv[r], wv, acc[j][r]); });
      });
    }
  }
  unroll<B>([&](auto j) {
    unroll<R>([&](auto r) {
      const int64_t q = q0 + r * kLanes;
      _mm512_mask_storeu_ps(out[j] + q, first_lanes(p.dst_pixels - q),
                            clamp.on ? clamp(acc[j][r]) : acc[j][r]);
    });
  });
}

using TileFn = void (*)(const GroupedPlan&, const float*, const float*, const float*, int64_t,
                        const float*, const Clamp&, float* const*);

// Tiles of 8 destination channels x 3 vectors (24 accumulators, 3 source vectors and a
// broadcast weight), or 4 x 6 for the last 4 or fewer of a group; tiles[r - 1] takes the last r
// vectors of a plane.
template <int B, int... R>
constexpr std::array<TileFn, sizeof...(R)> kTiles = {dst_tile<B, R>...};

// A group's blocks of destination channels: 8 at a time, the last 4 or fewer in a block of 4
// (12 per group: 8 + 4). f(first channel, block width, channels that exist).
template <class F>
void for_each_block(const GroupedPlan& p, F&& f) {
  for (int64_t j0 = 0, B = 8; j0 < p.dst_ch; j0 += B) {
    B = p.dst_ch - j0 <= 4 ? 4 : 8;
    f(j0, B, static_cast<int>(std::min<int64_t>(B, p.dst_ch - j0)));
  }
}

// Up to 8 (source channel, tap) pairs whose weights lie in consecutive floats of each
// destination channel's row, from offset `first` on: pair i goes to packed pair to[i].
struct PackRun {
  int32_t first, n;
  int16_t to[8];
};
// The forward's rows are one run over (source channel, tap), backward data's one per source
// channel (taps reversed): at most this many runs of 8.
constexpr int kMaxPackRuns = kGroupedMaxChannels * ((kGroupedMaxTaps + 7) / 8);

// The runs of a pass, the same for every group and block; returns their count.
int pack_runs(const GroupedPlan& p, PackRun* runs) {
  int count = 0;
  for (int64_t c = 0; c < p.src_ch; ++c)
    for (int64_t i = 0; i < p.K; ++i) {
      // The pairs in the order they lie in a row: taps upwards, or (reversed) downwards.
      const int64_t k = p.tap_step > 0 ? i : p.K - 1 - i;
      const auto at = static_cast<int32_t>(c * p.src_stride + k * p.tap_step);
      if (count == 0 || runs[count - 1].n == 8 || at != runs[count - 1].first + runs[count - 1].n)
        runs[count++] = PackRun{at, 0, {}};
      PackRun& run = runs[count - 1];
      run.to[run.n++] = static_cast<int16_t>(k * p.src_ch + c);
    }
  return count;
}

// One group's weights (w: the group's first) packed block by block as (tap, source channel,
// channel of the block) into packed (GroupedPlan::packed_floats); channels past the group's
// last repeat it. The tiles' 8 broadcasts then read consecutive floats from one pointer: read
// in place, at 8 runtime offsets, they held 8 general registers, and GCC spilled a source
// vector to the stack, read back by each of its 8 FMAs. A run's floats of the block's rows are
// loaded as vectors and transposed in registers: element by element (8 loads and 8 stores per
// pair), the g=32 layer's batch-1 forward and backward data (a group packed per item) took 5%
// longer on the Zen 4 (2 threads, 12 alternating runs, min 0.0420 ms against 0.0398).
void pack_weights(const GroupedPlan& p, const PackRun* runs, int count, const float* w,
                  float* packed) {
  for_each_block(p, [&](int64_t j0, int64_t B, int real) {
    const float* rows[8];
    for (int64_t j = 0; j < B; ++j)
      rows[j] = w + p.tap0 + (j0 + std::min<int64_t>(j, real - 1)) * p.dst_stride;
    float* out = packed + j0 * p.src_ch * p.K;
    const auto lanes = static_cast<__mmask8>((1u << B) - 1);
    for (const PackRun* run = runs; run < runs + count; ++run) {
      const auto m = static_cast<__mmask8>((1u << run->n) - 1);
      __m256 r[8];
      for (int64_t j = 0; j < 8; ++j)
        r[j] = j < B ? _mm256_maskz_loadu_ps(m, rows[j] + run->first) : _mm256_setzero_ps();
      avx512::transpose8x8(r);
      for (int i = 0; i < run->n; ++i) _mm256_mask_storeu_ps(out + run->to[i] * B, lanes, r[i]);
    }
  });
}

// One (image, group) item of a forward-shaped pass: every destination plane of the group.
// packed: the group's packed weights; bias: the group's first channel's bias, or null.
void dst_planes(const GroupedPlan& p, const float* masks, const float* src, const float* packed,
                const float* bias, const Clamp& clamp, float* dst) {
  for_each_block(p, [&](int64_t j0, int64_t B, int count) {
    const bool narrow = B == 4;
    const int64_t R = narrow ? 6 : 3;
    // Channels past the group's last compute and store a copy of it.
    float* out[8];
    float init[8];
    for (int j = 0; j < B; ++j) {
      const int64_t jj = j0 + std::min(j, count - 1);
      out[j] = dst + jj * p.dst_pixels;
      init[j] = bias ? bias[jj] : 0.0f;
    }
    const float* wp = packed + j0 * p.src_ch * p.K;
    for (int64_t v0 = 0, rows = R; v0 < p.vectors; v0 += rows) {
      // A last 8 x 1 tile (one load, 8 broadcasts and 8 FMAs per step, 8 chains of latency)
      // ran at half speed and took 10% of a 14x14 forward: 3 + 1 last vectors go as 2 + 2.
      const int64_t left = p.vectors - v0;
      rows = std::min<int64_t>(R, left == R + 1 && !narrow ? 2 : left);
      const TileFn tile =
          narrow ? kTiles<4, 1, 2, 3, 4, 5, 6>[rows - 1] : kTiles<8, 1, 2, 3>[rows - 1];
      tile(p, masks, src, wp, v0, init, clamp, out);
    }
  });
}

// The threads' parts of the workspace, on a cache line (GroupedPlan::thread_offset).
float* thread_parts(const GroupedPlan& p, float* workspace) {
  float* start = workspace + p.thread_offset() - 16;
  const auto misaligned = reinterpret_cast<uintptr_t>(start) % 64;
  return start + (64 - misaligned) % 64 / sizeof(float);
}

// A forward-shaped pass: items (group, image), group-major, split over the threads in
// contiguous runs, each item computed whole by one thread; a thread packs a group's weights
// when its run reaches the group (at batch 16 on 2 threads: each packs 16 groups once).
void run_dst(const GroupedPlan& p, const float* src, const float* w, const ConvEpilogue& ep,
             float* dst, float* workspace) {
  build_masks(p, workspace);
  const Clamp clamp(ep);
  const int64_t items = p.N * p.groups;
  const int64_t group_weights = p.src_ch * p.dst_ch * p.K;
  float* parts = thread_parts(p, workspace);
  PackRun runs[kMaxPackRuns];
  const int run_count = pack_runs(p, runs);
#pragma omp parallel if (items > 1)
  {
    float* packed = parts + omp_get_thread_num() * p.packed_floats();
    int64_t packed_group = -1;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < items; ++i) {
      const int64_t grp = i / p.N, n = i % p.N;
      if (grp != packed_group) {
        pack_weights(p, runs, run_count, w + grp * group_weights, packed);
        packed_group = grp;
      }
      const int64_t plane_set = n * p.groups + grp;  // this image's planes of the group
      dst_planes(p, workspace, src + plane_set * p.src_ch * p.src_pixels, packed,
                 ep.bias ? ep.bias + grp * p.dst_ch : nullptr, clamp,
                 dst + plane_set * p.dst_ch * p.dst_pixels);
    }
  }
}

// Where a weight tile's sums start and end: partial[j][c][k] (16 lanes each, channel_stride
// floats from j to j+1); zeros instead for the group's first images; for its last, the lanes
// summed into dw (dw_stride floats from j to j+1, the first `count` channels only).
struct WeightSums {
  float* partial;
  int64_t channel_stride;
  bool first;
  float* dw;  // null but for the group's last images
  int64_t dw_stride;
  int count;
};

// acc[j][t] += sum over `images` images i and the destination positions q of dy_ij[q] ·
// x_ic[q + off[k0 + t]], for J destination channels j (dy: copy_dy's copy from channel j0 on,
// dy_stride apart from image to image) and taps k0 .. k0+T-1 of one source plane x_c (x_stride
// apart): J x T accumulators, per vector of positions T x loads (held) and J dy loads (each
// used T times).
template <int J, int T>
void weight_tile(const GroupedPlan& p, const float* masks, const float* x, int64_t x_stride,
                 const float* dy, int64_t dy_stride, int64_t images, int k0,
                 const WeightSums& out) {
  __m512 acc[J][T];
  unroll<J>([&](auto j) {
    unroll<T>([&](auto t) {
      acc[j][t] = out.first ? _mm512_setzero_ps()
                            : _mm512_loadu_ps(out.partial + j * out.channel_stride + t * kLanes);
    });
  });
  const int64_t K = p.K, vectors = p.vectors, dy_vector = p.dst_blocks4() * kLanes;
  int64_t off[T];
  unroll<T>([&](auto t) { off[t] = p.off[k0 + t]; });
  for (int64_t i = 0; i < images; ++i, x += x_stride, dy += dy_stride)
    for (int64_t v = 0; v < vectors; ++v) {
      const int64_t q = v * kLanes;
      __m512 xv[T];
      unroll<T>([&](auto t) {
        xv[t] = _mm512_maskz_loadu_ps(mask_at(masks, v * K + k0 + t), lane_address(x, q + off[t]));
      });
      const float* dyv = dy + v * dy_vector;
      unroll<J>([&](auto j) {
        __m512 d = _mm512_load_ps(dyv + j * kLanes);
        // Opaque to GCC, which would otherwise fold the load into each of the T FMAs: T loads
        // of the same vector, which left the loads, not the FMAs, the bottleneck.
        asm("" : "+v"(d));
        unroll<T>([&](auto t) { acc[j][t] = _mm512_fmadd_ps(d, xv[t], acc[j][t]); });
      });
    }
  if (out.dw) {
    // Summed from a copy: with acc's own address taken, GCC kept acc in registers but also
    // stored all J x T of them to the stack on every vector of the loop above, which on a
    // core with one 512-bit store per cycle (Ice Lake) left the kernel at under half its speed
    // (34 against 77 GFLOP/s on one thread).
    __m512 flat[J * T];
    unroll<J>([&](auto j) { unroll<T>([&](auto t) { flat[j * T + t] = acc[j][t]; }); });
    alignas(64) float sums[J * T];
    sum_each(flat, J * T, sums);
    for (int j = 0; j < out.count; ++j)
      for (int t = 0; t < T; ++t) out.dw[j * out.dw_stride + t] = sums[j * T + t];
    return;
  }
  unroll<J>([&](auto j) {
    unroll<T>([&](auto t) {
      _mm512_storeu_ps(out.partial + j * out.channel_stride + t * kLanes, acc[j][t]);
    });
  });
}

using WeightTileFn = void (*)(const GroupedPlan&, const float*, const float*, int64_t, const float*,
                              int64_t, int64_t, int, const WeightSums&);
// Tiles of 8 channels x 3 taps (24 accumulators, 3 x vectors and a dy vector: 8 aligned and 3
// masked loads per 24 FMAs), or 4 x 5 for a group's last 4 or fewer channels; tiles[t - 1]
// takes the last t taps.
template <int J, int... T>
constexpr std::array<WeightTileFn, sizeof...(T)> kWeightTiles = {weight_tile<J, T>...};

// One image's dy planes of a group (cog of them, dst_pixels apart at src) copied to dst in whole
// vectors, vector by vector: vector v of channel j at (v · blocks + j) · 16 (blocks:
// dst_blocks4), zeros past the last position, on cache lines. A tile's loads of one vector of
// its channels then lie at fixed offsets from one pointer, where a plane per channel took a
// general register per channel (the g=32 layer's weight gradient 2.6-3.7% slower at batch 16
// and 1, Zen 4). Whole vectors with plain loads, the mask on the last alone: with a mask made
// for every vector, the copy took 3.5 cycles a vector.
void copy_dy(const GroupedPlan& p, const float* src, float* dst) {
  const int64_t n = p.dst_pixels, step = p.dst_blocks4() * kLanes;
  for (int64_t j = 0; j < p.dst_ch; ++j, src += n) {
    float* out = dst + j * kLanes;
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes, out += step)
      _mm512_store_ps(out, _mm512_loadu_ps(src + i));
    if (i < n) _mm512_store_ps(out, _mm512_maskz_loadu_ps(first_lanes(n - i), src + i));
  }
}

}  // namespace

void conv_forward_grouped(const ConvGeometry& g, const float* x, const float* w,
                          const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  run_dst(grouped_plan(g, ConvPass::kForward), x, w, ep, y, workspace);
}

void conv_backward_data_grouped(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                                float* workspace) noexcept {
  run_dst(grouped_plan(g, ConvPass::kBackwardData), dy, w, ConvEpilogue{}, dx, workspace);
}

void conv_backward_weight_grouped(const ConvGeometry& g, const float* x, const float* dy, float* dw,
                                  float* workspace) noexcept {
  const GroupedPlan p = grouped_plan(g, ConvPass::kBackwardWeight);
  build_masks(p, workspace);
  // The threads' parts on a cache line: the dy copies are read with aligned loads.
  float* parts = thread_parts(p, workspace);
  const int64_t K = p.K, cig = p.src_ch, cog = p.dst_ch, plane = p.plane_floats();
  const int64_t channel_stride = cig * K * kLanes;  // between destination channels
  // Each thread owns whole groups and sums their images in order: one order for any team.
#pragma omp parallel if (p.groups > 1)
  {
    float* partial = parts + omp_get_thread_num() * p.weight_thread_floats();
    float* dy_copy = partial + p.partial_floats();
    const int64_t blocks = p.dst_blocks4(), images = p.weight_images();
    // Channels past the group's last stay zero: their sums are not kept.
    std::fill_n(dy_copy, images * blocks * plane, 0.0f);
#pragma omp for schedule(static)
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      float* dw_group = dw + grp * cog * cig * K;  // (cog, cig, K)
      for (int64_t n0 = 0; n0 < p.N; n0 += images) {
        const int64_t count = std::min(images, p.N - n0);
        const float* xs = x + (n0 * p.groups + grp) * cig * p.src_pixels;
        for (int64_t i = 0; i < count; ++i)
          copy_dy(p, dy + ((n0 + i) * p.groups + grp) * cog * p.dst_pixels,
                  dy_copy + i * blocks * plane);
        const bool last = n0 + count == p.N;
        // Blocks of 8 channels in tiles of 8 x 3 taps, a last one of 4 or fewer in 4 x 5.
        for_each_block(p, [&](int64_t j0, int64_t B, int real) {
          const int T = B == 8 ? 3 : 5;
          for (int64_t c = 0; c < cig; ++c)
            for (int k0 = 0; k0 < p.K; k0 += T) {
              const int64_t at = (j0 * cig + c) * K + k0;  // weight (j0, c, k0) of the group
              const WeightSums sums{.partial = partial + at * kLanes,
                                    .channel_stride = channel_stride,
                                    .first = n0 == 0,
                                    .dw = last ? dw_group + at : nullptr,
                                    .dw_stride = cig * K,
                                    .count = real};
              const int taps = std::min(T, p.K - k0);
              const WeightTileFn tile = B == 8 ? kWeightTiles<8, 1, 2, 3>[taps - 1]
                                               : kWeightTiles<4, 1, 2, 3, 4, 5>[taps - 1];
              tile(p, workspace, xs + c * p.src_pixels, p.groups * cig * p.src_pixels,
                   dy_copy + j0 * kLanes, blocks * plane, count, k0, sums);
            }
        });
      }
    }
  }
}

}  // namespace fovea::kernels
