// The direct convolution kernels, written once over a vector-traits struct V and compiled once
// per instruction set. Not a normal header: each ISA's translation unit
// (conv_direct_avx512.cpp, conv_direct_avx2.cpp) includes the standard headers, <omp.h>,
// <immintrin.h> and conv_direct_plan.h first, then its `#pragma GCC target`, and then this
// file inside an anonymous namespace of fovea::kernels next to its traits struct, so nothing
// compiled for one instruction set is shared with another translation unit.
//
// V provides: Vec, kLanes; kOcBlock x kPixelVecs forward accumulators (output channels x
// vectors of virtual outputs); kWeightOcs x kWeightTaps backward-weight accumulators (output
// channels x taps); zero, load, store, broadcast, fma, sum_each (the horizontal sums of n
// vectors), in_register (keeps a loaded vector in a register), copy_n and zero_n (any length).
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
// (phases at stride images * plane), slack zeroed.
template <class V>
void pad_channel(const DirectPlan& p, const float* src, float* dst) {
  const int64_t sD = p.stride[0], sH = p.stride[1], sW = p.stride[2];
  for (int64_t pd = 0; pd < sD; ++pd)
    for (int64_t ph = 0; ph < sH; ++ph)
      for (int64_t pw = 0; pw < sW; ++pw, dst += p.images * p.plane) {
        // Phase-plane columns jw whose source column jw*sW - lo lies in [0, in).
        const int64_t lo = p.pad_lo[2] - pw;
        const int64_t w_lo = std::clamp<int64_t>(div_up(std::max<int64_t>(lo, 0), sW), 0, p.q[2]);
        const int64_t w_hi =
            std::clamp<int64_t>(p.in[2] + lo <= 0 ? 0 : div_up(p.in[2] + lo, sW), w_lo, p.q[2]);
        V::zero_n(dst, p.plane);
        float* row = dst;
        for (int64_t jd = 0; jd < p.q[0]; ++jd) {
          const int64_t id = jd * sD + pd - p.pad_lo[0];
          for (int64_t jh = 0; jh < p.q[1]; ++jh, row += p.q[2]) {
            const int64_t ih = jh * sH + ph - p.pad_lo[1];
            if (id < 0 || id >= p.in[0] || ih < 0 || ih >= p.in[1]) continue;
            const float* s = src + (id * p.in[1] + ih) * p.in[2];
            if (sW == 1) {
              V::copy_n(s + w_lo - lo, row + w_lo, w_hi - w_lo);
            } else {
              for (int64_t jw = w_lo; jw < w_hi; ++jw) row[jw] = s[jw * sW - lo];
            }
          }
        }
      }
}

// dst (plane) = output-shaped row src (out) in the virtual layout, zeros elsewhere.
template <class V>
void virtual_row(const DirectPlan& p, const float* src, float* dst) {
  V::zero_n(dst, p.plane);
  for (int64_t od = 0; od < p.out[0]; ++od)
    for (int64_t oh = 0; oh < p.out[1]; ++oh, src += p.out[2])
      V::copy_n(src, dst + (od * p.q[1] + oh) * p.q[2], p.out[2]);
}

// tile (OC, PV * kLanes) = bias + sum over ic, k of w (oc, ic, k) * x (ic, q0 + q + tap[k]),
// w0 the block's first weight row (cig, K). Weights are read in place: every broadcast is a
// load anyway, and the OC rows are OC sequential streams, so packing them (a pass over all
// weights per call) would cost more than it saves on layers with few pixels per weight.
template <class V, int OC, int PV>
void forward_block(const DirectPlan& p, const float* xg, const float* w0, const float* bias,
                   int64_t q0, float* tile) {
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
  for (int o = 0; o < OC; ++o)
    for (int v = 0; v < PV; ++v) V::store(tile + (o * PV + v) * L, acc[o][v]);
}

using ForwardBlockFn = void (*)(const DirectPlan&, const float*, const float*, const float*,
                                int64_t, float*);

// forward_block for every (output channels, pixel vectors): entry (OC - 1) * kPixelVecs + PV - 1.
template <class V, size_t... I>
constexpr auto forward_block_table(std::index_sequence<I...>) {
  return std::array<ForwardBlockFn, sizeof...(I)>{
      &forward_block<V, static_cast<int>(I) / V::kPixelVecs + 1,
                     static_cast<int>(I) % V::kPixelVecs + 1>...};
}

