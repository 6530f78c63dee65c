// The direct convolution kernels, written once over a vector-traits struct V and compiled once
// per instruction set. Not a normal header: each ISA's translation unit
// (conv_direct_avx512.cpp, conv_direct_avx2.cpp) includes the standard headers, <omp.h>,
// <immintrin.h> and conv_direct_plan.h first, then its `#pragma GCC target`, and then this
// file inside an anonymous namespace of fovea::kernels next to its traits struct, so nothing
// compiled for one instruction set is shared with another translation unit.
//
// V provides: Vec, kLanes; kOcBlock x kPixelVecs forward accumulators (output channels x
// vectors of virtual outputs); kWeightOcs x kWeightTaps backward-weight accumulators (output
// channels x taps); kLanePairs and kLaneOuts, the most broadcasts per block for 1, 2, ...
// vectors of channels of the kernels with output channels in the lanes; zero, load, store,
// store_lanes (a range of lanes), broadcast, fma, clamp, sum_each (the horizontal sums of n
// vectors), in_register (keeps a loaded vector in a register), copy_n, zero_n and copy_even_n
// (dst[j] = src[2 j]; any length), transpose_block (kLanes x kLanes), PieceTranspose (kLanes
// rows of k < kLanes floats laid one after another, transposed); optionally
// split_row_pair (both stride-2 column phases of a padded row in one pass) and pad_span (16
// floats of a small padded plane, DirectPlan::spans). Vec supports + (the weight gradient's
// parts added up).
//
// Layouts: see conv_direct_plan.h.
// Threads split output-channel blocks and runs of outputs (or, with many groups, whole
// groups), so every output element is summed in one order whatever the thread count.

// Forward work items cover this many vectors of virtual outputs: the padded inputs they read
// stay in L1 while the item runs over its output-channel block's weights.
constexpr int64_t kChunkVecs = 24;

inline int64_t div_up(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Asks for floats [p, p + n) in cache. Split by groups, a thread prefetches the next group's
// inputs while it computes the current one: read only when padding them, the channel slices
// of scattered images wait on DRAM (padding was half of the grouped layer's backward weight
// time at batch 16 in a profile).
inline void prefetch(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) __builtin_prefetch(p + i);
}

