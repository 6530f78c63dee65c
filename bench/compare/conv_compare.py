#!/usr/bin/python3
"""Fovea vs PyTorch on the convolution layer suite (shared/bench/conv_layers.json).

For each layer and pass (fwd, bwd_data, bwd_weight) this runs Fovea's conv_bench "auto" case
(the algorithm a user's call gets) and the same work in PyTorch, with the same thread count,
one right after the other so both see the same machine load, and prints

  layer N pass algo  fovea ms fovea GFLOP/s  torch ms torch GFLOP/s  torch/fovea  torch backend

where torch/fovea = torch_ms / fovea_ms (> 1: Fovea is faster) and the backend is the one
PyTorch's convolution picks for the shape; then the geometric mean of the ratio over all
rows, per pass, over the ResNet-18 rows (layers named r18_*) and over the rows where PyTorch
runs oneDNN (backend Mkldnn).

Times are medians over --reps rounds. A round runs conv_bench once for the layer (its three
passes) and then the three passes in PyTorch; each pass runs back to back for at least
--min-time seconds and counts the mean per call. Interleaving the rounds makes both sides
sample the same machine load, which on a shared machine moves from second to second. Wall
time by default; --clock cpu with --threads 1 counts CPU time instead, which other processes'
load hardly moves.

PyTorch runs each pass as its autograd does: forward through torch.nn.functional, the backward
passes through torch.ops.aten.convolution_backward with an output mask that asks for one
gradient only (what torch.nn.grad.conv2d_input/conv2d_weight call, and what autograd calls
when only the input or only the weight requires grad), on real tensors. Its times include
allocating its outputs; Fovea's kernel cases reuse theirs (see bench/README.md).

This host has phases, seconds to minutes long, in which its two cores pass data to each other
far more slowly than usual (see bench/core_probe.cpp); Fovea's two-thread times then grow more
than PyTorch's. With --threads 2 or more, bench/core_probe (built beside conv_bench) runs before
each layer; its barrier time ends the row (about 0.1 us quick, 0.4 us slow), and the summary
gives the geometric means of each phase's rows too.

Run with a python that has torch (here: /usr/bin/python3):
  /usr/bin/python3 bench/compare/conv_compare.py [build/bench/conv_bench] --threads 2
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

from core_state import QUICK_BARRIER_US, read_core_probe

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PASSES = ("fwd", "bwd_data", "bwd_weight")
DIMS = {"conv1d": 1, "conv2d": 2, "conv3d": 3, "convT2d": 2}


def parse_spatial(v):
    return [int(v)] if isinstance(v, int) else [int(s) for s in str(v).split("x")]


def default_suite():
    return os.environ.get("FOVEA_CONV_LAYERS") or os.path.join(
        REPO, "..", "shared", "bench", "conv_layers.json")


# ---------------------------------------------------------------------------------------------
# PyTorch side


def torch_passes(torch, layer):
    """({pass: a no-argument function running that pass of the layer in PyTorch}, the name of
    the convolution backend PyTorch picks for it: Mkldnn (oneDNN), Slow2d, SlowTranspose2d...).
    Backends other than Mkldnn and the depthwise ones run im2col plus the BLAS torch links,
    which for Debian's python3-torch is the reference netlib BLAS."""
    F = torch.nn.functional
    kind = layer["kind"]
    D = DIMS[kind]
    transposed = kind.startswith("convT")
    N, cin, cout, g = layer["N"], layer["Cin"], layer["Cout"], layer["groups"]
    k, s, p, d = layer["k"], layer["stride"], layer["pad"], layer["dilation"]
    in_sp, out_sp = parse_spatial(layer["in_spatial"]), parse_spatial(layer["out_spatial"])
    gen = torch.Generator().manual_seed(42)

    def rand(*shape):
        return torch.rand(*shape, generator=gen) * 2 - 1

    x = rand(N, cin, *in_sp)
    if transposed:
        w = rand(cin, cout // g, *[k] * D)
        outpad = [o - ((i - 1) * s - 2 * p + d * (k - 1) + 1) for i, o in zip(in_sp, out_sp)]
        fwd_fn = {2: F.conv_transpose2d}[D]
        forward = lambda: fwd_fn(x, w, None, s, p, outpad, g, d)
    else:
        w = rand(cout, cin // g, *[k] * D)
        outpad = [0] * D
        fwd_fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[D]
        forward = lambda: fwd_fn(x, w, None, s, p, d, g)
    y = forward()
    if list(y.shape) != [N, cout, *out_sp]:
        sys.exit(f"conv_compare: {layer['layer']}: torch gives shape {list(y.shape)}, "
                 f"the suite says {[N, cout, *out_sp]}")
    dy = rand(*y.shape)

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            dy, x, w, None, [s] * D, [p] * D, [d] * D, transposed, outpad, g, mask)

    try:
        backend = str(torch._C._select_conv_backend(x, w, None, [s] * D, [p] * D, [d] * D,
                                                    transposed, outpad, g)).split(".")[-1]
    except (AttributeError, RuntimeError):
        backend = "?"
    return {"fwd": forward, "bwd_data": backward([True, False, False]),
            "bwd_weight": backward([False, True, False])}, backend


def time_torch(fn, min_time, clock):
    """Mean seconds per call over back-to-back calls lasting at least min_time, after a
    warm-up call (as Google Benchmark: grow the count until the run is long enough)."""
    fn()
    inner = 1
    while True:
        t0 = clock()
        for _ in range(inner):
            fn()
        elapsed = clock() - t0
        if elapsed >= min_time:
            return elapsed / inner
        want = math.ceil(1.4 * inner * min_time / max(elapsed, 1e-9))
        inner = max(inner + 1, min(inner * 10, want))


# ---------------------------------------------------------------------------------------------
# Fovea side


def run_fovea(binary, suite, layer, threads, min_time, time_key, algo):
    """{pass: (seconds per call, algorithm)} for the layer's cases of `algo` ("auto": the
    selector's choice, which covers every pass; a named kernel may support only some)."""
    name = f"conv/{layer['layer']}/N{layer['N']}"
    cmd = [binary, f"--benchmark_filter=^{re.escape(name)}/[a-z_]+/{re.escape(algo)}(/|$)",
           "--benchmark_format=json", f"--benchmark_min_time={min_time}"]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), FOVEA_CONV_LAYERS=suite)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"conv_compare: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    result = {}
    for b in json.loads(proc.stdout)["benchmarks"]:
        pass_ = b["run_name"].split("/")[3]
        result[pass_] = (b[time_key] * scale[b["time_unit"]], b.get("label", ""))
    missing = [p for p in PASSES if p not in result]
    if missing and algo == "auto":
        sys.exit(f"conv_compare: conv_bench reported no {missing} case for {name}")
    return result