// y = clamp(conv(x, w) + bias, lo, hi) (ep) for the forward-shaped plan p; `transposed`: p is the
// backward data pass of a convolution with weight w (direct_transpose_weights). ws:
// direct_workspace_floats.
template <class V>
void forward(const DirectPlan& p, const float* x, const float* w, bool transposed,
             const ConvEpilogue& ep, float* y, float* ws) {
  constexpr int L = V::kLanes, W = V::kOcBlock, PV = V::kPixelVecs;
  static constexpr auto table = forward_block_table<V>(std::make_index_sequence<size_t{W} * PV>{});
  const int64_t nocb = div_up(p.cog, W), P = p.out_pixels();
  float* padded = ws;
  float* w_t = ws + p.x_floats();
  const float* wf = transposed ? w_t : w;
  auto transpose = [&](int64_t grp, int64_t ocb) {
    direct_transpose_weights(p, w, grp, ocb * W, std::min(p.cog, (ocb + 1) * W), w_t);
  };
  auto pad = [&](int64_t n0, int64_t n, int64_t ic) {
    pad_channel<V>(p, x + ((n0 + n) * p.C_in + ic) * p.in_pixels(),
                   padded + ic * p.chan + n * p.plane);
  };
  // Output-channel block ocb of group grp on run `chunk` of nchunks (as even as possible) of
  // the nvec vectors of virtual outputs of the image chunk at n0.
  auto item = [&](int64_t n0, int64_t nvec, int64_t nchunks, int64_t grp, int64_t ocb,
                  int64_t chunk) {
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
      alignas(64) float tile[W * PV * L];
      table[(oc_count - 1) * PV + pv - 1](p, xg, w0, ep.bias ? ep.bias + oc0 : nullptr, start * L,
                                          tile);
      if (ep.clamps())
        for (int i = 0; i < W * PV * L; i += L)
          V::store(tile + i, V::clamp(V::load(tile + i), ep.lo, ep.hi));
      DirectSegment seg[PV * L];
      const int ns = direct_segments(p, start * L, end * L, seg);
      for (int o = 0; o < oc_count; ++o)
        for (int s = 0; s < ns; ++s)
          V::copy_n(tile + o * pv * L + seg[s].tile_off, yb + o * P + seg[s].y_off, seg[s].len);
    }
  };
  if (p.by_groups) {
#pragma omp parallel for schedule(static)
    for (int64_t grp = 0; grp < p.groups; ++grp) {
      if (transposed)
        for (int64_t ocb = 0; ocb < nocb; ++ocb) transpose(grp, ocb);
      for (int64_t n0 = 0; n0 < p.N; n0 += p.images) {
        const int64_t nn = std::min(p.images, p.N - n0);
        for (int64_t ic = grp * p.cig; ic < (grp + 1) * p.cig; ++ic)
          for (int64_t n = 0; n < nn; ++n) pad(n0, n, ic);
        if (grp + 1 < p.groups)
          for (int64_t n = 0; n < nn; ++n)
            prefetch(x + ((n0 + n) * p.C_in + (grp + 1) * p.cig) * p.in_pixels(),
                     p.cig * p.in_pixels());
        const int64_t nvec = div_up(p.virt_of(nn), L), nchunks = div_up(nvec, kChunkVecs);
        for (int64_t chunk = 0; chunk < nchunks; ++chunk)
          for (int64_t ocb = 0; ocb < nocb; ++ocb) item(n0, nvec, nchunks, grp, ocb, chunk);
      }
    }
    return;
  }
#pragma omp parallel
  {
    if (transposed) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < p.groups * nocb; ++i) transpose(i / nocb, i % nocb);
    }
    for (int64_t n0 = 0; n0 < p.N; n0 += p.images) {
      const int64_t nn = std::min(p.images, p.N - n0);
#pragma omp for schedule(static)
      for (int64_t c = 0; c < nn * p.C_in; ++c) pad(n0, c % nn, c / nn);
      const int64_t nvec = div_up(p.virt_of(nn), L), nchunks = div_up(nvec, kChunkVecs);
      // Consecutive items share what is larger, so that it is read from memory once per
      // image chunk: the group's weights (runs inner) or its padded inputs (oc blocks inner).
      const bool weights_larger = p.cog * p.K > p.chan;
#pragma omp for schedule(static)
      for (int64_t i = 0; i < p.groups * nchunks * nocb; ++i) {
        const int64_t grp = i / (nocb * nchunks), rest = i % (nocb * nchunks);
        if (weights_larger) {
          item(n0, nvec, nchunks, grp, rest / nchunks, rest % nchunks);
        } else {
          item(n0, nvec, nchunks, grp, rest % nocb, rest / nocb);
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
  const int64_t dy_pitch = p.images * p.plane;
  const int64_t nocb = div_up(p.cog, WO), nicb = div_up(p.cig, kWeightIcBlock);
  const int64_t ntb = div_up(p.K, WT), P = p.out_pixels(), K = p.K;
  auto pad = [&](int64_t n0, int64_t n, int64_t ic) {
    pad_channel<V>(p, x + ((n0 + n) * p.C_in + ic) * p.in_pixels(),
                   padded + ic * p.chan + n * p.plane);
  };
  auto dy_row = [&](int64_t n0, int64_t n, int64_t oc) {
    virtual_row<V>(p, dy + ((n0 + n) * p.C_out + oc) * P, dyv + oc * dy_pitch + n * p.plane);
  };
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
          for (int64_t oc = grp * p.cog; oc < (grp + 1) * p.cog; ++oc) dy_row(n0, n, oc);
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
        dy_row(n0, (c - nn * p.C_in) % nn, (c - nn * p.C_in) / nn);
      }
    }
    const int64_t nvec = div_up(p.virt_of(nn), L);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p.groups * nocb * nicb; ++i)
      item(n0, nvec, i / (nicb * nocb), i / nicb % nocb, i % nicb);
  }
}

// The three passes on a ConvGeometry, what each instruction set's entry points call.
template <class V>
void run_forward(const ConvGeometry& g, const float* x, const float* w, const ConvEpilogue& ep,
                 float* y, float* ws) {
  forward<V>(direct_plan(g, ConvPass::kForward), x, w, false, ep, y, ws);
}

template <class V>
void run_backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx,
                       float* ws) {
  forward<V>(direct_plan(g, ConvPass::kBackwardData), dy, w, true, {}, dx, ws);
}

template <class V>
void run_backward_weight(const ConvGeometry& g, const float* x, const float* dy, float* dw,
                         float* ws) {
  backward_weight<V>(direct_plan(g, ConvPass::kBackwardWeight), x, dy, dw, ws);
}
