"""The state of the host's cores for the comparison scripts: bench/core_probe's reading.

This host has phases, seconds to minutes long, in which its two cores pass data to each other
far more slowly than usual (bench/core_probe.cpp); the scripts label their rounds and rows with
the probe's reading taken just before.
"""
import json
import os
import subprocess

# Barrier times below this (us) mark a reading taken while the cores passed data quickly. The
# committed conv suite runs read 0.19-0.25 us quick and 0.44-0.53 slow on the Zen 5, 0.23-0.31
# and 0.45-0.53 on the Zen 4 (bench/results/epyc_zen4/); the threshold was 0.2 until then, which
# called most quick Zen 5 rows slow (81 of 114 in bench/results/targets/conv.txt).
QUICK_BARRIER_US = 0.35


def read_core_probe(probe, threads):
    """The JSON object core_probe at `probe` prints now; {} where it is not built, fails, or
    there is one thread (nothing passes between cores)."""
    if threads < 2 or not os.access(probe, os.X_OK):
        return {}
    proc = subprocess.run([probe], capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    return json.loads(proc.stdout) if proc.returncode == 0 else {}
