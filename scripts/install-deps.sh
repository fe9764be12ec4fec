#!/usr/bin/env bash
# Installs duet's build and test dependencies from Debian's packages. Idempotent: it only calls apt-get
# when a package is missing. Usage: scripts/install-deps.sh [--peer] [--fuzz] [--python]
set -euo pipefail
# libomp-14-dev: clang-tidy (make lint) parses the sources as clang does, with clang's own omp.h.
pkgs=(build-essential cmake ninja-build ccache pkg-config git clang-format clang-tidy libomp-14-dev
      libdnnl-dev zlib1g-dev nlohmann-json3-dev
      libgtest-dev libgmock-dev libbenchmark-dev dataset-fashion-mnist
      openmpi-bin libopenmpi-dev
      qemu-user)  # qemu-user: the portability tests run the test binary as an AVX2-only and an older CPU
# Extra sets, any of them: --peer (the peers of make bench and the TensorFlow oracle: GNU time for peak memory,
# then the pinned Python packages in .venv-peers via scripts/peers-venv.sh), --fuzz (clang and libFuzzer for
# make fuzz), --python (Debian's Python 3 with venv and headers, for a machine without one).
peer=0
for arg in "$@"; do
  case "$arg" in
    --peer) pkgs+=(time); peer=1 ;;
    --fuzz) pkgs+=(clang-14 libclang-rt-14-dev) ;;
    --python) pkgs+=(python3 python3-venv python3-dev) ;;
    *) echo "install-deps: unknown option '$arg' (use --peer, --fuzz, --python)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [[ $peer -eq 1 ]]; then bash "$(dirname "$0")/peers-venv.sh" > /dev/null; fi
