// The direct convolution kernels, written once over a vector-traits struct V and compiled once
// per instruction set. Not a normal header: each ISA's translation unit
// (conv_direct_avx512.cpp, conv_direct_avx2.cpp) includes the standard headers, <omp.h>,
// <immintrin.h> and conv_direct_plan.h first, then its `#pragma GCC target`, and then this
// file inside an anonymous namespace of fovea::kernels next to its traits struct, so nothing
// compiled for one instruction set is shared with another translation unit.
//
// V provides: Vec, kLanes; kOcBlock x kPixelVecs forward accumulators (output channels x
// vectors of virtual outputs); kWeightOcs x kWeightTaps backward-weight accumulators (output
// channels x taps); kLaneVecs x kLaneTaps and kLaneVecs x kLaneOuts accumulators of the
// kernels with output channels in the lanes; zero, load, store, store_lanes (a range of
// lanes), broadcast, fma, clamp, sum_each (the horizontal sums of n vectors), in_register
// (keeps a loaded vector in a register), copy_n and zero_n (any length).
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
// counted over depth and height, jd * Hq + jh), by default all.
template <class V>
void pad_channel(const DirectPlan& p, const float* src, float* dst, int64_t row0 = 0,
                 int64_t row1 = -1) {
  if (row1 < 0) row1 = p.q[0] * p.q[1];
  const int64_t sD = p.stride[0], sH = p.stride[1], sW = p.stride[2];
  for (int64_t pd = 0; pd < sD; ++pd)
    for (int64_t ph = 0; ph < sH; ++ph)
      for (int64_t pw = 0; pw < sW; ++pw, dst += p.images * p.plane) {
        // Phase-plane columns jw whose source column jw*sW - lo lies in [0, in).
        const int64_t lo = p.pad_lo[2] - pw;
        const int64_t w_lo = std::clamp<int64_t>(div_up(std::max<int64_t>(lo, 0), sW), 0, p.q[2]);
        const int64_t w_hi =
            std::clamp<int64_t>(p.in[2] + lo <= 0 ? 0 : div_up(p.in[2] + lo, sW), w_lo, p.q[2]);
        // The rows, and the plane's tail past the last one (up to 15 floats) with it.
        const int64_t end = row1 == p.q[0] * p.q[1] ? p.plane : row1 * p.q[2];
        V::zero_n(dst + row0 * p.q[2], end - row0 * p.q[2]);
        // Row r = jd * Hq + jh, walked without a division per row.
        for (int64_t r = row0, jd = row0 / p.q[1], jh = row0 % p.q[1]; r < row1;
             ++r, jh = jh + 1 == p.q[1] ? 0 : jh + 1, jd += jh == 0) {
          const int64_t id = jd * sD + pd - p.pad_lo[0];
          const int64_t ih = jh * sH + ph - p.pad_lo[1];
          if (id < 0 || id >= p.in[0] || ih < 0 || ih >= p.in[1]) continue;
          const float* s = src + (id * p.in[1] + ih) * p.in[2];
          float* row = dst + r * p.q[2];
          if (sW == 1) {
            V::copy_n(s + w_lo - lo, row + w_lo, w_hi - w_lo);
          } else {
            for (int64_t jw = w_lo; jw < w_hi; ++jw) row[jw] = s[jw * sW - lo];
          }
        }
      }
}

