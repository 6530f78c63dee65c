#!/usr/bin/python3
"""Issue 6's speed targets, judged from the comparison scripts' JSON: one line per target with
the figure measured, the bar it must clear and PASS or FAIL, then the rows that miss.

    /usr/bin/python3 bench/compare/targets.py DIR [--run] [--threads 2] [--build build]

DIR holds conv.json (conv_compare.py), direct.json (conv_compare.py --algo direct_avx512 on
ResNet-18's 3x3 layers; direct_avx2 on a CPU without AVX-512), layers.json (layer_compare.py), models.json (model_compare.py) and
train.json (train_compare.py); a missing file leaves its targets out (printed as "no data").
With --run the five comparisons first run into DIR, on the programs in --build (conv_bench,
layer_bench, train_step_bench, fovea), each with its default rounds: about a quarter of an
hour on 2 cores (13 minutes on the Ice Lake of bench/results/xeon_icelake). Ratios are
torch_ms / fovea_ms, as the scripts print them (> 1: Fovea is faster); each row is already a
median over rounds, and this script adds no statistics of its own. The bars are the issue's:

  - dense 3x3 layers of ResNet-18, batch 1 and 16, every pass: the direct kernel at least as
    fast as PyTorch (direct.json; stride 2 also as the selector runs them, conv.json), and at
    least 1.3x with Winograd on the stride-1 layers (conv.json, where the selector picks it);
  - the weak spots (depthwise 3x3, 1x1 at batch 1, grouped 3x3, transposed 4x4/2, the stem's
    backward data, 3x3/2 max pooling, batch-norm training forward): at least 2x, row by row;
  - the geometric mean over the layer suite, all passes: at least 1.5x;
  - resnet18 and mobilenet_v2 at batch 1 against PyTorch's fastest mode: at least 1.3x, and
    Fovea's peak memory at most a quarter of that PyTorch process's;
  - an epoch of the default Fashion-MNIST training: at least 2x.

Exit status 0 when every target with data passes, 1 otherwise.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


class Verdicts:
    def __init__(self):
        self.failed = False

    def line(self, name, rows, bar):
        """rows: (label, value) pairs; the target holds when every value is at least bar."""
        if not rows:
            print(f"{name:<66} {'no data':>8}")
            return
        value = min(v for _, v in rows)
        ok = value >= bar
        self.failed |= not ok
        print(f"{name:<66} {value:>8.2f} {bar:>6.2f}  {'PASS' if ok else 'FAIL'}")
        for label, v in rows:
            if v < bar:
                print(f"    {label}: {v:.2f}")


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["results"]


def conv_rows(conv, pattern, passes=None, batch=None):
    rx = re.compile(pattern)
    rows = []
    for r in conv:
        if (rx.search(r["layer"]) and (passes is None or r["pass"] in passes)
                and (batch is None or r["N"] == batch)):
            # conv_compare.py --algo leaves "algorithm" empty: the kernel is the one named.
            algo = f" ({r['algorithm']})" if r["algorithm"] else ""
            rows.append((f"{r['layer']} N{r['N']} {r['pass']}{algo}", r["ratio"]))
    return rows


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def direct_algorithm():
    """The direct kernel this CPU runs: the AVX-512 row where it has AVX-512, else AVX2's."""
    with open("/proc/cpuinfo") as f:
        flags = next((line.split() for line in f if line.startswith("flags")), [])
    return "direct_avx512" if "avx512f" in flags else "direct_avx2"


