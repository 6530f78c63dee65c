"""Golden cases for whole networks: small residual, dense and inception networks built from
torch.nn the way torchvision builds ResNet, DenseNet and GoogLeNet, so that their state-dict
keys are torchvision's ("layer1.1.downsample.0.weight", "features.denseblock1.denselayer2.
norm1.running_mean", "inception3a.branch4.1.bn.weight"). tests/nn/small_networks.h holds the
C++ twins; tests/nn/network_test.cpp loads these cases into them.

One case per network, config.json:
  network      "small_resnet" | "small_densenet" | "small_inception"
  parameters   parameter names, in state-dict order
  buffers      buffer names (running_mean, running_var, num_batches_tracked per batch norm)
  sgd          the SGD options of both steps (lr, momentum, weight_decay)
  steps        2

Tensors (file names carry the state-dict key after a prefix):
  state.<key>        every parameter and buffer to start from (batch-norm weights, biases and
                     running statistics randomised so that none is at its default)
  input, target      a batch (N, 1, 12, 12) and class indices (N) as float32
  eval_logits        the output in eval mode, from the starting state
  logits             the output of the first training-mode forward
  input_grad         d loss / d input of the first step
  loss               (steps): cross entropy of each step's training-mode forward
  grad.<param>       each parameter's gradient after the first backward
  step<s>.<key>      every parameter and buffer after step s: forward (updating the running
                     statistics), backward, SGD step; s = 1, 2 (the second step uses the
                     momentum buffer: zero_grad, then the same batch again)
"""
import torch
from torch import nn
import torch.nn.functional as F

SEED = 20240615
BATCH = 4
SIZE = 12
CLASSES = 10
STEPS = 2
SGD = dict(lr=0.1, momentum=0.9, weight_decay=1e-4)


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class SmallResNet(nn.Module):
    """A ResNet stem (without the max pool) and one stage of two blocks, the second
    halving the resolution with a projection shortcut."""

    def __init__(self):
        super().__init__()
        self.conv1 = conv3x3(1, 8)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 16, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, CLASSES)

    def forward(self, x):
        x = self.layer1(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class DenseLayer(nn.Module):
    """torchvision's _DenseLayer (bottleneck bn-relu-conv1x1, then bn-relu-conv3x3 making
    `growth` channels), returning its input with the new channels appended."""

    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.conv2 = conv3x3(bn_size * growth, growth)

    def forward(self, x):
        new = self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))
        return torch.cat([x, new], 1)


class SmallDenseNet(nn.Module):
    """conv0-norm0-relu0, a dense block of three layers (growth 4), a transition halving
    channels and resolution, norm5, global average pool, classifier."""

    def __init__(self, stem=8, growth=4, bn_size=2, layers=3):
        super().__init__()
        block = nn.Sequential()
        channels = stem
        for i in range(layers):
            block.add_module(f"denselayer{i + 1}", DenseLayer(channels, growth, bn_size))
            channels += growth
        transition = nn.Sequential()
        transition.add_module("norm", nn.BatchNorm2d(channels))
        transition.add_module("relu", nn.ReLU())
        transition.add_module("conv", nn.Conv2d(channels, channels // 2, 1, bias=False))
        transition.add_module("pool", nn.AvgPool2d(2, 2))
        self.features = nn.Sequential()
        self.features.add_module("conv0", conv3x3(1, stem))
        self.features.add_module("norm0", nn.BatchNorm2d(stem))
        self.features.add_module("relu0", nn.ReLU())
        self.features.add_module("denseblock1", block)
        self.features.add_module("transition1", transition)
        self.features.add_module("norm5", nn.BatchNorm2d(channels // 2))
        self.classifier = nn.Linear(channels // 2, CLASSES)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.features(x)), 1)
        return self.classifier(torch.flatten(x, 1))


class BasicConv2d(nn.Module):
    """torchvision.models.googlenet.BasicConv2d: conv, batch norm (eps 0.001), relu."""

    def __init__(self, cin, cout, kernel_size, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """torchvision.models.googlenet.Inception: four branches concatenated."""

    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, ch3x3red, 1),
                                     BasicConv2d(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, ch5x5red, 1),
                                     BasicConv2d(ch5x5red, ch5x5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(cin, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class SmallInception(nn.Module):
    """A GoogLeNet stem conv, a max pool, one inception block, global average pool, fc."""

    def __init__(self):
        super().__init__()
        self.conv1 = BasicConv2d(1, 8, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(8, 4, 4, 6, 2, 4, 4)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(18, CLASSES)

    def forward(self, x):
        x = self.inception3a(self.maxpool1(self.conv1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


NETWORKS = {"small_resnet": SmallResNet, "small_densenet": SmallDenseNet,
            "small_inception": SmallInception}


def randomise_batch_norms(model, gen):
    """Moves every batch norm away from its defaults so that weights, biases and running
    statistics all matter."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(1 + 0.2 * torch.randn(c, generator=gen))
                m.bias.copy_(0.1 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
                m.num_batches_tracked.fill_(3)


def snapshot(prefix, model):
    return {f"{prefix}.{k}": v.detach().clone() for k, v in model.state_dict().items()}


def run(out, gen, name, cls):
    model = cls()
    randomise_batch_norms(model, gen)
    params = [k for k, _ in model.named_parameters()]
    buffers = [k for k, _ in model.named_buffers()]
    x = torch.randn(BATCH, 1, SIZE, SIZE, generator=gen)
    target = torch.randint(0, CLASSES, (BATCH,), generator=gen)
    tensors = dict(snapshot("state", model), input=x, target=target)

    model.eval()
    with torch.no_grad():
        tensors["eval_logits"] = model(x)
    model.train()

    opt = torch.optim.SGD(model.parameters(), **SGD)
    losses = []
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        xin = x.clone().requires_grad_()
        logits = model(xin)
        loss = F.cross_entropy(logits, target)
        loss.backward()
        losses.append(loss.item())
        if step == 1:
            tensors["logits"] = logits
            tensors["input_grad"] = xin.grad
            tensors.update({f"grad.{k}": p.grad.clone() for k, p in model.named_parameters()})
        opt.step()
        tensors.update(snapshot(f"step{step}", model))
    tensors["loss"] = torch.tensor(losses)
    config = dict(network=name, parameters=params, buffers=buffers, sgd=SGD, steps=STEPS)
    out.case(name, config, tensors)


def generate(out):
    torch.manual_seed(SEED)  # the modules' default initialisation draws from the global stream
    gen = torch.Generator().manual_seed(SEED)
    for name, cls in NETWORKS.items():
        run(out, gen, name, cls)
