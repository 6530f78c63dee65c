#!/usr/bin/env bash
# Sets up Fovea on a fresh Debian machine and runs the main job.
# Installs the Debian packages the build needs, builds Release into build/release, then runs
# the worked examples of the course notes through the library.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DFOVEA_BUILD_TESTS=OFF -DFOVEA_BUILD_BENCH=OFF >/dev/null
cmake --build build/release -j"$(nproc)" --target fovea_cli
./build/release/tools/fovea/fovea examples
