#!/usr/bin/env bash
# make bench: duet's benchmarks beside today's peers on this machine, in one run, 2 threads each: PyTorch 2.13
# (eager, torch.compile), TensorFlow 2.21 (eager, tf.function, XLA), JAX 0.10 (jit), from the pinned venv
# .venv-peers. Then Fashion-MNIST training of the same mlp and tf-cnn in every framework, three alternating
# rounds, quiet and with a CPU hog on one core. Ends with each performance target's figure, PASS or MISS.
# Usage: bench/run_all.sh BUILD_DIR   (BENCH_QUICK=1: fewer repetitions and steps, to check the script)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
py=$(bash "$here/../scripts/peers-venv.sh" | tail -1)
out=$(mktemp -d)
trap 'rm -rf "$out"; [[ -n "${hog:-}" ]] && kill "$hog" 2> /dev/null || true' EXIT
threads=2
quick=${BENCH_QUICK:-0}
reps=(--benchmark_repetitions=3 --benchmark_report_aggregates_only=true --benchmark_min_time=0.3)
[[ $quick == 1 ]] && reps=(--benchmark_repetitions=2 --benchmark_report_aggregates_only=true --benchmark_min_time=0.05)
peer_flags=()
[[ $quick == 1 ]] && peer_flags=(--quick)

echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores," \
  "$(grep -o -m1 'avx512f' /proc/cpuinfo || echo 'no AVX-512'); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "== duet $(git -C "$here/.." rev-parse --short HEAD 2> /dev/null || echo '?') and the peers, in alternating rounds"
# Rounds: duet's microbenchmarks, then each peer (each framework in each of its modes), again and again, so a
# slow phase of the shared machine hits every framework alike; the report takes each row's median over the
# rounds. duet runs the microbenchmarks with DUET_NUM_THREADS=2, the peers with 2 threads each.
bench_rounds=3
[[ $quick == 1 ]] && bench_rounds=1
for ((round = 1; round <= bench_rounds; round++)); do
  echo "  round $round: duet ..."
  for b in eager kernels graph model; do
    DUET_NUM_THREADS=$threads "$build/bench/bench_$b" "${reps[@]}" --benchmark_out="$out/duet_${b}_$round.json" \
      --benchmark_out_format=json > /dev/null
  done
  for peer in torch tf jax; do
    echo "  round $round: $peer ..."
    if ! DUET_NUM_THREADS=$threads "$py" "$here/peers/${peer}_peer.py" "${peer_flags[@]}" \
        > "$out/peer_${peer}_$round.json" 2> "$out/peer_$peer.err"; then
      echo "  $peer: FAILED (its rows will read 'missing'):"
      tail -5 "$out/peer_$peer.err"
      rm -f "$out/peer_${peer}_$round.json"
    fi
  done
done

echo "== Fashion-MNIST training: quiet, then with a CPU-bound process on one core; rounds alternate frameworks"
steps_mlp=469 steps_cnn=60 rounds=3
[[ $quick == 1 ]] && steps_mlp=40 steps_cnn=8 rounds=1
# framework mode command... (each prints "N images/s" on its last line; duet: the rate after its first step)
runs=(
  "duet graph"
  "duet python_fit"
  "tensorflow keras_fit"
  "tensorflow keras_fit_xla"
  "torch eager"
  "torch compile"
  "jax jit"
)
train_one() {  # variant framework mode model steps
  local variant=$1 fw=$2 mode=$3 model=$4 steps=$5 log=$out/run.txt
  local cmd
  if [[ $fw == duet && $mode == graph ]]; then
    cmd=("$build/tools/duet" train fashion-mnist --model "$model" --batch-size 128 --steps "$steps" --epochs 1 --quiet)
  elif [[ $fw == duet ]]; then  # duet.keras from Python (the package built in $build), threads as duet train's
    cmd=(env PYTHONPATH="$build/python" "$py" "$here/peers/train_peer.py" "$fw" "$mode" "$model" 128 "$steps")
  else
    cmd=(env DUET_NUM_THREADS=$threads "$py" "$here/peers/train_peer.py" "$fw" "$mode" "$model" 128 "$steps")
  fi
  local ips mb
  if /usr/bin/time -v "${cmd[@]}" > "$log" 2> "$out/time.txt"; then
    ips=$(grep -o '[0-9]* images/s after the first step\|[0-9.]* images/s' "$log" | tail -1 | grep -o '^[0-9.]*')
    mb=$(awk '/Maximum resident/ {print int($NF / 1024)}' "$out/time.txt")
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$variant" "$fw" "$mode" "$model" "${ips:-error}" "${mb:-0}" >> "$out/train.tsv"
  printf '    %-5s %-10s %-14s %-6s %8s images/s  peak %5s MB\n' "$variant" "$fw" "$mode" "$model" "${ips:-error}" "${mb:-?}"
}
for variant in quiet busy; do
  if [[ $variant == busy ]]; then
    bash -c 'while :; do :; done' &
    hog=$!
    sleep 1
  fi
  for model in mlp tf-cnn; do
    steps=$steps_mlp
    [[ $model == tf-cnn ]] && steps=$steps_cnn
    for ((round = 1; round <= rounds; round++)); do
      for r in "${runs[@]}"; do
        set -- $r
        train_one "$variant" "$1" "$2" "$model" "$steps"
      done
    done
  done
  if [[ $variant == busy ]]; then
    kill "$hog"
    hog=""
  fi
done
echo
"$py" "$here/report.py" "$out"
# duet's Python package beside TensorFlow and PyTorch from Python (the package is built in $build by make
# bench, as make test builds it).
echo
if compgen -G "$build/python/duet/_duet*.so" > /dev/null; then
  PYTHONPATH=$build/python DUET_NUM_THREADS=$threads "$py" "$here/python_overhead.py" "${peer_flags[@]}" \
    --cxx "$build/bench/bench_graph" 2>&1 |
    grep -v '^[WI]0000 '
else
  echo "== from Python: skipped ($build has no Python package: configure it with -DDUET_PYTHON=ON, as make bench does)"
fi
