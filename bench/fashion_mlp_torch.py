"""The showcase MLP of examples/fashion_mlp.net written by hand in PyTorch:
standardized pixels, 784-256-128-10, relu, dropout 0.1, Adam(5e-4), batch 16, one epoch on the
same 54,000 images. Prints training throughput and test accuracy, to set
beside `build/fashion_mlp`'s numbers (bench/run.sh runs both)."""
import argparse, gzip, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

D = "/usr/share/datasets/fashion-mnist/"

def idx(path, offset):
    with gzip.open(D + path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    x = torch.tensor(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0, dtype=torch.float32)
    y = torch.tensor(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
    xt = torch.tensor(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0, dtype=torch.float32)
    yt = torch.tensor(idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
    x, xt = (x - 0.286) / 0.353, (xt - 0.286) / 0.353   # as the .net standardizes
    perm = torch.randperm(len(x))
    train = perm[: int(len(x) * 0.9)]
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Dropout(0.1), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    order = train[torch.randperm(len(train))]
    start = time.time()
    model.train()
    for i in range(0, len(order), 16):
        b = order[i:i + 16]
        opt.zero_grad()
        loss = F.cross_entropy(model(x[b]), y[b])
        loss.backward()
        opt.step()
    elapsed = time.time() - start
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
    print(f"torch: {len(order) / elapsed:.0f} samples/s training ({elapsed:.1f} s), test accuracy: {acc:.4f}")

if __name__ == "__main__":
    main()
