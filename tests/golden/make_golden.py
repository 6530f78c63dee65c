#!/usr/bin/python3
"""Writes the golden data every op is tested against, computed by PyTorch.

Run with Debian's interpreter (python3-torch 1.13, python3-numpy):
    /usr/bin/python3 tests/golden/make_golden.py            # all families
    /usr/bin/python3 tests/golden/make_golden.py conv pool  # some

Each family lives in a module gen_<family>.py beside this file that defines
    def generate(out: golden.Writer) -> None
and writes cases with out.case(name, config_dict, tensors_dict). A case becomes the folder
tests/golden/<family>/<name>/ holding config.json and one float32 .npy per tensor.
The C++ tests read them through tests/golden_helpers.h. Output is deterministic (fixed
seeds) so regenerating changes nothing unless the script changes.
"""
import importlib
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import golden  # noqa: E402

def main(argv):
    here = pathlib.Path(__file__).parent
    families = argv or sorted(p.stem[len("gen_"):] for p in here.glob("gen_*.py"))
    for family in families:
        module = importlib.import_module(f"gen_{family}")
        writer = golden.Writer(here / family)
        module.generate(writer)
        print(f"{family}: {writer.count} cases, {writer.bytes / 1024:.0f} KiB")

if __name__ == "__main__":
    main(sys.argv[1:])