// Pads channel `src` (in) of one image into dst, its slot in phase 0 of a padded channel
// (phases at stride images * plane): phase-plane rows [row0, row1) of each phase (rows
// counted over depth and height, jd * Hq + jh), by default all. With stride 2 across and
// V::split_row_pair (AVX-512), both column phases of a row come out of one pass over it. A
// whole small plane with V::pad_span (AVX-512) is a load, a permute and a store per 16 floats
// (DirectPlan::spans): row by row, the zero fills and copies of 7 floats at a time were 4.7% of
// ResNet-18 layer 4's forward at batch 16 (whose threads each pad every input), 1.35% so; that
// forward 7.31 ms against 7.55 and its backward data 7.43 against 7.70 (2 threads, Zen 5, 6
// alternating runs, tenth percentiles), the Fashion-MNIST CNN's second layer's backward data at
// batch 64 0.97 against 1.07.
template <class V>
void pad_channel(const DirectPlan& p, const float* src, float* dst, int64_t row0 = 0,
                 int64_t row1 = -1) {
  if (row1 < 0) row1 = p.q[0] * p.q[1];
  if constexpr (requires(const DirectSpan& s) { V::pad_span(src, s, dst); }) {
    if (p.spans > 0 && row0 == 0 && row1 == p.q[0] * p.q[1]) {
      for (int s = 0; s < p.spans; ++s) V::pad_span(src, p.span[s], dst + 16 * s);
      return;
    }
  }
  const int64_t sD = p.stride[0], sH = p.stride[1], sW = p.stride[2];
  const int64_t phase_floats = p.images * p.plane;
  constexpr bool kHasPairs = requires(const float* s, float* d, int64_t i) {
    V::split_row_pair(s, i, i, d, d, i);
  };
  const bool pairs = kHasPairs && sW == 2;
  for (int64_t pd = 0; pd < sD; ++pd)
    for (int64_t ph = 0; ph < sH; ++ph)
      for (int64_t pw = 0; pw < sW; pw += pairs ? 2 : 1) {
        float* phase = dst + ((pd * sH + ph) * sW + pw) * phase_floats;
        // Phase-plane columns jw whose source column jw*sW - lo lies in [0, in).
        const int64_t lo = p.pad_lo[2] - pw;
        const int64_t w_lo = std::clamp<int64_t>(div_up(std::max<int64_t>(lo, 0), sW), 0, p.q[2]);
        const int64_t w_hi =
            std::clamp<int64_t>(p.in[2] + lo <= 0 ? 0 : div_up(p.in[2] + lo, sW), w_lo, p.q[2]);
        // Row r = jd * Hq + jh, walked without a division per row. Only what no input lands
        // on is zeroed: padding rows, the columns left and right of the input's, and the
        // plane's tail past the last row (up to 15 floats); zeroing whole planes first was a
        // third of the stores.
        for (int64_t r = row0, jd = row0 / p.q[1], jh = row0 % p.q[1]; r < row1;
             ++r, jh = jh + 1 == p.q[1] ? 0 : jh + 1, jd += jh == 0) {
          const int64_t id = jd * sD + pd - p.pad_lo[0];
          const int64_t ih = jh * sH + ph - p.pad_lo[1];
          float* row = phase + r * p.q[2];
          if (id < 0 || id >= p.in[0] || ih < 0 || ih >= p.in[1]) {
            V::zero_n(row, p.q[2]);
            if (pairs) V::zero_n(row + phase_floats, p.q[2]);
            continue;
          }
          const float* s = src + (id * p.in[1] + ih) * p.in[2];
          if constexpr (kHasPairs) {
            if (pairs) {
              V::split_row_pair(s, p.in[2], p.pad_lo[2], row, row + phase_floats, p.q[2]);
              continue;
            }
          }
          V::zero_n(row, w_lo);
          V::zero_n(row + w_hi, p.q[2] - w_hi);
          if (sW == 1) {
            V::copy_n(s + w_lo - lo, row + w_lo, w_hi - w_lo);
          } else if (sW == 2) {
            V::copy_even_n(s + 2 * w_lo - lo, row + w_lo, w_hi - w_lo);
          } else {
            for (int64_t jw = w_lo; jw < w_hi; ++jw) row[jw] = s[jw * sW - lo];
          }
        }
        if (row1 == p.q[0] * p.q[1])
          for (int64_t c = 0; c < (pairs ? 2 : 1); ++c)
            V::zero_n(phase + c * phase_floats + row1 * p.q[2], p.plane - row1 * p.q[2]);
      }
}

// Pads phase-plane rows [row0, row1) (pad_channel; by default all) of channel ic of image n
// of x (N, C_in, in) into dst, asking for the input rows they read of the image's next channel
// meanwhile: the rows of each stride phase are read apart, and without the prefetch padding
// waited on memory (18% of ResNet-18 layer 2's forward at batch 16, 19% of its weight
// gradient; 8% with it).
template <class V>
void pad_image_channel(const DirectPlan& p, const float* x, int64_t n, int64_t ic, float* dst,
                       int64_t row0 = 0, int64_t row1 = -1) {
  const int64_t rows = p.q[0] * p.q[1];
  if (row1 < 0) row1 = rows;
  const float* src = x + (n * p.C_in + ic) * p.in_pixels();
  if (ic + 1 < p.C_in) {
    // Planar: the input rows of phase rows [row0, row1); 3D (rows over depth too): all.
    auto in_row = [&](int64_t r) {
      return std::clamp<int64_t>(r * p.stride[1] - p.pad_lo[1], 0, p.in[1]);
    };
    const bool planar = p.q[0] == 1;
    const int64_t i0 = planar ? in_row(row0) : 0;
    const int64_t i1 = planar ? (row1 == rows ? p.in[1] : in_row(row1)) : p.in[1] * p.in[0];
    prefetch(src + p.in_pixels() + i0 * p.in[2], (i1 - i0) * p.in[2]);
  }
  pad_channel<V>(p, src, dst, row0, row1);
}

