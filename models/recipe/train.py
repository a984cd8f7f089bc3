"""Training loops over packed frames (pixels preprocessed by the daemon's own code)."""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class Split:
    pixels: np.ndarray  # uint8 [N, H, W, 3], the model's input size, as the daemon resizes it
    labels: np.ndarray  # int64 [N], index into the manifest's labels
    kinds: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def load_split(prefix: str, labels: list[str]) -> Split:
    with open(prefix + ".json") as f:
        index = json.load(f)
    n, h, w = index["count"], index["height"], index["width"]
    pixels = np.fromfile(prefix + ".u8", dtype=np.uint8).reshape(n, h, w, 3)
    y = np.array([labels.index(v) for v in index["labels"]], dtype=np.int64)
    return Split(pixels, y, index["kinds"])


class InputTransform:
    """value = (pixel * scale - mean) / std, per channel: the manifest's input spec."""

    def __init__(self, spec: dict) -> None:
        self.scale = float(spec["scale"])
        self.mean = torch.tensor(spec["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(spec["std"], dtype=torch.float32).view(1, 3, 1, 1)

    def __call__(self, pixels: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float()
        return (x * self.scale - self.mean) / self.std


def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Flips only: the simulator already varies light, colour, position and blur, and a part on
    # a belt looks the same mirrored either way.
    out = batch.copy()
    flip_h = rng.random(len(out)) < 0.5
    flip_v = rng.random(len(out)) < 0.5
    out[flip_h] = out[flip_h, :, ::-1]
    out[flip_v] = out[flip_v, ::-1]
    return out


@torch.no_grad()
def predict(model: nn.Module, split: Split, transform: InputTransform, batch: int = 256) -> np.ndarray:
    """Probability of label index 1 for every frame."""
    model.eval()
    probs = []
    for i in range(0, len(split), batch):
        logits = model(transform(split.pixels[i:i + batch]))
        probs.append(torch.softmax(logits, 1)[:, 1].numpy())
    return np.concatenate(probs)


def accuracy(model: nn.Module, split: Split, transform: InputTransform) -> float:
    return float(((predict(model, split, transform) >= 0.5) == (split.labels == 1)).mean())


def fit(
    model: nn.Module,
    train: Split,
    val: Split,
    transform: InputTransform,
    *,
    epochs: int,
    lr: float,
    seed: int,
    log,
    name: str,
    batch: int = 64,
    on_epoch=None,
    keep: str = "best",
) -> tuple[float, nn.Module]:
    """AdamW with a one-cycle schedule; returns the best validation epoch's accuracy and model
    (a deep copy: QAT observers' buffers do not round-trip through state_dict), or with
    keep="last" the last epoch's: when the validation split does not show what is learned (a new
    line's frames are not in it), its ties would keep the first epoch, not the annealed one."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(train) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    loss_fn = nn.CrossEntropyLoss()
    best_acc, best_model = -1.0, model
    for epoch in range(epochs):
        if on_epoch:
            on_epoch(model, epoch)
        model.train()
        t0, total, seen = time.time(), 0.0, 0
        order = rng.permutation(len(train))
        for i in range(0, len(order), batch):
            idx = np.sort(order[i:i + batch])  # sorted reads are faster on the memory map
            x = transform(augment(train.pixels[idx], rng))
            y = torch.from_numpy(train.labels[idx])
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
            seen += len(idx)
        acc = accuracy(model, val, transform)
        log(f"{name} epoch {epoch + 1}/{epochs}: loss {total / seen:.4f}, val accuracy {acc * 100:.2f}% ({time.time() - t0:.0f}s)")
        if acc > best_acc or keep == "last":
            best_acc, best_model = acc, copy.deepcopy(model)
    return best_acc, best_model
