#include "kernels/cpu/conv_im2col_gemm.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>

#include "kernels/cpu/conv_im2col_unroll.h"
#include "kernels/rounding.h"

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

// The blocks of one plan: image blocks × line chunks × groups, and the buffers they need.
struct Blocks {
  const ConvGeometry& g;
  Im2colGemmPlan plan;
  int64_t image_blocks = ceil_div(g.N, plan.images);
  int64_t chunks = ceil_div(std::max<int64_t>(out_lines(g), 1), plan.lines);

  ColBlock block(int64_t image_block, int64_t chunk) const {
    ColBlock b;
    b.n0 = image_block * plan.images;
    b.images = std::min(plan.images, g.N - b.n0);
    b.line0 = chunk * plan.lines;
    b.lines = std::min(plan.lines, out_lines(g) - b.line0);
    return b;
  }
  // A block of one image reads and writes the NCHW tensors in place; images side by side go
  // through a dense (channels, columns) buffer.
  static bool in_place(const ColBlock& b) { return b.images == 1; }
  int64_t max_columns() const { return plan.images * plan.lines * g.out[2]; }
  // Pointwise blocks of one image use x (or dx) itself as col.
  int64_t col_floats() const {
    return g.is_pointwise() && plan.images == 1 ? 0
                                                : plan.channels * g.kernel_pixels() * max_columns();
  }
  int64_t staging_floats() const {
    return plan.images > 1 ? g.C_out_per_group() * max_columns() : 0;
  }
  // Backward data's dcolᵀ, as large as dcol (Im2colGemmPlan::transposed_dcol).
  int64_t dcol_t_floats() const { return plan.transposed_dcol ? col_floats() : 0; }
  int64_t buffer_floats() const { return col_floats() + staging_floats() + dcol_t_floats(); }
  int64_t buffers() const { return plan.split ? omp_get_max_threads() : 1; }
};

Blocks blocks_of(const ConvGeometry& g, ConvPass pass) {
  return Blocks{g, im2col_gemm_plan(g, pass, omp_get_max_threads())};
}

// A GEMM operand and its leading dimension.
struct Operand {
  const float* data;
  int64_t ld;
};

// The col matrix of group `grp` for one block: x itself for a pointwise convolution of one
// image (its pixels are contiguous), else unrolled into `col`.
Operand x_block(const ConvGeometry& g, const float* x, int64_t grp, const ColBlock& blk, float* col,
                bool inner) {
  if (g.is_pointwise() && Blocks::in_place(blk)) {
    const int64_t P = g.out_pixels();
    return {x + (blk.n0 * g.C_in + grp * g.C_in_per_group()) * P + blk.pixel0(g), P};
  }
  im2col_block(g, x, grp, blk, col, inner);
  return {col, blk.columns(g)};
}

// dy's rows of group `grp` for one block: in place when the block is one image, else
// gathered side by side into `staging`.
Operand dy_block(const ConvGeometry& g, const float* dy, int64_t grp, const ColBlock& blk,
                 float* staging, bool inner) {
  const int64_t P = g.out_pixels(), cog = g.C_out_per_group();
  if (Blocks::in_place(blk)) return {dy + (blk.n0 * g.C_out + grp * cog) * P + blk.pixel0(g), P};
  gather_images(dy, g.C_out, P, grp * cog, cog, blk.n0, blk.images, staging, inner);
  return {staging, blk.columns(g)};
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

// Backward weight sums into partial dw buffers in the workspace: one per thread when split
// (thread 0 sums straight into dw unless transposed), one when transposed and not split.
int64_t dw_partials(const Blocks& b) {
  if (b.plan.split) return b.buffers() - (b.plan.transposed_dw ? 0 : 1);
  return b.plan.transposed_dw ? 1 : 0;
}

// dw (groups, cog, K) = the sum of `parts` buffers dwᵀ (groups, K, cog), in tiles of kTile
// k's so the strided reads of a tile stay in L1. Work-shares over the enclosing team.
void sum_transposed(const ConvGeometry& g, const float* parts, int64_t count, float* dw) {
  constexpr int64_t kTile = 16;
  const int64_t K = col_rows(g), cog = g.C_out_per_group(), tiles = ceil_div(K, kTile);
  const int64_t part_size = g.C_out * K;
#pragma omp for schedule(static)
  for (int64_t tile = 0; tile < g.groups * tiles; ++tile) {
    const int64_t grp = tile / tiles, k0 = tile % tiles * kTile, k1 = std::min(K, k0 + kTile);
    const float* src = parts + grp * cog * K;
    float* dst = dw + grp * cog * K;
    for (int64_t oc = 0; oc < cog; ++oc)
      for (int64_t k = k0; k < k1; ++k) {
        float sum = 0.0f;
        for (int64_t p = 0; p < count; ++p) sum += src[p * part_size + k * cog + oc];
        dst[oc * K + k] = sum;
      }
  }
}

}  // namespace