def run(args):
    os.makedirs(args.dir, exist_ok=True)
    bench = os.path.join(args.build, "bench")
    fovea = os.path.join(args.build, "tools", "fovea", "fovea")
    threads = ["--threads", str(args.threads)]
    for script, extra, out in (
            ("conv_compare.py", [os.path.join(bench, "conv_bench")], "conv.json"),
            ("conv_compare.py", [os.path.join(bench, "conv_bench"), "--algo", direct_algorithm(),
                                 "--layers", r"^r18_l\d_3x3(s2)?/"], "direct.json"),
            ("layer_compare.py", [bench], "layers.json"),
            ("model_compare.py", [fovea], "models.json"),
            ("train_compare.py", ["--fovea", fovea], "train.json")):
        cmd = [sys.executable, os.path.join(HERE, script), *extra, *threads, "--json",
               os.path.join(args.dir, out)]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="folder of the comparisons' JSON files (see above)")
    ap.add_argument("--run", action="store_true", help="run the four comparisons into DIR first")
    ap.add_argument("--threads", type=int, default=2, help="with --run: threads on both sides")
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="with --run: the build tree holding bench/ and tools/fovea/")
    args = ap.parse_args()
    if args.run:
        run(args)
    elif not os.path.isdir(args.dir):
        sys.exit(f"targets: no folder '{args.dir}' (pass --run to fill it)")
    conv = load(os.path.join(args.dir, "conv.json")) or []
    direct = load(os.path.join(args.dir, "direct.json")) or []
    layers = load(os.path.join(args.dir, "layers.json")) or []
    models = load(os.path.join(args.dir, "models.json")) or []
    train = load(os.path.join(args.dir, "train.json")) or []

    v = Verdicts()
    print(f"{'target':<66} {'figure':>8} {'bar':>6}  verdict")
    print("-" * 90)
    v.line("dense 3x3, direct kernel, every row (worst)", conv_rows(direct, r"^r18_l\d_3x3"),
           1.0)
    v.line("dense 3x3 stride 2 as selected, every row (worst)",
           conv_rows(conv, r"^r18_l\d_3x3s2$"), 1.0)
    v.line("dense 3x3 stride 1 with Winograd, every row (worst)",
           conv_rows(conv, r"^r18_l\d_3x3$"), 1.3)
    weak = {
        "depthwise 3x3": conv_rows(conv, r"^mbv2_dw3x3"),
        "1x1 at batch 1": conv_rows(conv, r"1x1", batch=1),
        "grouped 3x3": conv_rows(conv, r"^grouped"),
        "transposed 4x4/2": conv_rows(conv, r"^convT"),
        "stem 7x7/2 backward data": conv_rows(conv, r"^r18_conv1", passes={"bwd_data"}),
        "3x3/2 max pooling forward": [(r["case"], r["ratio"]) for r in layers
                                      if re.match(r"layer/max_pool2d_k3s2p1/.*/fwd$", r["case"])],
        "batch-norm training forward": [(r["case"], r["ratio"]) for r in layers
                                        if re.match(r"layer/batch_norm/.*/fwd_train$", r["case"])],
    }
    for name, rows in weak.items():
        v.line(f"weak spot: {name} (worst)", rows, 2.0)
    if conv:
        v.line(f"geometric mean, layer suite, all passes ({len(conv)} rows)",
               [("all", geomean([r["ratio"] for r in conv]))], 1.5)
    else:
        v.line("geometric mean, layer suite, all passes", [], 1.5)
    for name in ("resnet18", "mobilenet_v2"):
        row = next((m for m in models if m["model"] == name), None)
        if row is None:
            v.line(f"{name} batch 1 against PyTorch's fastest mode", [], 1.3)
            continue
        rounds = [r["fastest_ms"] / r["fovea_ms"] for r in row["rounds"]]
        held = sum(x >= 1.3 for x in rounds)
        v.line(f"{name} against PyTorch's fastest (median; {held}/{len(rounds)} rounds >= 1.3)",
               [(name, row["fastest_over_fovea"])], 1.3)
        # Peak memory: at most a quarter of PyTorch's process, i.e. its peak / Fovea's >= 4.
        v.line(f"{name} peak memory, PyTorch's / Fovea's ({row['fovea_peak_rss_mib']:.0f} MiB "
               f"against {row['fastest_peak_rss_mib']:.0f})",
               [(name, row["fastest_peak_rss_mib"] / row["fovea_peak_rss_mib"])], 4.0)
    v.line("training epoch, fmnist-cnn (worst epoch)",
           [(f"epoch {r['epoch']}", r["ratio"]) for r in train], 2.0)
    sys.exit(1 if v.failed else 0)


if __name__ == "__main__":
    main()
