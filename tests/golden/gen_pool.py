"""Golden cases for the pooling family (see make_golden.py).

Ops: max_pool, avg_pool, lp_pool, adaptive_avg_pool, adaptive_max_pool, global_avg_pool,
global_max_pool, max_unpool; 1D/2D/3D. Every case is one feature (ceil_mode, padding,
dilation, count_include_pad=False, overlapping windows, ties, -inf, non-divisible adaptive
sizes, ...) on a seeded random configuration. PyTorch computes in float64 from the float32
inputs we store:
    y  = op(x)               forward output (max ops also write `indices`, PyTorch's int64
                             argmax positions within a plane, stored as float32)
    gy = random upstream gradient (shape of y)
    gx = gradient of sum(y * gy) with respect to x
max_unpool cases store its inputs x (values) and indices, both made by a max_pool.

config.json:
    op, dims, unbatched
    kernel_size, stride, padding, dilation   per spatial axis (window pools, max_unpool)
    ceil_mode, count_include_pad, divisor_override (null or int), norm_type (lp_pool)
    output_size   per spatial axis (adaptive pools; max_unpool: null for the default size)
"""
import random

import torch
import torch.nn.functional as F

SEED = 20240612

MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
MAX_UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}

# Largest spatial extent added to the minimal input size, per rank: keeps files small.
EXTRA = {1: 6, 2: 4, 3: 2}


def per_axis(v, dims):
    return list(v) if isinstance(v, (list, tuple)) else [v] * dims


def out_size(n, k, s, p, d, ceil):
    """PyTorch's pooling_output_shape."""
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    o = num // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def values(kind, shape):
    if kind == "randn":
        return torch.randn(shape)
    if kind == "ties":  # few distinct values: max ties resolved by first position
        return torch.randint(-2, 3, shape).float()
    if kind == "positive":  # lp with odd or fractional p needs x > 0
        return torch.rand(shape) + 0.1
    if kind == "neg_inf":  # leading rows of -inf: windows holding only -inf and padding
        x = torch.randn(shape)
        x[..., :2, :] = float("-inf")
        return x
    if kind == "zero_block":  # lp: windows of zeros give 0 with zero gradient
        x = torch.randn(shape)
        x[..., :2, :2] = 0.0
        return x
    raise ValueError(kind)


def window_spec(rng, op, dims, kernel, stride=None, padding=0, dilation=1, ceil_mode=False,
                count_include_pad=True, divisor_override=None, norm_type=None, size=None,
                unbatched=False, fill="randn"):
    k = per_axis(kernel, dims)
    s = per_axis(stride, dims) if stride is not None else list(k)
    p = per_axis(padding, dims)
    d = per_axis(dilation, dims)
    if size is None:
        # PyTorch's avg_pool3d (alone) also wants the unpadded input to hold the kernel.
        least = [kk if (op, dims) == ("avg_pool", 3) else 1 for kk in k]
        size = [max(lo, dl * (kk - 1) + 1 - 2 * pp) + rng.randint(0, EXTRA[dims])
                for kk, pp, dl, lo in zip(k, p, d, least)]
    size = per_axis(size, dims)
    assert all(out_size(*a, ceil_mode) >= 1 for a in zip(size, k, s, p, d)), (op, size, k)
    return {
        "op": op, "dims": dims, "kernel_size": k, "stride": s, "padding": p, "dilation": d,
        "ceil_mode": ceil_mode, "count_include_pad": count_include_pad,
        "divisor_override": divisor_override, "norm_type": norm_type, "output_size": None,
        "unbatched": unbatched, "size": size, "batch": rng.randint(1, 2),
        "channels": rng.randint(1, 3), "fill": fill,
    }


def adaptive_spec(rng, op, dims, size, output_size, unbatched=False, fill="randn"):
    return {
        "op": op, "dims": dims, "output_size": per_axis(output_size, dims),
        "size": per_axis(size, dims), "unbatched": unbatched, "batch": rng.randint(1, 2),
        "channels": rng.randint(1, 3), "fill": fill,
    }


def lp_pool(x, dims, p, k, s, ceil):
    """PyTorch's lp_pool formula; torch 1.13 has no lp_pool3d, so all ranks are spelled out."""
    a = AVG_POOL[dims](x.pow(p), k, s, 0, ceil)
    kn = 1
    for v in k:
        kn *= v
    return (torch.sign(a) * F.relu(torch.abs(a))).mul(kn).pow(1.0 / p)


