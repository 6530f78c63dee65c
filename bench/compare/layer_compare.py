#!/usr/bin/python3
"""Fovea vs PyTorch on the layers around the convolutions and on a whole training step.

Runs every case of Fovea's layer_bench (pooling, batch norm, bilinear and nearest upsampling, relu,
softmax, cross-entropy; forward and backward) and train_step_bench (one SGD step of the
fmnist-cnn network at batch 64, and its inference forward at batch 64 and 1) next to the same
work in PyTorch, with the same thread count, and prints

  case  fovea us  rate  torch us  rate  torch/fovea

where torch/fovea = torch_ms / fovea_ms (> 1: Fovea is faster) and the rate is the case's
counter (GB/s: the bytes of the tensors a pass must read and write, each once; Melem/s:
logits; img/s: images); then the geometric mean of the ratio over the layer rows, and the
training step's ratio on its own line.

Times are medians over --reps rounds. A round runs the case group's Fovea benchmarks once
(one process, --benchmark_format=json; a group is one op on one shape, all its passes) and
then the same passes in PyTorch; each runs back to back for at least --min-time seconds
(--model-min-time for the network cases) and counts the mean per call. Interleaving makes
both sides sample the same machine load. Both sides' times include allocating their outputs.

PyTorch runs each pass as its autograd does: the forward through torch.nn.functional (max pools
twice: fwd without indices, as inference runs it, and fwd_indices with return_indices=True, the
indices that training needs), the backward through the aten function autograd calls
(max_pool2d_with_indices_backward, native_batch_norm_backward, upsample_bilinear2d_backward,
upsample_nearest2d_backward, threshold_backward, _softmax_backward_data, nll_loss_backward + _log_softmax_backward_data).

Run with a python that has torch (here: /usr/bin/python3):
  /usr/bin/python3 bench/compare/layer_compare.py [build/bench] --threads 2
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

from conv_compare import geomean, time_torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_STEP = "train_step/fmnist-cnn/64"
LR, MOMENTUM = 0.05, 0.9


class Group:
    """One op on one shape (or one network case): its Fovea benchmarks are the names starting
    with prefix in `binary`; make() builds PyTorch's inputs and returns {name: call}."""

    def __init__(self, prefix, binary, make, grad=False, model=False):
        self.prefix, self.binary, self.make, self.grad, self.model = (prefix, binary, make,
                                                                      grad, model)


def shape_name(shape):
    return "x".join(str(s) for s in shape)


# ---------------------------------------------------------------------------------------------
# PyTorch side: the cases of layer_bench.cpp and train_step_bench.cpp, in the same order.