// Zeroes the slack of every channel of the padded chunk(s) at x: padding never writes it.
template <class V>
void zero_slack(const DirectPlan& p, float* x) {
  for (int64_t c = 0; c < p.copies * p.copy_ics; ++c)
    V::zero_n(x + (c + 1) * p.chan - kDirectSlack, kDirectSlack);
}

// dst (plane) = output-shaped row src (out) in the virtual layout, zeros elsewhere.
template <class V>
void virtual_row(const DirectPlan& p, const float* src, float* dst) {
  V::zero_n(dst, p.plane);
  for (int64_t od = 0; od < p.out[0]; ++od)
    for (int64_t oh = 0; oh < p.out[1]; ++oh, src += p.out[2])
      V::copy_n(src, dst + (od * p.q[1] + oh) * p.q[2], p.out[2]);
}

// y (OC rows from yb, stride P) = clamp(bias + sum over ic, k of w (oc, ic, k) * x (ic, q0 + q +
// tap[k])) at the real outputs among virtual positions [q0, q0 + PV * kLanes): the ns segments
// seg (direct_segments). w0 is the block's first weight row
// (cig, K). Weights are read in place: every broadcast is a load anyway, and the OC rows are
// OC sequential streams, so packing them (a pass over all weights per call) would cost more
// than it saves on layers with few pixels per weight.
// Where a forward tile goes: its segments of real outputs in y (from output channel row yb,
// row stride P) and the epilogue.
struct ForwardSink {
  const ConvEpilogue& ep;
  const DirectSegment* seg;
  int ns;
  float* yb;
};

// How many input channels ahead forward_block asks for backward data's weight rows: one
// channel's 9 taps of an 8 x 2-vector tile take about 70 cycles at the FMA peak, a DRAM
// round trip several times that. ResNet-18 layer 4 at batch 1, 2 threads, 30 alternating runs:
// tenth percentile 2.20 ms with it, 3.80 without (layer 3 the same either way).
constexpr int64_t kWeightRowsAhead = 4;

// Forward tiles over at most this many (input channel, tap) pairs store their sums straight
// from the registers (kInRegisters): MobileNet-v2's stem (27 pairs) 1.3x, the g=32 grouped
// layer (72) 1.1x, ResNet's stem (147) 1.07x faster than through a tile in memory. The code
// for it costs the tile loop registers, though: with 2304 pairs (ResNet layer 4) that loop ran
// 15% slower, so larger tiles go through memory, in their own instantiation.
constexpr int64_t kStoreFromRegistersPairs = 256;

template <class V, int OC, int PV, bool kInRegisters>
void forward_block(const DirectPlan& p, const float* xg, const float* w0, const float* bias,
                   int64_t q0, const ForwardSink& sink) {
  using Vec = typename V::Vec;
  constexpr int L = V::kLanes;
  Vec acc[OC][PV];
  for (int o = 0; o < OC; ++o)
    for (int v = 0; v < PV; ++v) acc[o][v] = bias ? V::broadcast(bias + o) : V::zero();
  const int K = p.K;
  const int64_t w_oc = p.w_oc, w_ic = p.w_ic;
  // Backward data's weight rows (one per input channel) lie a page or more apart, which the
  // hardware prefetchers do not follow: each is asked for kWeightRowsAhead channels ahead.
  const bool strided = w_ic > K;
  for (int64_t ic = 0; ic < p.cig; ++ic) {
    const float* xc = xg + ic * p.chan + q0;
    const float* wc = w0 + ic * w_ic;
    if (strided && ic + kWeightRowsAhead < p.cig)
      prefetch(wc + kWeightRowsAhead * w_ic, (OC - 1) * w_oc + K);
    for (int k = 0; k < K; ++k) {
      const float* xk = xc + p.tap[k];
      Vec xv[PV];
      for (int v = 0; v < PV; ++v) xv[v] = V::load(xk + v * L);
      for (int o = 0; o < OC; ++o) {
        const Vec wv = V::broadcast(wc + o * w_oc + k);
        for (int v = 0; v < PV; ++v) acc[o][v] = V::fma(wv, xv[v], acc[o][v]);
      }
    }
  }
  const ConvEpilogue& ep = sink.ep;
  const DirectSegment* seg = sink.seg;
  const int ns = sink.ns;
  float* yb = sink.yb;
  if (ep.clamps())
    for (int o = 0; o < OC; ++o)
      for (int v = 0; v < PV; ++v) acc[o][v] = V::clamp(acc[o][v], ep.lo, ep.hi);
  const int64_t P = p.out_pixels();
  if constexpr (kInRegisters) {
    // Vectors outermost, so that acc stays in registers: lanes [lo, hi) of vector v are the
    // positions it shares with segment s.
    for (int v = 0; v < PV; ++v)
      for (int s = 0; s < ns; ++s) {
        const int64_t t0 = seg[s].tile_off - v * L, t1 = t0 + seg[s].len;
        if (t1 <= 0 || t0 >= L) continue;
        const int lo = static_cast<int>(std::max<int64_t>(t0, 0));
        const int hi = static_cast<int>(std::min<int64_t>(t1, L));
        float* dst = yb + seg[s].y_off + (lo - t0);  // where lane lo goes
        for (int o = 0; o < OC; ++o) V::store_lanes(dst + o * P, acc[o][v], lo, hi);
      }
  } else {
    alignas(64) float tile[OC * PV * L];
    for (int o = 0; o < OC; ++o)
      for (int v = 0; v < PV; ++v) V::store(tile + (o * PV + v) * L, acc[o][v]);
    for (int o = 0; o < OC; ++o)
      for (int s = 0; s < ns; ++s)
        V::copy_n(tile + o * PV * L + seg[s].tile_off, yb + o * P + seg[s].y_off, seg[s].len);
  }
}