# ---------------------------------------------------------------------------------------------


def core_barrier_us(binary, threads):
    """bench/core_probe's barrier time beside `binary` now, or None (not built, one thread)."""
    probe = os.path.join(os.path.dirname(os.path.abspath(binary)), "core_probe")
    return read_core_probe(probe, threads).get("barrier_us")


def geomean(values):
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(REPO, "build", "bench", "conv_bench"),
                    help="Fovea's conv_bench (default: build/bench/conv_bench in the repo)")
    ap.add_argument("--threads", type=int, default=2, help="threads on both sides (default 2)")
    ap.add_argument("--layers", default="", help="regex on 'layer/N<batch>' (default: all)")
    ap.add_argument("--reps", type=int, default=5, help="timed rounds per layer (default 5)")
    ap.add_argument("--min-time", type=float, default=0.05,
                    help="seconds each pass runs per round (default 0.05)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time (default), or CPU time: with --threads 1 a measure that "
                    "other processes' load hardly moves")
    ap.add_argument("--suite", default=default_suite(),
                    help="conv_layers.json (default: $FOVEA_CONV_LAYERS or ../shared/bench/)")
    ap.add_argument("--json", metavar="PATH", help="also write the rows and means as JSON")
    ap.add_argument("--algo", default="auto",
                    help="Fovea kernel to time: a kernel-table name, or auto (default: the "
                    "selector's choice); passes the kernel does not support are left out")
    args = ap.parse_args()

    try:
        import torch
    except ImportError:
        sys.exit(f"conv_compare: {sys.executable} has no torch; run with /usr/bin/python3")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"conv_compare: no conv_bench at {args.binary}; build with "
                 "-DFOVEA_BUILD_BENCH=ON or pass its path")
    try:
        with open(args.suite) as f:
            layers = json.load(f)["layers"]
    except OSError as e:
        sys.exit(f"conv_compare: cannot read the layer suite: {e}")
    pattern = re.compile(args.layers)
    layers = [l for l in layers if pattern.search(f"{l['layer']}/N{l['N']}")]
    if not layers:
        sys.exit(f"conv_compare: no layer matches --layers '{args.layers}'")
    torch.set_num_threads(args.threads)
    if args.clock == "cpu" and args.threads != 1:
        print("conv_compare: warning: --clock cpu counts only the main thread in conv_bench; "
              "use it with --threads 1", file=sys.stderr)
    time_key, clock = (("real_time", time.perf_counter) if args.clock == "wall" else
                       ("cpu_time", time.process_time))

    head = (f"{'layer':<22} {'N':>3} {'pass':<10} {'algo':<12} {'fovea ms':>9} {'GFLOP/s':>8} "
            f"{'torch ms':>9} {'GFLOP/s':>8} {'torch/fovea':>11}  {'torch backend':<15}"
            "barrier us")
    print(f"threads={args.threads} rounds={args.reps} min_time={args.min_time}s "
          f"clock={args.clock} "
          f"torch={torch.__version__} binary={args.binary} cpus={os.cpu_count()}")
    print(head)
    print("-" * len(head))
    rows = []
    load_start = os.getloadavg()[0]
    with torch.no_grad():
        for layer in layers:
            fns, backend = torch_passes(torch, layer)
            barrier = core_barrier_us(args.binary, args.threads)
            fovea_runs, torch_runs = [], []
            for _ in range(args.reps):
                fovea_runs.append(run_fovea(args.binary, args.suite, layer, args.threads,
                                            args.min_time, time_key, args.algo))
                torch_runs.append({p: time_torch(fns[p], args.min_time, clock) for p in PASSES})
            del fns
            for pass_ in PASSES:
                if pass_ not in fovea_runs[0]:
                    continue
                fovea_s = statistics.median(r[pass_][0] for r in fovea_runs)
                torch_s = statistics.median(r[pass_] for r in torch_runs)
                algo = fovea_runs[0][pass_][1]
                gflop = layer["gflop"]
                row = {"layer": layer["layer"], "N": layer["N"], "pass": pass_, "algorithm": algo,
                       "torch_backend": backend,
                       "fovea_ms": fovea_s * 1e3, "fovea_gflops": gflop / fovea_s,
                       "torch_ms": torch_s * 1e3, "torch_gflops": gflop / torch_s,
                       "ratio": torch_s / fovea_s, "core_barrier_us": barrier}
                rows.append(row)
                print(f"{row['layer']:<22} {row['N']:>3} {pass_:<10} {algo:<12} "
                      f"{row['fovea_ms']:>9.3f} {row['fovea_gflops']:>8.1f} "
                      f"{row['torch_ms']:>9.3f} {row['torch_gflops']:>8.1f} "
                      f"{row['ratio']:>11.2f}  {backend:<15}"
                      f"{'' if barrier is None else f'{barrier:.2f}'}", flush=True)

    means = {"all": geomean(r["ratio"] for r in rows)}
    for pass_ in PASSES:
        means[pass_] = geomean(r["ratio"] for r in rows if r["pass"] == pass_)
    means["resnet18"] = geomean(r["ratio"] for r in rows if r["layer"].startswith("r18_"))
    onednn = [r["ratio"] for r in rows if r["torch_backend"] == "Mkldnn"]
    means["torch_onednn"] = geomean(onednn)
    phases = {"quick": [r["ratio"] for r in rows if r["core_barrier_us"] is not None
                        and r["core_barrier_us"] < QUICK_BARRIER_US],
              "slow": [r["ratio"] for r in rows if r["core_barrier_us"] is not None
                       and r["core_barrier_us"] >= QUICK_BARRIER_US]}
    for phase, ratios in phases.items():
        means[f"cores_{phase}"] = geomean(ratios)
    print("-" * len(head))
    load_end = os.getloadavg()[0]
    print(f"load average (1 min) at start {load_start:.2f}, at end {load_end:.2f}")
    if args.clock == "wall" and max(load_start, load_end) > (os.cpu_count() or 1):
        print(f"warning: the machine was busy (load above its {os.cpu_count()} CPUs): wall times "
              "then include waiting for the CPU; rerun when it is idle, or use --threads 1 "
              "--clock cpu")
    print("geometric mean of torch_ms/fovea_ms (> 1: Fovea faster)")
    for key, label in (("all", f"all {len(rows)} rows"), ("fwd", "fwd"), ("bwd_data", "bwd_data"),
                       ("bwd_weight", "bwd_weight"), ("resnet18", "ResNet-18 rows (r18_*)"),
                       ("torch_onednn", f"{len(onednn)} rows torch runs on oneDNN"),
                       ("cores_quick", f"{len(phases['quick'])} rows, cores quick"),
                       ("cores_slow", f"{len(phases['slow'])} rows, cores slow")):
        print(f"  {label:<30} {means[key]:.3f}" if means[key] == means[key] else
              f"  {label:<30} -")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"suite": "conv", "threads": args.threads, "clock": args.clock,
                       "rounds": args.reps,
                       "min_time_s": args.min_time, "torch": torch.__version__, "results": rows,
                       "geomean_ratio": means}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
