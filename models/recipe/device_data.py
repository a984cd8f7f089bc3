"""Labeled samples from devices, for retraining: read `linesight samples export` folders or tar
files, check them, and split them into a training share and a held-out share.

Every refusal says what is wrong and what to do, because the person running this is often not
the one who labeled the samples. Pure Python (csv, tarfile, PIL): no torch, so it is quick to try.
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import json
import math
import os
import random
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field

from PIL import Image

# Share of each class held out for evaluation, and the fewest held-out frames per class worth
# an estimate: below that a recall figure is noise.
HOLDOUT_SHARE = 0.3
MIN_HOLDOUT_PER_CLASS = 3
OTHER_KIND = "other"


class DataError(Exception):
    """An export that cannot be trained on; the message names the file and the fix."""


@dataclass
class DeviceSample:
    path: str
    label: str
    kind: str  # the defect kind the labeler named, "defect" when none, "good" for good parts
    source: str  # the export it came from
    sample_id: str
    captured_at: str
    model: str  # name@version that decided it on the device
    size: tuple[int, int]
    sha256: str
    device: str = ""  # the device's id (device.id), when the export names it


@dataclass
class DeviceData:
    samples: list[DeviceSample]
    skipped: list[str] = field(default_factory=list)  # "file: why", for the log


def min_labeled_per_class() -> int:
    return math.ceil(MIN_HOLDOUT_PER_CLASS / HOLDOUT_SHARE)


def read_exports(paths: list[str], work: str, *, model_name: str, labels: list[str], kinds: list[str]) -> DeviceData:
    """All labeled samples of the given exports, each image checked; duplicates (the same
    frame exported twice) kept once."""
    if not paths:
        raise DataError("--from-export needs at least one export (a folder or .tar from `linesight samples export`)")
    data = DeviceData(samples=[])
    seen: set[str] = set()
    for i, path in enumerate(paths):
        folder = _unpacked(path, os.path.join(work, "exports", str(i)))
        for s in _read_one(folder, path, model_name=model_name, labels=labels, kinds=kinds, skipped=data.skipped):
            if s.sha256 in seen:
                continue
            seen.add(s.sha256)
            data.samples.append(s)
    check_classes(data.samples, labels)
    return data


def _unpacked(path: str, dest: str) -> str:
    if os.path.isdir(path):
        return path
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file or folder")
    if tarfile.is_tarfile(path):
        os.makedirs(dest, exist_ok=True)
        with tarfile.open(path) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and _safe_member(m.name)]
            tar.extractall(dest, members=members)
        return dest
    if path.endswith((".csv", ".jsonl", ".json")):
        raise DataError(f"{path} is a manifest without its images: export with `--format folders` (a folder) or "
                        "`--format tar`, or download the labeling page's .tar")
    raise DataError(f"{path} is neither a folder nor a tar file from `linesight samples export`")


def _safe_member(name: str) -> bool:
    return not (name.startswith("/") or ".." in name.split("/"))


def _read_one(folder: str, source: str, *, model_name: str, labels: list[str], kinds: list[str],
              skipped: list[str]) -> list[DeviceSample]:
    manifest = os.path.join(folder, "manifest.csv")
    if not os.path.exists(manifest):
        raise DataError(f"{source} is not a linesight export: it has no manifest.csv (give the folder "
                        "`linesight samples export --out DIR` wrote, or its .tar)")
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and "label" not in rows[0]:
        raise DataError(f"{manifest}: no label column; is this a linesight export?")
    allowed_kinds = set(kinds) | {OTHER_KIND}
    out = []
    for row in rows:
        label = (row.get("label") or "").strip()
        where = f"{source}: sample {row.get('id') or row.get('file')}"
        exported_by = row.get("model_name") or ""
        if exported_by and exported_by != model_name:
            raise DataError(f"{where} was decided by model '{exported_by}', not '{model_name}': its input spec and "
                            f"labels may differ; retrain '{exported_by}' with its own recipe, or export only this "
                            "model's samples (filter by date on the labeling page)")
        if label not in labels:
            raise DataError(f"{where} is labeled '{label}', which {model_name} does not know (labels: "
                            f"{', '.join(labels)}); relabel it on the labeling page or leave it out of the export")
        kind = (row.get("label_kind") or "").strip()
        if kind and kind not in allowed_kinds:
            raise DataError(f"{where} names the defect kind '{kind}', which {model_name} does not know (kinds: "
                            f"{', '.join(sorted(allowed_kinds))}); relabel it")
        path = os.path.join(folder, row.get("file") or "")
        problem = _image_problem(path)
        if problem:
            skipped.append(f"{path}: {problem}")
            continue
        with Image.open(path) as im:
            size = im.size
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        positive = labels[1]
        out.append(DeviceSample(
            path=path, label=label, kind=(kind or positive) if label == positive else label, source=source,
            sample_id=row.get("id") or "", captured_at=row.get("captured_at") or "",
            model=f"{exported_by}@{row.get('model_version') or '?'}", size=size, sha256=digest,
            device=(row.get("device_id") or "").strip()))
    return out


def _image_problem(path: str) -> str | None:
    if not os.path.isfile(path):
        return "missing from the export"
    try:
        with Image.open(path) as im:
            im.load()  # decodes every byte: verify() alone misses a truncated JPEG body
            if im.mode not in ("RGB", "L", "CMYK", "YCbCr"):
                return f"unusual colour mode {im.mode}"
    except Exception as err:  # noqa: BLE001 — any decoder failure means "skip this one"
        return f"not a readable image ({err})"
    return None


def check_classes(samples: list[DeviceSample], labels: list[str]) -> None:
    counts = {l: sum(1 for s in samples if s.label == l) for l in labels}
    if sum(counts.values()) == 0:
        raise DataError("the exports hold no labeled samples: label some on the device's labeling page "
                        "(/label), then export again")
    missing = [l for l, n in counts.items() if n == 0]
    if missing:
        have = ", ".join(f"{n} {l}" for l, n in counts.items() if n)
        raise DataError(f"the exports hold only one class ({have}): retraining needs both, label at least "
                        f"{min_labeled_per_class()} {missing[0]} samples from the line too")
    need = min_labeled_per_class()
    short = {l: n for l, n in counts.items() if n < need}
    if short:
        have = ", ".join(f"{n} {l}" for l, n in short.items())
        raise DataError(f"too few labeled samples to hold any out for evaluation: {have}; need at least {need} of "
                        f"each class ({MIN_HOLDOUT_PER_CLASS} held out at {HOLDOUT_SHARE:.0%}). Label more on the "
                        "device, then export again")


def holdout_split(samples: list[DeviceSample], labels: list[str], seed: int,
                  share: float = HOLDOUT_SHARE) -> tuple[list[DeviceSample], list[DeviceSample]]:
    """Stratified by label and kind, deterministic for a seed: the same exports give the same split.
    Returns (the rest, `share` of each kind)."""
    rng = random.Random(seed)
    train: list[DeviceSample] = []
    held: list[DeviceSample] = []
    groups: dict[str, list[DeviceSample]] = {}
    for s in sorted(samples, key=lambda s: s.sha256):
        groups.setdefault(s.kind, []).append(s)
    for kind in sorted(groups):
        g = groups[kind]
        rng.shuffle(g)
        n = round(len(g) * share)
        held += g[:n]
        train += g[n:]
    for label in labels:
        if sum(1 for s in held if s.label == label) < MIN_HOLDOUT_PER_CLASS:
            raise DataError(f"too few {label} samples to hold out {MIN_HOLDOUT_PER_CLASS}: label more on the device")
    return train, held


def write_labelled_dir(samples: list[DeviceSample], dest: str) -> str:
    """A folder `linesight dataset pack` and `model eval` read: the images (linked) and labels.csv."""
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "defect"])
        for i, s in enumerate(samples):
            name = f"{i:06d}{os.path.splitext(s.path)[1] or '.jpg'}"
            link = os.path.join(dest, name)
            if os.path.lexists(link):
                os.remove(link)
            os.symlink(os.path.abspath(s.path), link)
            w.writerow([name, s.label, s.kind])
    return dest


UNNAMED_DEVICE = "(not named in the export)"


def describe(data: DeviceData, train: list[DeviceSample], held: list[DeviceSample],
             calibration: list[DeviceSample] | None = None) -> dict:
    """What the model was trained on, for the manifest and the card."""
    def counts(samples: list[DeviceSample]) -> dict:
        by_label: dict[str, int] = {}
        by_kind: dict[str, int] = {}
        for s in samples:
            by_label[s.label] = by_label.get(s.label, 0) + 1
            by_kind[s.kind] = by_kind.get(s.kind, 0) + 1
        return {"samples": len(samples), "by_label": dict(sorted(by_label.items())), "by_kind": dict(sorted(by_kind.items()))}

    times = sorted(s.captured_at for s in data.samples if s.captured_at)
    devices = collections.Counter(s.device or UNNAMED_DEVICE for s in data.samples)
    return {
        "exports": sorted({os.path.basename(os.path.normpath(s.source)) for s in data.samples}),
        "devices": dict(sorted(devices.items())),
        "decided_by": sorted({s.model for s in data.samples}),
        "captured": {"from": times[0], "to": times[-1]} if times else None,
        "image_sizes": sorted({f"{w}x{h}" for w, h in (s.size for s in data.samples)}),
        "train": counts(train),
        **({"calibration": counts(calibration)} if calibration is not None else {}),
        "held_out": counts(held),
        "skipped": len(data.skipped),
    }


def main(argv: list[str]) -> int:
    """`python3 models/recipe/device_data.py EXPORT...`: checks exports as --from-export would and
    prints what retraining would use (JSON), or the refusal (exit 2)."""
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("exports", nargs="+")
    p.add_argument("--model", default="round-parts")
    p.add_argument("--labels", default="good,defect")
    p.add_argument("--kinds", default="crack,chip,burn,missing_chunk")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    labels = a.labels.split(",")
    with tempfile.TemporaryDirectory() as work:
        try:
            data = read_exports(a.exports, work, model_name=a.model, labels=labels, kinds=a.kinds.split(","))
            train, held = holdout_split(data.samples, labels, a.seed)
        except DataError as err:
            print(f"device_data: {err}", file=sys.stderr)
            return 2
        print(json.dumps({**describe(data, train, held), "skipped_files": data.skipped}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
