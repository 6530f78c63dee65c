"""Golden cases for conv1d/2d/3d and conv_transpose1d/2d/3d (see make_golden.py).

Every case is a seeded random configuration built around one feature (strided, asymmetric
padding, 'same' with an even kernel, depthwise, transposed with output_padding, ...), plus
fully random ones. PyTorch computes, in float64 from the float32 inputs we store:
    y  = conv(x, w, b)                       forward output
    gy = random upstream gradient (shape of y)
    gx, gw, gb = gradients of sum(y * gy)     (gb only when the case has a bias)

config.json (everything needed to call Fovea):
    kind            "conv" | "conv_transpose"
    dims            1 | 2 | 3
    stride, dilation, output_padding   per spatial axis
    padding         {"mode": "explicit"|"same"|"valid"|"full", "lo": [..], "hi": [..]}
                    lo/hi are the resolved per-side amounts for every mode; a transposed
                    conv always has mode "explicit" with lo == hi
    groups, bias, flip (true convolution: kernel reversed along every spatial axis),
    unbatched (x has no batch axis)
"""
import random
import warnings

import torch
import torch.nn.functional as F

SEED = 20240611

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}

# Largest spatial extent added to the minimal input size, per rank: keeps files small.
EXTRA = {1: 7, 2: 4, 3: 2}


def axes(rng, dims, lo, hi):
    return [rng.randint(lo, hi) for _ in range(dims)]


def pick(value, rng, dims, default):
    """An override is a list, a callable(rng, dims) or None (use default(rng, dims))."""
    if value is None:
        return default(rng, dims)
    if callable(value):
        return value(rng, dims)
    return value


def channels(rng, groups_kind):
    """(C_in, C_out, groups) for a groups kind: 1, 2, 3, depthwise, depthwise x2."""
    if groups_kind == "dw":
        c = rng.randint(2, 4)
        return c, c, c
    if groups_kind == "dw2":
        c = rng.randint(2, 3)
        return c, 2 * c, c
    if groups_kind in (2, 3):
        g = groups_kind
        return g * rng.randint(1, 2), g * rng.randint(1, 2), g
    return rng.randint(1, 3), rng.randint(1, 4), 1


