"""Prints duet's Google Benchmark medians beside the PyTorch peer's, with ratios (duet speedup).
Usage: compare.py DUET_JSON [DUET_JSON ...] --peer PEER_JSON --map duet_name=peer_name ..."""
import argparse
import json


def duet_medians(paths):
    out = {}
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            if b.get("aggregate_name") == "median":
                unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
                out[b["run_name"]] = b["real_time"] * unit
    return out


def fmt(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("duet", nargs="+")
    ap.add_argument("--peer", required=True)
    ap.add_argument("--map", nargs="+", required=True)
    args = ap.parse_args()
    ours = duet_medians(args.duet)
    with open(args.peer) as f:
        peer = json.load(f)
    theirs = peer["results"]
    print(f"PyTorch {peer['torch']} with {peer['threads']} threads; medians; ratio = PyTorch time / duet time")
    print(f"| {'duet workload':34} | {'PyTorch workload':26} | {'duet':>10} | {'PyTorch':>10} | {'ratio':>6} |")
    print(f"|{'-' * 36}|{'-' * 28}|{'-' * 12}|{'-' * 12}|{'-' * 8}|")
    for m in args.map:
        d, p = m.split("=")
        if d not in ours or p not in theirs:
            print(f"| {d:34} | {p:26} | {'missing':>10} | {'':>10} | {'':>6} |")
            continue
        print(f"| {d:34} | {p:26} | {fmt(ours[d]):>10} | {fmt(theirs[p]):>10} | {theirs[p] / ours[d]:5.2f}x |")


if __name__ == "__main__":
    main()
