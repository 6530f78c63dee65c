"""Golden cases for the shape and elementwise ops (see make_golden.py).

PyTorch computes, in float64 from the float32 inputs we store, the forward output y, and for a
random upstream gradient gy the gradients of sum(y * gy) with respect to every input.
config.json: {"op": ..., plus the op's arguments}
    add | sub | mul          tensors a, b, y, gy, ga, gb        (broadcast shapes)
    add_scalar | sub_scalar | mul_scalar     "scalar"; tensors a, y, gy, ga
    sum | mean               "dim" (list; [] = all), "keepdim"; tensors x, y, gy, gx
    cat                      "dim", "count"; tensors x0.., y, gy, gx0..
    flatten                  "start_dim", "end_dim"; tensors x, y, gy, gx
"""
import torch

SEED = 20240613

BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul}

# (name, op, shape of a, shape of b)
BINARY_CASES = [
    ("add_same_shape", "add", [2, 3, 4, 5], [2, 3, 4, 5]),
    ("add_per_channel", "add", [2, 3, 4, 4], [1, 3, 1, 1]),
    ("add_bias_row", "add", [5, 7], [7]),
    ("add_outer", "add", [4, 1], [1, 3]),
    ("add_scalar_shaped", "add", [2, 3, 2], [1]),
    ("add_0dim_first", "add", [], [3, 4]),
    ("sub_per_channel_first", "sub", [1, 4, 1, 1], [2, 4, 3, 3]),
    ("sub_rank3_channel", "sub", [2, 3, 5, 5], [3, 1, 1]),
    ("sub_same_shape", "sub", [6, 5], [6, 5]),
    ("mul_same_shape", "mul", [3, 4, 5], [3, 4, 5]),
    ("mul_per_channel", "mul", [2, 5, 3, 3], [1, 5, 1, 1]),
    ("mul_scalar_shaped", "mul", [1, 1, 1, 1], [2, 3, 2, 2]),
    ("mul_both_broadcast", "mul", [2, 1, 4, 1], [1, 3, 1, 5]),
    ("mul_squeeze_excite", "mul", [2, 6, 4, 4], [2, 6, 1, 1]),
    ("mul_5d", "mul", [2, 3, 2, 3, 4], [1, 3, 1, 1, 4]),
]

SCALAR_CASES = [
    ("add_scalar", "add_scalar", [2, 3, 4], 1.5),
    ("sub_scalar", "sub_scalar", [5], -0.25),
    ("mul_scalar", "mul_scalar", [3, 2, 2, 2], -2.5),
]

# (name, op, shape, dim, keepdim)
REDUCE_CASES = [
    ("sum_all", "sum", [3, 4, 5], [], False),
    ("sum_all_keepdim", "sum", [2, 3], [], True),
    ("sum_dim1_keepdim", "sum", [2, 3, 4], [1], True),
    ("sum_last", "sum", [3, 4, 6], [-1], False),
    ("sum_spatial", "sum", [2, 3, 4, 5], [2, 3], False),
    ("sum_batch_spatial_keepdim", "sum", [2, 3, 4, 5], [0, 2, 3], True),
    ("sum_0dim", "sum", [], [], False),
    ("mean_all", "mean", [4, 5, 6], [], False),
    ("mean_dim0", "mean", [5, 3], [0], False),
    ("mean_global_pool", "mean", [2, 4, 3, 3], [2, 3], False),
    ("mean_dim1_keepdim", "mean", [2, 3, 4], [1], True),
    ("mean_middle_5d", "mean", [2, 3, 2, 4, 2], [1, 3], True),
]

# (name, shapes, dim)
CAT_CASES = [
    ("cat_channels", [[2, 3, 4, 4], [2, 5, 4, 4]], 1),
    ("cat_channels_three", [[1, 2, 3, 3], [1, 1, 3, 3], [1, 4, 3, 3]], 1),
    ("cat_batch", [[2, 3], [1, 3], [4, 3]], 0),
    ("cat_last_negative", [[2, 3, 2], [2, 3, 5]], -1),
    ("cat_single", [[3, 4]], 1),
    ("cat_empty_piece", [[2, 0, 3], [2, 4, 3]], 1),
]

# (name, shape, start_dim, end_dim)
FLATTEN_CASES = [
    ("flatten_default", [2, 3, 4, 5], 1, -1),
    ("flatten_all", [2, 3, 4], 0, -1),
    ("flatten_middle", [2, 3, 4, 5], 1, 2),
    ("flatten_one_axis", [3, 4], 1, 1),
]


def write(out, name, config, tensors):
    """out.case, listing the 0-dim tensors as config["zero_dim"]: the writer stores them with
    shape [1], and the C++ test (tests/ops/golden_zero_dim.h) restores their shape []."""
    config["zero_dim"] = [k for k, t in tensors.items() if t.dim() == 0]
    out.case(name, config, tensors)


def f64(t):
    return t.double().requires_grad_()


def backward(y, inputs):
    """gy and the gradients of sum(y * gy) with respect to inputs."""
    gy32 = torch.randn(y.shape)
    grads = torch.autograd.grad(y, inputs, gy32.double(), allow_unused=True)
    return gy32, [g if g is not None else torch.zeros_like(i) for g, i in zip(grads, inputs)]


def generate(out):
    torch.manual_seed(SEED)
    for name, op, sa, sb in BINARY_CASES:
        a32, b32 = torch.randn(sa), torch.randn(sb)
        a, b = f64(a32), f64(b32)
        y = BINARY[op](a, b)
        gy, (ga, gb) = backward(y, [a, b])
        write(out, name, {"op": op},
                 {"a": a32, "b": b32, "y": y, "gy": gy, "ga": ga, "gb": gb})
    for name, op, sa, scalar in SCALAR_CASES:
        a32 = torch.randn(sa)
        a = f64(a32)
        y = BINARY[op[:3]](a, scalar)
        gy, (ga,) = backward(y, [a])
        write(out, name, {"op": op, "scalar": scalar}, {"a": a32, "y": y, "gy": gy, "ga": ga})
    for name, op, shape, dim, keepdim in REDUCE_CASES:
        x32 = torch.randn(shape)
        x = f64(x32)
        fn = torch.sum if op == "sum" else torch.mean
        y = fn(x, dim, keepdim=keepdim) if dim else fn(x)
        if keepdim and not dim:
            y = y.reshape([1] * len(shape))  # PyTorch has no keepdim for the all-axes overload
        gy, (gx,) = backward(y, [x])
        write(out, name, {"op": op, "dim": dim, "keepdim": keepdim},
                 {"x": x32, "y": y, "gy": gy, "gx": gx})
    for name, shapes, dim in CAT_CASES:
        xs32 = [torch.randn(s) for s in shapes]
        xs = [f64(t) for t in xs32]
        y = torch.cat(xs, dim)
        gy, gxs = backward(y, xs)
        tensors = {f"x{i}": t for i, t in enumerate(xs32)}
        tensors.update({"y": y, "gy": gy})
        tensors.update({f"gx{i}": g for i, g in enumerate(gxs)})
        write(out, name, {"op": "cat", "dim": dim, "count": len(shapes)}, tensors)
    for name, shape, start, end in FLATTEN_CASES:
        x32 = torch.randn(shape)
        x = f64(x32)
        y = torch.flatten(x, start, end)
        gy, (gx,) = backward(y, [x])
        write(out, name, {"op": "flatten", "start_dim": start, "end_dim": end},
                 {"x": x32, "y": y, "gy": gy, "gx": gx})
