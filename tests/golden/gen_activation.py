"""Golden cases for the elementwise activations and softmax (see make_golden.py).

PyTorch computes in float64 from the float32 inputs we store. Each case holds
    x       the input; activation cases put the kinks and tails first
            (-6, -3, -1e-3, 0, 1e-3, 3, 6, -20, 20, ...) then random values
    y       op(x)
    gy      random upstream gradient
    gx      gradient of sum(y * gy)

config.json:
    op        relu relu6 leaky_relu elu gelu silu sigmoid tanh hardswish hardsigmoid
              softmax log_softmax
    saved     "input" or "output": what the op's backward takes besides gy
    negative_slope (leaky_relu), alpha (elu), approximate (gelu), dim (softmax)

PyTorch 1.13's hardswish'(3) is 1 in its vectorised loop but 3/2 in the scalar loop that
finishes a tensor's last few elements; the kinks sit at the front, in the vectorised part.
"""
import random

import torch
import torch.nn.functional as F

SEED = 20240613

KINKS = [-6.0, -3.0, -1e-3, 0.0, 1e-3, 3.0, 6.0, -20.0, 20.0, -0.5, 0.5, -1e-6, 1e-6]

# (case name, op, torch function of x and the config, what the backward takes, config)
LEAKY = lambda x, c: F.leaky_relu(x, c["negative_slope"])  # noqa: E731
ELU = lambda x, c: F.elu(x, c["alpha"])  # noqa: E731
GELU = lambda x, c: F.gelu(x, approximate=c["approximate"])  # noqa: E731
ACTIVATIONS = [
    ("relu", "relu", lambda x, c: F.relu(x), "output", {}),
    ("relu6", "relu6", lambda x, c: F.relu6(x), "output", {}),
    ("leaky_relu", "leaky_relu", LEAKY, "input", {"negative_slope": 0.01}),
    ("leaky_relu_slope_0.2", "leaky_relu", LEAKY, "input", {"negative_slope": 0.2}),
    ("leaky_relu_slope_neg", "leaky_relu", LEAKY, "input", {"negative_slope": -0.5}),
    ("elu", "elu", ELU, "input", {"alpha": 1.0}),
    ("elu_alpha_0.5", "elu", ELU, "input", {"alpha": 0.5}),
    ("elu_alpha_2", "elu", ELU, "input", {"alpha": 2.0}),
    ("gelu", "gelu", GELU, "input", {"approximate": "none"}),
    ("gelu_tanh", "gelu", GELU, "input", {"approximate": "tanh"}),
    ("silu", "silu", lambda x, c: F.silu(x), "input", {}),
    ("sigmoid", "sigmoid", lambda x, c: torch.sigmoid(x), "output", {}),
    ("tanh", "tanh", lambda x, c: torch.tanh(x), "output", {}),
    ("hardswish", "hardswish", lambda x, c: F.hardswish(x), "input", {}),
    ("hardsigmoid", "hardsigmoid", lambda x, c: F.hardsigmoid(x), "input", {}),
]

# (name, shape, dim, scale of x)
SOFTMAX = [
    ("rows", [4, 10], 1, 1.0),
    ("rows_neg_dim", [4, 10], -1, 3.0),
    ("columns", [4, 10], 0, 1.0),
    ("channels", [2, 3, 4, 5], 1, 1.0),
    ("height_neg", [2, 3, 4, 5], -2, 2.0),
    ("last", [2, 3, 4, 5], 3, 1.0),
    ("vector", [7], 0, 1.0),
    ("large_logits", [3, 6], 1, 200.0),
    ("size_one", [3, 1, 4], 1, 1.0),
    ("volume", [1, 2, 3, 2, 3], 2, 1.0),
    ("scalar", [], 0, 1.0),
]


def case(out, name, op, config, x, fn, saved, g):
    x = x.double().requires_grad_()
    y = fn(x)
    gy = torch.randn(x.shape, generator=g).double()
    gx, = torch.autograd.grad((y * gy).sum(), x)
    out.case(name, {"op": op, "saved": saved, **config}, {"x": x, "y": y, "gy": gy, "gx": gx})


def generate(out):
    rng = random.Random(SEED)
    for name, op, fn, saved, config in ACTIVATIONS:
        g = torch.Generator().manual_seed(rng.randint(0, 2**31))
        shape = [2, 3, 4, 5] if rng.random() < 0.5 else [3, 17]
        x = torch.randn(shape, generator=g) * 3
        x.view(-1)[:len(KINKS)] = torch.tensor(KINKS)
        case(out, name, op, config, x, lambda t: fn(t, config), saved, g)
        # The kinks' neighbourhood and the kinks again, in an odd shape (no batch axis).
        x = torch.tensor(KINKS + [-2.999, 2.999, -3.001, 3.001, 5.999, 6.001]).reshape(19)
        case(out, f"{name}_kinks", op, config, x, lambda t: fn(t, config), saved, g)
    for name, shape, dim, scale in SOFTMAX:
        g = torch.Generator().manual_seed(rng.randint(0, 2**31))
        x = torch.randn(shape, generator=g) * scale
        for op, fn in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
            case(out, f"{op}_{name}", op, {"dim": dim}, x, lambda t: fn(t, dim=dim), "output", g)
