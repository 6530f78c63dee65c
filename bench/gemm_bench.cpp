// oneDNN's dnnl_sgemm, the GEMM under every im2col+GEMM convolution: square sizes and the
// shapes the ResNet-18 layers of the conv suite hand it. Row-major C (M, N) = op(A) · op(B);
// named gemm/<ta><tb>/M<m>/N<n>/K<k>/<what>. Threads: OpenMP's (OMP_NUM_THREADS).
//   forward          NN  M = C_out,           N = out pixels,  K = C_in · k²
//   backward_data    TN  M = C_in · k²,       N = out pixels,  K = C_out
//   backward_weight  NT  M = C_out,           N = C_in · k²,   K = out pixels
#include <benchmark/benchmark.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

struct GemmShape {
  char ta, tb;
  int64_t M, N, K;
  const char* what;
};

constexpr GemmShape kShapes[] = {
    {'N', 'N', 512, 512, 512, "square"},
    {'N', 'N', 1024, 1024, 1024, "square"},
    {'N', 'N', 2048, 2048, 2048, "square"},
    {'N', 'N', 64, 12544, 27, "conv3x3_c3_112"},
    {'N', 'N', 64, 12544, 147, "r18_conv1_fwd"},
    {'N', 'N', 64, 3136, 576, "r18_l1_fwd"},
    {'N', 'N', 128, 784, 1152, "r18_l2_fwd"},
    {'N', 'N', 256, 196, 2304, "r18_l3_fwd"},
    {'N', 'N', 512, 49, 4608, "r18_l4_fwd"},
    {'N', 'N', 144, 3136, 24, "mbv2_pw_24to144_fwd"},
    {'T', 'N', 576, 3136, 64, "r18_l1_bwd_data"},
    {'T', 'N', 4608, 49, 512, "r18_l4_bwd_data"},
    {'N', 'T', 64, 576, 3136, "r18_l1_bwd_weight"},
    {'N', 'T', 512, 4608, 49, "r18_l4_bwd_weight"},
};

void bm_sgemm(benchmark::State& state, GemmShape s) {
  std::vector<float> a(s.M * s.K, 0.5f), b(s.K * s.N, 0.25f), c(s.M * s.N, 0.0f);
  const int64_t lda = s.ta == 'N' ? s.K : s.M, ldb = s.tb == 'N' ? s.N : s.K;
  for (auto _ : state) {
    dnnl_sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.N);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(s.M * s.N * s.K),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  for (const GemmShape& s : kShapes) {
    const std::string name = "gemm/" + std::string{s.ta, s.tb} + "/M" + std::to_string(s.M) + "/N" +
                             std::to_string(s.N) + "/K" + std::to_string(s.K) + "/" + s.what;
    benchmark::RegisterBenchmark(name.c_str(), bm_sgemm, s)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
