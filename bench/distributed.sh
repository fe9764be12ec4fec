#!/usr/bin/env bash
# make bench-distributed: data-parallel training on this machine's cores, the same global batch each way:
# 1 rank x 2 threads against 2 ranks x 1 thread (and 1 rank x 1 thread, the per-rank compute), for mlp and
# tf-cnn on Fashion-MNIST. Medians of 3 runs; the time in collectives is rank 0's (allreduce of the gradient
# buckets, the metric sums, the stop flags, and waiting for the slower rank).
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun2() { DUET_NUM_THREADS=1 bash "$here/../tests/mpi/mpirun.sh" 2 "$@"; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
printf "%-8s %-18s %10s %9s %15s %17s %12s\n" model setup images/s "step ms" "collectives %" "collectives ms" "MB per step"
for spec in "mlp 469" "tf-cnn 60"; do
  set -- $spec
  model=$1 steps=$2
  args=(train fashion-mnist --model "$model" --batch-size 128 --steps "$steps" --epochs 1 --quiet)
  for setup in "1x2" "2x1" "1x1"; do
    for rep in 1 2 3; do
      case $setup in
        1x2) DUET_NUM_THREADS=2 "$build/tools/duet" "${args[@]}" > "$out/run.txt" 2>&1 ;;
        1x1) DUET_NUM_THREADS=1 "$build/tools/duet" "${args[@]}" > "$out/run.txt" 2>&1 ;;
        2x1) mpirun2 "$build/tools/duet" "${args[@]}" > "$out/run.txt" 2>&1 ;;
      esac
      grep -o '[0-9]* images/s' "$out/run.txt" | head -1 | cut -d' ' -f1 >> "$out/$model.$setup.ips"
      pct=$(grep -o '([0-9.]*% of training)' "$out/run.txt" | tr -d '(%' | cut -d' ' -f1 || true)
      mb=$(grep -o ', [0-9.]* MB,' "$out/run.txt" | tr -d ', MB' || true)
      echo "${pct:-0}" >> "$out/$model.$setup.pct"
      echo "${mb:-0}" >> "$out/$model.$setup.mb"
    done
    ips=$(median < "$out/$model.$setup.ips")
    pct=$(median < "$out/$model.$setup.pct")
    mb=$(median < "$out/$model.$setup.mb")
    step_ms=$(awk -v i="$ips" 'BEGIN {printf "%.2f", 128 / i * 1000}')
    per_step=$(awk -v m="$mb" -v s="$steps" 'BEGIN {printf "%.2f", m / s}')
    name=$([[ $setup == 1x2 ]] && echo "1 rank x 2 threads" || ([[ $setup == 2x1 ]] && echo "2 ranks x 1 thread" || echo "1 rank x 1 thread"))
    coll_ms=$(awk -v p="$pct" -v t="$step_ms" 'BEGIN {printf "%.2f", p * t / 100}')
    printf "%-8s %-18s %10s %9s %15s %17s %12s\n" "$model" "$name" "$ips" "$step_ms" "$pct" "$coll_ms" "$per_step"
  done
done
