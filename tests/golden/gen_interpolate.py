"""Golden cases for interpolate (see make_golden.py).

Each case is one feature (mode, align_corners, up/down, integer or fractional scale, size or
scale factor given, recompute_scale_factor, 1-D/2-D/3-D, clamped borders) with seeded random
sizes, plus fully random ones. PyTorch computes in float32: the index arithmetic depends on the
precision, and float32 is what Fovea matches.
    y  = F.interpolate(x, ...)           forward output
    gy = random upstream gradient (shape of y)
    gx = gradient of sum(y * gy)         the exact adjoint of the forward pass

PyTorch 1.13 has shortcuts in corner cases of a given scale factor that disagrees with the
sizes (1 / scale_factor != in / out): its nearest backward copies (out == in) or halves
(out == 2*in) along such an axis, and its bicubic backward copies when out == in along both
axes, so they are not the gradients of its forward; there gx is the adjoint of the forward,
computed from the forward applied to every basis vector, and the config says
"torch_backward_differs": true. Its 2-D/3-D nearest forward takes the same shortcuts in its
channels-last kernel, which it also runs for contiguous 1-channel tensors; the cases run the
general kernel (on a view in neither layout), and "torch_channels_last_differs": true marks
those where a plain contiguous call would give other values.

config.json:
    dims                    1 | 2 | 3
    mode                    "nearest" | "nearest-exact" | "linear" | "bilinear" | "bicubic"
                            | "trilinear"
    size, scale_factor      per-axis lists; exactly one is not null
    align_corners           true | false | null (unset)
    recompute_scale_factor  bool
    torch_backward_differs, torch_channels_last_differs   bool (see above)
"""
import random

import torch
import torch.nn.functional as F

SEED = 20240612

MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def general_layout(t):
    """t as a view that is neither contiguous nor channels-last (every other element of a
    wider last axis), so PyTorch runs its general kernel: a contiguous 1-channel tensor is
    also channels-last, and that kernel's nearest mode takes the shortcuts described above."""
    v = torch.stack([t, torch.zeros_like(t)], -1)[..., 0]
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    if t.shape[2:].numel() > 1:
        assert not v.is_contiguous()
        assert t.dim() not in formats or not v.is_contiguous(memory_format=formats[t.dim()])
    return v


def adjoint(fn, x, gy):
    """gx = A^T gy for the linear map y = fn(x) = A x, A read off fn's float32 outputs."""
    n = x.numel()
    basis = torch.eye(n, dtype=torch.float32).reshape((n,) + tuple(x.shape))
    columns = torch.stack([fn(e).reshape(-1) for e in basis], 1)
    return (columns.double().T @ gy.reshape(-1).double()).reshape(x.shape).float()


def make_case(out, rng, name, mode, size_in, size=None, scale=None, align=None,
              recompute=False, batch=None, channels=None):
    dims = len(size_in)
    shape = [batch or rng.randint(1, 2), channels or rng.randint(1, 3)] + list(size_in)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(rng.randrange(2**31)))
    kwargs = dict(mode=mode, align_corners=align, size=size, scale_factor=scale,
                  recompute_scale_factor=recompute or None)
    fn = lambda t: F.interpolate(general_layout(t), **kwargs)  # noqa: E731
    xg = x.clone().requires_grad_()
    y = fn(xg)
    gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(rng.randrange(2**31)))
    (gx,) = torch.autograd.grad(y, xg, gy)
    exact = adjoint(fn, x, gy)
    backward_differs = not torch.allclose(gx, exact, rtol=1e-4, atol=1e-5)
    layout_differs = not torch.allclose(F.interpolate(x, **kwargs), y, rtol=1e-5, atol=1e-6)
    out.case(name, {
        "dims": dims, "mode": mode, "size": size, "scale_factor": scale,
        "align_corners": align, "recompute_scale_factor": recompute,
        "torch_backward_differs": backward_differs,
        "torch_channels_last_differs": layout_differs,
    }, {"x": x, "y": y, "gy": gy, "gx": exact if backward_differs else gx})


def sizes(rng, dims, lo, hi):
    return [rng.randint(lo, hi) for _ in range(dims)]


