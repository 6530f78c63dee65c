"""Golden cases for fovea::optim: optimizers, constraints and clipping, lr schedules.

Every case's config.json has a "kind":

  "optimizer"   Two parameters (a conv weight and a bias) start at param{i}; for each of STEPS
                steps grad{i}[s] is assigned as the gradient (or none, where has_grad[s, i] is
                0), optimizer.step() runs, and expected{i}[s] holds the parameter afterwards.
                config: optimizer ("SGD" | "Adam" | "AdamW"), options (constructor keywords,
                betas as a list), steps, and optionally "schedule": a OneCycleLR (options as
                in the schedule kind) stepped after every optimizer step, so the cycled lr
                and momentum (SGD momentum, Adam beta1) reach the update.
  "max_norm"    torch.renorm(weight, norm_type, dim, max_norm) -> expected.
                config: max_norm, dim, norm_type ("inf" for infinity).
  "clip_grad_norm"   grads grad{i} (params without a gradient where has_grad[i] is 0),
                torch.nn.utils.clip_grad_norm_ -> clipped grads expected{i} and total_norm [1].
                config: max_norm, norm_type ("inf" for infinity), params.
  "clip_grad_value"  grad{i} -> expected{i}; config: clip_value, params.
  "schedule"    lr [steps + 1]: get_last_lr() after construction and after each step();
                for OneCycleLR with cycle_momentum also momentum [steps + 1] (the optimizer's
                momentum or beta1). config: optimizer ("SGD" | "Adam"), lr (the optimizer's
                starting lr), steps, scheduler (class name) and options (its keywords); a
                SequentialLR has "schedulers": [{scheduler, options}, ...] and milestones.
"""
import math
import warnings

import torch

SEED = 20240612
STEPS = 5
SHAPES = [(3, 2, 3, 3), (3,)]
# Gradient magnitude per step: shrinking gradients make AMSGrad's running maximum matter.
GRAD_SCALE = [1.0, 2.0, 0.5, 0.1, 1.5]
SCHEDULE_STEPS = 30


def norm_json(p):
    return "inf" if math.isinf(p) else p


def optimizer_cases():
    sgd = torch.optim.SGD
    adam = torch.optim.Adam
    adamw = torch.optim.AdamW
    every = [[1, 1]] * STEPS
    # Parameter 1 has no gradient at steps 1 and 3: the optimizer skips it (and Adam's
    # per-parameter step count falls behind).
    gaps = [[1, 1], [1, 0], [1, 1], [1, 0], [1, 1]]
    onecycle = dict(max_lr=0.05, total_steps=STEPS)
    return [
        ("sgd_plain", sgd, dict(lr=0.1), every, None),
        ("sgd_momentum", sgd, dict(lr=0.1, momentum=0.9), every, None),
        ("sgd_nesterov", sgd, dict(lr=0.05, momentum=0.9, nesterov=True), every, None),
        ("sgd_weight_decay", sgd, dict(lr=0.1, weight_decay=0.05), every, None),
        ("sgd_momentum_weight_decay", sgd, dict(lr=0.1, momentum=0.8, weight_decay=0.05), every,
         None),
        ("sgd_dampening", sgd, dict(lr=0.1, momentum=0.9, dampening=0.3), every, None),
        ("sgd_nesterov_weight_decay", sgd,
         dict(lr=0.03, momentum=0.5, nesterov=True, weight_decay=0.1), every, None),
        ("sgd_momentum_missing_grad", sgd, dict(lr=0.1, momentum=0.9), gaps, None),
        ("sgd_onecycle", sgd, dict(lr=0.1, momentum=0.9), every, onecycle),
        ("adam_default", adam, dict(lr=0.01), every, None),
        ("adam_betas_eps", adam, dict(lr=0.02, betas=[0.8, 0.95], eps=1e-3), every, None),
        ("adam_weight_decay", adam, dict(lr=0.01, weight_decay=0.1), every, None),
        ("adam_amsgrad", adam, dict(lr=0.01, betas=[0.8, 0.99], amsgrad=True), every, None),
        ("adam_amsgrad_weight_decay", adam, dict(lr=0.01, weight_decay=0.05, amsgrad=True),
         every, None),
        ("adam_missing_grad", adam, dict(lr=0.01), gaps, None),
        ("adam_onecycle", adam, dict(lr=0.01), every, onecycle),
        ("adamw_default", adamw, dict(lr=0.01), every, None),
        ("adamw_weight_decay", adamw, dict(lr=0.05, weight_decay=0.2, betas=[0.85, 0.99]), every,
         None),
        ("adamw_amsgrad", adamw, dict(lr=0.01, weight_decay=0.1, amsgrad=True), every, None),
        ("adamw_missing_grad", adamw, dict(lr=0.01), gaps, None),
    ]


