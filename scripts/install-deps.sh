#!/usr/bin/env bash
# Installs duet's build and test dependencies from Debian's packages. Idempotent: it only calls apt-get
# when a package is missing. Usage: scripts/install-deps.sh [--peer]   (--peer adds PyTorch for benchmarks)
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config git clang-format clang-tidy
      libdnnl-dev zlib1g-dev nlohmann-json3-dev
      libgtest-dev libgmock-dev libbenchmark-dev dataset-fashion-mnist
      openmpi-bin libopenmpi-dev
      qemu-user)  # qemu-user: the portability tests run the test binary as an AVX2-only and an older CPU
# The peer gets OpenBLAS (as a normal Debian PyTorch install has); without it torch falls back to the
# reference BLAS and runs matmul ~30x slower, which would flatter duet.
if [[ "${1:-}" == "--peer" ]]; then pkgs+=(python3 python3-torch python3-numpy libopenblas0-pthread time); fi
# The libFuzzer targets (make fuzz) build with clang and its fuzzer runtime.
if [[ "${1:-}" == "--fuzz" ]]; then pkgs+=(clang-14 libclang-rt-14-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
echo "install-deps: installing ${missing[*]}"
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