using ForwardBlockFn = void (*)(const DirectPlan&, const float*, const float*, const float*,
                                int64_t, const ForwardSink&);

// forward_block for every (in registers, output channels, pixel vectors): entry
// (kInRegisters * kOcBlock + OC - 1) * kPixelVecs + PV - 1.
template <class V, size_t... I>
constexpr auto forward_block_table(std::index_sequence<I...>) {
  constexpr int PV = V::kPixelVecs, W = V::kOcBlock;
  return std::array<ForwardBlockFn, sizeof...(I)>{
      &forward_block<V, static_cast<int>(I) / PV % W + 1, static_cast<int>(I) % PV + 1,
                     (static_cast<int>(I) >= W * PV)>...};
}

// y = clamp(conv(x, w) + bias, lo, hi) (ep) for the forward-shaped plan p: a forward's weight,
// or backward data's convolution weight, copied transposed (p.transpose_weights) or read in
// place (p.w_oc, p.w_ic). ws: direct_workspace_floats.
template <class V>
void forward(const DirectPlan& p, const float* x, const float* w, const ConvEpilogue& ep, float* y,
             float* ws) {
  constexpr int L = V::kLanes, W = V::kOcBlock, PV = V::kPixelVecs;
  static constexpr auto table =
      forward_block_table<V>(std::make_index_sequence<size_t{2} * W * PV>{});
  const int64_t nocb = div_up(p.cog, W), P = p.out_pixels();
  const int in_registers = p.cig * p.K <= kStoreFromRegistersPairs;
  float* w_t = ws + p.x_all_floats();
  const float* wf = p.transpose_weights ? w_t : w;
  auto transpose = [&](int64_t grp, int64_t ocb) {
    direct_transpose_weights(p, w, grp, ocb * W, std::min(p.cog, (ocb + 1) * W), w_t);
  };
  auto pad = [&](float* padded, int64_t n0, int64_t n, int64_t ic) {
    pad_image_channel<V>(p, x, n0 + n, ic, padded + ic * p.chan + n * p.plane);
  };
  // The vectors of virtual outputs of a chunk of nn images, and their runs.
  auto vecs = [&](int64_t nn) { return div_up(p.virt_of(nn), L); };
  auto runs = [&](int64_t nn) { return div_up(vecs(nn), kChunkVecs); };
  // Output-channel block ocb of group grp on vectors [v0, v0 + nv) of virtual outputs of the
  // image chunk at n0 of nn images, padded in `padded`.
  auto span = [&](const float* padded, int64_t n0, int64_t nn, int64_t grp, int64_t ocb, int64_t v0,
                  int64_t nv) {
    const int oc_count = static_cast<int>(std::min<int64_t>(W, p.cog - ocb * W));
    const int64_t oc0 = grp * p.cog + ocb * W;
    const float* xg = padded + grp * p.cig * p.chan;
    const float* w0 = wf + p.weight_at(grp, ocb * W);
    float* yb = y + (n0 * p.C_out + oc0) * P;
    // The vectors in blocks of at most PV, sizes as even as possible: a block of one vector
    // has too few accumulators to hide the FMA latency.
    const int64_t nblocks = div_up(nv, PV);
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const int64_t start = v0 + nv * blk / nblocks, end = v0 + nv * (blk + 1) / nblocks;
      const int pv = static_cast<int>(end - start);
      DirectSegment seg[PV * L];
      // The last vector may reach into the next image's plane: not this chunk's outputs.
      const int ns = direct_segments(p, start * L, std::min(end * L, p.virt_of(nn)), seg);
      table[(in_registers * W + oc_count - 1) * PV + pv - 1](
          p, xg, w0, ep.bias ? ep.bias + oc0 : nullptr, start * L, {ep, seg, ns, yb});
    }
  };
  // span on run `chunk` of the runs (as even as possible) of the chunk's vectors.
  auto item = [&](const float* padded, int64_t n0, int64_t nn, int64_t grp, int64_t ocb,
                  int64_t chunk) {
    const int64_t nvec = vecs(nn), nchunks = runs(nn);
    const int64_t v0 = nvec * chunk / nchunks;
    span(padded, n0, nn, grp, ocb, v0, nvec * (chunk + 1) / nchunks - v0);
  };
  // Consecutive items share what is larger, so that it is read from memory once per image
  // chunk: the group's weights (runs inner) or its padded inputs (oc blocks inner).
  const bool weights_larger = p.cog * p.K > p.chan;
  // Item i of the image chunk at n0 of nn images, groups outermost.
  auto item_of = [&](const float* padded, int64_t n0, int64_t nn, int64_t i) {
    const int64_t nchunks = runs(nn), grp = i / (nocb * nchunks), rest = i % (nocb * nchunks);
    if (weights_larger) {
      item(padded, n0, nn, grp, rest / nchunks, rest % nchunks);
    } else {
      item(padded, n0, nn, grp, rest % nocb, rest / nocb);
    }
  };
  auto items = [&](int64_t nn) { return nocb * runs(nn); };
  zero_slack<V>(p, ws);
  if (p.by_threads) {
    // One chunk of all images; each thread takes a share of what is larger (as items order
    // it: the weights' output-channel blocks, or the vectors of outputs) and pads, into its
    // own copy, the phase-plane rows its vectors read. No barrier between padding and
    // computing, and no padded rows travel between cores. ResNet-18 layers 2 / 3 at batch 1 on
    // 2 threads, minimum of 5 calls: quiet, 0.273 / 0.282 ms with the padding shared and a
    // barrier, 0.259 / 0.273 ms so; with the cores shared by other processes 0.43 / 0.44 ms,
    // 0.30 / 0.30 ms so.
#pragma omp parallel
    {
      if (p.transpose_weights) {
#pragma omp for schedule(static)
        for (int64_t i = 0; i < p.groups * nocb; ++i) transpose(i / nocb, i % nocb);
      }
      const int64_t T = omp_get_num_threads(), t = omp_get_thread_num();
      float* padded = ws + t * p.x_floats();
      const int64_t nn = p.N, nvec = vecs(nn), units = p.groups * nocb;
      int64_t u0 = 0, u1 = units, v0 = 0, v1 = nvec;
      if (weights_larger) {
        u0 = units * t / T, u1 = units * (t + 1) / T;
      } else {
        v0 = nvec * t / T, v1 = nvec * (t + 1) / T;
      }
      // Floats [v0 * L, v1 * L + reach) of each phase plane, reach the farthest offset of
      // a tap inside its phase plane.
      int64_t reach = 0;
      for (int k = 0; k < p.K; ++k) reach = std::max(reach, p.tap[k] % (p.images * p.plane));
      const int64_t rows = p.q[0] * p.q[1];
      for (int64_t n = 0; n < nn && u0 < u1 && v0 < v1; ++n) {
        const int64_t a = std::max<int64_t>(v0 * L - n * p.plane, 0);
        const int64_t b = std::min(v1 * L + reach - n * p.plane, p.plane);
        if (a >= b) continue;
        const int64_t r0 = std::min(a / p.q[2], rows),
                      r1 = std::max(r0, std::min(div_up(b, p.q[2]), rows));
        for (int64_t ic = u0 / nocb * p.cig; ic < div_up(u1, nocb) * p.cig; ++ic)
          pad_image_channel<V>(p, x, n, ic, padded + ic * p.chan + n * p.plane, r0, r1);
      }
      const int64_t nruns = div_up(v1 - v0, kChunkVecs);
      auto run = [&](int64_t u, int64_t r) {
        const int64_t s0 = v0 + (v1 - v0) * r / nruns;
        span(padded, 0, nn, u / nocb, u % nocb, s0, v0 + (v1 - v0) * (r + 1) / nruns - s0);
      };
      if (weights_larger) {
        for (int64_t u = u0; u < u1; ++u)
          for (int64_t r = 0; r < nruns; ++r) run(u, r);
      } else {
        for (int64_t r = 0; r < nruns; ++r)
          for (int64_t u = u0; u < u1; ++u) run(u, r);
      }
    }
    return;
  }
  if (p.by_groups || p.by_images) {
    if (p.transpose_weights) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < p.groups * nocb; ++i) transpose(i / nocb, i % nocb);
    }
