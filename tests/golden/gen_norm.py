"""Golden cases for batch normalisation (see make_golden.py).

PyTorch computes in float64 from the float32 inputs we store. Each case runs `steps`
consecutive calls of F.batch_norm on the same running estimates (1 for most cases); for
step i (0-based) the case holds
    x_i                          the input
    y_i                          the output
    running_mean_i, running_var_i  the running estimates after the call (when running)
    save_mean_i, save_invstd_i   the batch statistics (training only), as native_batch_norm
    gy_i                         random upstream gradient
    gx_i, gw_i, gb_i             gradients of sum(y_i * gy_i) (gw/gb only when affine)
and, before the first step, running_mean, running_var, weight, bias (when present).

config.json:
    dims          0 (input (N, C)), 1 (N, C, L), 2 (N, C, H, W), 3 (N, C, D, H, W)
    training, momentum, eps, steps
    affine        weight and bias given
    running       running estimates given (always in evaluation)
"""
import random

import torch
import torch.nn.functional as F

SEED = 20240612

SPATIAL = {0: [], 1: [7], 2: [5, 4], 3: [3, 4, 2]}


def make_case(out, name, rng, dims, training, momentum=0.1, eps=1e-5, affine=True,
              running=True, steps=1, N=None, C=None, loc=0.0, scale=1.0):
    N = N or rng.randint(2, 4)
    C = C or rng.randint(1, 4)
    shape = [N, C] + SPATIAL[dims]
    g = torch.Generator().manual_seed(rng.randint(0, 2**31))

    def randn(*s):
        return torch.randn(*s, generator=g, dtype=torch.float32).double()

    tensors = {}
    rm = rv = w = b = None
    if running:
        rm, rv = randn(C) * 0.5, randn(C).abs() + 0.5
        tensors.update(running_mean=rm.clone(), running_var=rv.clone())
    if affine:
        w, b = randn(C) * 0.5 + 1.0, randn(C) * 0.5
        tensors.update(weight=w, bias=b)
    for i in range(steps):
        x = (randn(*shape) * scale + loc).float().double().requires_grad_()
        params = [x]
        if affine:
            w.requires_grad_()
            b.requires_grad_()
            params += [w, b]
        y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum, eps=eps)
        gy = randn(*shape)
        grads = torch.autograd.grad((y * gy).sum(), params)
        tensors.update({f"x_{i}": x, f"y_{i}": y, f"gy_{i}": gy, f"gx_{i}": grads[0]})
        if affine:
            tensors.update({f"gw_{i}": grads[1], f"gb_{i}": grads[2]})
        if running:
            tensors.update({f"running_mean_{i}": rm.clone(), f"running_var_{i}": rv.clone()})
        if training:
            xd = x.detach()
            dims_reduced = [0] + list(range(2, xd.dim()))
            mean = xd.mean(dim=dims_reduced)
            var = xd.var(dim=dims_reduced, unbiased=False)
            tensors.update({f"save_mean_{i}": mean, f"save_invstd_{i}": 1 / (var + eps).sqrt()})
    config = {"dims": dims, "training": training, "momentum": momentum, "eps": eps,
              "affine": affine, "running": running, "steps": steps}
    out.case(name, config, tensors)


def generate(out):
    rng = random.Random(SEED)
    for dims in (0, 1, 2, 3):
        make_case(out, f"bn{dims}d_train", rng, dims, training=True)
        make_case(out, f"bn{dims}d_eval", rng, dims, training=False)
    make_case(out, "bn0d_train_no_affine", rng, 0, training=True, affine=False)
    make_case(out, "bn2d_train_no_affine", rng, 2, training=True, affine=False)
    make_case(out, "bn2d_eval_no_affine", rng, 2, training=False, affine=False)
    make_case(out, "bn3d_eval_no_affine", rng, 3, training=False, affine=False)
    make_case(out, "bn2d_train_no_running", rng, 2, training=True, running=False)
    make_case(out, "bn1d_train_momentum_0.3", rng, 1, training=True, momentum=0.3)
    make_case(out, "bn2d_train_momentum_0", rng, 2, training=True, momentum=0.0)
    make_case(out, "bn2d_train_momentum_1", rng, 2, training=True, momentum=1.0)
    make_case(out, "bn2d_train_eps_0.1", rng, 2, training=True, eps=0.1)
    make_case(out, "bn2d_eval_eps_0.1", rng, 2, training=False, eps=0.1)
    # Values far from zero: the one-pass variance must not cancel.
    make_case(out, "bn2d_train_offset_mean", rng, 2, training=True, loc=100.0, scale=0.1)
    make_case(out, "bn0d_train_two_samples", rng, 0, training=True, N=2, C=5)
    # Consecutive training steps on the same running estimates.
    make_case(out, "bn0d_train_steps", rng, 0, training=True, momentum=0.5, affine=False,
              steps=4)
    make_case(out, "bn2d_train_steps", rng, 2, training=True, momentum=0.2, steps=3)
    make_case(out, "bn3d_train_steps", rng, 3, training=True, momentum=0.1, steps=3)
