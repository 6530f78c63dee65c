// The direct convolution kernels with output channels in the lanes, for layers whose
// position-vectorised kernels (conv_direct_kernels.h) would compute many virtual outputs or sum
// horizontally: here the forward (and backward data) on small planes and on larger ones
// without stride, with the helpers both passes share (transpose_rows, lanes_shape); the weight
// gradient, with C_out per group a multiple of the vector width, in
// conv_direct_lanes_weight_kernels.h. Not normal headers: conv_direct_kernels.h includes both
// inside each instruction set's anonymous namespace, after its helpers (pad_channel,
// pad_image_channel, div_up) and before the passes that choose between the two families
// (run_forward, run_backward_weight).

// dst[c * ldd + l] = src[l * ld + c] for kLanes rows l and `cols` columns c: whole blocks
// through registers (the element-by-element loop that packed the weights was 12% of ResNet-18
// layer 4's forward at batch 16), the last columns one by one.
template <class V>
void transpose_rows(const float* src, int64_t ld, int64_t cols, float* dst, int64_t ldd) {
  constexpr int L = V::kLanes;
  int64_t c = 0;
  for (; c + L <= cols; c += L) V::transpose_block(src + c, ld, dst + c * ldd, ldd);
  for (; c < cols; ++c)
    for (int l = 0; l < L; ++l) dst[c * ldd + l] = src[l * ld + c];
}

