#!/usr/bin/env python3
"""Lists the innermost loops of a binary that do FMAs and also store vector registers to the
stack: accumulators that GCC left in memory, stored back on every trip.

    python3 scripts/find_vector_spills.py build/src/libfovea.a [--min-fma 4] [--min-stores 2]

GCC 12 keeps an array of __m512 in memory when anything indexes it with a variable (a loop it
did not unroll) or takes its address (`sum_each(&acc[0][0], ...)`); the inner loop then holds
the values in registers but also stores every one of them on each trip. A core with one 512-bit
store per cycle (Intel's Ice Lake) ran the grouped weight gradient at under half its speed that
way (34 against 77 GFLOP/s on one thread); Zen 5, with two, ran the same code at 1.97x PyTorch.
Each line printed is (stores, FMAs, instructions in the loop, function): a candidate to read,
not a verdict. Some loops keep an array on the stack by design (the softmax backward's per-line
sums across a tile) or spill because their tile needs more than 32 vector registers (the
Winograd weight gradient's 4 x 6 window transform).

With --calls it lists instead the kernels (functions in fovea::kernels) that call memcpy,
memmove or memset: GCC 12 turns a loop of vector loads into an array, or of stores from one,
into such a call through the stack when the array is not unrolled into registers. In the
backward data's weight packing (PieceTranspose::run<9>) that was a 576-byte memcpy per piece of
9 weights x 16 channels, 5.9% of ResNet-18 layer 4's backward data at batch 16; in the
depthwise weight gradient a memset of its 9 accumulators per plane (batch 1 10% slower). Most
calls it lists are meant (fills and copies of whole rows or buffers, once per call): read the
ones inside a kernel that runs per tile, piece or plane.
"""
import argparse
import re
import subprocess

JUMP = re.compile(r"j\w+\s+([0-9a-f]+)")
# A call in a linked binary, or its relocation in an object file or archive (objdump -r).
MEM_CALL = re.compile(r"(?:call\s+[0-9a-f]+ <|R_X86_64_PLT32\s+)(mem(?:cpy|move|set))\b")
# A function of fovea::kernels, after its return type if the name carries one.
KERNEL = re.compile(r"(?:[\w:*& ]+ )?fovea::kernels::")
STACK_STORE = re.compile(r"vmov\w*\s+%[xyz]mm\d+,\s*-?(0x[0-9a-f]+)?\(%rsp\)")


def functions(binary, relocations=False):
    """(name, [(address, instruction)]) for each function objdump disassembles (with each
    relocation as a line of its own if asked)."""
    out = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn"] +
                         (["-r"] if relocations else []) + [binary],
                         capture_output=True, text=True, check=True).stdout
    name, body = None, []
    for line in out.splitlines():
        head = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if head:
            if name:
                yield name, body
            name, body = head.group(1), []
            continue
        ins = re.match(r"^\s*([0-9a-f]+):\s+(.*)$", line)
        if ins and name:
            body.append((int(ins.group(1), 16), ins.group(2).strip()))
    if name:
        yield name, body


def backward_target(address, instruction):
    jump = JUMP.match(instruction)
    if jump and int(jump.group(1), 16) <= address:
        return int(jump.group(1), 16)
    return None


def innermost_loops(body):
    """The instructions of each loop (a backward jump's range) holding no other loop."""
    index = {address: i for i, (address, _) in enumerate(body)}
    for end, (address, instruction) in enumerate(body):
        target = backward_target(address, instruction)
        if target is None or target not in index:
            continue
        loop = body[index[target]:end + 1]
        if any(backward_target(a, ins) is not None for a, ins in loop[:-1]):
            continue
        yield [ins for _, ins in loop]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--min-fma", type=int, default=4)
    parser.add_argument("--min-stores", type=int, default=2)
    parser.add_argument("--calls", action="store_true",
                        help="list the kernels that call memcpy, memmove or memset instead")
    args = parser.parse_args()
    if args.calls:
        for name, body in functions(args.binary, relocations=True):
            calls = [m.group(1) for _, ins in body for m in [MEM_CALL.match(ins)] if m]
            if calls and KERNEL.match(name):
                print(f"{len(calls):4d} calls ({', '.join(sorted(set(calls)))})  {name}")
        return
    found = set()
    for name, body in functions(args.binary):
        for loop in innermost_loops(body):
            fma = sum(ins.startswith(("vfmadd", "vfnmadd", "vfmsub")) for ins in loop)
            stores = sum(bool(STACK_STORE.match(ins)) for ins in loop)
            if fma >= args.min_fma and stores >= args.min_stores:
                found.add((stores, fma, len(loop), name))
    for stores, fma, size, name in sorted(found, reverse=True):
        print(f"{stores:4d} stores {fma:4d} FMAs {size:5d} instructions  {name}")


if __name__ == "__main__":
    main()