def run_optimizer(out, gen, name, cls, options, has_grad, schedule):
    start = [torch.randn(s, generator=gen) for s in SHAPES]
    grads = [torch.stack([torch.randn(s, generator=gen) * k for k in GRAD_SCALE]) for s in SHAPES]
    params = [p.clone().requires_grad_() for p in start]
    opt = cls(params, **options)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, **schedule) if schedule else None
    expected = [[] for _ in params]
    for s in range(STEPS):
        for i, p in enumerate(params):
            p.grad = grads[i][s].clone() if has_grad[s][i] else None
        opt.step()
        if sched:
            sched.step()
        for i, p in enumerate(params):
            expected[i].append(p.detach().clone())
    config = dict(kind="optimizer", optimizer=cls.__name__, options=options, steps=STEPS,
                  params=len(SHAPES))
    if schedule:
        config["schedule"] = dict(scheduler="OneCycleLR", options=schedule)
    tensors = {"has_grad": torch.tensor(has_grad, dtype=torch.float32)}
    for i in range(len(params)):
        tensors[f"param{i}"] = start[i]
        tensors[f"grad{i}"] = grads[i]
        tensors[f"expected{i}"] = torch.stack(expected[i])
    out.case(name, config, tensors)


def filter_norms(gen, shape, dim, p, c):
    """A weight whose slices along dim have p-norms around c: alternately below (0.6c..0.9c)
    and above (1.15c..1.55c), never so close to c that float rounding decides."""
    w = torch.randn(shape, generator=gen)
    n = w.shape[dim]
    u = torch.rand(n, generator=gen)
    scale = torch.where(torch.arange(n) % 2 == 0, 0.6 + 0.3 * u, 1.15 + 0.4 * u)
    view = [1] * w.dim()
    view[dim] = n
    other = [d for d in range(w.dim()) if d != dim]
    norms = torch.linalg.vector_norm(w, p, dim=other, keepdim=True)
    return w / norms * (scale * max(c, 1.0)).view(view)


def max_norm_cases(out, gen):
    cases = [
        ("max_norm_conv_dim0", (6, 3, 3, 3), 0, 2.0, 1.0),
        ("max_norm_conv_dim1", (4, 5, 3, 3), 1, 2.0, 0.9),
        ("max_norm_linear", (7, 8), 0, 2.0, 1.1),
        ("max_norm_last_dim", (3, 4, 6), -1, 2.0, 0.8),
        ("max_norm_p1", (5, 2, 3), 0, 1.0, 3.0),
        ("max_norm_pinf", (5, 2, 3), 0, math.inf, 0.7),
        ("max_norm_zero", (3, 4), 0, 2.0, 0.0),
    ]
    for name, shape, dim, p, c in cases:
        d = dim % len(shape)
        w = filter_norms(gen, shape, d, p, c)
        expected = torch.renorm(w, p, dim, c)
        out.case(name, dict(kind="max_norm", max_norm=c, dim=dim, norm_type=norm_json(p)),
                 dict(weight=w, expected=expected))


def clip_cases(out, gen):
    shapes = [(4, 3, 3, 3), (4,), (10, 4)]
    norm_cases = [
        ("clip_grad_norm_p2", 2.0, 5.0, [1, 1, 1]),
        ("clip_grad_norm_p2_inactive", 2.0, 1e3, [1, 1, 1]),
        ("clip_grad_norm_p1", 1.0, 20.0, [1, 1, 1]),
        ("clip_grad_norm_p3", 3.0, 1.5, [1, 1, 1]),
        ("clip_grad_norm_pinf", math.inf, 0.5, [1, 1, 1]),
        ("clip_grad_norm_missing_grad", 2.0, 2.0, [1, 0, 1]),
    ]
    for name, p, c, has in norm_cases:
        params = [torch.zeros(s, requires_grad=True) for s in shapes]
        tensors = {"has_grad": torch.tensor(has, dtype=torch.float32)}
        for i, prm in enumerate(params):
            g = torch.randn(shapes[i], generator=gen)
            tensors[f"grad{i}"] = g
            prm.grad = g.clone() if has[i] else None
        total = torch.nn.utils.clip_grad_norm_(params, c, p)
        for i, prm in enumerate(params):
            tensors[f"expected{i}"] = prm.grad if has[i] else torch.zeros(0)
        tensors["total_norm"] = total.reshape(1)
        out.case(name, dict(kind="clip_grad_norm", max_norm=c, norm_type=norm_json(p),
                            params=len(shapes)), tensors)

    params = [torch.zeros(s, requires_grad=True) for s in shapes]
    tensors = {}
    for i, prm in enumerate(params):
        g = torch.randn(shapes[i], generator=gen)
        tensors[f"grad{i}"] = g
        prm.grad = g.clone()
    torch.nn.utils.clip_grad_value_(params, 0.5)
    for i, prm in enumerate(params):
        tensors[f"expected{i}"] = prm.grad
    out.case("clip_grad_value", dict(kind="clip_grad_value", clip_value=0.5,
                                     params=len(shapes)), tensors)