#pragma omp parallel
    {
      float* padded = ws + (p.by_images ? omp_get_thread_num() : 0) * p.x_floats();
      if (p.by_groups) {
#pragma omp for schedule(static)
        for (int64_t grp = 0; grp < p.groups; ++grp)
          for (int64_t n0 = 0; n0 < p.N; n0 += p.images) {
            const int64_t nn = std::min(p.images, p.N - n0);
            for (int64_t ic = grp * p.cig; ic < (grp + 1) * p.cig; ++ic)
              for (int64_t n = 0; n < nn; ++n) pad(padded, n0, n, ic);
            if (grp + 1 < p.groups)
              for (int64_t n = 0; n < nn; ++n)
                prefetch(x + ((n0 + n) * p.C_in + (grp + 1) * p.cig) * p.in_pixels(),
                         p.cig * p.in_pixels());
            for (int64_t i = grp * items(nn); i < (grp + 1) * items(nn); ++i)
              item_of(padded, n0, nn, i);
          }
      } else {
        // Chunks taken dynamically (which thread runs one changes no sum): with the cores
        // shared, a static split left one thread waiting for the other's last chunks.
#pragma omp for schedule(dynamic)
        for (int64_t n0 = 0; n0 < p.N; n0 += p.images) {
          const int64_t nn = std::min(p.images, p.N - n0);
          for (int64_t ic = 0; ic < p.C_in; ++ic)
            for (int64_t n = 0; n < nn; ++n) pad(padded, n0, n, ic);
          for (int64_t i = 0; i < p.groups * items(nn); ++i) item_of(padded, n0, nn, i);
        }
      }
    }
    return;
  }
  float* padded = ws;