Im2colGemmPlan im2col_gemm_plan(const ConvGeometry& g, ConvPass pass, int64_t threads) {
  const int64_t K = col_rows(g), P = g.out_pixels(), lines = std::max<int64_t>(out_lines(g), 1);
  Im2colGemmPlan plan;
  plan.lines = lines;
  if (P < kIm2colNarrowPixels && pass != ConvPass::kBackwardWeight) {
    // Narrow images side by side; when the batch allows, in a multiple of the thread count of
    // blocks, so that each thread takes whole blocks. Then even out the blocks.
    plan.images = std::min(ceil_div(kIm2colMinColumns, std::max<int64_t>(P, 1)), g.N);
    int64_t blocks = ceil_div(g.N, plan.images);
    if (g.N >= threads) blocks = std::min(ceil_div(blocks, threads) * threads, g.N);
    plan.images = ceil_div(g.N, blocks);
  } else if (!g.is_pointwise() && K * P > kIm2colChunkFloats) {
    // Large images in chunks of whole lines (x read in place needs none when pointwise).
    const int64_t columns = std::max(kIm2colChunkFloats / K, kIm2colMinChunkColumns);
    const int64_t per_chunk = std::max<int64_t>(columns / g.out[2], 1);
    int64_t chunks = ceil_div(lines, per_chunk);
    // Chunks that threads share (forward and backward weight at a batch below the thread
    // count) come in a multiple of the thread count.
    if (chunks > 1 && g.N < threads && pass != ConvPass::kBackwardData)
      chunks = ceil_div(chunks, threads) * threads;
    plan.lines = ceil_div(lines, chunks);
  }
  plan.channels = g.C_in_per_group();
  if (pass == ConvPass::kBackwardData) {
    const int64_t row_floats = g.kernel_pixels() * plan.images * plan.lines * g.out[2];
    const int64_t steps =
        ceil_div(plan.channels, std::max<int64_t>(kIm2colDcolStepFloats / row_floats, 1));
    plan.channels = ceil_div(plan.channels, steps);
  }
  const Blocks b{g, plan};
  // backward_data runs the chunks of one image on one thread: col2im of neighbouring chunks
  // adds into the same input rows.
  const int64_t items =
      b.image_blocks * g.groups * (pass == ConvPass::kBackwardData ? 1 : b.chunks);
  const bool balanced = items % threads == 0 || items >= 4 * threads;
  // Split backward weight keeps a partial dw per thread, worth it only when each dw element
  // sums many products.
  const bool cheap_partials = pass != ConvPass::kBackwardWeight || g.C_out * K * 64 <= g.macs();
  plan.split = threads > 1 && items >= threads && balanced && cheap_partials;
  const int64_t cog = g.C_out_per_group();
  const int64_t reduction = plan.images * plan.lines * g.out[2];
  plan.transposed_dw = pass == ConvPass::kBackwardWeight && g.groups == 1 &&
                       (cog <= 32 || (cog <= 64 && 2 * cog <= K && reduction >= 1536));
  plan.transposed_dcol = pass == ConvPass::kBackwardData &&
                         !(g.is_pointwise() && plan.images == 1) &&
                         2 * b.max_columns() <= plan.channels * g.kernel_pixels();
  return plan;
}

