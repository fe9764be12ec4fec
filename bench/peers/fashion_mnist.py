"""PyTorch 1.13 side of `duet train fashion-mnist`: the same mlp and tf-cnn models, Adam 1e-3, the same batch,
on the first STEPS batches of the real training set. Prints images/s (the process's peak memory is measured
by /usr/bin/time -v in run_all.sh).  usage: fashion_mnist.py MODEL BATCH STEPS"""
import gzip
import sys
import time

import numpy as np

from common import torch

DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def build(kind):
    nn = torch.nn
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(0.4), nn.Linear(1024, 10))


def main():
    kind, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # The whole training set is loaded (as duet's command line does), then the first STEPS batches are used.
    images = torch.from_numpy(read_idx(f"{DIR}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    labels = torch.from_numpy(read_idx(f"{DIR}/train-labels-idx1-ubyte.gz").astype(np.int64))
    x, y = images[: batch * steps], labels[: batch * steps]
    torch.manual_seed(1)
    model = build(kind)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    perm = torch.randperm(x.shape[0])
    t0 = time.perf_counter()
    for s in range(steps):
        idx = perm[s * batch:(s + 1) * batch]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    secs = time.perf_counter() - t0
    print(f"pytorch {kind}: {batch * steps / secs:.0f} images/s ({steps} steps of batch {batch}, {secs:.1f} s)")


main()
