"""Golden cases for the losses (see make_golden.py).

PyTorch computes, in float64 from the float32 inputs we store, the loss y, and for a random
upstream gradient gy (0-dim for mean/sum, the target's shape for none) the gradient gx of
sum(y * gy) with respect to the input.
config.json:
    loss            "cross_entropy" | "nll_loss" | "mse_loss" | "binary_cross_entropy_with_logits"
    reduction       "none" | "mean" | "sum"
    ignore_index, label_smoothing   (class losses)
    weight          whether a weight tensor is stored (per class, or broadcast for BCE)
    pos_weight      whether a pos_weight tensor is stored (BCE)
    zero_dim        the keys of the tensors that are 0-dim (stored as [1])
tensors: x, target, [weight], [pos_weight], y, gy, gx. Class targets are float32 indices.
"""
import torch
import torch.nn.functional as F

SEED = 20240614
REDUCTIONS = ("none", "mean", "sum")


def class_case(loss, shape, reduction, weight=False, ignore_index=-100, n_ignored=0,
               label_smoothing=0.0, scale=1.0):
    """shape is the input's: (N, C, ...) or (C,)."""
    C = shape[0] if len(shape) == 1 else shape[1]
    target_shape = [] if len(shape) == 1 else [shape[0]] + shape[2:]
    x32 = torch.randn(shape) * scale
    if loss == "nll_loss":
        x32 = x32.log_softmax(0 if len(shape) == 1 else 1)
    target = torch.randint(0, C, target_shape)
    flat = target.view(-1)
    if n_ignored:
        flat[torch.randperm(flat.numel())[:n_ignored]] = ignore_index
    w32 = torch.rand(C) + 0.25 if weight else None
    x = x32.double().requires_grad_()
    w = w32.double() if weight else None
    kwargs = dict(weight=w, ignore_index=ignore_index, reduction=reduction)
    if loss == "cross_entropy":
        y = F.cross_entropy(x, target, label_smoothing=label_smoothing, **kwargs)
    else:
        y = F.nll_loss(x, target, **kwargs)
    config = {"loss": loss, "reduction": reduction, "ignore_index": ignore_index,
              "label_smoothing": label_smoothing, "weight": weight, "pos_weight": False}
    tensors = {"x": x32, "target": target.float()}
    if weight:
        tensors["weight"] = w32
    return config, tensors, x, y


def pointwise_case(loss, shape, reduction, weight_shape=None, pos_weight_shape=None, scale=1.0):
    x32 = torch.randn(shape) * scale
    if loss == "mse_loss":
        t32 = torch.randn(shape)
    else:
        t32 = torch.rand(shape).round() if scale > 1 else torch.rand(shape)  # hard or soft labels
    w32 = torch.rand(weight_shape) + 0.5 if weight_shape is not None else None
    p32 = torch.rand(pos_weight_shape) * 3 + 0.2 if pos_weight_shape is not None else None
    x = x32.double().requires_grad_()
    t = t32.double()
    if loss == "mse_loss":
        y = F.mse_loss(x, t, reduction=reduction)
    else:
        y = F.binary_cross_entropy_with_logits(
            x, t, weight=None if w32 is None else w32.double(), reduction=reduction,
            pos_weight=None if p32 is None else p32.double())
    config = {"loss": loss, "reduction": reduction, "weight": w32 is not None,
              "pos_weight": p32 is not None}
    tensors = {"x": x32, "target": t32}
    if w32 is not None:
        tensors["weight"] = w32
    if p32 is not None:
        tensors["pos_weight"] = p32
    return config, tensors, x, y


def zero_dim_keys(tensors):
    """The 0-dim tensors: the writer stores them with shape [1], and the C++ test
    (tests/ops/golden_zero_dim.h) restores their shape []."""
    return [k for k, t in tensors.items() if t.dim() == 0]


def cases():
    for r in REDUCTIONS:
        yield f"ce_plain_{r}", class_case("cross_entropy", [6, 5], r)
        yield f"ce_smoothing_{r}", class_case("cross_entropy", [6, 5], r, label_smoothing=0.1)
        yield f"ce_weight_{r}", class_case("cross_entropy", [7, 4], r, weight=True)
        yield f"ce_weight_smoothing_ignore_{r}", class_case(
            "cross_entropy", [8, 5], r, weight=True, n_ignored=3, label_smoothing=0.25)
        yield f"ce_spatial_{r}", class_case("cross_entropy", [2, 3, 4, 5], r, weight=True,
                                            n_ignored=5, ignore_index=255, label_smoothing=0.1)
        yield f"nll_plain_{r}", class_case("nll_loss", [6, 5], r)
        yield f"nll_weight_ignore_{r}", class_case("nll_loss", [9, 4], r, weight=True,
                                                  n_ignored=3)
        yield f"mse_{r}", pointwise_case("mse_loss", [3, 4, 5], r)
        yield f"bce_logits_{r}", pointwise_case("binary_cross_entropy_with_logits", [6, 4], r)
        yield f"bce_logits_pos_weight_{r}", pointwise_case(
            "binary_cross_entropy_with_logits", [5, 3], r, pos_weight_shape=[3])
    yield "ce_ignore_only_mean", class_case("cross_entropy", [6, 4], "mean", n_ignored=2)
    yield "ce_ignore_valid_class_mean", class_case("cross_entropy", [10, 3], "mean",
                                                   ignore_index=1)
    yield "ce_smoothing_full_mean", class_case("cross_entropy", [5, 4], "mean",
                                               label_smoothing=1.0)
    yield "ce_large_logits_mean", class_case("cross_entropy", [6, 7], "mean", scale=40.0,
                                             label_smoothing=0.05)
    yield "ce_unbatched_mean", class_case("cross_entropy", [6], "mean", label_smoothing=0.2)
    yield "ce_unbatched_none", class_case("cross_entropy", [5], "none", weight=True)
    yield "ce_spatial_1d_mean", class_case("cross_entropy", [3, 4, 6], "mean", n_ignored=2)
    yield "ce_spatial_3d_sum", class_case("cross_entropy", [2, 3, 2, 2, 3], "sum",
                                          weight=True, label_smoothing=0.3)
    yield "nll_spatial_mean", class_case("nll_loss", [2, 4, 3, 3], "mean", weight=True,
                                         n_ignored=4)
    yield "nll_unbatched_sum", class_case("nll_loss", [6], "sum")
    yield "mse_4d_mean", pointwise_case("mse_loss", [2, 3, 2, 2], "mean")
    yield "bce_logits_weight_mean", pointwise_case("binary_cross_entropy_with_logits", [4, 5],
                                                   "mean", weight_shape=[4, 1])
    yield "bce_logits_both_weights_none", pointwise_case(
        "binary_cross_entropy_with_logits", [3, 4], "none", weight_shape=[3, 4],
        pos_weight_shape=[4])
    yield "bce_logits_large_mean", pointwise_case("binary_cross_entropy_with_logits", [4, 6],
                                                  "mean", pos_weight_shape=[6], scale=60.0)
    yield "bce_logits_spatial_sum", pointwise_case("binary_cross_entropy_with_logits",
                                                   [2, 3, 4, 4], "sum",
                                                   pos_weight_shape=[3, 1, 1])


def generate(out):
    torch.manual_seed(SEED)
    for name, (config, tensors, x, y) in cases():
        gy32 = torch.randn(y.shape)
        y.backward(gy32.double())
        tensors.update({"y": y, "gy": gy32, "gx": x.grad})
        config["zero_dim"] = zero_dim_keys(tensors)
        out.case(name, config, tensors)