#pragma omp parallel
  {
    if (p.transpose_weights) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < p.groups * nocb; ++i) transpose(i / nocb, i % nocb);
    }
    for (int64_t n0 = 0; n0 < p.N; n0 += p.images) {
      const int64_t nn = std::min(p.images, p.N - n0);
#pragma omp for schedule(static)
      for (int64_t c = 0; c < nn * p.C_in; ++c) pad(padded, n0, c % nn, c / nn);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < p.groups * items(nn); ++i) item_of(padded, n0, nn, i);
    }
  }
}

// sums (OC, TB) = sum over nvec vectors of virtual outputs q of dy (oc, q) * x (q + tap[t]).
template <class V, int OC, int TB>
void weight_block(const float* xc, const float* dyo, int64_t dy_pitch, const int64_t* tap,
                  int64_t nvec, float* sums) {
  using Vec = typename V::Vec;
  constexpr int L = V::kLanes;
  Vec acc[OC][TB];
  for (int o = 0; o < OC; ++o)
    for (int t = 0; t < TB; ++t) acc[o][t] = V::zero();
  for (int64_t i = 0; i < nvec; ++i) {
    Vec d[OC];
    // One load per vector, not one per FMA: without in_register GCC folds loads into FMAs.
    for (int o = 0; o < OC; ++o) d[o] = V::in_register(V::load(dyo + o * dy_pitch + i * L));
    for (int t = 0; t < TB; ++t) {
      const Vec xv = V::in_register(V::load(xc + tap[t] + i * L));
      for (int o = 0; o < OC; ++o) acc[o][t] = V::fma(d[o], xv, acc[o][t]);
    }
  }
  V::sum_each(&acc[0][0], OC * TB, sums);
}

