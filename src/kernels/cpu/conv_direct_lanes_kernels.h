// The direct convolution kernels with output channels in the lanes, for layers whose
// position-vectorised kernels (conv_direct_kernels.h) would compute many virtual outputs or sum
// horizontally: the forward on small planes and on larger ones without stride, and the weight
// gradient with C_out per group a multiple of the vector width. Not a normal header:
// conv_direct_kernels.h includes it inside each instruction set's anonymous namespace, after
// its helpers (pad_channel, pad_image_channel, div_up) and before the passes that choose
// between the two families (run_forward, run_backward_weight).

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
  std::optional<typename V::PieceTranspose> pieces;
  if (p.w_ic != K && K < L) pieces.emplace(K);
  // Vectors [v0, v1) of each group's channels cut into `count` blocks, and output rows into
  // `runs` runs, both as even as possible (lanes_shape).
  struct Blocking {
    int64_t v0, v1, count, runs;
  };
  auto blocking = [&](int64_t v0, int64_t v1) {
    const LaneShape shape = lanes_shape<V>(v1 - v0, ow, V::kLaneOuts);
    return Blocking{v0, v1, div_up(v1 - v0, shape.J), div_up(ow, shape.R)};
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
    // Each run's edge codes (direct_run_edges), K per run.
    std::vector<uint8_t> edges(nruns * K);
    bool exact = true;
    for (int64_t run = 0; run < nruns; ++run)
      exact = direct_run_edges(p, ow * run / nruns, ow * (run + 1) / nruns - ow * run / nruns,
                               edges.data() + run * K) &&
              exact;
    // Where no product with the padding is left to compute, the kernels read x in place
    // (direct_unpadded_plan): no padded copy.
    const bool in_place = unpadded && exact;
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
            taps[i] = direct_row_taps(p, od, oh);
            tile_edges[i] = edges.data() + run * K;
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

// Backward weight with output channels in the lanes (p.weight_lanes: C_out per group a
// multiple of kLanes): sums (R rows of J * kLanes at stride ld) += (or, if first, =) the sum
// over the real outputs q of output rows [r0, r1) of a chunk (rows (n, od, oh) of its images)
// inside win (the rest read only padding: see backward_weight_lanes) of x (q + off[r]) * dy^T (q,
// J * kLanes channels from dyt), one FMA per output in order, where dy^T is dy transposed to
// (images, P, C_out) and off[r] the offset of an (input channel, tap) pair in the padded copy
// at x. No virtual outputs and no horizontal sums: every output adds R broadcast inputs times J
// vectors of dy. The sums carry on from where the last tile left them (not a tile's sum added
// to them: those adds were a pass over the block per call), so each dw element is one chain of
// FMAs over the outputs in order, whatever the tiles.
template <class V, int J, int R>
void weight_lanes_block(const DirectPlan& p, const float* xc, const float* dyt, int64_t r0,
                        int64_t r1, const int64_t* pair_off, const TapWindow& win, bool first,
                        float* sums, int64_t ld) {
  using Vec = typename V::Vec;
  constexpr int L = V::kLanes;
  const int64_t C = p.C_out;
  Vec acc[R][J];
  // Unrolled, as in forward_lanes_block.
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) acc[r][j] = first ? V::zero() : V::load(sums + r * ld + j * L);
  int64_t off[R];
  for (int r = 0; r < R; ++r) off[r] = pair_off[r];
  const int64_t rows = p.out[0] * p.out[1];
  // Image n, slice od and row oh of row r0, then walked without divisions (two per row cost
  // 7-output rows a tenth of their time).
  int64_t n = r0 / rows, od = r0 % rows / p.out[1], oh = r0 % p.out[1];
  const float* dr = dyt + r0 * p.out[2] * C;
  for (int64_t row = r0; row < r1; ++row, dr += p.out[2] * C) {
    const float* xr = xc + n * p.plane + (od * p.q[1] + oh) * p.q[2] + win.lo[2];
    const bool inside = od >= win.lo[0] && od < win.hi[0] && oh >= win.lo[1] && oh < win.hi[1];
    if (++oh == p.out[1]) {
      oh = 0;
      if (++od == p.out[0]) od = 0, ++n;
    }
    if (!inside) continue;
    const float* dw = dr + win.lo[2] * C;
    for (int64_t ow = win.lo[2]; ow < win.hi[2]; ++ow, ++xr, dw += C) {
      Vec d[J];
      for (int j = 0; j < J; ++j) d[j] = V::in_register(V::load(dw + j * L));
      for (int r = 0; r < R; ++r) {
        const Vec xv = V::broadcast(xr + off[r]);
        for (int j = 0; j < J; ++j) acc[r][j] = V::fma(xv, d[j], acc[r][j]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int j = 0; j < J; ++j) V::store(sums + r * ld + j * L, acc[r][j]);
}

using WeightLanesFn = void (*)(const DirectPlan&, const float*, const float*, int64_t, int64_t,
                               const int64_t*, const TapWindow&, bool, float*, int64_t);

// Outputs per backward-weight tile with channels in the lanes: a channel block's dy^T rows of a
// tile and the item's padded input rows that the tile reads (about copy_ics x phases floats per
// output) should stay in L2 (kLaneTileFloats) while the item's input channels pass by, between
// kMinLaneTileOutputs and kMaxLaneTileOutputs. Whole chunks of images instead streamed the
// 3x3x3 layer's 6.4 MB of dy^T per image from memory once per input channel; ResNet-18 layer 3
// at batch 16 (64 channels x 4 phases, 3 vectors of dy: 431 outputs) ran 1.06x faster in
// tiles of 512 than of 1024, layer 2 (32 x 4: 745) and the 3x3x3 layer (8 x 1 + 2 vectors:
// 1024) 1.02x slower in tiles of 512 (one thread, user cycles).
constexpr int64_t kLaneTileFloats = int64_t{1} << 17;
constexpr int64_t kMinLaneTileOutputs = 512, kMaxLaneTileOutputs = 1024;

// Positions per item of the transpose of dy to dy^T (a multiple of any kLanes).
constexpr int64_t kTransposeCols = 1024;

// The most pairs and vectors of channels of a weight_lanes_block for any instruction set.
constexpr int kMaxLanePairs = 16, kMaxLaneVecs = 4;

// weight_lanes_block for J vectors of channels and R pairs where R <= V::kLanePairs[J - 1],
// null elsewhere: entry (J - 1) * kMaxLanePairs + R - 1.
template <class V, int I>
constexpr WeightLanesFn weight_lanes_entry() {
  constexpr int J = I / kMaxLanePairs + 1, R = I % kMaxLanePairs + 1;
  if constexpr (J <= static_cast<int>(V::kLanePairs.size()) && R <= V::kLanePairs[J - 1]) {
    return &weight_lanes_block<V, J, R>;
  } else {
    return nullptr;
  }
}

template <class V, size_t... I>
constexpr auto weight_lanes_table(std::index_sequence<I...>) {
  return std::array<WeightLanesFn, sizeof...(I)>{weight_lanes_entry<V, static_cast<int>(I)>()...};
}

// dst[c * ldd + m] = src[m * ld + c] for m < rows, c < cols (a multiple of kLanes): blocks of
// kLanes x kLanes through registers, columns outermost so that each run of dst is written in
// one go; the last rows one by one.
template <class V>
void transpose_matrix(const float* src, int64_t ld, int64_t rows, int64_t cols, float* dst,
                      int64_t ldd) {
  constexpr int L = V::kLanes;
  const int64_t full = rows / L * L;
  for (int64_t c = 0; c < cols; c += L) {
    for (int64_t m = 0; m < full; m += L)
      V::transpose_block(src + m * ld + c, ld, dst + c * ldd + m, ldd);
    for (int64_t cc = c; cc < c + L; ++cc)
      for (int64_t m = full; m < rows; ++m) dst[cc * ldd + m] = src[m * ld + cc];
  }
}

// dw = sum over images of corr(x, dy) with output channels in the lanes. Each work item owns
// the dw of a block of p.copy_ics input channels (all output channels) over a part of the
// images (p.image_parts) and walks its chunks on its own: it pads its channels of a chunk into
// its thread's copy and adds the chunk's products, in chunk order, into a dw^T block (rows
// (ic, k), vectors of channels; one element at a time into dw's rows, 432 scattered adds per
// kernel call were 7% of ResNet-18 layer 4's time), which goes to dw transposed at the end. No
// padded input is shared between cores: with the chunks padded by all threads between
// barriers, 2 threads ran ResNet-18's strided layers at batch 16 at 0.76-0.93x im2col_gemm's
// speed. dy^T comes either
//  - (one part) from a transpose of all of dy into ws, shared out by all threads before the
//    items, each thread's dw^T block going to dw as its item ends; or
//  - (several parts, few input channels) from the item itself, chunk by chunk, into its
//    thread's buffer, where it stays in L2, each part keeping its dw^T; after a barrier the
//    threads add the parts up in order and transpose the sums to dw. On ResNet-18 layer 2's
//    stride-2 layer at batch 16 (64 input channels), the shared transpose wrote 6.4 MB of dy^T
//    that two items then read back, and the threads waited at the barrier after it.
template <class V>
void backward_weight_lanes(const DirectPlan& p, const float* x, const float* dy, float* dw,
                           float* ws) {
  constexpr int L = V::kLanes, kMaxR = kMaxLanePairs;
  constexpr int kMaxJ = kMaxLaneVecs;
  static_assert(std::ranges::max(V::kLanePairs) <= kMaxR && V::kLanePairs.size() <= kMaxJ);
  static constexpr auto table =
      weight_lanes_table<V>(std::make_index_sequence<size_t{kMaxJ} * kMaxR>{});
  float* dyt = ws + p.x_all_floats();
  float* dwt_all = dyt + p.dy_floats();
  const int64_t cvecs = p.cog / L, nicb = div_up(p.C_in, p.copy_ics);
  const int64_t P = p.out_pixels(), K = p.K, C = p.C_out;
  // Blocks of output channels and of the (input channel, tap) pairs of an item's channels
  // (rows of its dw^T), each as even as possible: a block of one vector loads a dy vector per
  // R FMAs, and pairs, not taps, fill R across channels (27 taps in blocks of 14, not 9).
  const LaneShape shape = lanes_shape<V>(cvecs, p.copy_ics * K, V::kLanePairs);
  const int64_t nocb = div_up(cvecs, shape.J);
  // Where an item's channels fill a block and some products read padding, an item's pairs go
  // in blocks of one tap each, over the outputs whose input through that tap is not padding
  // (direct_tap_window). Each broadcast then comes from another channel's row, not from a few
  // taps of one, which cost about what 1-5% of the products do in the slow state (core_probe),
  // nothing measurable in the quick one. ResNet-18's 3x3 weight gradients at batch 16 against
  // blocks of consecutive taps, 2 threads, Zen 5, 8-10 alternating runs, medians (ms):
  //   layer (products on padding)   quick state     slow state
  //   layer 4 (18%)                 6.33 / 7.36     7.07 / 7.75
  //   layer 3 (9%)                  6.83 / 7.27     7.45 / 7.49
  //   layer 2 (5%)                  7.05 / 7.29     7.69 / 7.68
  //   layer 1 (2.4%)                7.31 / 7.41     7.57 / 7.50
  // and quick, the dilated layer 6.72 / 7.22, layer 4's stride-2 3x3 3.65 / 3.89, the
  // Fashion-MNIST CNN's second layer at batch 64 0.862 / 0.925; layers 2-4 at batch 1 3-8%.
  std::vector<TapWindow> windows(K);
  int64_t needed = 0;
  for (int k = 0; k < K; ++k) {
    const TapWindow& w = windows[k] = direct_tap_window(p, k);
    needed += (w.hi[0] - w.lo[0]) * (w.hi[1] - w.lo[1]) * (w.hi[2] - w.lo[2]);
  }
  const bool by_tap = p.copy_ics >= shape.R && needed < K * P;
  const TapWindow everywhere{{0, 0, 0}, p.out};
  const int64_t tile_outputs =
      std::clamp(kLaneTileFloats / (p.copy_ics * p.phases + div_up(cvecs, nocb) * L),
                 kMinLaneTileOutputs, kMaxLaneTileOutputs);
  zero_slack<V>(p, ws);
  // Channels [ic0, ic1) of the chunk at n0 of nn images, padded into `padded`, then tile by
  // tile of its output rows (as even as possible), every output channel block on each, with
  // the chunk's dy^T at dyc; `first`: the chunk starts the item's sums.
  auto chunk = [&](int64_t n0, int64_t nn, int64_t ic0, int64_t ic1, float* padded,
                   const float* dyc, bool first, float* dwt) {
    for (int64_t ic = ic0; ic < ic1; ++ic)
      for (int64_t n = 0; n < nn; ++n)
        pad_image_channel<V>(p, x, n0 + n, ic, padded + (ic - ic0) * p.chan + n * p.plane);
    const int64_t rows = nn * p.out[0] * p.out[1];
    const int64_t ntiles = std::min(rows, div_up(rows * p.out[2], tile_outputs));
    const int64_t ics = ic1 - ic0;
    for (int64_t tile = 0; tile < ntiles; ++tile)
      for (int64_t ocb = 0; ocb < nocb; ++ocb) {
        const int64_t v0 = cvecs * ocb / nocb, oc0 = v0 * L;
        const int vecs = static_cast<int>(cvecs * (ocb + 1) / nocb - v0);
        auto run = [&](int n, const int64_t* off, const TapWindow& win, int64_t a0, int64_t ld) {
          // Pair a is row a of the item's dw^T.
          table[(vecs - 1) * kMaxR + n - 1](p, padded, dyc + oc0, rows * tile / ntiles,
                                            rows * (tile + 1) / ntiles, off, win,
                                            first && tile == 0, dwt + a0 * C + oc0, ld);
        };
        int64_t off[kMaxR];
        if (by_tap) {
          // Tap by tap, its pairs with the item's channels in blocks, each over the outputs
          // whose input through the tap is not padding.
          const int64_t nb = div_up(ics, shape.R);
          for (int k = 0; k < K; ++k)
            for (int64_t b = 0; b < nb; ++b) {
              const int64_t c0 = ics * b / nb, n = ics * (b + 1) / nb - c0;
              for (int r = 0; r < n; ++r) off[r] = (c0 + r) * p.chan + p.tap[k];
              run(static_cast<int>(n), off, windows[k], c0 * K + k, K * C);
            }
        } else {
          const int64_t pairs = ics * K, npb = div_up(pairs, shape.R);
          for (int64_t pb = 0; pb < npb; ++pb) {
            const int64_t a0 = pairs * pb / npb, a1 = pairs * (pb + 1) / npb;
            for (int r = 0; r < a1 - a0; ++r) off[r] = (a0 + r) / K * p.chan + p.tap[(a0 + r) % K];
            run(static_cast<int>(a1 - a0), off, everywhere, a0, C);
          }
        }
      }
  };
  // Positions [c0, c0 + cols) of channels [cv * kLanes, +kLanes) of image n's dy^T (P, C) at
  // dst.
  auto transpose_dy = [&](int64_t n, int64_t cv, int64_t c0, int64_t cols, float* dst) {
    transpose_rows<V>(dy + (n * C + cv * L) * P + c0, P, cols, dst + c0 * C + cv * L, C);
  };
  const int64_t parts = p.image_parts, part_floats = p.C_in * K * C;
#pragma omp parallel
  {
    const int t = omp_get_thread_num();
    float* padded = ws + t * p.x_floats();
    if (parts == 1) {
      // Items of kLanes rows of dy by up to kTransposeCols positions, image outermost:
      // consecutive items read on along one image's rows. Dynamic, as the blocks below: a
      // thread the machine delays holds the other back only at the barrier after this. Whole
      // rows, taken 8 at a time, made the 3x3x3 layer's dy 4 items, all taken by one thread
      // while the other waited (libgomp was 14% of its profile on 2 threads).
      const int64_t pieces = div_up(P, kTransposeCols);
#pragma omp for schedule(dynamic, 4)
      for (int64_t c = 0; c < p.N * (C / L) * pieces; ++c) {
        const int64_t n = c / (C / L * pieces), c0 = c % pieces * kTransposeCols;
        transpose_dy(n, c / pieces % (C / L), c0, std::min(kTransposeCols, P - c0),
                     dyt + n * P * C);
      }
    }
    // Several parts: this thread's chunk of dy^T.
    float* dyc = dyt + t * p.images * P * C;
    // Dynamic: which thread takes an item changes no sum.
#pragma omp for schedule(dynamic)
    for (int64_t item = 0; item < parts * nicb; ++item) {
      const int64_t part = item / nicb, icb = item % nicb;
      const int64_t ic0 = icb * p.copy_ics, ic1 = std::min(p.C_in, ic0 + p.copy_ics);
      const int64_t n_begin = p.N * part / parts, n_end = p.N * (part + 1) / parts;
      float* dwt =
          parts == 1 ? dwt_all + t * p.dwt_floats() : dwt_all + part * part_floats + ic0 * K * C;
      for (int64_t n0 = n_begin; n0 < n_end; n0 += p.images) {
        const int64_t nn = std::min(p.images, n_end - n0);
        if (parts > 1)
          for (int64_t n = 0; n < nn; ++n)
            for (int64_t cv = 0; cv < C / L; ++cv) transpose_dy(n0 + n, cv, 0, P, dyc + n * P * C);
        chunk(n0, nn, ic0, ic1, padded, parts == 1 ? dyt + n0 * P * C : dyc, n0 == n_begin, dwt);
      }
      if (parts == 1) transpose_matrix<V>(dwt, C, (ic1 - ic0) * K, C, dw + ic0 * K, p.cig * K);
    }
    if (parts > 1) {
      // Blocks of kLanes input channels: K * kLanes rows of dw^T, whole 16 x 16 transposes.
#pragma omp for schedule(static)
      for (int64_t ic0 = 0; ic0 < p.C_in; ic0 += L) {
        const int64_t rows = std::min<int64_t>(L, p.C_in - ic0) * K;
        float* sum = dwt_all + ic0 * K * C;
        for (int64_t part = 1; part < parts; ++part)
          for (int64_t i = 0; i < rows * C; i += L)
            V::store(sum + i, V::load(sum + i) + V::load(sum + part * part_floats + i));
        transpose_matrix<V>(sum, C, rows, C, dw + ic0 * K, p.cig * K);
      }
    }
  }
}
