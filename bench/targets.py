"""Prints each performance target of the current plan with the measured figure and PASS or MISS.
Usage: targets.py OUT_DIR (the directory run_all.sh fills: graph.json, peer_graph.json, train.txt)."""
import json
import os
import sys

from compare import duet_medians


def main():
    out = sys.argv[1]
    ours = duet_medians([os.path.join(out, "graph.json")])
    with open(os.path.join(out, "peer_graph.json")) as f:
        peer = json.load(f)["results"]
    train = {}
    with open(os.path.join(out, "train.txt")) as f:
        for line in f:
            name, d, dm, t, tm = line.split()
            train[name] = (float(d), float(dm), float(t), float(tm))
    nan = float("nan")
    lstm_t = ours.get("BM_LstmTraced/real_time", nan)
    lstm_e = ours.get("BM_LstmEager/real_time", nan)
    mm_t = ours.get("BM_MatMul100Traced/real_time", nan)
    mm_e = ours.get("BM_MatMul100Eager/real_time", nan)
    rows = [
        ("LSTM traced time", lstm_t * 1e3, "<=", 8.0, "ms"),
        ("LSTM traced vs PyTorch eager", peer.get("lstm/eager", nan) / lstm_t, ">=", 4.5, "x"),
        ("LSTM traced vs duet eager", lstm_e / lstm_t, ">=", 2.5, "x"),
        ("100 chained 10x10 matmuls, traced vs duet eager", mm_e / mm_t, ">=", 4.0, "x"),
    ]
    for name, want_ratio in (("tf-cnn", 2.3), ("mlp", None)):
        if name not in train:
            continue
        d, dm, t, tm = train[name]
        if want_ratio:
            rows.append((f"{name} training images/s vs PyTorch", d / t, ">=", want_ratio, "x"))
        rows.append((f"{name} training peak memory vs PyTorch", dm / tm, "<=", 0.6, "x"))
    for name, got, op, want, unit in rows:
        ok = got <= want if op == "<=" else got >= want
        print(f"  {'PASS' if ok else 'MISS'}  {name:52} {got:8.2f} {unit:2}  (target {op} {want} {unit})")


if __name__ == "__main__":
    main()