using WeightBlockFn = void (*)(const float*, const float*, int64_t, const int64_t*, int64_t,
                               float*);

// weight_block for every (output channels, taps): entry (OC - 1) * kWeightTaps + TB - 1.
template <class V, size_t... I>
constexpr auto weight_block_table(std::index_sequence<I...>) {
  return std::array<WeightBlockFn, sizeof...(I)>{
      &weight_block<V, static_cast<int>(I) / V::kWeightTaps + 1,
                    static_cast<int>(I) % V::kWeightTaps + 1>...};
}

// Backward-weight work covers this many vectors of virtual outputs at a time, so the dy rows
// of an output-channel block (4 x 4 KiB) stay in L1 while the input channels pass by.
constexpr int64_t kWeightChunkVecs = 64;
// Input channels per backward-weight work item: enough items for both cores on layers with
// few output channels, each long enough to reuse its dy rows.
constexpr int64_t kWeightIcBlock = 16;

// dw = sum over images of corr(x, dy), over padded x and virtual dy (zeros at the discarded
// positions, so they add nothing); `ws` holds p.x_floats() + p.dy_floats(). Each item owns
// the dw of (group, oc block, ic block) and adds its partial sums in a fixed order.
template <class V>
void backward_weight(const DirectPlan& p, const float* x, const float* dy, float* dw, float* ws) {
  constexpr int L = V::kLanes, WO = V::kWeightOcs, WT = V::kWeightTaps;
  static constexpr auto table = weight_block_table<V>(std::make_index_sequence<size_t{WO} * WT>{});
  float* padded = ws;
  float* dyv = ws + p.x_floats();
  const int64_t dy_pitch = p.dy_pitch();
  const int64_t nocb = div_up(p.cog, WO), nicb = div_up(p.cig, kWeightIcBlock);
  const int64_t ntb = div_up(p.K, WT), P = p.out_pixels(), K = p.K;
  auto pad = [&](int64_t n0, int64_t n, int64_t ic) {
    pad_image_channel<V>(p, x, n0 + n, ic, padded + ic * p.chan + n * p.plane);
  };
  // Image n of nn of the chunk at n0; the last one zeroes the slack after it, which the
  // chunk's last vector reads.
  auto dy_row = [&](int64_t n0, int64_t n, int64_t nn, int64_t oc) {
    float* row = dyv + oc * dy_pitch;
    virtual_row<V>(p, dy + ((n0 + n) * p.C_out + oc) * P, row + n * p.plane);
    if (n == nn - 1) V::zero_n(row + nn * p.plane, kDirectSlack);
  };
  zero_slack<V>(p, padded);
  // dw of output channels block ocb and input channels block icb of group grp, from the
  // nvec vectors of virtual outputs of the image chunk at n0.
  auto item = [&](int64_t n0, int64_t nvec, int64_t grp, int64_t ocb, int64_t icb) {
    const int oc_count = static_cast<int>(std::min<int64_t>(WO, p.cog - ocb * WO));
    const int64_t oc0 = grp * p.cog + ocb * WO;
    const int64_t ic0 = icb * kWeightIcBlock, ic1 = std::min(p.cig, ic0 + kWeightIcBlock);
    for (int64_t v0 = 0; v0 < nvec; v0 += kWeightChunkVecs) {
      const bool first = n0 == 0 && v0 == 0;
      const int64_t count = std::min(kWeightChunkVecs, nvec - v0);
      const float* dyo = dyv + oc0 * dy_pitch + v0 * L;
      for (int64_t ic = ic0; ic < ic1; ++ic) {
        const float* xc = padded + (grp * p.cig + ic) * p.chan + v0 * L;
        for (int64_t tb = 0; tb < ntb; ++tb) {
          const int64_t k0 = K * tb / ntb, k1 = K * (tb + 1) / ntb;
          const int taps = static_cast<int>(k1 - k0);
          float sums[WO * WT];
          table[(oc_count - 1) * WT + taps - 1](xc, dyo, dy_pitch, &p.tap[k0], count, sums);
          for (int o = 0; o < oc_count; ++o)
            for (int t = 0; t < taps; ++t) {
              float& d = dw[((oc0 + o) * p.cig + ic) * K + k0 + t];
              d = first ? sums[o * taps + t] : d + sums[o * taps + t];
            }
        }
      }
    }
  };
  if (p.by_groups) {
#pragma omp parallel for schedule(static)
    for (int64_t grp = 0; grp < p.groups; ++grp)
      for (int64_t n0 = 0; n0 < p.N; n0 += p.images) {
        const int64_t nn = std::min(p.images, p.N - n0);
        for (int64_t n = 0; n < nn; ++n) {
          for (int64_t ic = grp * p.cig; ic < (grp + 1) * p.cig; ++ic) pad(n0, n, ic);
          for (int64_t oc = grp * p.cog; oc < (grp + 1) * p.cog; ++oc) dy_row(n0, n, nn, oc);
        }
        if (grp + 1 < p.groups)
          for (int64_t n = 0; n < nn; ++n) {
            prefetch(x + ((n0 + n) * p.C_in + (grp + 1) * p.cig) * p.in_pixels(),
                     p.cig * p.in_pixels());
            prefetch(dy + ((n0 + n) * p.C_out + (grp + 1) * p.cog) * P, p.cog * P);
          }
        const int64_t nvec = div_up(p.virt_of(nn), L);
        for (int64_t ocb = 0; ocb < nocb; ++ocb)
          for (int64_t icb = 0; icb < nicb; ++icb) item(n0, nvec, grp, ocb, icb);
      }
    return;
  }
#pragma omp parallel
  for (int64_t n0 = 0; n0 < p.N; n0 += p.images) {
    const int64_t nn = std::min(p.images, p.N - n0);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < nn * (p.C_in + p.C_out); ++c) {
      if (c < nn * p.C_in) {
        pad(n0, c % nn, c / nn);
      } else {
        dy_row(n0, (c - nn * p.C_in) % nn, nn, (c - nn * p.C_in) / nn);
      }
    }
    const int64_t nvec = div_up(p.virt_of(nn), L);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p.groups * nocb * nicb; ++i)
      item(n0, nvec, i / (nicb * nocb), i / nicb % nocb, i % nicb);
  }
}

