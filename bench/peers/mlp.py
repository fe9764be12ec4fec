"""PyTorch 1.13 side of bench/bench_model.cpp: MLP 784-256-128-10, batch 128, Adam, cross-entropy."""
from common import emit, median_seconds, torch

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
                            torch.nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
batch, batches = 128, 16
x = torch.rand(batch * batches, 784)
y = torch.randint(0, 10, (batch * batches,))


def epoch():
    for i in range(batches):
        xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()


emit({"mlp_train_16_steps": median_seconds(epoch, min_time=1.0)})