def layer_groups(torch):
    F = torch.nn.functional
    aten = torch.ops.aten
    groups = []

    def rand(gen, *shape):
        return torch.rand(*shape, generator=gen) * 2 - 1

    def add(op, shape, make):
        prefix = f"layer/{op}/{shape_name(shape)}"

        def named():
            return {f"{prefix}/{p}": fn for p, fn in make().items()}
        groups.append(Group(prefix, "layer_bench", named))

    def max_pool2d(op, shape, k, s, p):
        def make():
            gen = torch.Generator().manual_seed(42)
            x = rand(gen, *shape)
            y, indices = F.max_pool2d(x, k, s, p, return_indices=True)
            dy = rand(gen, *y.shape)
            return {"fwd": lambda: F.max_pool2d(x, k, s, p),
                    "fwd_indices": lambda: F.max_pool2d(x, k, s, p, return_indices=True),
                    "bwd": lambda: aten.max_pool2d_with_indices_backward(
                        dy, x, [k, k], [s, s], [p, p], [1, 1], False, indices)}
        add(op, shape, make)

    def avg_pool2d(op, shape, k):
        def make():
            gen = torch.Generator().manual_seed(42)
            x = rand(gen, *shape)
            dy = rand(gen, *F.avg_pool2d(x, k).shape)
            return {"fwd": lambda: F.avg_pool2d(x, k),
                    "bwd": lambda: aten.avg_pool2d_backward(dy, x, [k, k], [k, k], [0, 0], False,
                                                            True, None)}
        add(op, shape, make)

    def batch_norm(shape):
        def make():
            gen = torch.Generator().manual_seed(42)
            C = shape[1]
            x, w, b = rand(gen, *shape), rand(gen, C), rand(gen, C)
            rm, rv = torch.zeros(C), torch.rand(C, generator=gen) + 0.5
            _, mean, invstd = aten.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5)
            dy = rand(gen, *shape)
            return {"fwd_train": lambda: F.batch_norm(x, rm, rv, w, b, training=True),
                    "bwd_train": lambda: aten.native_batch_norm_backward(
                        dy, x, w, rm, rv, mean, invstd, True, 1e-5, [True, True, True]),
                    "fwd_eval": lambda: F.batch_norm(x, rm, rv, w, b, training=False)}
        add("batch_norm", shape, make)

    def upsample_x2(shape, mode):
        def make():
            gen = torch.Generator().manual_seed(42)
            x = rand(gen, *shape)
            out = [2 * shape[2], 2 * shape[3]]
            dy = rand(gen, shape[0], shape[1], *out)
            if mode == "bilinear":
                return {"fwd": lambda: F.interpolate(x, scale_factor=2.0, mode="bilinear",
                                                     align_corners=False),
                        "bwd": lambda: aten.upsample_bilinear2d_backward(
                            dy, out, list(shape), False, 2.0, 2.0)}
            return {"fwd": lambda: F.interpolate(x, scale_factor=2.0, mode="nearest"),
                    "bwd": lambda: aten.upsample_nearest2d_backward(dy, out, list(shape), 2.0,
                                                                    2.0)}
        add(f"{mode}_x2", shape, make)

    def relu(shape):
        def make():
            gen = torch.Generator().manual_seed(42)
            x = rand(gen, *shape)
            y, dy = torch.relu(x), rand(gen, *shape)
            return {"fwd": lambda: torch.relu(x),
                    "bwd": lambda: aten.threshold_backward(dy, y, 0)}
        add("relu", shape, make)

    def softmax_cross_entropy(N, classes):
        def make_softmax():
            gen = torch.Generator().manual_seed(42)
            x = rand(gen, N, classes)
            y, dy = torch.softmax(x, 1), rand(gen, N, classes)
            return {"fwd": lambda: torch.softmax(x, 1),
                    "bwd": lambda: aten._softmax_backward_data(dy, y, 1, torch.float32)}

        def make_cross_entropy():
            gen = torch.Generator().manual_seed(42)
            t = torch.randint(classes, (N,), generator=gen)
            x = rand(gen, N, classes)
            logp = torch.log_softmax(x, 1)
            _, total_weight = aten.nll_loss_forward(logp, t, None, 1, -100)
            one = torch.ones(())
            return {"fwd": lambda: F.cross_entropy(x, t),
                    "bwd": lambda: aten._log_softmax_backward_data(
                        aten.nll_loss_backward(one, logp, t, None, 1, -100, total_weight), logp, 1,
                        torch.float32)}
        add("softmax", (N, classes), make_softmax)
        add("cross_entropy", (N, classes), make_cross_entropy)

    max_pool2d("max_pool2d_k3s2p1", (1, 64, 112, 112), 3, 2, 1)
    max_pool2d("max_pool2d_k3s2p1", (16, 64, 112, 112), 3, 2, 1)
    max_pool2d("max_pool2d_k2", (64, 64, 28, 28), 2, 2, 0)
    avg_pool2d("avg_pool2d_k2", (64, 64, 28, 28), 2)
    batch_norm((16, 64, 56, 56))
    batch_norm((64, 32, 28, 28))
    upsample_x2((8, 64, 56, 56), "bilinear")
    upsample_x2((8, 64, 56, 56), "nearest")
    relu((16, 64, 56, 56))
    softmax_cross_entropy(64, 10)
    softmax_cross_entropy(256, 1000)
    return groups