bool conv_im2col_gemm_supports(const ConvGeometry&, ConvPass) {
  return true;
}

size_t conv_im2col_gemm_workspace_floats(const ConvGeometry& g, ConvPass pass) {
  const Blocks b = blocks_of(g, pass);
  size_t floats = static_cast<size_t>(b.buffers() * b.buffer_floats());
  if (pass == ConvPass::kBackwardWeight)
    floats += static_cast<size_t>(dw_partials(b) * g.C_out * col_rows(g));
  return floats;
}

void conv_forward_im2col_gemm(const ConvGeometry& g, const float* x, const float* w,
                              const ConvEpilogue& ep, float* y, float* workspace) noexcept {
  const Blocks blocks = blocks_of(g, ConvPass::kForward);
  const int64_t P = g.out_pixels(), K = col_rows(g), cog = g.C_out_per_group();
  const bool split = blocks.plan.split, inner = !split;
  // Each block and group writes its own outputs, so any split of them is race-free.
  const int64_t items = blocks.image_blocks * blocks.chunks * g.groups;
  for_each_index(split, items, [&](int64_t item, int64_t thread) {
    const int64_t grp = item % g.groups, chunk = item / g.groups % blocks.chunks;
    const ColBlock blk = blocks.block(item / g.groups / blocks.chunks, chunk);
    float* col = workspace + thread * blocks.buffer_floats();
    float* staging = col + blocks.col_floats();
    const int64_t cols = blk.columns(g), p0 = blk.pixel0(g);
    const float* w_g = w + grp * cog * K;
    const auto [B, ldb] = x_block(g, x, grp, blk, col, inner);
    if (!Blocks::in_place(blk)) {
      sgemm('N', 'N', cog, cols, K, w_g, K, B, ldb, 0.0f, staging, cols);
      scatter_images(staging, ep, g.C_out, P, grp * cog, cog, blk.n0, blk.images, y, inner);
      return;
    }
    float* y_blk = y + (blk.n0 * g.C_out + grp * cog) * P + p0;
    sgemm('N', 'N', cog, cols, K, w_g, K, B, ldb, 0.0f, y_blk, P);
    if (!ep.bias && !ep.clamps()) return;
      // The block's rows are still in cache; when the GEMM had both threads, so does this.
#pragma omp parallel for if (inner) schedule(static)
    for (int64_t oc = 0; oc < cog; ++oc)
      conv_epilogue_rows(ep, grp * cog + oc, 1, cols, P, y_blk + oc * P);
  });
}

void conv_backward_data_im2col_gemm(const ConvGeometry& g, const float* dy, const float* w,
                                    float* dx, float* workspace) noexcept {
  const Blocks blocks = blocks_of(g, ConvPass::kBackwardData);
  const int64_t P = g.out_pixels(), K = col_rows(g), cog = g.C_out_per_group();
  const int64_t cig = g.C_in_per_group();
  const bool split = blocks.plan.split, inner = !split;
  // The chunks of one image run in order on one thread (col2im_block zeroes dx on the first).
  for_each_index(split, blocks.image_blocks * g.groups, [&](int64_t item, int64_t thread) {
    const int64_t grp = item % g.groups;
    float* col = workspace + thread * blocks.buffer_floats();
    float* staging = col + blocks.col_floats();
    for (int64_t chunk = 0; chunk < blocks.chunks; ++chunk) {
      const ColBlock blk = blocks.block(item / g.groups, chunk);
      const int64_t cols = blk.columns(g), p0 = blk.pixel0(g);
      const bool in_place = Blocks::in_place(blk);
      const auto [B, ldb] = dy_block(g, dy, grp, blk, staging, inner);
      // Pointwise in place: dx is the col matrix itself, so the GEMM writes it directly.
      const float* w_g = w + grp * cog * K;
      if (g.is_pointwise() && in_place) {
        sgemm('T', 'N', K, cols, cog, w_g, K, B, ldb, 0.0f,
              dx + (blk.n0 * g.C_in + grp * cig) * P + p0, P);
        continue;
      }
      // The col rows of a few input channels at a time: the dx planes they add into are theirs.
      const int64_t step = blocks.plan.channels, kp = g.kernel_pixels();
      for (int64_t c0 = 0; c0 < cig; c0 += step) {
        const int64_t channels = std::min(step, cig - c0);
        const int64_t rows = channels * kp;
        if (blocks.plan.transposed_dcol) {
          float* dcol_t = staging + blocks.staging_floats();
          sgemm('T', 'N', cols, rows, cog, B, ldb, w_g + c0 * kp, K, 0.0f, dcol_t, rows);
          transpose_matrix(dcol_t, cols, rows, rows, col, cols, inner);
        } else {
          sgemm('T', 'N', rows, cols, cog, w_g + c0 * kp, K, B, ldb, 0.0f, col, cols);
        }
        col2im_block(g, col, grp, c0, channels, blk, dx, inner);
      }
    }
  });
}

