"""The inspector network and its structured (channel) pruning.

A plain stack of 3x3 convolutions: the first halves the resolution at once, so the conv that
runs at full input size is cheap in int8 too (on this CPU a full-resolution first conv made int8
no faster than fp32); extra stride-1 convs add depth only at the two coarsest scales, where it is
cheap. Every layer maps onto onnxruntime's QLinearConv kernels. Global max pooling because a defect is a local event: one
cracked corner must light up the whole frame's score, which an average would dilute.
"""

from __future__ import annotations

import torch
from torch import nn

# (output channels, stride) per conv
BASE_LAYERS = ((24, 2), (48, 2), (64, 2), (64, 1), (128, 2), (128, 1))


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Inspector(nn.Module):
    def __init__(self, layers: tuple[tuple[int, int], ...] = BASE_LAYERS, classes: int = 2) -> None:
        super().__init__()
        self.layers = tuple(layers)
        cin = 3
        blocks = []
        for cout, stride in self.layers:
            blocks.append(Block(cin, cout, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.blocks(x))
        return self.fc(torch.flatten(x, 1))


def channel_importance(block: Block) -> torch.Tensor:
    """L1 norm of each output filter, scaled by its BatchNorm gain: a filter whose output
    BN multiplies by ~0 contributes nothing, however large its weights."""
    w = block.conv.weight.detach().abs().sum(dim=(1, 2, 3))
    return w * block.bn.weight.detach().abs()


def prune_channels(model: Inspector, keep_fraction: float) -> tuple[Inspector, list[dict]]:
    """Returns a new, narrower Inspector that keeps the most important output channels of
    every conv, with weights copied over, and a per-layer report."""
    keep_idx: list[torch.Tensor] = []
    report = []
    for i, block in enumerate(model.blocks):
        n = block.conv.out_channels
        k = max(1, int(round(n * keep_fraction)))
        idx = torch.sort(torch.topk(channel_importance(block), k).indices).values
        keep_idx.append(idx)
        report.append({"layer": f"conv{i + 1}", "channels_before": n, "channels_after": k})

    pruned = Inspector(tuple((len(ix), s) for ix, (_, s) in zip(keep_idx, model.layers)), model.fc.out_features)
    prev = torch.arange(3)
    with torch.no_grad():
        for src, dst, idx in zip(model.blocks, pruned.blocks, keep_idx):
            dst.conv.weight.copy_(src.conv.weight[idx][:, prev])
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(dst.bn, name).copy_(getattr(src.bn, name)[idx])
            prev = idx
        pruned.fc.weight.copy_(model.fc.weight[:, prev])
        pruned.fc.bias.copy_(model.fc.bias)
    return pruned, report


def count_macs(model: Inspector, height: int, width: int) -> int:
    """Multiply-accumulates of one forward pass (convs + classifier)."""
    macs, cin, h, w = 0, 3, height, width
    for cout, stride in model.layers:
        h, w = (h + stride - 1) // stride, (w + stride - 1) // stride
        macs += h * w * cout * cin * 9
        cin = cout
    return macs + cin * model.fc.out_features


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