// Zeroes the slack of every channel of the padded chunk(s) at x: padding never writes it.
template <class V>
void zero_slack(const DirectPlan& p, float* x) {
  for (int64_t c = 0; c < p.copies * p.C_in; ++c)
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
  const int64_t row = p.cig * K;
  for (int64_t ic = 0; ic < p.cig; ++ic) {
    const float* xc = xg + ic * p.chan + q0;
    const float* wc = w0 + ic * K;
    for (int k = 0; k < K; ++k) {
      const float* xk = xc + p.tap[k];
      Vec xv[PV];
      for (int v = 0; v < PV; ++v) xv[v] = V::load(xk + v * L);
      for (int o = 0; o < OC; ++o) {
        const Vec wv = V::broadcast(wc + o * row + k);
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

// y = clamp(conv(x, w) + bias, lo, hi) (ep) for the forward-shaped plan p; `transposed`: p is the
// backward data pass of a convolution with weight w (direct_transpose_weights). ws:
// direct_workspace_floats.
template <class V>
void forward(const DirectPlan& p, const float* x, const float* w, bool transposed,
             const ConvEpilogue& ep, float* y, float* ws) {
  constexpr int L = V::kLanes, W = V::kOcBlock, PV = V::kPixelVecs;
  static constexpr auto table =
      forward_block_table<V>(std::make_index_sequence<size_t{2} * W * PV>{});
  const int64_t nocb = div_up(p.cog, W), P = p.out_pixels();
  const int in_registers = p.cig * p.K <= kStoreFromRegistersPairs;
  float* w_t = ws + p.x_all_floats();
  const float* wf = transposed ? w_t : w;
  auto transpose = [&](int64_t grp, int64_t ocb) {
    direct_transpose_weights(p, w, grp, ocb * W, std::min(p.cog, (ocb + 1) * W), w_t);
  };
  auto pad = [&](float* padded, int64_t n0, int64_t n, int64_t ic) {
    pad_channel<V>(p, x + ((n0 + n) * p.C_in + ic) * p.in_pixels(),
                   padded + ic * p.chan + n * p.plane);
  };
  // The vectors of virtual outputs of a chunk of nn images, and their runs.
  auto vecs = [&](int64_t nn) { return div_up(p.virt_of(nn), L); };
  auto runs = [&](int64_t nn) { return div_up(vecs(nn), kChunkVecs); };
  // Output-channel block ocb of group grp on run `chunk` of the runs (as even as possible) of
  // the image chunk at n0 of nn images, padded in `padded`.
  auto item = [&](const float* padded, int64_t n0, int64_t nn, int64_t grp, int64_t ocb,
                  int64_t chunk) {
    const int64_t nvec = vecs(nn), nchunks = runs(nn);
    const int oc_count = static_cast<int>(std::min<int64_t>(W, p.cog - ocb * W));
    const int64_t oc0 = grp * p.cog + ocb * W;
    const float* xg = padded + grp * p.cig * p.chan;
    const float* w0 = wf + oc0 * p.cig * p.K;
    float* yb = y + (n0 * p.C_out + oc0) * P;
    // The run's vectors in blocks of at most PV, sizes as even as possible: a block of one
    // vector has too few accumulators to hide the FMA latency.
    const int64_t v0 = nvec * chunk / nchunks, nv = nvec * (chunk + 1) / nchunks - v0;
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
  if (p.by_groups || p.by_images) {
    if (transposed) {
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
#pragma omp for schedule(static)
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
    if (transposed) {
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

// Forward with output channels in the lanes (p.fwd_lanes): tile (R, J * kLanes) = bias + sum
// over ic, k of x (ic, q0 + r + tap[k]) * wp (ic, k, J * kLanes channels), for R consecutive
// real outputs from q0, wp the block's packed weights (cig, K, J * kLanes). Each tap is one
// base address for R broadcasts, and no virtual output is computed.
template <class V, int J, int R>
void forward_lanes_block(const DirectPlan& p, const float* xg, const float* wp, const float* bias,
                         int64_t q0, float* tile) {
  using Vec = typename V::Vec;
  constexpr int L = V::kLanes;
  Vec acc[R][J];
  for (int j = 0; j < J; ++j) {
    const Vec b = bias ? V::load(bias + j * L) : V::zero();
    for (int r = 0; r < R; ++r) acc[r][j] = b;
  }
  const int K = p.K;
  for (int64_t ic = 0; ic < p.cig; ++ic) {
    const float* xc = xg + ic * p.chan + q0;
    const float* wc = wp + ic * K * J * L;
    for (int k = 0; k < K; ++k) {
      const float* xk = xc + p.tap[k];
      Vec wv[J];
      for (int j = 0; j < J; ++j) wv[j] = V::in_register(V::load(wc + (k * J + j) * L));
      for (int r = 0; r < R; ++r) {
        const Vec xv = V::broadcast(xk + r);
        for (int j = 0; j < J; ++j) acc[r][j] = V::fma(xv, wv[j], acc[r][j]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < J; ++j) V::store(tile + (r * J + j) * L, acc[r][j]);
}

using ForwardLanesFn = void (*)(const DirectPlan&, const float*, const float*, const float*,
                                int64_t, float*);

// forward_lanes_block for every (vectors of channels, outputs): entry (J - 1) * kLaneOuts + R - 1.
template <class V, size_t... I>
constexpr auto forward_lanes_table(std::index_sequence<I...>) {
  return std::array<ForwardLanesFn, sizeof...(I)>{
      &forward_lanes_block<V, static_cast<int>(I) / V::kLaneOuts + 1,
                           static_cast<int>(I) % V::kLaneOuts + 1>...};
}

// Padded input floats of the output rows that the forward with channels in the lanes runs
// every weight block over (a quarter of L2).
constexpr int64_t kLaneBandFloats = int64_t{1} << 16;

// Forward with output channels in the lanes, each thread on whole chunks of images
// (p.by_images): the weights are packed once per call into blocks of up to kLaneVecs vectors
// of output channels, (cig, K, channels) each, in ws after the padded chunks; output rows are
// cut into runs of at most kLaneOuts outputs, as even as possible.
template <class V>
void forward_lanes(const DirectPlan& p, const float* x, const float* w, const ConvEpilogue& ep,
                   float* y, float* ws) {
  constexpr int L = V::kLanes, J = V::kLaneVecs, R = V::kLaneOuts, kTile = R * J * L;
  static constexpr auto table = forward_lanes_table<V>(std::make_index_sequence<size_t{J} * R>{});
  const int64_t cvecs = p.cog / L, nocb = div_up(cvecs, J), P = p.out_pixels(), K = p.K;
  const int64_t ow = p.out[2], nruns = div_up(ow, R), rows = p.out[0] * p.out[1];
  const int64_t band_rows = std::max<int64_t>(1, kLaneBandFloats / (p.cig * p.phases * p.q[2]));
  const bool by_band = p.q[0] == 1;
  const int64_t halo = (p.kernel[1] - 1) * p.dilation[1] / p.stride[1];  // extra phase rows
  float* wp = ws + p.x_all_floats();
  // Block b of group grp: vectors [v0, v1) of its channels, packed at wp + oc0 * cig * K.
  auto block = [&](int64_t b, int64_t& v0, int64_t& v1) {
    v0 = cvecs * b / nocb;
    v1 = cvecs * (b + 1) / nocb;
  };
  zero_slack<V>(p, ws);
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p.groups * nocb; ++i) {
      int64_t v0, v1;
      block(i % nocb, v0, v1);
      const int64_t oc0 = i / nocb * p.cog + v0 * L, n = (v1 - v0) * L;
      float* dst = wp + oc0 * p.cig * K;
      for (int64_t o = 0; o < n; ++o)
        for (int64_t ick = 0; ick < p.cig * K; ++ick)
          dst[ick * n + o] = w[(oc0 + o) * p.cig * K + ick];
    }
    float* padded = ws + omp_get_thread_num() * p.x_floats();
#pragma omp for schedule(static)
    for (int64_t n0 = 0; n0 < p.N; n0 += p.images) {
      const int64_t nn = std::min(p.images, p.N - n0);
      // Bands of output rows (of all nn images) whose padded inputs stay in L2 while every
      // block of weights passes by. Planar layers pad each band's phase rows just before
      // using it, and prefetch the next band's input rows while computing one (their padding
      // waited on memory: 14% of ResNet-18 layer 2's time at batch 16); 3D layers pad the chunk
      // at once (a band of rows reads a few slices, which bands would pad several times).
      const int64_t nbands = div_up(nn * rows, band_rows);
      auto band_row = [&](int64_t band) { return nn * rows * band / nbands; };
      // f(n, source rows [i0, i1), phase rows [r0, r1)) for each image the band's rows touch.
      auto band_images = [&](int64_t band, auto&& f) {
        const int64_t g0 = band_row(band), g1 = band_row(band + 1);
        for (int64_t n = g0 / rows; n * rows < g1; ++n) {
          const int64_t r0 = std::max<int64_t>(g0 - n * rows, 0);
          const int64_t r1 = std::min(std::min(g1 - n * rows, rows) + halo, p.q[1]);
          f(n, std::max<int64_t>(r0 * p.stride[1] - p.pad_lo[1], 0),
            std::min(r1 * p.stride[1] - p.pad_lo[1], p.in[1]), r0, r1);
        }
      };
      if (!by_band)
        for (int64_t ic = 0; ic < p.C_in; ++ic)
          for (int64_t n = 0; n < nn; ++n)
            pad_channel<V>(p, x + ((n0 + n) * p.C_in + ic) * p.in_pixels(),
                           padded + ic * p.chan + n * p.plane);
      for (int64_t band = 0; band < nbands; ++band) {
        if (by_band)
          band_images(band, [&](int64_t n, int64_t, int64_t, int64_t r0, int64_t r1) {
            for (int64_t ic = 0; ic < p.C_in; ++ic)
              pad_channel<V>(p, x + ((n0 + n) * p.C_in + ic) * p.in_pixels(),
                             padded + ic * p.chan + n * p.plane, r0, r1);
          });
        // The next band's input rows, channels [c0, c1).
        auto prefetch_next = [&](int64_t c0, int64_t c1) {
          if (!by_band || band + 1 == nbands) return;
          band_images(band + 1, [&](int64_t n, int64_t i0, int64_t i1, int64_t, int64_t) {
            for (int64_t ic = c0; ic < c1; ++ic)
              prefetch(x + ((n0 + n) * p.C_in + ic) * p.in_pixels() + i0 * p.in[2],
                       (i1 - i0) * p.in[2]);
          });
        };
        const int64_t steps = p.groups * nocb;
        for (int64_t grp = 0; grp < p.groups; ++grp)
          for (int64_t b = 0; b < nocb; ++b) {
            const int64_t step = grp * nocb + b;
            prefetch_next(p.C_in * step / steps, p.C_in * (step + 1) / steps);
            int64_t v0, v1;
            block(b, v0, v1);
            const int vecs = static_cast<int>(v1 - v0);
            const int64_t oc0 = grp * p.cog + v0 * L;
            const float* xg = padded + grp * p.cig * p.chan;
            const float* bias = ep.bias ? ep.bias + oc0 : nullptr;
            for (int64_t nrow = band_row(band); nrow < band_row(band + 1); ++nrow) {
              const int64_t n = nrow / rows, row = nrow % rows;
              const int64_t od = row / p.out[1], oh = row % p.out[1];
              const int64_t q_row = n * p.plane + (od * p.q[1] + oh) * p.q[2];
              float* yr = y + ((n0 + n) * p.C_out + oc0) * P + row * ow;
              for (int64_t run = 0; run < nruns; ++run) {
                const int64_t w0 = ow * run / nruns, len = ow * (run + 1) / nruns - w0;
                alignas(64) float tile[kTile];
                table[(vecs - 1) * R + len - 1](p, xg, wp + oc0 * p.cig * K, bias, q_row + w0,
                                                tile);
                for (int64_t o = 0; o < vecs * L; ++o)
                  for (int64_t r = 0; r < len; ++r)
                    yr[o * P + w0 + r] = ep.clamp(tile[r * vecs * L + o]);
              }
            }
          }
      }
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
    pad_channel<V>(p, x + ((n0 + n) * p.C_in + ic) * p.in_pixels(),
                   padded + ic * p.chan + n * p.plane);
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

// Backward weight with output channels in the lanes (p.weight_lanes: C_out per group a
// multiple of kLanes): sums (R, J * kLanes) = sum over the real outputs q of the chunk's nn
// images of x (q + tap[r]) * dy^T (q, J * kLanes channels from dyt), where dy^T is dy
// transposed to (images, P, C_out). No virtual outputs and no horizontal sums: every output
// adds R broadcast inputs times J vectors of dy, and the sum runs over the whole chunk.
template <class V, int J, int R>
void weight_lanes_block(const DirectPlan& p, const float* xc, const float* dyt, int64_t nn,
                        const int64_t* tap, float* sums) {
  using Vec = typename V::Vec;
  constexpr int L = V::kLanes;
  Vec acc[R][J];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < J; ++j) acc[r][j] = V::zero();
  int64_t off[R];
  for (int r = 0; r < R; ++r) off[r] = tap[r];
  const int64_t C = p.C_out, P = p.out_pixels();
  for (int64_t n = 0; n < nn; ++n)
    for (int64_t od = 0; od < p.out[0]; ++od)
      for (int64_t oh = 0; oh < p.out[1]; ++oh) {
        const float* xr = xc + n * p.plane + (od * p.q[1] + oh) * p.q[2];
        const float* dr = dyt + (n * P + (od * p.out[1] + oh) * p.out[2]) * C;
        for (int64_t ow = 0; ow < p.out[2]; ++ow, ++xr, dr += C) {
          Vec d[J];
          for (int j = 0; j < J; ++j) d[j] = V::in_register(V::load(dr + j * L));
          for (int r = 0; r < R; ++r) {
            const Vec xv = V::broadcast(xr + off[r]);
            for (int j = 0; j < J; ++j) acc[r][j] = V::fma(xv, d[j], acc[r][j]);
          }
        }
      }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < J; ++j) V::store(sums + (r * J + j) * L, acc[r][j]);
}

using WeightLanesFn = void (*)(const DirectPlan&, const float*, const float*, int64_t,
                               const int64_t*, float*);

// weight_lanes_block for every (vectors of channels, taps): entry (J - 1) * kLaneTaps + R - 1.
template <class V, size_t... I>
constexpr auto weight_lanes_table(std::index_sequence<I...>) {
  return std::array<WeightLanesFn, sizeof...(I)>{
      &weight_lanes_block<V, static_cast<int>(I) / V::kLaneTaps + 1,
                          static_cast<int>(I) % V::kLaneTaps + 1>...};
}

// dw = sum over images of corr(x, dy) with output channels in the lanes; `ws` holds the
// padded chunk and dy^T. Each item owns the dw of (group, block of up to kLaneVecs vectors of
// output channels, ic block) and adds each chunk's sums to it in chunk order.
template <class V>
void backward_weight_lanes(const DirectPlan& p, const float* x, const float* dy, float* dw,
                           float* ws) {
  constexpr int L = V::kLanes, J = V::kLaneVecs, R = V::kLaneTaps, kSums = R * J * L;
  static constexpr auto table = weight_lanes_table<V>(std::make_index_sequence<size_t{J} * R>{});
  float* padded = ws;
  float* dyt = ws + p.x_floats();
  // Blocks of output channels as even as possible: a block of one vector loads a dy vector
  // per R FMAs.
  const int64_t cvecs = p.cog / L, nocb = div_up(cvecs, J);
  // Input-channel blocks of up to kWeightIcBlock, smaller where that leaves fewer than 16 items
  // (the 3x3x3 layer, 16 -> 32 channels: one item of 16 would leave a core idle). Items only
  // split the work: every dw element's sum keeps its order.
  const int64_t icb_size = std::clamp<int64_t>(p.cig * nocb / 16, 1, kWeightIcBlock);
  const int64_t nicb = div_up(p.cig, icb_size);
  const int64_t ntb = div_up(p.K, R), P = p.out_pixels(), K = p.K, C = p.C_out;
  zero_slack<V>(p, padded);
  auto item = [&](int64_t n0, int64_t nn, int64_t grp, int64_t ocb, int64_t icb) {
    const int64_t v0 = cvecs * ocb / nocb, oc0 = grp * p.cog + v0 * L;
    const int vecs = static_cast<int>(cvecs * (ocb + 1) / nocb - v0);
    const int64_t ic0 = icb * icb_size, ic1 = std::min(p.cig, ic0 + icb_size);
    for (int64_t ic = ic0; ic < ic1; ++ic) {
      const float* xc = padded + (grp * p.cig + ic) * p.chan;
      for (int64_t tb = 0; tb < ntb; ++tb) {
        const int64_t k0 = K * tb / ntb, k1 = K * (tb + 1) / ntb;
        const int taps = static_cast<int>(k1 - k0);
        alignas(64) float sums[kSums];
        table[(vecs - 1) * R + taps - 1](p, xc, dyt + oc0, nn, &p.tap[k0], sums);
        for (int t = 0; t < taps; ++t)
          for (int o = 0; o < vecs * L; ++o) {
            float& d = dw[((oc0 + o) * p.cig + ic) * K + k0 + t];
            d = n0 == 0 ? sums[t * vecs * L + o] : d + sums[t * vecs * L + o];
          }
      }
    }
  };
#pragma omp parallel
  for (int64_t n0 = 0; n0 < p.N; n0 += p.images) {
    const int64_t nn = std::min(p.images, p.N - n0);
    const int64_t nt = nn * (C / L);  // dy^T of image n, channels [cv * L, +L): gathered rows
    // Dynamic: the padded channels and the transposed rows cost differently, and items only
    // split the work (their results do not depend on which thread runs them).
#pragma omp for schedule(dynamic, 4)
    for (int64_t c = 0; c < nn * p.C_in + nt; ++c) {
      if (c < nn * p.C_in) {
        pad_channel<V>(p, x + ((n0 + c % nn) * p.C_in + c / nn) * p.in_pixels(),
                       padded + c / nn * p.chan + c % nn * p.plane);
        continue;
      }
      const int64_t n = (c - nn * p.C_in) % nn, cv = (c - nn * p.C_in) / nn;
      const float* src = dy + ((n0 + n) * C + cv * L) * P;
      float* dst = dyt + n * P * C + cv * L;
      for (int64_t q = 0; q < P; ++q)
        for (int l = 0; l < L; ++l) dst[q * C + l] = src[l * P + q];
    }
    // Channel blocks inner (consecutive items share their input channels' padded rows) and
    // dynamic: the blocks differ in size (128 channels: 3 + 3 + 2 vectors).
#pragma omp for schedule(dynamic)
    for (int64_t i = 0; i < p.groups * nocb * nicb; ++i)
      item(n0, nn, i / (nicb * nocb), i % nocb, i / nocb % nicb);
  }
}

// The three passes on a ConvGeometry, what each instruction set's entry points call.
template <class V>
void run_forward(const ConvGeometry& g, const float* x, const float* w, const ConvEpilogue& ep,
                 float* y, float* ws) {
  const DirectPlan p = direct_plan(g, ConvPass::kForward);
  if (p.fwd_lanes) {
    forward_lanes<V>(p, x, w, ep, y, ws);
  } else {
    forward<V>(p, x, w, false, ep, y, ws);
  }
}

template <class V>
void run_backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                       float* ws) {
  forward<V>(direct_plan(g, ConvPass::kBackwardData), dy, w, true, {}, dx, ws);
}

template <class V>
void run_backward_weight(const ConvGeometry& g, const float* x, const float* dy, float* dw,
                         float* ws) {
  const DirectPlan p = direct_plan(g, ConvPass::kBackwardWeight);
  if (p.weight_lanes) {
    backward_weight_lanes<V>(p, x, dy, dw, ws);
  } else {
    backward_weight<V>(p, x, dy, dw, ws);
  }
}