S = torch.optim.lr_scheduler
SCHEDULERS = {"StepLR": S.StepLR, "MultiStepLR": S.MultiStepLR,
              "CosineAnnealingLR": S.CosineAnnealingLR, "LinearLR": S.LinearLR,
              "OneCycleLR": S.OneCycleLR}


def schedule_cases():
    def one(name, options):
        return dict(scheduler=name, options=options)

    return [
        ("schedule_step", "SGD", 0.1, one("StepLR", dict(step_size=7, gamma=0.5))),
        ("schedule_multistep", "SGD", 0.1,
         one("MultiStepLR", dict(milestones=[5, 12, 20], gamma=0.3))),
        # Unsorted, with a repeat: the repeated milestone applies gamma twice.
        ("schedule_multistep_repeat", "Adam", 0.01,
         one("MultiStepLR", dict(milestones=[20, 6, 12, 12], gamma=0.5))),
        # Past T_max the cosine goes back up (period 2 T_max), as in PyTorch.
        ("schedule_cosine_short", "SGD", 0.1,
         one("CosineAnnealingLR", dict(T_max=10, eta_min=0.001))),
        ("schedule_cosine", "Adam", 0.003, one("CosineAnnealingLR", dict(T_max=30))),
        ("schedule_linear_warmup", "SGD", 0.2,
         one("LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=8))),
        ("schedule_linear_decay", "SGD", 0.2,
         one("LinearLR", dict(start_factor=1.0, end_factor=0.05, total_iters=10))),
        ("schedule_linear_default", "Adam", 0.001, one("LinearLR", dict())),
        ("schedule_onecycle", "SGD", 0.1, one("OneCycleLR", dict(max_lr=0.1, total_steps=30))),
        ("schedule_onecycle_adam", "Adam", 0.001,
         one("OneCycleLR", dict(max_lr=0.01, total_steps=40, pct_start=0.25,
                                div_factor=10.0, final_div_factor=100.0))),
        ("schedule_onecycle_linear_three_phase", "Adam", 0.001,
         one("OneCycleLR", dict(max_lr=0.02, total_steps=30, anneal_strategy="linear",
                                three_phase=True, base_momentum=0.8, max_momentum=0.9))),
        ("schedule_onecycle_no_momentum", "SGD", 0.1,
         one("OneCycleLR", dict(max_lr=0.3, total_steps=32, pct_start=0.5,
                                cycle_momentum=False))),
        ("schedule_warmup_cosine", "SGD", 0.1,
         dict(scheduler="SequentialLR", milestones=[5],
              schedulers=[one("LinearLR", dict(start_factor=0.01, total_iters=5)),
                          one("CosineAnnealingLR", dict(T_max=25, eta_min=1e-4))])),
        ("schedule_sequential_three", "Adam", 0.01,
         dict(scheduler="SequentialLR", milestones=[4, 15],
              schedulers=[one("LinearLR", dict(start_factor=0.25, total_iters=4)),
                          one("StepLR", dict(step_size=5, gamma=0.5)),
                          one("CosineAnnealingLR", dict(T_max=8, eta_min=0.0005))])),
    ]


def run_schedule(out, name, optimizer, lr, spec):
    param = torch.zeros(2, requires_grad=True)
    opt = (torch.optim.SGD([param], lr=lr, momentum=0.9) if optimizer == "SGD"
           else torch.optim.Adam([param], lr=lr))

    def build(s):
        return SCHEDULERS[s["scheduler"]](opt, **s["options"])

    if spec["scheduler"] == "SequentialLR":
        sched = S.SequentialLR(opt, [build(s) for s in spec["schedulers"]], spec["milestones"])
    else:
        sched = build(spec)
    cycles = spec["scheduler"] == "OneCycleLR" and spec["options"].get("cycle_momentum", True)

    def momentum():
        group = opt.param_groups[0]
        return group["momentum"] if optimizer == "SGD" else group["betas"][0]

    lrs, momenta = [sched.get_last_lr()[0]], [momentum()]
    for _ in range(SCHEDULE_STEPS):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        momenta.append(momentum())
    tensors = {"lr": torch.tensor(lrs, dtype=torch.float64)}
    if cycles:
        tensors["momentum"] = torch.tensor(momenta, dtype=torch.float64)
    out.case(name, dict(kind="schedule", optimizer=optimizer, lr=lr, steps=SCHEDULE_STEPS, **spec),
             tensors)


def generate(out):
    # The scheduler warns when get_lr is called by SequentialLR's step(0) path; expected.
    warnings.filterwarnings("ignore", category=UserWarning)
    gen = torch.Generator().manual_seed(SEED)
    for name, cls, options, has_grad, schedule in optimizer_cases():
        run_optimizer(out, gen, name, cls, options, has_grad, schedule)
    max_norm_cases(out, gen)
    clip_cases(out, gen)
    for name, optimizer, lr, spec in schedule_cases():
        run_schedule(out, name, optimizer, lr, spec)
