#!/usr/bin/env bash
# Installs duet from the build tree into a scratch prefix, then uses it as a user does, in a clean
# environment (no LD_LIBRARY_PATH, no build tree on any path): the installed `duet` command (--help, a short
# train that saves, evaluate of what it saved, a 2-rank mpirun train) and an outside CMake project built
# against the package with find_package(duet). Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1
src_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix
cmake --install "$build_dir" --prefix "$prefix" > /dev/null
# What a user's shell holds: a plain PATH with the installed bin/ on it; the data set's directory if the
# caller set one.
clean=(env -i "HOME=$scratch" "PATH=$prefix/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8)
[[ -n "${DUET_DATA_DIR:-}" ]] && clean+=("DUET_DATA_DIR=$DUET_DATA_DIR")
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

"${clean[@]}" duet --help > "$scratch/help.txt" 2>&1 || fail "installed 'duet --help': $(head -3 "$scratch/help.txt")"
grep -q "duet train" "$scratch/help.txt" || fail "'duet --help' printed no usage: $(head -3 "$scratch/help.txt")"
train=$("${clean[@]}" duet train fashion-mnist --model mlp --epochs 1 --steps 20 --quiet --save "$scratch/m.duet") ||
  fail "installed 'duet train': $train"
want=$(grep -o 'test accuracy: [0-9.]*' <<< "$train") || fail "'duet train' printed no test accuracy: $train"
got=$("${clean[@]}" duet evaluate "$scratch/m.duet" | grep -o 'test accuracy: [0-9.]*') || fail "installed 'duet evaluate'"
[[ "$want" == "$got" ]] || fail "evaluate of the saved model gave '$got', train gave '$want'"
echo "installed duet: --help, train ($want), evaluate ($got)"

# Two ranks through OpenMPI's launcher, as the README shows it (as root: --allow-run-as-root; the
# shared-memory transport's ptrace-based single copy is often forbidden in containers).
mpi=(mpirun -np 2 --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none)
[[ $(id -u) -eq 0 ]] && mpi+=(--allow-run-as-root)
out=$("${clean[@]}" DUET_NUM_THREADS=1 "${mpi[@]}" duet train fashion-mnist --model mlp --epochs 1 --steps 20 --quiet 2>&1) ||
  fail "installed 'mpirun -np 2 duet train': $out"
grep -q 'test accuracy: [0-9.]*' <<< "$out" || fail "'mpirun -np 2 duet train' printed no test accuracy: $out"
echo "installed duet under mpirun -np 2: $(grep -o 'test accuracy: [0-9.]*' <<< "$out")"

gen=()
command -v ninja > /dev/null && gen=(-G Ninja)
cmake -S "$src_dir/tests/install_consumer" -B "$scratch/build" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$scratch/build" > /dev/null
"${clean[@]}" "$scratch/build/consumer"