def sample_conv(rng, dims, groups=1, kernel=None, stride=None, dilation=None, pad="sym",
                bias=None, flip=False, unbatched=False):
    c_in, c_out, g = channels(rng, groups)
    kmax = {1: 5, 2: 3, 3: 3}[dims]
    kernel = pick(kernel, rng, dims, lambda r, d: axes(r, d, 1, kmax))
    stride = pick(stride, rng, dims, lambda r, d: [1] * d)
    dilation = pick(dilation, rng, dims, lambda r, d: [1] * d)
    span = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
    if pad == "sym":
        lo = axes(rng, dims, 0, 2)
        hi = list(lo)
    elif pad == "asym":
        lo, hi = axes(rng, dims, 0, 3), axes(rng, dims, 0, 3)
        while lo == hi:
            hi = axes(rng, dims, 0, 3)
    elif pad == "same":
        assert all(s == 1 for s in stride)
        lo = [s // 2 for s in span]
        hi = [s - s // 2 for s in span]
    elif pad == "valid":
        lo, hi = [0] * dims, [0] * dims
    elif pad == "full":
        lo, hi = list(span), list(span)
    else:
        raise ValueError(pad)
    size = [max(1, s + 1 - a - b) + rng.randint(0, EXTRA[dims] + st - 1)
            for s, a, b, st in zip(span, lo, hi, stride)]
    return {
        "kind": "conv", "dims": dims, "c_in": c_in, "c_out": c_out, "groups": g,
        "kernel": kernel, "size": size, "batch": rng.randint(1, 2),
        "stride": stride, "dilation": dilation, "output_padding": [0] * dims,
        "padding": {"mode": "explicit" if pad in ("sym", "asym") else pad, "lo": lo, "hi": hi},
        "bias": rng.random() < 0.7 if bias is None else bias, "flip": flip,
        "unbatched": unbatched,
    }


def transpose_out(n, k, s, p, op, d):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def sample_transpose(rng, dims, groups=1, stride=None, dilation=None, padding=None,
                     output_padding=None, bias=None, unbatched=False):
    c_in, c_out, g = channels(rng, groups)
    kmax = {1: 4, 2: 3, 3: 3}[dims]
    while True:
        kernel = axes(rng, dims, 1, kmax)
        st = pick(stride, rng, dims, lambda r, d: [1] * d)
        dl = pick(dilation, rng, dims, lambda r, d: [1] * d)
        pd = pick(padding, rng, dims, lambda r, d: axes(r, d, 0, 1))
        op = pick(output_padding, rng, dims, lambda r, d: [0] * d)
        size = axes(rng, dims, 1, 1 + EXTRA[dims])
        if all(o < s or o < d for o, s, d in zip(op, st, dl)) and all(
                transpose_out(*a) >= 1 for a in zip(size, kernel, st, pd, op, dl)):
            break
    return {
        "kind": "conv_transpose", "dims": dims, "c_in": c_in, "c_out": c_out, "groups": g,
        "kernel": kernel, "size": size, "batch": rng.randint(1, 2),
        "stride": st, "dilation": dl, "output_padding": op,
        "padding": {"mode": "explicit", "lo": pd, "hi": list(pd)},
        "bias": rng.random() < 0.7 if bias is None else bias, "flip": False,
        "unbatched": unbatched,
    }


def torch_pad(lo, hi):
    """F.pad's argument: last axis first."""
    pads = []
    for a, b in zip(reversed(lo), reversed(hi)):
        pads += [a, b]
    return pads


def run(spec):
    """Returns the case's tensors (float32 inputs, float64-computed outputs)."""
    dims = spec["dims"]
    g = spec["groups"]
    lead = [] if spec["unbatched"] else [spec["batch"]]
    x32 = torch.randn(lead + [spec["c_in"]] + spec["size"])
    if spec["kind"] == "conv":
        w32 = torch.randn([spec["c_out"], spec["c_in"] // g] + spec["kernel"])
    else:
        w32 = torch.randn([spec["c_in"], spec["c_out"] // g] + spec["kernel"])
    b32 = torch.randn(spec["c_out"]) if spec["bias"] else None
    x = x32.double().requires_grad_()
    w = w32.double().requires_grad_()
    b = b32.double().requires_grad_() if b32 is not None else None
    pad = spec["padding"]
    if spec["kind"] == "conv":
        wk = torch.flip(w, dims=list(range(2, 2 + dims))) if spec["flip"] else w
        conv = CONV[dims]
        common = dict(stride=spec["stride"], dilation=spec["dilation"], groups=g)
        # Always through an explicit F.pad (the definition of lo/hi), and, where PyTorch has
        # the mode, through PyTorch's own padding argument too, as a check of lo/hi.
        y = conv(F.pad(x, torch_pad(pad["lo"], pad["hi"])), wk, b, padding=0, **common)
        native = None
        if pad["mode"] in ("same", "valid"):
            native = pad["mode"]
        elif pad["mode"] == "full" or pad["lo"] == pad["hi"]:
            native = pad["lo"]
        if native is not None:
            y2 = conv(x, wk, b, padding=native, **common)
            assert torch.allclose(y, y2, rtol=1e-12, atol=1e-12), spec
    else:
        y = CONV_T[dims](x, w, b, stride=spec["stride"], padding=pad["lo"],
                         output_padding=spec["output_padding"], groups=g,
                         dilation=spec["dilation"])
    gy32 = torch.randn(y.shape)
    y.backward(gy32.double())
    tensors = {"x": x32, "w": w32}
    if b32 is not None:
        tensors["b"] = b32
    tensors.update({"y": y, "gy": gy32, "gx": x.grad, "gw": w.grad})
    if b is not None:
        tensors["gb"] = b.grad
    return tensors


def config_of(spec):
    keys = ("kind", "dims", "stride", "padding", "dilation", "groups", "output_padding", "bias",
            "flip", "unbatched")
    return {k: spec[k] for k in keys}


def conv_specs(rng):
    s23 = lambda r, d: axes(r, d, 2, 3)  # noqa: E731
    s12 = lambda r, d: axes(r, d, 1, 2)  # noqa: E731
    d23 = lambda r, d: axes(r, d, 2, 3)  # noqa: E731
    d13 = lambda r, d: axes(r, d, 1, 3)  # noqa: E731
    odd = lambda r, d: [r.choice([1, 3, 5] if d == 1 else [1, 3]) for _ in range(d)]  # noqa
    # Even kernels with odd dilation: the total 'same' padding is odd, the extra goes last.
    even = lambda r, d: [r.choice([2, 4] if d == 1 else [2]) for _ in range(d)]  # noqa: E731
    odd_dil = lambda r, d: [r.choice([1, 3]) for _ in range(d)]  # noqa: E731
    features = [
        ("basic", dict()),
        ("strided", dict(stride=s23)),
        ("asym", dict(pad="asym", stride=s12)),
        ("asym_strided_dilated", dict(pad="asym", stride=s23, dilation=lambda r, d: [2] * d)),
        ("same_odd", dict(pad="same", kernel=odd, dilation=d13)),
        ("same_even", dict(pad="same", kernel=even, dilation=odd_dil)),
        ("valid", dict(pad="valid", stride=lambda r, d: axes(r, d, 1, 3))),
        ("full", dict(pad="full", stride=s12, dilation=lambda r, d: axes(r, d, 1, 2))),
        ("dilated", dict(dilation=d23)),
        ("groups2", dict(groups=2, stride=s12)),
        ("depthwise", dict(groups="dw", pad="same", kernel=lambda r, d: [3] * d)),
        ("depthwise_mult2", dict(groups="dw2", stride=lambda r, d: [2] * d)),
        ("nobias", dict(bias=False, stride=s12)),
        ("flip", dict(flip=True, pad="asym", stride=s12)),
        ("unbatched", dict(unbatched=True, bias=True)),
    ]
    for dims in (1, 2, 3):
        for name, over in features:
            yield f"conv{dims}d_{name}", sample_conv(rng, dims, **over)
    for i in range(15):
        dims = rng.choice([1, 2, 2, 3])
        pad = rng.choice(["sym", "asym", "same", "valid", "full"])
        stride = (lambda r, d: [1] * d) if pad == "same" else (lambda r, d: axes(r, d, 1, 3))
        yield f"conv{dims}d_random_{i:02d}", sample_conv(
            rng, dims, groups=rng.choice([1, 1, 2, 3, "dw", "dw2"]), stride=stride,
            dilation=d13, pad=pad, flip=rng.random() < 0.3, unbatched=rng.random() < 0.15)


def transpose_specs(rng):
    features = [
        ("basic", dict()),
        # output_padding <= padding: the adjoint conv's trailing padding stays >= 0.
        ("stride2_outpad1", dict(stride=lambda r, d: [2] * d, padding=lambda r, d: [1] * d,
                                 output_padding=lambda r, d: [1] * d)),
        # output_padding > padding: extra trailing pixels beyond the adjoint conv's reach.
        ("outpad_gt_pad", dict(stride=lambda r, d: axes(r, d, 2, 3), padding=lambda r, d: [0] * d,
                               output_padding=lambda r, d: [1] * d)),
        ("stride3", dict(stride=lambda r, d: [3] * d, padding=lambda r, d: axes(r, d, 0, 2),
                         output_padding=lambda r, d: axes(r, d, 0, 2))),
        # output_padding < dilation with stride 1.
        ("dilated_outpad", dict(dilation=lambda r, d: axes(r, d, 2, 3),
                                output_padding=lambda r, d: [1] * d)),
        ("groups2", dict(groups=2, stride=lambda r, d: axes(r, d, 1, 2))),
        ("depthwise", dict(groups="dw", stride=lambda r, d: axes(r, d, 1, 2))),
        ("depthwise_mult2", dict(groups="dw2", stride=lambda r, d: [2] * d)),
        ("nobias", dict(bias=False, stride=lambda r, d: axes(r, d, 1, 3))),
        ("unbatched", dict(unbatched=True, bias=True, stride=lambda r, d: [2] * d,
                           output_padding=lambda r, d: axes(r, d, 0, 1))),
    ]
    for dims in (1, 2, 3):
        for name, over in features:
            yield f"conv_transpose{dims}d_{name}", sample_transpose(rng, dims, **over)

    def rand_outpad(r, d):
        return [r.randint(0, 2) for _ in range(d)]

    for i in range(6):
        dims = rng.choice([1, 2, 3])
        yield f"conv_transpose{dims}d_random_{i:02d}", sample_transpose(
            rng, dims, groups=rng.choice([1, 2, "dw", "dw2"]),
            stride=lambda r, d: axes(r, d, 1, 3), dilation=lambda r, d: axes(r, d, 1, 3),
            padding=lambda r, d: axes(r, d, 0, 2), output_padding=rand_outpad,
            unbatched=rng.random() < 0.2)


def fixed(kind, c_in, c_out, groups, kernel, size, stride=1, pad=(1, 1), dilation=1, batch=2,
          output_padding=0, bias=True):
    """A 2D case with the sizes given: shapes the fast kernels of the table take (enough
    channels for Winograd, groups of 8 for the direct kernel, ...)."""
    lo, hi = pad
    return {
        "kind": kind, "dims": 2, "c_in": c_in, "c_out": c_out, "groups": groups,
        "kernel": [kernel] * 2, "size": list(size), "batch": batch,
        "stride": [stride] * 2, "dilation": [dilation] * 2, "output_padding": [output_padding] * 2,
        "padding": {"mode": "explicit", "lo": [lo] * 2, "hi": [hi] * 2},
        "bias": bias, "flip": False, "unbatched": False,
    }


def fast_kernel_specs():
    """Appended after the random cases (which keep their seeds): shapes the selector sends to
    each fast kernel, so forcing any algorithm runs it on PyTorch's numbers."""
    yield "conv2d_fast_winograd_pad1", fixed("conv", 8, 16, 1, 3, (9, 11))
    yield "conv2d_fast_winograd_asym", fixed("conv", 6, 5, 1, 3, (7, 10), pad=(0, 2), batch=1)
    yield "conv2d_fast_grouped_g4", fixed("conv", 32, 32, 4, 3, (8, 9))
    yield "conv2d_fast_depthwise_k5s2", fixed("conv", 16, 16, 16, 5, (13, 12), stride=2,
                                              pad=(2, 2))
    yield "conv2d_fast_pointwise", fixed("conv", 24, 20, 1, 1, (6, 7), pad=(0, 0))
    yield "conv2d_fast_first_layer_7x7s2", fixed("conv", 3, 16, 1, 7, (20, 18), stride=2,
                                                 pad=(3, 3), batch=1)
    yield "conv_transpose2d_fast_winograd", fixed("conv_transpose", 8, 12, 1, 3, (8, 7))


def generate(out):
    # PyTorch notes that 'same' with an even kernel pads a copy of the input: expected here.
    warnings.filterwarnings("ignore", message="Using padding='same'")
    rng = random.Random(SEED)
    torch.manual_seed(SEED)
    for specs in (conv_specs(rng), transpose_specs(rng), fast_kernel_specs()):
        for name, spec in specs:
            out.case(name, config_of(spec), run(spec))
