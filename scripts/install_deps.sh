#!/usr/bin/env bash
# Installs what building and testing Fovea needs, from Debian's packages. Does nothing when
# everything is already there (so it needs no root then); otherwise runs apt-get as root,
# through sudo when not root.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libdnnl-dev ocl-icd-opencl-dev opencl-c-headers  # GEMM; oneDNN's CMake config needs OpenCL
  libfmt-dev nlohmann-json3-dev libcli11-dev zlib1g-dev libstb-dev libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format
)
# Extra packages for a purpose, e.g. `scripts/install_deps.sh dataset-fashion-mnist`.
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
