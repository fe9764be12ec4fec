#!/usr/bin/env bash
# make bench: duet's benchmarks and the PyTorch 1.13 peer on the same machine, one table with ratios.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export DUET_NUM_THREADS=${DUET_NUM_THREADS:-2} OMP_NUM_THREADS=${DUET_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=1
reps=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.3)
echo "== duet: eager ops"
"$build/bench/bench_eager" "${reps[@]}" --benchmark_out="$out/eager.json" --benchmark_out_format=json | grep -E "median|^-|Benchmark"
echo "== duet: kernels"
"$build/bench/bench_kernels" "${reps[@]}" --benchmark_out="$out/kernels.json" --benchmark_out_format=json | grep -E "median|^-|Benchmark"
echo "== PyTorch peer"
(cd "$here/peers" && /usr/bin/python3 kernels.py) > "$out/peer_kernels.json"
echo
/usr/bin/python3 "$here/compare.py" "$out/eager.json" "$out/kernels.json" --peer "$out/peer_kernels.json" --map \
  BM_EagerAdd1=eager_add_1 BM_Add1M/real_time=add_1M BM_Tanh1M/real_time=tanh_1M BM_Exp1M/real_time=exp_1M \
  BM_MatMul/64/real_time=matmul/64 BM_MatMul/256/real_time=matmul/256 BM_MatMul/1024/real_time=matmul/1024 \
  BM_MatMul/2048/real_time=matmul/2048 BM_Conv1FwdBwd/real_time=conv1_fwd_bwd BM_Conv2FwdBwd/real_time=conv2_fwd_bwd \
  BM_Conv2Fwd/real_time=conv2_fwd BM_MaxPool/real_time=max_pool
