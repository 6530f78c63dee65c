"""Golden cases for linear (see make_golden.py).

Each case is a seeded random shape: 2-D batches, inputs with no or several leading axes,
degenerate feature counts, with and without bias. PyTorch computes, in float64 from the
float32 inputs we store:
    y = F.linear(x, w, b);  gy = random upstream gradient;  gx, gw, gb = grads of sum(y * gy)
config.json: {"bias": bool}
"""
import torch
import torch.nn.functional as F

SEED = 20240612

# (name, leading shape of x, in_features, out_features, bias)
CASES = [
    ("batch", [4], 5, 3, True),
    ("batch_nobias", [3], 6, 4, False),
    ("unbatched", [], 7, 2, True),
    ("sequence", [2, 3], 4, 5, True),
    ("image_rows", [2, 2, 3], 3, 2, False),
    ("one_in_feature", [5], 1, 4, True),
    ("one_out_feature", [6], 8, 1, True),
    ("classifier", [8], 64, 10, True),
    ("wide", [16], 96, 48, True),
    ("single_row", [1], 9, 9, False),
]


def generate(out):
    torch.manual_seed(SEED)
    for name, lead, n_in, n_out, bias in CASES:
        x32 = torch.randn(lead + [n_in])
        w32 = torch.randn(n_out, n_in) / n_in ** 0.5
        b32 = torch.randn(n_out) if bias else None
        x = x32.double().requires_grad_()
        w = w32.double().requires_grad_()
        b = b32.double().requires_grad_() if bias else None
        y = F.linear(x, w, b)
        gy32 = torch.randn(y.shape)
        y.backward(gy32.double())
        tensors = {"x": x32, "w": w32, "y": y, "gy": gy32, "gx": x.grad, "gw": w.grad}
        if bias:
            tensors.update({"b": b32, "gb": b.grad})
        out.case(name, {"bias": bias}, tensors)
