#!/usr/bin/env bash
# Installs duet from the build tree into a scratch prefix and builds an outside program against it.
set -euo pipefail
build_dir=$1
src_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build_dir" --prefix "$scratch/prefix" > /dev/null
gen=()
command -v ninja > /dev/null && gen=(-G Ninja)
cmake -S "$src_dir/tests/install_consumer" -B "$scratch/build" "${gen[@]}" -DCMAKE_PREFIX_PATH="$scratch/prefix" > /dev/null
cmake --build "$scratch/build" > /dev/null
"$scratch/build/consumer"