def fmnist_cnn(torch):
    # The spec "conv(32,3,pad=1) bn relu maxpool(2) conv(64,3,pad=1) bn relu maxpool(2) flatten
    # linear(128) relu dropout(0.3) linear(10)" (nn::build_from_spec("fmnist-cnn")).
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


def model_groups(torch):
    F = torch.nn.functional

    def batch(N):
        gen = torch.Generator().manual_seed(42)
        return torch.randn(N, 1, 28, 28, generator=gen), torch.randint(10, (N,), generator=gen)

    def make_train_step():
        torch.manual_seed(0)
        model = fmnist_cnn(torch).train()
        sgd = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        x, t = batch(64)

        def step():
            sgd.zero_grad()
            loss = F.cross_entropy(model(x), t)
            loss.backward()
            sgd.step()
            return loss
        step()  # creates the gradients and momentum buffers, as Fovea's untimed first step
        return {TRAIN_STEP: step}

    def make_infer(N):
        torch.manual_seed(0)
        model = fmnist_cnn(torch).eval()
        x, _ = batch(N)
        return {f"infer/fmnist-cnn/{N}": lambda: model(x)}

    return [Group(TRAIN_STEP, "train_step_bench", make_train_step, grad=True, model=True)] + [
        Group(f"infer/fmnist-cnn/{N}", "train_step_bench", lambda N=N: make_infer(N), model=True)
        for N in (64, 1)]


# ---------------------------------------------------------------------------------------------
# Fovea side

SCALE = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
RATES = (("GB/s", 1.0, "GB/s"), ("elem/s", 1e-6, "Melem/s"), ("images/s", 1.0, "img/s"))