def generate(out):
    rng = random.Random(SEED)
    c = lambda *a, **k: make_case(out, rng, *a, **k)  # noqa: E731

    # nearest: PyTorch's legacy floor(o * scale) indexing
    c("nearest_1d_size_up", "nearest", [5], size=[12])
    c("nearest_1d_scale_down", "nearest", [9], scale=[0.5])
    c("nearest_1d_scale_fraction", "nearest", [7], scale=[1.7])
    c("nearest_2d_scale2", "nearest", [4, 5], scale=[2.0, 2.0])
    c("nearest_2d_scale_mixed", "nearest", [5, 6], scale=[1.5, 0.7])
    c("nearest_2d_size_down", "nearest", [7, 9], size=[3, 4])
    c("nearest_2d_recompute", "nearest", [5, 6], scale=[1.3, 1.3], recompute=True)
    c("nearest_3d_scale", "nearest", [2, 3, 4], scale=[2.0, 1.5, 0.5])
    c("nearest_3d_size", "nearest", [3, 2, 4], size=[5, 3, 2])
    # given scale factors that disagree with the sizes, where PyTorch has shortcuts
    c("nearest_1d_scale_same_size", "nearest", [3], scale=[1.2])
    c("nearest_1d_scale_double_size", "nearest", [3], scale=[2.3])
    c("nearest_2d_scale_double_size", "nearest", [3, 4], scale=[2.3, 2.2])
    c("nearest_3d_scale_same_and_double", "nearest", [3, 2, 4], scale=[1.2, 1.4, 2.2])
    c("nearest_2d_one_channel_double_size", "nearest", [3, 4], scale=[2.3, 1.1], channels=1)

    c("nearest_exact_1d_scale", "nearest-exact", [6], scale=[1.6])
    c("nearest_exact_2d_size", "nearest-exact", [5, 7], size=[8, 4])
    c("nearest_exact_3d_scale", "nearest-exact", [3, 3, 2], scale=[1.5, 0.7, 2.5])

    for align in (False, True):
        a = "align" if align else "noalign"
        c(f"linear_size_up_{a}", "linear", [5], size=[11], align=align)
        c(f"linear_scale_down_{a}", "linear", [10], scale=[0.6], align=align)
        c(f"bilinear_scale2_{a}", "bilinear", [4, 5], scale=[2.0, 2.0], align=align)
        c(f"bilinear_size_down_{a}", "bilinear", [9, 8], size=[4, 3], align=align)
        c(f"bilinear_scale_mixed_{a}", "bilinear", [5, 6], scale=[1.5, 0.75], align=align)
        c(f"bicubic_scale2_{a}", "bicubic", [4, 4], scale=[2.0, 2.0], align=align)
        c(f"bicubic_size_down_{a}", "bicubic", [9, 10], size=[4, 6], align=align)
        c(f"bicubic_scale_fraction_{a}", "bicubic", [5, 4], scale=[1.7, 1.3], align=align)
        c(f"trilinear_scale2_{a}", "trilinear", [2, 3, 2], scale=[2.0, 2.0, 2.0], align=align)
        c(f"trilinear_size_mixed_{a}", "trilinear", [3, 4, 2], size=[2, 6, 3], align=align)
    c("linear_scale_fraction", "linear", [7], scale=[1.7], align=False)
    c("linear_recompute", "linear", [7], scale=[1.7], align=False, recompute=True)
    c("linear_same_size_scale", "linear", [4], scale=[1.2], align=False)  # copied as is
    c("linear_size1_align", "linear", [6], size=[1], align=True)
    c("linear_align_unset", "linear", [6], scale=[1.5])
    c("bilinear_recompute", "bilinear", [5, 3], scale=[1.3, 2.6], align=False, recompute=True)
    c("bilinear_size_up_fraction_align", "bilinear", [4, 5], size=[7, 11], align=True)
    c("bilinear_one_pixel", "bilinear", [1, 1], size=[3, 4], align=False)
    c("bilinear_scale_down_align", "bilinear", [8, 9], scale=[0.6, 0.45], align=True)
    c("bicubic_small_input", "bicubic", [2, 1], size=[5, 4], align=False)  # clamped taps
    c("bicubic_scale_down_align", "bicubic", [9, 7], scale=[0.55, 0.6], align=True)
    c("bicubic_recompute", "bicubic", [4, 5], scale=[1.4, 1.4], align=False, recompute=True)
    c("bicubic_same_size_scale", "bicubic", [3, 3], scale=[1.2, 1.2], align=False)
    c("trilinear_scale_fraction_align", "trilinear", [3, 4, 3], scale=[1.5, 0.7, 1.3],
      align=True)

    modes = ["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"]
    for i in range(10):
        mode = rng.choice(modes)
        dims = MODE_DIMS.get(mode) or rng.randint(1, 3)
        size_in = sizes(rng, dims, 1, {1: 9, 2: 6, 3: 4}[dims])
        align = None if "nearest" in mode else rng.choice([False, True])
        if rng.random() < 0.5:
            c(f"random_{i}", mode, size_in, size=sizes(rng, dims, 1, 9 - 2 * dims), align=align)
        else:
            while True:
                scale = [round(rng.uniform(0.4, 2.6), 2) for _ in range(dims)]
                if all(int(n * s) >= 1 for n, s in zip(size_in, scale)):
                    break
            c(f"random_{i}", mode, size_in, scale=scale, align=align,
              recompute=rng.random() < 0.25)
