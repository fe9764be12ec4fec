"""make bench's report: duet's Google Benchmark medians beside every peer's (PyTorch, TensorFlow, JAX, each in
each of its modes), the Fashion-MNIST training rows (quiet and busy), and each performance target with its
figure and PASS or MISS. Ratios are against the FASTEST peer in its best mode: > 1 means duet is faster.

usage: report.py OUT_DIR   (the directory bench/run_all.sh fills: duet_*.json, peer_*.json, train.tsv)
"""
import glob
import json
import os
import statistics
import sys

# The workloads of the table: key (the peers' name), what it is, duet's benchmark for the eager op (or the
# kernel) and for the compiled function (None where a single op is the whole workload).
WORKLOADS = [
    ("eager_add_1", "1-element add (per-op overhead, eager)", "BM_EagerAdd1", None),
    ("add_1M", "add, 1M floats", "BM_Add1M/real_time", None),
    ("tanh_1M", "tanh, 1M floats", "BM_Tanh1M/real_time", None),
    ("exp_1M", "exp, 1M floats", "BM_Exp1M/real_time", None),
    ("matmul/64", "matmul 64x64", "BM_MatMul/64/real_time", None),
    ("matmul/256", "matmul 256x256", "BM_MatMul/256/real_time", None),
    ("matmul/1024", "matmul 1024x1024", "BM_MatMul/1024/real_time", None),
    ("matmul/2048", "matmul 2048x2048", "BM_MatMul/2048/real_time", None),
    ("conv1_fwd_bwd", "conv 28x28x1 -> 32, 5x5, batch 128, fwd + both bwd", "BM_Conv1FwdBwd/real_time", None),
    ("conv2_fwd_bwd", "conv 14x14x32 -> 64, 5x5, batch 128, fwd + both bwd", "BM_Conv2FwdBwd/real_time", None),
    ("conv2_fwd", "conv 14x14x32 -> 64, 5x5, batch 128, forward", "BM_Conv2Fwd/real_time", None),
    ("max_pool", "max_pool 2x2, 128x28x28x32", "BM_MaxPool/real_time", None),
    ("lstm", "LSTM 32x128, 50 steps, fwd + bwd", "BM_LstmEager/real_time", "BM_LstmTraced/real_time"),
    ("elementwise10", "10 chained elementwise ops, 1M floats", "BM_Elementwise10Eager/real_time",
     "BM_Elementwise10Traced/real_time"),
    ("matmul100", "100 chained 10x10 matmuls", "BM_MatMul100Eager/real_time", "BM_MatMul100Traced/real_time"),
]
TRAIN_MODELS = ("mlp", "tf-cnn")

# Targets (issue 27).
COMPILED_VS_PEER = 1.0
TRAINING_VS_PEER = 1.5
MEMORY_VS_PEER = 0.6
BUSY_VS_QUIET = 0.45
# Issue 28: fit called from Python within 5% of the same training run from C++.
PYTHON_FIT_VS_CXX = 0.95


def duet_medians(out):
    """{benchmark: seconds}: each round's median, then the median over the rounds."""
    rounds = {}
    for path in glob.glob(os.path.join(out, "duet_*.json")):
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("aggregate_name") == "median":
                    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
                    rounds.setdefault(b["run_name"], []).append(b["real_time"] * unit)
    return {name: statistics.median(v) for name, v in rounds.items()}


def peer_results(out):
    """{workload: {"framework mode": seconds (median over the rounds) or an error}} and the peers' versions."""
    samples, versions = {}, set()
    for path in sorted(glob.glob(os.path.join(out, "peer_*.json"))):
        with open(path) as f:
            data = json.load(f)
        versions.add(f"{data['peer']} ({data['threads']} threads)")
        framework = data["peer"].split()[0]
        for workload, modes in data["results"].items():
            if not isinstance(modes, dict):
                continue
            for mode, value in modes.items():
                samples.setdefault(workload, {}).setdefault(f"{framework} {mode}", []).append(value)
    table = {}
    for workload, modes in samples.items():
        for mode, values in modes.items():
            timed = [v for v in values if isinstance(v, (int, float))]
            table.setdefault(workload, {})[mode] = statistics.median(timed) if timed else values[0]
    return table, sorted(versions)


def fmt(seconds):
    if not isinstance(seconds, (int, float)):
        return "error"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def best(modes):
    timed = {k: v for k, v in modes.items() if isinstance(v, (int, float))}
    if not timed:
        return None, None
    name = min(timed, key=timed.get)
    return name, timed[name]