// The kernels with output channels in the lanes (forward_lanes, backward_weight_lanes), written
// the same way over V.
#include "kernels/cpu/conv_direct_lanes_kernels.h"
#include "kernels/cpu/conv_direct_lanes_weight_kernels.h"

// The three passes on a ConvGeometry, what each instruction set's entry points call.
template <class V>
void run_forward(const ConvGeometry& g, const float* x, const float* w, const ConvEpilogue& ep,
                 float* y, float* ws) {
  const DirectPlan p = direct_plan(g, ConvPass::kForward, V::kLanes);
  if (p.fwd_lanes) {
    forward_lanes<V>(p, x, w, ep, y, ws);
  } else {
    forward<V>(p, x, w, ep, y, ws);
  }
}

template <class V>
void run_backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                       float* ws) {
  const DirectPlan p = direct_plan(g, ConvPass::kBackwardData, V::kLanes);
  if (p.fwd_lanes) {
    forward_lanes<V>(p, dy, w, {}, dx, ws);
  } else {
    forward<V>(p, dy, w, {}, dx, ws);
  }
}

template <class V>
void run_backward_weight(const ConvGeometry& g, const float* x, const float* dy, float* dw,
                         float* ws) {
  const DirectPlan p = direct_plan(g, ConvPass::kBackwardWeight, V::kLanes);
  if (p.weight_lanes) {
    backward_weight_lanes<V>(p, x, dy, dw, ws);
  } else {
    backward_weight<V>(p, x, dy, dw, ws);
  }
}