// Forward with output channels in the lanes (p.fwd_lanes): tile (R, J * kLanes) = start + sum
// over ic in [ic0, ic1), k in [taps.k0, taps.k1) of x (ic, q0 + r + tap[k]) * wp (ic, k, J *
// kLanes channels), for R consecutive real outputs from q0 of one row, wp the block's packed
// weights (cig, K, J * kLanes); start is the bias where ic0 = 0, the tile's own sums (those of
// the channels before ic0) otherwise. Each tap is one base address for R broadcasts, and no
// virtual output is computed. Nor are products with the padding: the taps outside the row's
// range (direct_row_taps) and, per tap, the run's first or last output where edges[k] says so
// (direct_run_edges) read only zeros and are left out, as oneDNN leaves them out. ResNet-18
// layer 4 (7x7 outputs, 3x3 taps) so does 361 of every 441 products: at batch 16, 2 threads,
// Zen 5, 8 alternating runs, medians, its forward took 6.32 ms against 7.48 with every product,
// backward data 6.41 against 7.65; layer 3 (14x14) 6.79 against 7.32, layer 2 (28x28) 7.19
// against 7.44. The switch on each tap's code cost nothing measurable (all codes 0: 6.93 ms
// against 6.88 for the row ranges alone).
template <class V, int J, int R>
void forward_lanes_block(const DirectPlan& p, const float* xg, const float* wp, const float* bias,
                         int64_t q0, TapRange taps, const uint8_t* edges, int64_t ic0, int64_t ic1,
                         float* tile) {
  using Vec = typename V::Vec;
  constexpr int L = V::kLanes;
  Vec acc[R][J];
  // The loops over the tile unrolled here and below: otherwise GCC 12 may keep acc on the stack
  // at the ends and copy it with memcpy/memset calls.
#pragma GCC unroll 16
  for (int j = 0; j < J; ++j) {
    const Vec b = bias ? V::load(bias + j * L) : V::zero();
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r][j] = ic0 > 0 ? V::load(tile + (r * J + j) * L) : b;
  }
  const int K = p.K;
  for (int64_t ic = ic0; ic < ic1; ++ic) {
    const float* xc = xg + ic * p.chan + q0;
    const float* wc = wp + ic * K * J * L;
    for (int k = taps.k0; k < taps.k1; ++k) {
      const float* xk = xc + p.tap[k];
      Vec wv[J];
      for (int j = 0; j < J; ++j) wv[j] = V::in_register(V::load(wc + (k * J + j) * L));
      // Outputs [Lo, R - Hi) of the tile, for edge code Lo + 2 Hi.
      auto outputs = [&]<int Lo, int Hi>() {
        for (int r = Lo; r < R - Hi; ++r) {
          const Vec xv = V::broadcast(xk + r);
          for (int j = 0; j < J; ++j) acc[r][j] = V::fma(xv, wv[j], acc[r][j]);
        }
      };
      switch (edges[k]) {
        case 0:
          outputs.template operator()<0, 0>();
          break;
        case 1:
          outputs.template operator()<1, 0>();
          break;
        case 2:
          outputs.template operator()<0, 1>();
          break;
        default:
          outputs.template operator()<1, 1>();
          break;
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) V::store(tile + (r * J + j) * L, acc[r][j]);
}

using ForwardLanesFn = void (*)(const DirectPlan&, const float*, const float*, const float*,
                                int64_t, TapRange, const uint8_t*, int64_t, int64_t, float*);

// forward_lanes_block for J vectors of channels and R outputs where R <= V::kLaneOuts[J - 1]
// (what fits in the registers), null elsewhere: entry (J - 1) * kLanes + R - 1.
template <class V, int I>
constexpr ForwardLanesFn forward_lanes_entry() {
  constexpr int J = I / V::kLanes + 1, R = I % V::kLanes + 1;
  if constexpr (R <= V::kLaneOuts[J - 1]) {
    return &forward_lanes_block<V, J, R>;
  } else {
    return nullptr;
  }
}

template <class V, size_t... I>
constexpr auto forward_lanes_table(std::index_sequence<I...>) {
  return std::array<ForwardLanesFn, sizeof...(I)>{forward_lanes_entry<V, static_cast<int>(I)>()...};
}

// A blocking of the kernels with channels in the lanes: up to J vectors of channels x up to R
// broadcasts (outputs of a row, or (input channel, tap) pairs).
struct LaneShape {
  int J, R;
};

// The blocking of cvecs vectors of channels x n broadcasts (outputs of a row, or (input
// channel, tap) pairs) by kernels with channels in the lanes, most[J - 1] broadcasts for J
// vectors: the one with the fewest cycles per step. Kernel calls (blocks x runs) cost a fixed
// part (loop, offsets, latency at the ends) and their loads, J vectors and R broadcasts; the
// FMAs are the same for all. Forward rows of 56 outputs x 2 vectors (a 3x3x3 layer with 32
// channels) take 4 runs of 14, not 7 of 8 (1.02-1.04x); rows of 14 x 16 vectors (ResNet-18
// layer 3) runs of 14 x 2 vectors, not of 7 x 3 (0.98-1.03x).
template <class V, size_t N>
LaneShape lanes_shape(int64_t cvecs, int64_t n, const std::array<int, N>& most) {
  constexpr int64_t kCallCost = 8;
  LaneShape best{1, most[0]};
  int64_t best_cost = -1;
  for (int j = 1; j <= static_cast<int>(N); ++j) {
    const int64_t nocb = div_up(cvecs, j), nruns = div_up(n, most[j - 1]);
    const int64_t cost = nocb * nruns * (kCallCost + div_up(cvecs, nocb) + div_up(n, nruns));
    if (best_cost < 0 || cost < best_cost) best = {j, most[j - 1]}, best_cost = cost;
  }
  return best;
}

// Padded input floats of the output rows that the forward with channels in the lanes runs
// every weight block over (a quarter of L2).
constexpr int64_t kLaneBandFloats = int64_t{1} << 16;
// The forward with channels in the lanes sums kLaneTiles tiles at a time over one slice of the
// block's weights (input channels, up to lane_weight_floats()), then the next. Every sum keeps
// its order (bias, then input channels ascending, taps inner), whatever the slices.
//  - Intel (Ice Lake): slices of 4096 floats (16 KiB, a third of L1), which stay in L1 for all
//    the tiles. Over all channels at once, each tile read the block's weights from L2 (147 KB
//    on ResNet-18 layer 3's stride-2 forward), and the kernel waited on those loads. That
//    forward at batch 16, 2 threads, 60-80 alternating runs: median 10.4-10.9 ms against
//    11.4-11.6, tenth percentile 9.3-9.4 against 9.9-10.8; slices of 2048 or 8192 floats and
//    groups of 4 or 16 tiles gained less, layer 4 the same either way.
//  - AMD (Zen 5): slices of 32768 floats (128 KiB, an eighth of L2): fewer, longer calls win
//    there (with slices of 4096, layer 4's forward spent 6% of its calls' time outside their
//    loop over channels). 2 threads, 12 alternating runs, tenth percentiles at batch 16 against
//    slices of 8192 (themselves 3-14% faster than 4096), ResNet-18 layer 4 forward 8.43 ms
//    against 8.80 and backward data 9.17 against 9.43, layer 3 8.05 against 8.36, the stride-2
//    forwards of layers 3-4 4.37-4.39 against 4.52-4.53; batch 1 the same. Slices of 65536
//    floats or all channels at once did no better (nor, with slices of 8192, groups of 16
//    tiles). The AVX2 kernel on the same Zen 5: 1-4% faster at batch 16 than with 4096.
constexpr int64_t kLaneTiles = 8;
inline int64_t lane_weight_floats() {
  return cpu_is_intel() ? 4096 : 32768;
}

// Runs work() once, on the first thread to claim `state` (0: free, 1: being done, 2: done);
// every other thread returns once it is done.
template <class Work>
void claim(std::atomic<int>& state, Work&& work) {
  if (state.load(std::memory_order_acquire) == 2) return;
  int expected = 0;
  if (state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    work();
    state.store(2, std::memory_order_release);
    return;
  }
  while (state.load(std::memory_order_acquire) != 2) __builtin_ia32_pause();
}

// Forward with output channels in the lanes (or backward data, as the forward of dy): the
// weights are packed once per call into blocks of vectors of output channels, (cig, K,
// channels) each, in ws after the padded chunks; output rows are cut into runs of outputs, as
// even as possible (lanes_shape). Each thread either takes whole chunks of images
// (p.by_images), every block on each, starting at its own share of the blocks and packing each
// block whichever thread reaches it first (claim), just before using it: no barrier, and the
// block is in the packer's L2 for its first use (against a packing of all blocks by all threads
// and a barrier, ResNet-18 layer 4 at batch 16 ran from 1.5% slower to 4% faster from run to
// run, 2 threads, Zen 5); or
// (p.lanes_by_channels) a share of the vectors of output channels, blocked on their own, whose
// weights it packs itself, over every chunk, padded into its own copy: no barrier, and no
// packed weights or padded rows travel between cores. Every output is summed in the same order
// either way. (Packing each of its blocks just before the first chunk uses it instead measured
// the same: ResNet-18 layer 4 at batch 16, forward 2% faster, backward data 1.5% slower.)
template <class V>
void forward_lanes(const DirectPlan& p, const float* x, const float* w, const ConvEpilogue& ep,
                   float* y, float* ws) {
  constexpr int L = V::kLanes, kMaxJ = static_cast<int>(V::kLaneOuts.size());
  static_assert(std::ranges::max(V::kLaneOuts) <= L,
                "a run's outputs go out as the lanes of one vector");
  static constexpr auto table =
      forward_lanes_table<V>(std::make_index_sequence<size_t{kMaxJ} * L>{});
  const int64_t cvecs = p.cog / L, P = p.out_pixels(), K = p.K;
  const int64_t ow = p.out[2], rows = p.out[0] * p.out[1];
  const int64_t band_rows = std::max<int64_t>(1, kLaneBandFloats / (p.cig * p.phases * p.q[2]));
  const int64_t slice_floats = lane_weight_floats();
  const bool by_band = p.q[0] == 1;
  const int64_t halo = (p.kernel[1] - 1) * p.dilation[1] / p.stride[1];  // extra phase rows
  float* wp = ws + p.x_all_floats();
  const std::optional<DirectPlan> unpadded = direct_unpadded_plan(p);
  const std::vector<TapRange> row_taps = direct_row_taps(p);
  std::optional<typename V::PieceTranspose> pieces;
  if (p.w_ic != K && K < L) pieces.emplace(K);
  // Vectors [v0, v1) of each group's channels cut into `count` blocks, and output rows into
  // `runs` runs, both as even as possible (lanes_shape); each run's edge codes
  // (direct_run_edges), K per run, and whether they leave out every product with the padding.
  struct Blocking {
    int64_t v0, v1, count, runs;
    std::vector<uint8_t> edges{};
    bool exact = true;
  };
  auto blocking = [&](int64_t v0, int64_t v1) {
    const LaneShape shape = lanes_shape<V>(v1 - v0, ow, V::kLaneOuts);
    Blocking B{.v0 = v0, .v1 = v1, .count = div_up(v1 - v0, shape.J), .runs = div_up(ow, shape.R)};
    B.edges.resize(B.runs * K);
    for (int64_t run = 0; run < B.runs; ++run) {
      const int64_t w0 = ow * run / B.runs, w1 = ow * (run + 1) / B.runs;
      B.exact = direct_run_edges(p, w0, w1 - w0, B.edges.data() + run * K) && B.exact;
    }
    return B;
  };
  // Block b of B: vectors [v0, v1) of a group's channels, packed at wp + oc0 * cig * K.
  auto block = [&](const Blocking& B, int64_t b, int64_t& v0, int64_t& v1) {
    v0 = B.v0 + (B.v1 - B.v0) * b / B.count;
    v1 = B.v0 + (B.v1 - B.v0) * (b + 1) / B.count;
  };
  // Packs unit i of B (block i % B.count of group i / B.count).
  auto pack = [&](const Blocking& B, int64_t i) {
    int64_t v0, v1;
    block(B, i % B.count, v0, v1);
    const int64_t grp = i / B.count, oc0 = grp * p.cog + v0 * L, n = (v1 - v0) * L;
    float* dst = wp + oc0 * p.cig * K;
    // Weight (oc, ic, k) of the block at src + oc * w_oc + ic * w_ic + k: a forward's rows of
    // (ic, k) pairs one after another, or backward data's weight in place, K floats per
    // (ic, oc) (DirectPlan::w_oc), one channel ic at a time: pieces of kLanes channels x K
    // floats laid one after another (w_oc = K), which PieceTranspose takes where K < kLanes.
    // Backward data's weight k goes to tap K - 1 - k (the plan's taps in their order, see
    // direct_plan).
    const bool rows = p.w_ic == K;
    const int64_t last = rows ? 0 : (K - 1) * n, ldd = rows ? n : -n;
    for (int64_t o = 0; o < n; o += L) {
      const float* src = w + p.weight_at(grp, v0 * L + o);
      if (rows) {
        transpose_rows<V>(src, p.w_oc, p.cig * K, dst + o, n);
      } else if (pieces) {
        for (int64_t ic = 0; ic < p.cig; ++ic)
          (*pieces)(src + ic * p.w_ic, dst + ic * K * n + last + o, ldd);
      } else {
        for (int64_t ic = 0; ic < p.cig; ++ic)
          transpose_rows<V>(src + ic * p.w_ic, p.w_oc, K, dst + ic * K * n + last + o, ldd);
      }
    }
  };
  // A group of tiles' sums, kLanes rows per tile (see chunk), named out here: GCC 12 stops with
  // an internal compiler error on this array declared inside the lambda.
  using Tiles = float[kLaneTiles][L * kMaxJ * L];
  // Every unit of B on the chunk of nn images at n0, padded into `padded`, from unit `first`
  // on (round to it again); with `ready`, each unit packed by whichever thread needs it first.
  auto chunk = [&](int64_t n0, int64_t nn, float* padded, const Blocking& B, int64_t first,
                   std::atomic<int>* ready) {
    const int64_t nruns = B.runs;
    // Where no product with the padding is left to compute, the kernels read x in place
    // (direct_unpadded_plan): no padded copy.
    const bool in_place = unpadded && B.exact;
    const DirectPlan& kp = in_place ? *unpadded : p;
    const float* xin = in_place ? x + n0 * p.C_in * p.in_pixels() : padded;
    // Bands of output rows (of all nn images) whose padded inputs stay in L2 while every
    // block of weights passes by. Planar layers pad each band's phase rows just before
    // using it; 3D layers pad the chunk at once (a band of rows reads a few slices, which
    // bands would pad several times). Each channel's padding asks for the next channel's
    // input rows (pad_image_channel): ResNet-18 layer 3's stride-2 forward at batch 16 on
    // one thread spent 10.2% of its samples padding so, 11.4-11.6% with the next band's rows
    // asked for while computing one instead, or with no prefetch at all.
    const int64_t nbands = div_up(nn * rows, band_rows);
    auto band_row = [&](int64_t band) { return nn * rows * band / nbands; };
    if (!by_band && !in_place)
      for (int64_t ic = 0; ic < p.C_in; ++ic)
        for (int64_t n = 0; n < nn; ++n)
          pad_image_channel<V>(p, x, n0 + n, ic, padded + ic * p.chan + n * p.plane);
    for (int64_t band = 0; band < nbands; ++band) {
      // The band's output rows [row0, row1) of all nn images.
      const int64_t row0 = band_row(band), row1 = band_row(band + 1);
      if (by_band && !in_place)  // phase rows [r0, r1) of each image n the band's rows touch
        for (int64_t n = row0 / rows; n * rows < row1; ++n) {
          const int64_t r0 = std::max<int64_t>(row0 - n * rows, 0);
          const int64_t r1 = std::min(std::min(row1 - n * rows, rows) + halo, p.q[1]);
          for (int64_t ic = 0; ic < p.C_in; ++ic)
            pad_image_channel<V>(p, x, n0 + n, ic, padded + ic * p.chan + n * p.plane, r0, r1);
        }
      const int64_t units = p.groups * B.count;
      for (int64_t s = 0; s < units; ++s) {
        const int64_t u = (first + s) % units;
        if (ready) claim(ready[u], [&] { pack(B, u); });
        const int64_t grp = u / B.count;
        int64_t v0, v1;
        block(B, u % B.count, v0, v1);
        const int vecs = static_cast<int>(v1 - v0);
        const int64_t oc0 = grp * p.cog + v0 * L;
        const float* xg = xin + grp * p.cig * kp.chan;
        const float* bias = ep.bias ? ep.bias + oc0 : nullptr;
        // The band's tiles (output row, run), kLaneTiles at a time, each group summed over
        // slices of the block's weights in turn (see lane_weight_floats).
        const int64_t t0 = row0 * nruns, t1 = row1 * nruns;
        const int64_t ics = std::max<int64_t>(1, slice_floats / (K * vecs * L));
        for (int64_t g0 = t0; g0 < t1; g0 += kLaneTiles) {
          const int64_t count = std::min(kLaneTiles, t1 - g0);
          // Tile i of the group: its first output's position q in the padded chunk, where
          // its outputs go in y (channel oc0), and how many it has.
          int64_t q[kLaneTiles], len[kLaneTiles];
          float* yr[kLaneTiles];
          TapRange taps[kLaneTiles];
          const uint8_t* tile_edges[kLaneTiles];
          for (int64_t i = 0; i < count; ++i) {
            const int64_t nrow = (g0 + i) / nruns, run = (g0 + i) % nruns;
            const int64_t n = nrow / rows, row = nrow % rows;
            const int64_t od = row / p.out[1], oh = row % p.out[1];
            const int64_t w0 = ow * run / nruns;
            q[i] = n * kp.plane + (od * kp.q[1] + oh) * kp.q[2] + w0;
            len[i] = ow * (run + 1) / nruns - w0;
            yr[i] = y + ((n0 + n) * p.C_out + oc0) * P + row * ow + w0;
            taps[i] = row_taps[row];
            tile_edges[i] = B.edges.data() + run * K;
          }
          // The lines of y the group's runs go to (one or two each: len <= kLanes), asked for
          // with intent to write before its sums: y comes from L3 or memory, and the stores
          // waited on it (leaving them out made ResNet-18 layer 4 at batch 16 2-4% faster).
          // 2 threads, Zen 5, batch 16, 8 alternating runs: layer 4's backward data 8.74 ms
          // against 9.04, forward 8.64 against 8.73, the stride-2 forwards 0-3% faster; later
          // runs could not tell it apart from the host's noise (±2%); batch 1 the same.
          for (int64_t i = 0; i < count; ++i)
            for (int64_t c = 0; c < vecs * L; ++c) {
              __builtin_prefetch(yr[i] + c * P, 1, 3);
              __builtin_prefetch(yr[i] + c * P + len[i] - 1, 1, 3);
            }
          // kLanes rows per tile (those past len unused), so that each vector of channels
          // goes to y through a transpose in registers: one element at a time, the stores
          // were 5% of ResNet-18 layer 3's forward at batch 16.
          alignas(64) Tiles tiles;
          alignas(64) float t[L * L];
          for (int64_t ic0 = 0; ic0 < p.cig; ic0 += ics)
            for (int64_t i = 0; i < count; ++i)
              table[(vecs - 1) * L + len[i] - 1](kp, xg, wp + oc0 * p.cig * K, bias, q[i], taps[i],
                                                 tile_edges[i], ic0, std::min(ic0 + ics, p.cig),
                                                 tiles[i]);
          for (int64_t i = 0; i < count; ++i) {
            for (int j = 0; j < vecs; ++j) {
              V::transpose_block(tiles[i] + j * L, vecs * L, t, L);
              for (int o = 0; o < L; ++o) {
                typename V::Vec v = V::load(t + o * L);
                if (ep.clamps()) v = V::clamp(v, ep.lo, ep.hi);
                V::store_lanes(yr[i] + (j * L + o) * P, v, 0, static_cast<int>(len[i]));
              }
            }
          }
        }
      }
    }
  };
  zero_slack<V>(p, ws);
  const Blocking all = blocking(0, cvecs);
  const int64_t units = p.groups * all.count;
  std::unique_ptr<std::atomic<int>[]> ready;
  if (!p.lanes_by_channels) ready.reset(new std::atomic<int>[units] {});
#pragma omp parallel
  {
    const int64_t T = omp_get_num_threads(), t = omp_get_thread_num();
    float* padded = ws + t * p.x_floats();
    if (p.lanes_by_channels) {  // one group
      const Blocking B = blocking(cvecs * t / T, cvecs * (t + 1) / T);
      for (int64_t i = 0; i < B.count; ++i) pack(B, i);
      for (int64_t n0 = 0; n0 < p.N; n0 += p.images)
        chunk(n0, std::min(p.images, p.N - n0), padded, B, 0, nullptr);
    } else {
      // Chunks taken dynamically, as in forward(); each thread starts its chunks at its own
      // share of the units, so at first each packs a different unit just before using it.
      const int64_t first = units * t / T;
#pragma omp for schedule(dynamic)
      for (int64_t n0 = 0; n0 < p.N; n0 += p.images)
        chunk(n0, std::min(p.images, p.N - n0), padded, all, first, ready.get());
    }
  }
}