def run_fovea(binary, prefix, threads, min_time, time_key):
    """{name: (seconds per call, rate value, rate unit)} for the benchmarks under prefix."""
    # Google Benchmark's POSIX regex rejects re.escape's "\\-"; escape only what is special.
    escaped = re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", prefix)
    cmd = [binary, f"--benchmark_filter=^{escaped}(/|$)", "--benchmark_format=json",
           f"--benchmark_min_time={min_time}"]
    proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS=str(threads)),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"layer_compare: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    try:
        benchmarks = json.loads(proc.stdout)["benchmarks"]
    except (json.JSONDecodeError, KeyError):
        sys.exit(f"layer_compare: {' '.join(cmd)} printed no results:\n{proc.stderr}")
    result = {}
    for b in benchmarks:
        key, scale, unit = next(r for r in RATES if r[0] in b)
        name = b["run_name"].removesuffix("/real_time")  # UseRealTime's suffix
        result[name] = (b[time_key] * SCALE[b["time_unit"]], b[key] * scale, unit)
    return result


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench_dir", nargs="?", default=os.path.join(REPO, "build", "bench"),
                    help="the folder holding layer_bench and train_step_bench "
                    "(default: build/bench in the repo)")
    ap.add_argument("--threads", type=int, default=2, help="threads on both sides (default 2)")
    ap.add_argument("--cases", default="", help="regex on the case names (default: all)")
    ap.add_argument("--reps", type=int, default=5, help="timed rounds per group (default 5)")
    ap.add_argument("--min-time", type=float, default=0.05,
                    help="seconds each layer pass runs per round (default 0.05)")
    ap.add_argument("--model-min-time", type=float, default=0.5,
                    help="seconds the training step and inference run per round (default 0.5)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time (default), or CPU time (use with --threads 1)")
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        sys.exit(f"layer_compare: {sys.executable} has no torch; run with /usr/bin/python3")
    for name in ("layer_bench", "train_step_bench"):
        if not os.access(os.path.join(args.bench_dir, name), os.X_OK):
            sys.exit(f"layer_compare: no {name} in {args.bench_dir}; build with "
                     "-DFOVEA_BUILD_BENCH=ON or pass the folder holding it")
    pattern = re.compile(args.cases)
    groups = [g for g in layer_groups(torch) + model_groups(torch) if pattern.search(g.prefix)]
    if not groups:
        sys.exit(f"layer_compare: no case matches --cases '{args.cases}'")
    torch.set_num_threads(args.threads)
    time_key, clock = (("real_time", time.perf_counter) if args.clock == "wall" else
                       ("cpu_time", time.process_time))

    head = (f"{'case':<46} {'fovea us':>10} {'rate':>13} {'torch us':>10} {'rate':>13} "
            f"{'torch/fovea':>11}")
    print(f"threads={args.threads} rounds={args.reps} min_time={args.min_time}s "
          f"model_min_time={args.model_min_time}s clock={args.clock} torch={torch.__version__} "
          f"bench_dir={args.bench_dir} cpus={os.cpu_count()}")
    print(head)
    print("-" * len(head))
    rows = []
    load_start = os.getloadavg()[0]
    for g in groups:
        fns = g.make()
        min_time = args.model_min_time if g.model else args.min_time
        fovea_runs, torch_runs = [], []
        with torch.set_grad_enabled(g.grad):
            for _ in range(args.reps):
                fovea_runs.append(run_fovea(os.path.join(args.bench_dir, g.binary), g.prefix,
                                            args.threads, min_time, time_key))
                torch_runs.append({n: time_torch(fn, min_time, clock) for n, fn in fns.items()})
        del fns
        if set(fovea_runs[0]) != set(torch_runs[0]):
            sys.exit(f"layer_compare: {g.binary} has cases {sorted(fovea_runs[0])} under "
                     f"{g.prefix}, this script {sorted(torch_runs[0])}")
        for name in fovea_runs[0]:
            fovea_s = statistics.median(r[name][0] for r in fovea_runs)
            torch_s = statistics.median(r[name] for r in torch_runs)
            # The work per call the rate counts (bytes, logits, images) is the same on both sides.
            seconds, rate, unit = fovea_runs[0][name]
            work = rate * seconds
            row = {"case": name, "fovea_ms": fovea_s * 1e3, "torch_ms": torch_s * 1e3,
                   "rate_unit": unit, "fovea_rate": work / fovea_s, "torch_rate": work / torch_s,
                   "ratio": torch_s / fovea_s}
            rows.append(row)
            print(f"{name:<46} {fovea_s * 1e6:>10.1f} {row['fovea_rate']:>7.1f} {unit:<5} "
                  f"{torch_s * 1e6:>10.1f} {row['torch_rate']:>7.1f} {unit:<5} "
                  f"{row['ratio']:>11.2f}", flush=True)
    print("-" * len(head))
    load_end = os.getloadavg()[0]
    print(f"load average (1 min) at start {load_start:.2f}, at end {load_end:.2f}")
    if args.clock == "wall" and max(load_start, load_end) > (os.cpu_count() or 1):
        print(f"warning: the machine was busy (load above its {os.cpu_count()} CPUs): wall times "
              "then include waiting for the CPU; rerun when it is idle")
    layer_rows = [r["ratio"] for r in rows if r["case"].startswith("layer/")]
    if layer_rows:
        print(f"geometric mean of torch_ms/fovea_ms over {len(layer_rows)} layer rows "
              f"(> 1: Fovea faster): {geomean(layer_rows):.3f}")
    for r in rows:
        if r["case"] == TRAIN_STEP:
            print(f"training step, fmnist-cnn, batch 64 (zero_grad, forward, cross-entropy, "
                  f"backward, SGD lr {LR} momentum {MOMENTUM}), {args.threads} threads: "
                  f"fovea {r['fovea_ms']:.3f} ms, torch {r['torch_ms']:.3f} ms, "
                  f"torch/fovea = {r['ratio']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"suite": "layers", "threads": args.threads, "clock": args.clock,
                       "rounds": args.reps, "min_time_s": args.min_time,
                       "model_min_time_s": args.model_min_time, "torch": torch.__version__,
                       "load_start": load_start, "load_end": load_end, "results": rows}, f,
                      indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