def forward(spec, x):
    """Returns (y, indices or None)."""
    op, dims = spec["op"], spec["dims"]
    if op == "max_pool":
        return MAX_POOL[dims](x, spec["kernel_size"], spec["stride"], spec["padding"],
                              spec["dilation"], spec["ceil_mode"], return_indices=True)
    if op == "avg_pool":
        kw = dict(ceil_mode=spec["ceil_mode"], count_include_pad=spec["count_include_pad"])
        if spec["divisor_override"] is not None:
            kw["divisor_override"] = spec["divisor_override"]
        if dims == 1:  # avg_pool1d has no divisor_override: it is avg_pool2d with H = 1
            y = F.avg_pool2d(x.unsqueeze(-2), [1] + spec["kernel_size"], [1] + spec["stride"],
                             [0] + spec["padding"], **kw)
            return y.squeeze(-2), None
        return AVG_POOL[dims](x, spec["kernel_size"], spec["stride"], spec["padding"], **kw), None
    if op == "lp_pool":
        y = lp_pool(x, dims, spec["norm_type"], spec["kernel_size"], spec["stride"],
                    spec["ceil_mode"])
        if dims == 1:
            assert torch.allclose(y, F.lp_pool1d(x, spec["norm_type"], spec["kernel_size"][0],
                                                 spec["stride"], spec["ceil_mode"]),
                                  equal_nan=True)
        if dims == 2:
            assert torch.allclose(y, F.lp_pool2d(x, spec["norm_type"], spec["kernel_size"],
                                                 spec["stride"], spec["ceil_mode"]),
                                  equal_nan=True)
        return y, None
    if op == "adaptive_avg_pool":
        return ADAPTIVE_AVG[dims](x, spec["output_size"]), None
    if op == "adaptive_max_pool":
        return ADAPTIVE_MAX[dims](x, spec["output_size"], return_indices=True)
    if op == "global_avg_pool":
        return ADAPTIVE_AVG[dims](x, 1), None
    if op == "global_max_pool":
        return ADAPTIVE_MAX[dims](x, 1, return_indices=True)
    raise ValueError(op)


def run(spec):
    lead = [] if spec["unbatched"] else [spec["batch"]]
    x32 = values(spec["fill"], lead + [spec["channels"]] + spec["size"])
    x = x32.double().requires_grad_()
    y, indices = forward(spec, x)
    gy32 = torch.randn(y.shape)
    y.backward(gy32.double())
    tensors = {"x": x32, "y": y, "gy": gy32, "gx": x.grad}
    if indices is not None:
        tensors["indices"] = indices.float()
    return tensors


def run_unpool(spec):
    """Max-pools a random source with the spec's window, then unpools the result."""
    dims = spec["dims"]
    lead = [] if spec["unbatched"] else [spec["batch"]]
    source = torch.randn(lead + [spec["channels"]] + spec["size"])
    pooled, indices = MAX_POOL[dims](source, spec["kernel_size"], spec["stride"],
                                     spec["padding"], return_indices=True)
    x = pooled.double().requires_grad_()
    y = MAX_UNPOOL[dims](x, indices, spec["kernel_size"], spec["stride"], spec["padding"],
                         spec["output_size"])
    gy32 = torch.randn(y.shape)
    y.backward(gy32.double())
    return {"x": pooled, "indices": indices.float(), "y": y, "gy": gy32, "gx": x.grad}


CONFIG_KEYS = ("op", "dims", "unbatched", "kernel_size", "stride", "padding", "dilation",
               "ceil_mode", "count_include_pad", "divisor_override", "norm_type", "output_size")


def config_of(spec):
    return {k: spec[k] for k in CONFIG_KEYS if k in spec}


