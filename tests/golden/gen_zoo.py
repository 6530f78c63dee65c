"""Golden data for the model zoo (tests/zoo/): torchvision 0.14's architectures, plus the
standard MobileNet v1 and the two spec-string networks, built in PyTorch.

One case per model, tests/golden/zoo/<name>/:
  config.json  {"model", "num_parameters", "input": [N, C, H, W],
                "state_dict": [[key, shape], ...] (PyTorch's order, buffers included)}
  output.npy   the model's output in eval mode for the input below.

Weights and input are not stored (ResNet-18 alone is 47 MB): every parameter, buffer and the
input are filled with a deterministic hash of (key, element index) that tests/zoo/
zoo_fill.h reproduces bit for bit, so the C++ model sees exactly the same numbers:
  h = fmix32(fnv1a32(key) ^ fmix32(i)),  v = 2 * (h >> 8) / 2^24 - 1  in [-1, 1)  (exact)
  weight of rank >= 2 : v * float32(sqrt(6 / fan_in))   Kaiming-uniform scale for ReLU nets
  running_var         : 1 + v / 2                       in [0.5, 1.5)
  num_batches_tracked : 0
  weight of rank 1    : 1 + v / 8                       batch norm gamma
  any other tensor    : v / 8                           biases, beta, running_mean
  input (key "input") : v
Every product is of two float32 values rounded once, so both sides agree exactly.
"""
import math

import numpy as np
import torch
import torchvision
from torch import nn


def fnv1a32(s: str) -> int:
    h = 0x811C9DC5
    for b in s.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser on uint32 arrays (wrapping arithmetic in uint64, masked)."""
    h = h.astype(np.uint64)
    m = np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & m
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & m
    h ^= h >> np.uint64(16)
    return h


def hash_uniform(key: str, n: int) -> np.ndarray:
    """n float32 values in [-1, 1), exact multiples of 2^-23."""
    i = np.arange(n, dtype=np.uint64)
    h = fmix32(np.uint64(fnv1a32(key)) ^ fmix32(i))
    u = (h >> np.uint64(8)).astype(np.float32) * np.float32(2.0**-24)
    return np.float32(2) * u - np.float32(1)


def fill_value(key: str, shape) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.zeros(shape, np.float32)
    v = hash_uniform(key, n)
    if leaf == "running_var":
        v = np.float32(1) + v * np.float32(0.5)
    elif len(shape) >= 2:
        fan_in = n // shape[0]
        v = v * np.float32(math.sqrt(6.0 / fan_in))
    elif leaf == "weight":
        v = np.float32(1) + v * np.float32(0.125)
    else:
        v = v * np.float32(0.125)
    return v.reshape(shape)


def fill_model(model: nn.Module) -> None:
    with torch.no_grad():
        for key, t in model.state_dict().items():
            t.copy_(torch.from_numpy(fill_value(key, tuple(t.shape))).to(t.dtype))


def mobilenet_v1() -> nn.Module:
    """Howard et al. 2017, Table 1: a 3x3 stride-2 convolution, 13 depthwise-separable blocks
    (3x3 depthwise + 1x1 pointwise, each conv-bn-relu), global average pool, one linear layer.
    Written with torchvision's Conv2dNormActivation, as torchvision would."""
    from torchvision.ops.misc import Conv2dNormActivation as CNA

    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
        (1024, 2),
        (1024, 1),
    ]
    layers = [CNA(3, 32, 3, stride=2)]
    c = 32
    for out, stride in blocks:
        layers.append(nn.Sequential(CNA(c, c, 3, stride=stride, groups=c), CNA(c, out, 1)))
        c = out
    return MobileNetV1(nn.Sequential(*layers), nn.Linear(1024, 1000))


class MobileNetV1(nn.Module):
    def __init__(self, features: nn.Module, classifier: nn.Module):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def lenet5() -> nn.Module:
    """nn::zoo_spec("lenet5") on 1x28x28: the names of its Sequential are the positions."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


def fmnist_cnn() -> nn.Module:
    """nn::zoo_spec("fmnist-cnn") on 1x28x28."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


M = torchvision.models
IMAGENET = (1, 3, 224, 224)
MNIST = (1, 1, 28, 28)
MODELS = {
    "alexnet": (M.alexnet, IMAGENET),
    "vgg11": (M.vgg11, IMAGENET),
    "vgg11_bn": (M.vgg11_bn, IMAGENET),
    "vgg16": (M.vgg16, IMAGENET),
    "vgg16_bn": (M.vgg16_bn, IMAGENET),
    "resnet18": (M.resnet18, IMAGENET),
    "resnet34": (M.resnet34, IMAGENET),
    "resnet50": (M.resnet50, IMAGENET),
    # Without the auxiliary heads (they only run in training) and without transform_input,
    # the configuration torchvision's pretrained weights are counted in (6,624,904).
    "googlenet": (lambda: M.googlenet(aux_logits=False, init_weights=False), IMAGENET),
    "densenet121": (M.densenet121, IMAGENET),
    "mobilenet_v1": (mobilenet_v1, IMAGENET),
    "mobilenet_v2": (M.mobilenet_v2, IMAGENET),
    "efficientnet_b0": (M.efficientnet_b0, IMAGENET),
    "lenet5": (lenet5, MNIST),
    "fmnist-cnn": (fmnist_cnn, MNIST),
}


def generate(out):
    torch.set_num_threads(2)
    for name, (make, input_shape) in MODELS.items():
        torch.manual_seed(0)
        model = make()
        fill_model(model)
        model.eval()
        x = torch.from_numpy(hash_uniform("input", int(np.prod(input_shape))).reshape(input_shape))
        with torch.no_grad():
            y = model(x)
        config = {
            "model": name,
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "input": list(input_shape),
            "state_dict": [[k, list(t.shape)] for k, t in model.state_dict().items()],
        }
        out.case(name, config, {"output": y})
        print(f"  {name}: {config['num_parameters']:,} parameters, "
              f"{len(config['state_dict'])} tensors, output std {y.std().item():.3g}")
