#!/usr/bin/python3
"""Trains the default Fashion-MNIST network (fmnist-cnn) with `fovea train`'s default recipe
(Adam, lr 0.002, cosine decay per batch, batch 64) in PyTorch and in Fovea, with the same
thread count, and prints the time per epoch of each and their ratio (> 1: Fovea is faster).

    /usr/bin/python3 bench/compare/train_compare.py [--fovea build/release/tools/fovea/fovea]
        [--threads 2] [--epochs 1] [--batch-size 64] [--limit N] [--json OUT]

Both sides read Debian's dataset-fashion-mnist, normalise with the training set's mean and
std, shuffle, and report test accuracy, so the comparison is of the same work.
"""
import argparse
import gzip
import json
import pathlib
import subprocess
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = pathlib.Path("/usr/share/datasets/fashion-mnist")


def load_idx(name):
    with gzip.open(DATA / name, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fmnist_cnn():
    # The spec "conv(32,3,pad=1) bn relu maxpool(2) conv(64,3,pad=1) bn relu maxpool(2) flatten
    # linear(128) relu dropout(0.3) linear(10)".
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


def torch_epochs(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = load_idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255
    y = load_idx("train-labels-idx1-ubyte.gz").astype(np.int64)
    tx = load_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    ty = load_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    mean, std = x.mean(), x.std()
    x = torch.from_numpy((x - mean) / std).unsqueeze(1)
    tx = torch.from_numpy((tx - mean) / std).unsqueeze(1)
    y, ty = torch.from_numpy(y), torch.from_numpy(ty)
    model = fmnist_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * ((len(x) + args.batch_size - 1) // args.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    results = []
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x))
        start = time.perf_counter()
        for i in range(0, len(x), args.batch_size):
            idx = order[i:i + args.batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            schedule.step()
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            acc = (model(tx).argmax(1) == ty).float().mean().item()
        results.append({"epoch": epoch + 1, "seconds": seconds, "test_acc": acc})
    return results


def fovea_epochs(args):
    with tempfile.TemporaryDirectory() as d:
        log = pathlib.Path(d) / "log.jsonl"
        cmd = [args.fovea, "train", "--epochs", str(args.epochs), "--batch-size",
               str(args.batch_size), "--lr", str(args.lr), "--optimizer", "adam", "--schedule",
               "cosine", "--threads", str(args.threads),
               "--log-json", str(log)]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return [json.loads(line) for line in log.read_text().splitlines()]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fovea", default="build/release/tools/fovea/fovea")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    p.add_argument("--json", metavar="PATH", help="also write the epochs as JSON")
    args = p.parse_args()
    fovea = fovea_epochs(args)
    pytorch = torch_epochs(args)
    print(f"fmnist-cnn, batch {args.batch_size}, Adam lr {args.lr} cosine, "
          f"{args.threads} threads, torch {torch.__version__}")
    print(f"{'epoch':>5}  {'fovea s':>8}  {'fovea acc':>9}  {'torch s':>8}  {'torch acc':>9}  {'ratio':>6}")
    for f, t in zip(fovea, pytorch):
        print(f"{f['epoch']:>5}  {f['seconds']:>8.2f}  {100 * f['test_acc']:>8.2f}%  "
              f"{t['seconds']:>8.2f}  {100 * t['test_acc']:>8.2f}%  {t['seconds'] / f['seconds']:>6.2f}")
    if args.json:
        rows = [{"epoch": f["epoch"], "fovea_s": f["seconds"], "fovea_test_acc": f["test_acc"],
                 "torch_s": t["seconds"], "torch_test_acc": t["test_acc"],
                 "ratio": t["seconds"] / f["seconds"]} for f, t in zip(fovea, pytorch)]
        with open(args.json, "w") as out:
            json.dump({"suite": "train", "threads": args.threads, "batch_size": args.batch_size,
                       "lr": args.lr, "limit": args.limit, "torch": torch.__version__,
                       "results": rows}, out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    main()
