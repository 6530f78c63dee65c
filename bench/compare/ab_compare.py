#!/usr/bin/python3
"""Two or more builds (or settings) of a Google Benchmark program, alternated on a noisy host.

  python3 bench/compare/ab_compare.py --filter REGEX [--threads 2] [--rounds 6] [--reps 10]
      base=/tmp/conv_bench_before  new=build/bench/conv_bench  'lwf=FOO=1 build/bench/conv_bench'

Each LABEL=COMMAND is a benchmark binary, optionally after VAR=VALUE environment settings. A
round runs every command once, one after the other, each as its own process with
--benchmark_repetitions=REPS; ROUNDS rounds give ROUNDS x REPS samples of every benchmark per
label. It prints their minimum, tenth percentile and median (real time, ms).

Why alternate: on a shared machine a binary's time moves by 20-40% from one minute to the next
and sometimes by 10x for seconds, so "before" and "after" runs minutes apart compare the
machine's moods, not the builds. Alternating makes both see the same moods; the tenth
percentile and the median together say whether a difference holds beyond the quiet moments
(the minimum alone is one lucky sample). Does not need torch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict


def run(command, threads, flt, reps, min_time):
    """{benchmark name: [ms per repetition]} from one process of `command`."""
    words = command.split()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    while words and "=" in words[0] and not words[0].startswith(("/", ".")):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    try:
        proc = subprocess.run(words + [f"--benchmark_filter={flt}", "--benchmark_format=json",
                                       f"--benchmark_repetitions={reps}",
                                       f"--benchmark_min_time={min_time}"],
                              env=env, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"error: cannot run '{command}': {e.strerror}")
    if proc.returncode != 0:
        sys.exit(f"error: '{command}' exited with {proc.returncode}: {proc.stderr.strip()}")
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    times = defaultdict(list)
    if not proc.stdout.strip():  # nothing matched the filter
        return times
    for b in json.loads(proc.stdout)["benchmarks"]:
        if b.get("run_type") == "iteration":
            times[b["run_name"]].append(b["real_time"] * scale[b["time_unit"]])
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    ap.add_argument("--filter", required=True, help="--benchmark_filter regex")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--reps", type=int, default=10, help="repetitions per process")
    ap.add_argument("--min-time", type=float, default=0.02, help="seconds per repetition")
    args = ap.parse_args()
    labelled = [c.split("=", 1) for c in args.commands]
    if any(len(lc) != 2 for lc in labelled):
        sys.exit("error: each command is LABEL=COMMAND")
    samples = defaultdict(list)  # (benchmark, label) -> ms
    for _ in range(args.rounds):
        for label, command in labelled:
            for name, ms in run(command, args.threads, args.filter, args.reps,
                                args.min_time).items():
                samples[(name, label)] += ms
    if not samples:
        sys.exit(f"error: no benchmark matches --filter '{args.filter}'")
    width = max(len(name) for name, _ in samples)
    for (name, label), ms in sorted(samples.items()):
        ms.sort()
        print(f"{name:{width}}  {label:10} min {ms[0]:9.4f}  p10 {ms[len(ms) // 10]:9.4f}  "
              f"median {statistics.median(ms):9.4f} ms  n={len(ms)}")


if __name__ == "__main__":
    main()
