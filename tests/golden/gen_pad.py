"""Golden cases for pad (see make_golden.py).

Each case is one feature (mode, number of padded axes, batched or not, negative amounts that
crop, amounts at the mode's limits, a fill value) with seeded random sizes, plus random ones.
PyTorch computes in float64 from the float32 inputs we store:
    y  = F.pad(x, pad, mode, value)     forward output
    gy = random upstream gradient (shape of y)
    gx = gradient of sum(y * gy)

PyTorch 1.13 refuses unbatched input in circular mode, which Fovea accepts; those cases are
computed on the input with a batch axis added, then removed.

config.json:
    pad     the amounts, last axis first: [left, right, top, bottom, front, back]
    mode    "constant" | "reflect" | "replicate" | "circular"
    value   the constant mode's fill value (0 for the other modes)
"""
import random

import torch
import torch.nn.functional as F

SEED = 20240613


def torch_pad(x, pad, mode, value):
    if mode == "circular" and x.dim() == len(pad) // 2 + 1:
        return F.pad(x.unsqueeze(0), pad, mode).squeeze(0)
    return F.pad(x, pad, mode, value) if mode == "constant" else F.pad(x, pad, mode)


def make_case(out, rng, name, shape, pad, mode="constant", value=0.0):
    gen = torch.Generator().manual_seed(rng.randrange(2**31))
    x = torch.randn(shape, generator=gen)
    xd = x.double().requires_grad_()
    y = torch_pad(xd, pad, mode, value)
    gy = torch.randn(y.shape, generator=gen)
    (gx,) = torch.autograd.grad(y, xd, gy.double())
    out.case(name, {"pad": list(pad), "mode": mode, "value": value},
             {"x": x, "y": y, "gy": gy, "gx": gx})


def generate(out):
    rng = random.Random(SEED)
    c = lambda *a, **k: make_case(out, rng, *a, **k)  # noqa: E731

    c("constant_zero_2d", [2, 2, 3, 4], [1, 2, 0, 1])
    c("constant_value_1d", [1, 3, 5], [2, 3], value=1.5)
    c("constant_negative_crop", [1, 2, 5, 6], [-1, 2, 1, -2], value=-2.0)
    c("constant_all_negative", [2, 1, 5, 4], [-1, -1, -2, 0])
    c("constant_3d", [1, 2, 2, 3, 3], [1, 0, 2, 1, 1, 1], value=-0.5)
    c("constant_last_axis_only", [2, 2, 3, 3], [0, 3])
    c("constant_channel_axis", [2, 3, 4], [1, 1, 0, 2, 1, 0], value=0.25)
    c("constant_rank1", [4], [1, 2], value=3.0)

    c("reflect_1d", [2, 2, 5], [2, 4])
    c("reflect_1d_unbatched", [3, 4], [1, 3])
    c("reflect_2d", [1, 2, 4, 3], [2, 1, 1, 3])
    c("reflect_2d_unbatched", [2, 3, 5], [1, 1, 2, 0])
    c("reflect_3d", [1, 1, 3, 3, 4], [1, 3, 2, 0, 0, 2])
    c("reflect_negative", [1, 2, 5], [-1, 2])

    c("replicate_1d_wider_than_input", [2, 1, 3], [5, 1])
    c("replicate_2d", [1, 2, 3, 4], [2, 2, 3, 1])
    c("replicate_3d_unbatched", [2, 2, 3, 2], [1, 2, 0, 1, 2, 1])
    c("replicate_negative", [1, 1, 4, 5], [-1, 3, 2, -1])

    c("circular_1d", [2, 2, 5], [2, 5])
    c("circular_2d", [1, 2, 3, 4], [1, 4, 3, 1])
    c("circular_3d", [1, 1, 2, 3, 3], [1, 1, 0, 3, 2, 0])
    c("circular_1d_unbatched", [3, 4], [3, 1])
    c("circular_negative_right", [1, 1, 5], [-1, 3])
    c("circular_negative_left", [1, 2, 5], [2, -3])

    for i in range(6):
        mode = rng.choice(["constant", "reflect", "replicate", "circular"])
        k = rng.randint(1, 3)
        batched = rng.random() < 0.7
        shape = ([rng.randint(1, 2)] if batched else []) + [rng.randint(1, 3)]
        shape += [rng.randint(2, {1: 7, 2: 5, 3: 3}[k]) for _ in range(k)]
        pad = []
        for n in reversed(shape[-k:]):
            limit = {"reflect": n - 1, "circular": n}.get(mode, n + 1)
            pad += [rng.randint(0, limit), rng.randint(0, limit)]
        value = round(rng.uniform(-1, 1), 2) if mode == "constant" else 0.0
        c(f"random_{i}", shape, pad, mode, value)
