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
echo "== duet: graph mode"
"$build/bench/bench_graph" "${reps[@]}" --benchmark_out="$out/graph.json" --benchmark_out_format=json | grep -E "median|^-|Benchmark"
echo "== duet: model training step"
"$build/bench/bench_model" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true --benchmark_out="$out/model.json" --benchmark_out_format=json | grep -E "median|^-|Benchmark"
echo "== PyTorch peer"
(cd "$here/peers" && /usr/bin/python3 kernels.py) > "$out/peer_kernels.json"
(cd "$here/peers" && /usr/bin/python3 graph.py) > "$out/peer_graph.json"
(cd "$here/peers" && /usr/bin/python3 mlp.py) > "$out/peer_mlp.json"
echo
/usr/bin/python3 "$here/compare.py" "$out/eager.json" "$out/kernels.json" --peer "$out/peer_kernels.json" --map \
  BM_EagerAdd1=eager_add_1 BM_Add1M/real_time=add_1M BM_Tanh1M/real_time=tanh_1M BM_Exp1M/real_time=exp_1M \
  BM_MatMul/64/real_time=matmul/64 BM_MatMul/256/real_time=matmul/256 BM_MatMul/1024/real_time=matmul/1024 \
  BM_MatMul/2048/real_time=matmul/2048 BM_Conv1FwdBwd/real_time=conv1_fwd_bwd BM_Conv2FwdBwd/real_time=conv2_fwd_bwd \
  BM_Conv2Fwd/real_time=conv2_fwd BM_MaxPool/real_time=max_pool
echo
/usr/bin/python3 "$here/compare.py" "$out/graph.json" --peer "$out/peer_graph.json" --map \
  BM_LstmEager/real_time=lstm/eager BM_LstmTraced/real_time=lstm/eager BM_LstmTraced/real_time=lstm/torchscript \
  BM_Elementwise10Eager/real_time=elementwise10/eager BM_Elementwise10Traced/real_time=elementwise10/eager \
  BM_Elementwise10Traced/real_time=elementwise10/torchscript \
  BM_MatMul100Eager/real_time=matmul100/eager BM_MatMul100Traced/real_time=matmul100/eager BM_MatMul100Traced/real_time=matmul100/torchscript
echo
echo "duet eager vs duet traced (same run):"
/usr/bin/python3 - "$out/graph.json" <<'PY'
import json, sys
med = {b["run_name"]: b["real_time"] for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("aggregate_name") == "median"}
for w in ("Lstm", "Elementwise10", "MatMul100"):
    e, t = med.get(f"BM_{w}Eager/real_time"), med.get(f"BM_{w}Traced/real_time")
    if e and t:
        print(f"  {w:14} eager/traced = {e / t:.2f}x")
print(f"  trace + optimize a 1000-node graph: {med.get('BM_Trace1000Nodes/real_time', float('nan')):.2f} ms")
PY
echo
/usr/bin/python3 "$here/compare.py" "$out/model.json" --peer "$out/peer_mlp.json" --map \
  BM_MlpTrainStepCompiled/real_time=mlp_train_16_steps BM_MlpTrainStepEager/real_time=mlp_train_16_steps
echo
echo "== Fashion-MNIST training throughput and peak memory (same models, Adam 1e-3, batch 128, 2 threads)"
echo "   three rounds, duet and PyTorch alternating (a burst of load on the shared machine hits both); medians"
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
for spec in "mlp 469" "tf-cnn 60"; do  # mlp: one full epoch
  set -- $spec
  ds=() dms=() ts=() tms=()
  for round in 1 2 3; do
    /usr/bin/time -v "$build/tools/duet" train fashion-mnist --model "$1" --batch-size 128 --steps "$2" --epochs 1 --quiet \
      > "$out/duet_$1.txt" 2> "$out/duet_$1.time"
    (cd "$here/peers" && /usr/bin/time -v /usr/bin/python3 fashion_mnist.py "$1" 128 "$2") > "$out/torch_$1.txt" 2> "$out/torch_$1.time"
    ds+=("$(grep -o '[0-9]* images/s' "$out/duet_$1.txt" | head -1 | cut -d' ' -f1)")
    ts+=("$(grep -o '[0-9]* images/s' "$out/torch_$1.txt" | head -1 | cut -d' ' -f1)")
    dms+=("$(grep 'Maximum resident' "$out/duet_$1.time" | awk '{print int($NF/1024)}')")
    tms+=("$(grep 'Maximum resident' "$out/torch_$1.time" | awk '{print int($NF/1024)}')")
  done
  d=$(median "${ds[@]}") t=$(median "${ts[@]}") dm=$(median "${dms[@]}") tm=$(median "${tms[@]}")
  echo "  $1: duet ${d} images/s (peak ${dm} MB), PyTorch ${t} images/s (peak ${tm} MB), ratio $(/usr/bin/python3 -c "print(f'{$d/$t:.2f}x')")   [duet ${ds[*]}; PyTorch ${ts[*]}]"
  echo "$1 $d $dm $t $tm" >> "$out/train.txt"
done
echo
echo "== Targets (issue 15: small-tensor graphs, CNN layouts, memory)"
/usr/bin/python3 "$here/targets.py" "$out"
