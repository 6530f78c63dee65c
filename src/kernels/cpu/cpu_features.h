// What the CPU running us can execute, for kernels compiled for one instruction set (with
// `#pragma GCC target`) whose supports() must refuse where that set is missing: the library
// may be built without -march=native and run on any x86-64.
#pragma once

namespace fovea::kernels {

// AVX-512 F/BW/DQ/VL (Skylake-SP, Zen 4 and later).
inline bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return has;
}

// AVX2 with FMA (Haswell, Zen 1 and later).
inline bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

// An Intel CPU: for tuning choices measured to differ between vendors' cores.
inline bool cpu_is_intel() {
  static const bool is = __builtin_cpu_is("intel");
  return is;
}

// AVX-512 run as two 256-bit halves: AMD family 19h with AVX-512 (Zen 4; Zen 3 has none), one
// 512-bit FMA a cycle per core, half Zen 5's rate. For tuning choices that the FMA rate decides.
inline bool cpu_halves_avx512() {
  static const bool is = __builtin_cpu_is("amdfam19h") && cpu_has_avx512();
  return is;
}

}  // namespace fovea::kernels