def kernels_table(med, peers, targets):
    print("| workload | duet eager | duet compiled | fastest peer (mode) | peer | ratio |")
    print("|---|---|---|---|---|---|")
    for key, what, eager, compiled in WORKLOADS:
        d_e = med.get(eager)
        d_c = med.get(compiled) if compiled else None
        ours = d_c if compiled else d_e
        name, theirs = best(peers.get(key, {}))
        ratio = theirs / ours if ours and theirs else float("nan")
        print(f"| {what} | {fmt(d_e) if d_e else 'missing'} | {fmt(d_c) if d_c else '—'} | {name or 'missing'} | "
              f"{fmt(theirs) if theirs else ''} | {ratio:.2f}x |")
        targets.append((f"{key}: duet {'compiled' if compiled else 'op'} vs fastest peer ({name})", ratio, ">=",
                        COMPILED_VS_PEER, "x"))
    print()
    print("Every peer and mode (median seconds per call; 'error' where the mode failed, see the peer's JSON):")
    for key, _, _, _ in WORKLOADS:
        modes = peers.get(key, {})
        print(f"  {key:14} " + "  ".join(f"{m}={fmt(v)}" for m, v in sorted(modes.items())))


def read_training(out):
    """{(variant, framework mode, model): [(images/s, peak MB), ...]}"""
    rows = {}
    path = os.path.join(out, "train.tsv")
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            variant, framework, mode, model, ips, mb = line.rstrip("\n").split("\t")
            if ips == "error":
                continue
            rows.setdefault((variant, f"{framework} {mode}", model), []).append((float(ips), float(mb)))
    return rows


def training_table(rows, targets):
    print("Fashion-MNIST training, batch 128, Adam 1e-3 (images/s and peak resident memory, medians of the rounds):")
    print("| model | framework mode | quiet images/s | peak MB | busy images/s | busy / quiet |")
    print("|---|---|---|---|---|---|")
    for model in TRAIN_MODELS:
        quiet = {}
        for (variant, fm, m), vals in sorted(rows.items()):
            if m != model or variant != "quiet":
                continue
            ips = statistics.median(v[0] for v in vals)
            mb = statistics.median(v[1] for v in vals)
            busy_vals = rows.get(("busy", fm, model))
            busy = statistics.median(v[0] for v in busy_vals) if busy_vals else None
            quiet[fm] = (ips, mb, busy)
            print(f"| {model} | {fm} | {ips:.0f} | {mb:.0f} | {busy:.0f} | {busy / ips:.2f} |" if busy else
                  f"| {model} | {fm} | {ips:.0f} | {mb:.0f} | — | — |")
        duet = quiet.pop("duet graph", None)
        python_fit = quiet.pop("duet python_fit", None)
        if duet and python_fit:
            targets.append((f"{model} fit from Python (duet.keras) vs duet train (C++)", python_fit[0] / duet[0], ">=",
                            PYTHON_FIT_VS_CXX, "x"))
        if not duet or not quiet:
            continue
        fastest = max(quiet, key=lambda k: quiet[k][0])
        smallest = min(quiet, key=lambda k: quiet[k][1])
        targets.append((f"{model} training vs fastest peer ({fastest})", duet[0] / quiet[fastest][0], ">=",
                        TRAINING_VS_PEER, "x"))
        targets.append((f"{model} peak memory vs smallest peer ({smallest})", duet[1] / quiet[smallest][1], "<=",
                        MEMORY_VS_PEER, "x"))
        if duet[2]:
            targets.append((f"{model} training busy / quiet", duet[2] / duet[0], ">=", BUSY_VS_QUIET, "x"))
    print()


def main():
    out = sys.argv[1]
    med = duet_medians(out)
    peers, versions = peer_results(out)
    print("Peers: " + "; ".join(versions))
    print()
    targets = []
    kernels_table(med, peers, targets)
    print()
    training_table(read_training(out), targets)
    print("== Targets (issue 27: today's peers; ratios against the fastest peer in its best mode)")
    for name, got, op, want, unit in targets:
        ok = got == got and (got <= want if op == "<=" else got >= want)
        print(f"  {'PASS' if ok else 'MISS'}  {name:70} {got:7.2f} {unit}  (target {op} {want} {unit})")


if __name__ == "__main__":
    main()
