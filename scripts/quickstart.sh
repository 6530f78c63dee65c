#!/usr/bin/env bash
# Sets up Fovea on a fresh Debian machine and runs the main job: trains the default network
# (fmnist-cnn) on Fashion-MNIST for 3 epochs, then evaluates the checkpoint it wrote and
# shows the network's layer-by-layer arithmetic.
# Installs the Debian packages the build needs plus dataset-fashion-mnist, builds Release into
# build/release. Extra arguments go to `fovea train` (e.g. --epochs 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh dataset-fashion-mnist
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target fovea_cli
fovea=./build/release/tools/fovea/fovea
$fovea train --checkpoint fmnist-cnn.safetensors "$@"
$fovea eval --checkpoint fmnist-cnn.safetensors
$fovea summary fmnist-cnn.safetensors
