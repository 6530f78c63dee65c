// The direct convolution's weight gradient with output channels in the lanes (C_out per group a
// multiple of the vector width). Not a normal header: conv_direct_kernels.h includes it inside
// each instruction set's anonymous namespace, after conv_direct_lanes_kernels.h, whose helpers
// (transpose_rows, lanes_shape) it uses.

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
  // taps of one, which costs about what 3-9% of the products do in the slow state (core_probe)
  // and 1-4% in the quick one (each layer's gain below against its share of products on
  // padding). ResNet-18's 3x3 weight gradients at batch 16 against
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