def window_specs(rng):
    W = lambda *a, **kw: window_spec(rng, *a, **kw)  # noqa: E731
    # max_pool
    yield "max_pool1d_basic", W("max_pool", 1, 3)
    yield "max_pool1d_pad_dilation_ceil", W("max_pool", 1, 3, 2, 1, 2, True, size=10)
    yield "max_pool1d_overlap_unbatched", W("max_pool", 1, 4, 1, 2, unbatched=True)
    yield "max_pool2d_2x2", W("max_pool", 2, 2, size=[6, 8])
    yield "max_pool2d_3x3_s2_p1", W("max_pool", 2, 3, 2, 1, size=[7, 8])
    yield "max_pool2d_overlapping", W("max_pool", 2, 3, 1)
    yield "max_pool2d_ceil_mode", W("max_pool", 2, 2, 2, 0, 1, True, size=[5, 7])
    # (out-1)*stride >= in + pad drops ceil_mode's extra window: in 5 and 8, k 2, s 3, p 1.
    yield "max_pool2d_ceil_drop_last", W("max_pool", 2, 2, 3, 1, 1, True, size=[5, 8])
    yield "max_pool2d_dilation", W("max_pool", 2, 2, 1, 0, 2, size=[6, 7])
    yield "max_pool2d_dilation_pad_ceil", W("max_pool", 2, 3, 2, 1, [2, 3], True, size=[8, 9])
    yield "max_pool2d_asymmetric", W("max_pool", 2, [3, 2], [2, 1], [1, 0], size=[7, 5])
    yield "max_pool2d_ties", W("max_pool", 2, 3, 2, 1, size=[7, 7], fill="ties")
    yield "max_pool2d_neg_inf", W("max_pool", 2, 3, 2, 1, size=[6, 6], fill="neg_inf")
    yield "max_pool2d_unbatched", W("max_pool", 2, 2, 1, 1, unbatched=True)
    yield "max_pool3d_basic", W("max_pool", 3, 2, size=[4, 4, 4])
    yield "max_pool3d_pad_ceil", W("max_pool", 3, 3, 2, 1, 1, True, size=[4, 5, 6])
    yield "max_pool3d_dilation", W("max_pool", 3, 2, 1, [0, 1, 1], [2, 1, 2], size=[4, 3, 5])
    # avg_pool
    yield "avg_pool1d_basic", W("avg_pool", 1, 3, 2)
    yield "avg_pool1d_pad_ceil_exclude", W("avg_pool", 1, 4, 3, 2, 1, True, False, size=9)
    yield "avg_pool2d_2x2", W("avg_pool", 2, 2, size=[6, 6])
    yield "avg_pool2d_3x3_s2_p1", W("avg_pool", 2, 3, 2, 1, size=[7, 8])
    yield "avg_pool2d_pad_exclude", W("avg_pool", 2, 3, 2, 1, count_include_pad=False)
    yield "avg_pool2d_ceil_include", W("avg_pool", 2, 3, 2, 1, 1, True, True, size=[6, 8])
    yield "avg_pool2d_ceil_exclude", W("avg_pool", 2, 3, 2, 1, 1, True, False, size=[6, 8])
    yield "avg_pool2d_ceil_nopad", W("avg_pool", 2, 2, 2, 0, 1, True, size=[5, 7])
    yield "avg_pool2d_overlapping", W("avg_pool", 2, [3, 4], 1, [1, 2])
    yield "avg_pool2d_divisor_override", W("avg_pool", 2, 3, 2, 1, 1, True, True, 5)
    yield "avg_pool2d_unbatched", W("avg_pool", 2, 2, 2, 1, unbatched=True)
    yield "avg_pool3d_basic", W("avg_pool", 3, 2, size=[4, 4, 4])
    yield "avg_pool3d_pad_ceil_exclude", W("avg_pool", 3, 3, 2, 1, 1, True, False, size=[4, 5, 6])
    yield "avg_pool3d_divisor_override", W("avg_pool", 3, 2, 1, 1, 1, False, True, 3)
    # lp_pool (no padding; stride defaults to the kernel)
    yield "lp_pool1d_p2", W("lp_pool", 1, 3, 2, norm_type=2.0)
    yield "lp_pool1d_p1_signed", W("lp_pool", 1, 2, norm_type=1.0, size=9)
    yield "lp_pool2d_p2", W("lp_pool", 2, 2, norm_type=2.0, size=[6, 6])
    yield "lp_pool2d_p3_ceil", W("lp_pool", 2, 3, 2, ceil_mode=True, norm_type=3.0, size=[6, 7],
                                 fill="positive")
    yield "lp_pool2d_p1_5_overlap", W("lp_pool", 2, [3, 2], 1, norm_type=1.5, fill="positive")
    yield "lp_pool2d_zero_windows", W("lp_pool", 2, 2, norm_type=2.0, size=[6, 6],
                                      fill="zero_block")
    yield "lp_pool3d_p2", W("lp_pool", 3, 2, [1, 2, 2], norm_type=2.0, size=[3, 4, 4])
    # random window pools
    for i in range(6):
        op = rng.choice(["max_pool", "avg_pool"])
        dims = rng.choice([1, 2, 2, 3])
        k = [rng.randint(1, 4 if dims < 3 else 3) for _ in range(dims)]
        spec = dict(stride=[rng.randint(1, 3) for _ in range(dims)],
                    padding=[rng.randint(0, kk // 2) for kk in k], ceil_mode=rng.random() < 0.5,
                    unbatched=rng.random() < 0.2)
        if op == "max_pool":
            spec["dilation"] = [rng.randint(1, 2) for _ in range(dims)]
        else:
            spec["count_include_pad"] = rng.random() < 0.5
        yield f"{op}{dims}d_random_{i:02d}", W(op, dims, k, **spec)


def adaptive_specs(rng):
    A = lambda *a, **kw: adaptive_spec(rng, *a, **kw)  # noqa: E731
    yield "adaptive_avg_pool1d_nondivisible", A("adaptive_avg_pool", 1, 10, 3)
    yield "adaptive_avg_pool2d_nondivisible", A("adaptive_avg_pool", 2, [7, 5], [3, 2])
    yield "adaptive_avg_pool2d_divisible", A("adaptive_avg_pool", 2, [6, 8], [3, 4])
    yield "adaptive_avg_pool2d_upsample", A("adaptive_avg_pool", 2, [3, 3], [5, 4])
    yield "adaptive_avg_pool2d_unbatched", A("adaptive_avg_pool", 2, [5, 6], [2, 4],
                                             unbatched=True)
    yield "adaptive_avg_pool3d_nondivisible", A("adaptive_avg_pool", 3, [5, 4, 3], [2, 3, 2])
    yield "adaptive_max_pool1d_nondivisible", A("adaptive_max_pool", 1, 11, 4)
    yield "adaptive_max_pool2d_nondivisible", A("adaptive_max_pool", 2, [7, 5], [3, 2])
    yield "adaptive_max_pool2d_upsample", A("adaptive_max_pool", 2, [3, 4], [4, 7])
    yield "adaptive_max_pool2d_ties", A("adaptive_max_pool", 2, [6, 7], [4, 3], fill="ties")
    yield "adaptive_max_pool3d_nondivisible", A("adaptive_max_pool", 3, [5, 3, 4], [2, 2, 3])
    for dims, size in ((1, [9]), (2, [5, 6]), (3, [3, 4, 2])):
        yield f"global_avg_pool{dims}d", A("global_avg_pool", dims, size, 1)
        yield f"global_max_pool{dims}d", A("global_max_pool", dims, size, 1)


def unpool_specs(rng):
    def U(dims, k, s, p, size, output_size=None, unbatched=False):
        spec = window_spec(rng, "max_unpool", dims, k, s, p, size=size, unbatched=unbatched)
        spec["output_size"] = output_size
        return spec

    yield "max_unpool1d_basic", U(1, 2, 2, 0, 8)
    yield "max_unpool1d_output_size", U(1, 3, 2, 1, 9, output_size=[9])
    yield "max_unpool2d_2x2", U(2, 2, 2, 0, [6, 8])
    yield "max_unpool2d_odd_output_size", U(2, 2, 2, 0, [5, 7], output_size=[5, 7])
    yield "max_unpool2d_3x3_s2_p1", U(2, 3, 2, 1, [7, 8], output_size=[7, 8])
    yield "max_unpool2d_overlapping", U(2, 3, 1, 0, [5, 5])
    yield "max_unpool2d_unbatched", U(2, 2, 2, 0, [4, 6], unbatched=True)
    yield "max_unpool3d_basic", U(3, 2, 2, 0, [4, 4, 4])
    yield "max_unpool3d_output_size", U(3, 2, 2, 0, [3, 5, 4], output_size=[3, 5, 4])


def generate(out):
    rng = random.Random(SEED)
    torch.manual_seed(SEED)
    for name, spec in window_specs(rng):
        out.case(name, config_of(spec), run(spec))
    for name, spec in adaptive_specs(rng):
        out.case(name, config_of(spec), run(spec))
    for name, spec in unpool_specs(rng):
        out.case(name, config_of(spec), run_unpool(spec))