void conv_backward_weight_im2col_gemm(const ConvGeometry& g, const float* x, const float* dy,
                                      float* dw, float* workspace) noexcept {
  const Blocks blocks = blocks_of(g, ConvPass::kBackwardWeight);
  const int64_t K = col_rows(g), cog = g.C_out_per_group(), dw_size = g.C_out * K;
  const int64_t items = blocks.image_blocks * blocks.chunks * g.groups;
  const bool transposed = blocks.plan.transposed_dw;
  // acc_g += dy_blk · col_blkᵀ (or its transpose) for one block and group, on the calling
  // thread's buffers.
  auto accumulate = [&](int64_t item, int64_t thread, float* acc, bool inner) {
    const int64_t grp = item % g.groups, chunk = item / g.groups % blocks.chunks;
    const ColBlock blk = blocks.block(item / g.groups / blocks.chunks, chunk);
    float* col = workspace + thread * blocks.buffer_floats();
    float* staging = col + blocks.col_floats();
    const int64_t cols = blk.columns(g);
    const auto [A, lda] = dy_block(g, dy, grp, blk, staging, inner);
    const auto [B, ldb] = x_block(g, x, grp, blk, col, inner);
    if (transposed) {
      sgemm('N', 'T', K, cog, cols, B, ldb, A, lda, 1.0f, acc + grp * cog * K, cog);
    } else {
      sgemm('N', 'T', cog, K, cols, A, lda, B, ldb, 1.0f, acc + grp * cog * K, K);
    }
  };
  float* partial_base = workspace + blocks.buffers() * blocks.buffer_floats();
  if (!blocks.plan.split) {
    float* acc = transposed ? partial_base : dw;
    std::fill_n(acc, dw_size, 0.0f);
    for (int64_t item = 0; item < items; ++item) accumulate(item, 0, acc, true);
    if (transposed) {
#pragma omp parallel
      sum_transposed(g, acc, 1, dw);
    }
    return;
  }
  // Blocks split over threads: each sums its blocks into a partial, and then the threads add
  // the partials up, each over its own range of dw. The team may be smaller than
  // omp_get_max_threads() (OMP_DYNAMIC, thread limits): only the partials of threads that ran
  // are added.
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    float* acc = transposed ? partial_base + t * dw_size
                 : t == 0   ? dw
                            : partial_base + (t - 1) * dw_size;
    std::fill_n(acc, dw_size, 0.0f);
#pragma omp for schedule(static)
    for (int64_t item = 0; item < items; ++item) accumulate(item, t, acc, false);
    if (transposed) {
      sum_transposed(g, partial_base, team, dw);
    } else {
      // Slices of dw, each summed one partial at a time so the adds vectorise.
      constexpr int64_t kSlice = 4096;
#pragma omp for schedule(static)
      for (int64_t i0 = 0; i0 < dw_size; i0 += kSlice) {
        const int64_t i1 = std::min(dw_size, i0 + kSlice);
        for (int64_t p = 1; p < team; ++p) {
          const float* part = partial_base + (p - 1) * dw_size;
          for (int64_t i = i0; i < i1; ++i) dw[i] += part[i];
        }
      }
    }
  }
}

}  // namespace fovea::kernels
