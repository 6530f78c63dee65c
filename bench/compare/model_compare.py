#!/usr/bin/python3
"""Fovea vs PyTorch on whole-network inference: torchvision's resnet18, mobilenet_v2 and vgg16
at batch 1 on 3x224x224, time and peak memory.

Three contenders, each in a fresh process of its own per model and round, so that every
peak-memory figure is that one network's run alone:

  fovea    `fovea bench --suite models --models M --json` (eval mode, NoGradGuard)
  eager    PyTorch eager: model.eval() under torch.no_grad()
  fastest  PyTorch's fastest inference mode: torch.jit.script, then
           torch.jit.optimize_for_inference (which freezes the module, folds batch norm into
           the convolutions, fuses conv+relu and converts the convolutions to oneDNN's
           blocked layout when torch has oneDNN)

and prints, per model, the median over --reps rounds of each one's median time per forward,
the ratios torch_ms / fovea_ms (> 1: Fovea is faster), each process's peak resident memory
(VmHWM: the whole process, libraries and interpreter included; the "import" column is a
PyTorch process's peak after importing torch and torchvision, before building the model), and
then each round's ratio fastest/fovea with its two times. A round runs the three one after the
other, so they sample the same machine load. This host has phases, seconds to minutes long, in
which its two cores pass data to each other far more slowly than usual (bench/core_probe.cpp:
a barrier 0.4 us instead of 0.1, a thread overwriting lines the other core holds at 2-6 GB/s
instead of 33-40); Fovea's two-thread time then grows by about a third. Before each round,
bench/core_probe (built beside the fovea program) measures that state, printed with the round.
Threads: --threads on every side (OMP_NUM_THREADS and --threads for Fovea,
torch.set_num_threads for PyTorch).

Run with a python that has torch (here: /usr/bin/python3):
  /usr/bin/python3 bench/compare/model_compare.py [build/tools/fovea/fovea] --threads 2
      [--models resnet18,mobilenet_v2,vgg16] [--reps 3] [--min-time 2] [--conv-algo autotune]
      [--json OUT]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from core_state import read_core_probe

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODES = ("eager", "fastest")


def peak_rss_mib():
    """This process's peak resident memory: VmHWM, not getrusage's ru_maxrss, which Linux
    carries over from the parent across fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_seconds(fn, min_time, warmup):
    """Median seconds per call over calls run back to back for at least min_time (and at least
    3), after `warmup` untimed calls (the JIT's profiling executor optimises on the first
    ones)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def torch_worker(model_name, mode, threads, min_time):
    """Runs in its own process: one model in one mode; prints one JSON object."""
    import torch
    import torchvision
    import_mib = peak_rss_mib()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, model_name)(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        if mode == "fastest":
            model = torch.jit.optimize_for_inference(torch.jit.script(model))
        seconds = median_seconds(lambda: model(x), min_time, warmup=3)
    print(json.dumps({"ms": seconds * 1e3, "peak_rss_mib": peak_rss_mib(),
                      "import_rss_mib": import_mib, "torch": torch.__version__}))


def run_json(cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"model_compare: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout)


def run_fovea(binary, model_name, threads, min_time, conv_algo):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    doc = run_json([binary, "bench", "--suite", "models", "--models", model_name, "--threads",
                    str(threads), "--min-time", str(min_time), "--conv-algo", conv_algo,
                    "--json"], env)
    row = doc["results"][0]
    return {"ms": row["ms_median"], "peak_rss_mib": row["peak_rss_mib"]}


def core_probe(binary, threads):
    """bench/core_probe's reading from the fovea program's build ({}: none, see core_state)."""
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(binary))))
    return read_core_probe(os.path.join(build, "bench", "core_probe"), threads)


def run_torch(model_name, mode, threads, min_time):
    return run_json([sys.executable, os.path.abspath(__file__), "--worker", mode,
                     "--models", model_name, "--threads", str(threads),
                     "--min-time", str(min_time)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", nargs="?",
                    default=os.path.join(REPO, "build", "tools", "fovea", "fovea"),
                    help="the fovea program (default: build/tools/fovea/fovea in the repo)")
    ap.add_argument("--threads", type=int, default=2, help="threads on every side (default 2)")
    ap.add_argument("--models", default="resnet18,mobilenet_v2,vgg16",
                    help="comma-separated torchvision / Fovea zoo names "
                    "(default resnet18,mobilenet_v2,vgg16)")
    ap.add_argument("--reps", type=int, default=3, help="rounds per model (default 3)")
    ap.add_argument("--min-time", type=float, default=2.0,
                    help="seconds each contender runs forwards per round (default 2)")
    ap.add_argument("--conv-algo", default="auto",
                    help="Fovea's convolution algorithm (fovea --conv-algo): auto (default), "
                    "autotune, or a kernel name")
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    ap.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]

    if args.worker:
        torch_worker(models[0], args.worker, args.threads, args.min_time)
        return
    # The workers import torch; this process does not, so its memory stays out of theirs.
    if subprocess.run([sys.executable, "-c", "import torch, torchvision"],
                      capture_output=True).returncode != 0:
        sys.exit(f"model_compare: {sys.executable} has no torch and torchvision; run with "
                 "/usr/bin/python3")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"model_compare: no fovea program at {args.binary}; build the fovea_cli "
                 "target or pass its path")

    print(f"batch 1, 3x224x224, threads={args.threads} rounds={args.reps} "
          f"min_time={args.min_time}s binary={args.binary} conv_algo={args.conv_algo} "
          f"cpus={os.cpu_count()} "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')}")
    head = (f"{'model':<13} {'fovea ms':>9} {'eager ms':>9} {'fastest ms':>10} "
            f"{'eager/fovea':>11} {'fastest/fovea':>13}   {'fovea MiB':>9} {'eager MiB':>9} "
            f"{'fastest MiB':>11} {'import MiB':>10}")
    print(head)
    print("-" * len(head))
    load_start = os.getloadavg()[0]
    rows = []
    torch_version = "?"
    for name in models:
        runs = {"fovea": [], "eager": [], "fastest": []}
        probes = []
        for _ in range(args.reps):
            probes.append(core_probe(args.binary, args.threads))
            runs["fovea"].append(run_fovea(args.binary, name, args.threads, args.min_time,
                                           args.conv_algo))
            for mode in MODES:
                runs[mode].append(run_torch(name, mode, args.threads, args.min_time))
        med = {side: {key: statistics.median(r[key] for r in rs) for key in ("ms", "peak_rss_mib")}
               for side, rs in runs.items()}
        med["eager"]["import_rss_mib"] = statistics.median(r["import_rss_mib"]
                                                           for r in runs["eager"])
        torch_version = runs["eager"][0]["torch"]
        row = {"model": name, "batch": 1,
               "fovea_ms": med["fovea"]["ms"], "eager_ms": med["eager"]["ms"],
               "fastest_ms": med["fastest"]["ms"],
               "eager_over_fovea": med["eager"]["ms"] / med["fovea"]["ms"],
               "fastest_over_fovea": med["fastest"]["ms"] / med["fovea"]["ms"],
               "fovea_peak_rss_mib": med["fovea"]["peak_rss_mib"],
               "eager_peak_rss_mib": med["eager"]["peak_rss_mib"],
               "fastest_peak_rss_mib": med["fastest"]["peak_rss_mib"],
               "torch_import_rss_mib": med["eager"]["import_rss_mib"],
               "rounds": [{"fovea_ms": f["ms"], "fastest_ms": t["ms"], "core_probe": probe}
                          for f, t, probe in zip(runs["fovea"], runs["fastest"], probes)]}
        rows.append(row)
        print(f"{name:<13} {row['fovea_ms']:>9.2f} {row['eager_ms']:>9.2f} "
              f"{row['fastest_ms']:>10.2f} {row['eager_over_fovea']:>11.2f} "
              f"{row['fastest_over_fovea']:>13.2f}   {row['fovea_peak_rss_mib']:>9.0f} "
              f"{row['eager_peak_rss_mib']:>9.0f} {row['fastest_peak_rss_mib']:>11.0f} "
              f"{row['torch_import_rss_mib']:>10.0f}", flush=True)
    print("-" * len(head))
    for row in rows:
        rounds = []
        for r in row["rounds"]:
            probe = r["core_probe"]
            state = (f", barrier {probe['barrier_us']:.2f} us, writes to the other core's lines "
                     f"{probe['write_gbs']:.0f} GB/s" if probe else "")
            rounds.append(f"{r['fastest_ms'] / r['fovea_ms']:.2f} ({r['fovea_ms']:.2f} / "
                          f"{r['fastest_ms']:.2f} ms{state})")
        print(f"{row['model']}: per round, fastest/fovea (fovea / fastest ms):")
        for text in rounds:
            print(f"  {text}")
    print(f"load average (1 min) at start {load_start:.2f}, at end {os.getloadavg()[0]:.2f}")
    print(f"torch {torch_version}; ratios: torch_ms / fovea_ms (> 1: Fovea is faster); MiB: peak "
          "RSS (VmHWM) of each process")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"suite": "models", "threads": args.threads, "rounds": args.reps,
                       "conv_algo": args.conv_algo,
                       "min_time_s": args.min_time, "torch": torch_version,
                       "results": rows}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
