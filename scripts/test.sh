#!/usr/bin/env bash
# Sets up and runs all of Fovea's tests on a fresh Debian machine:
#   1. installs the Debian packages the build needs (scripts/install_deps.sh),
#   2. Release build (native CPU flags, warnings are errors) and the whole CTest suite,
#   3. AddressSanitizer + UndefinedBehaviorSanitizer build and the unit tests again, built
#      without -march=native, as a distribution would build it: the AVX-512 and AVX2 kernels
#      then compile under their target pragmas alone, as they do on a CPU without AVX-512, and
#      the tests still run them wherever this CPU has the instructions.
#      The sanitizer run uses 3 OpenMP threads (the Release run the default, one a core): kernels
#      that split work by the thread count then meet shares that do not divide evenly, and
#      tests that assume a count have to set it.
# Build trees go to build/release and build/sanitize. Set FOVEA_SKIP_SANITIZE=1 to skip 3.
# Tests run with OMP_WAIT_POLICY=passive: two test programs at once on two cores would
# otherwise spin-wait against each other and run many times slower.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/install_deps.sh

echo "== Release build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DFOVEA_WERROR=ON >/dev/null
cmake --build build/release -j"$jobs"
echo "== Release tests"
OMP_WAIT_POLICY=passive ctest --test-dir build/release --output-on-failure -j"$jobs"

if [ "${FOVEA_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== ASan+UBSan build"
  # Warnings are errors in the Release build above; under the sanitizers GCC 12 reports false
  # -Wuninitialized and -Wmaybe-uninitialized in its own headers (<experimental/simd>,
  # <regex>), so they stay warnings here.
  cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Release -DFOVEA_SANITIZE=ON -DFOVEA_WERROR=OFF \
    -DFOVEA_NATIVE=OFF -DFOVEA_BUILD_BENCH=OFF >/dev/null
  cmake --build build/sanitize -j"$jobs"
  echo "== ASan+UBSan tests"
  OMP_NUM_THREADS=3 OMP_WAIT_POLICY=passive ctest --test-dir build/sanitize --output-on-failure \
    -j"$jobs"
fi
