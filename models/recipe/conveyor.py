#!/usr/bin/python3
"""A simulated inspection camera over a conveyor of round parts (washers and biscuits).

Every frame is a pure function of (seed, split, index), so a data set is reproducible and can be
rendered by any number of worker processes. Frames are 320x240 JPEG, as a fixed industrial
camera looking straight down would deliver them, with the nuisance variation a real line has
(light level, colour cast, vignetting, position, rotation, part colour, belt texture, crumbs,
sensor noise, slight blur) and four defect kinds: crack, chip, burn, missing_chunk.

`--line` renders another line, for drift detection and retraining (docs/retraining.md):
- `belt-a` (the default): the line the shipped model was built for; its frames do not depend on
  the switch;
- `supplier-b`: belt-a with a new supplier's parts (brass washers with a wider hole, darker
  wholemeal biscuits with seeds and no docking holes), which the shipped model never saw;
- `belt-b`: the same parts on a blue ribbed PVC belt under a warm light from one side;
- `varied`: half belt-a, half any belt under any light (what the recipe trains on, so that a new
  belt or light alone does not break the model; belt-b is one of that family).

  /usr/bin/python3 models/recipe/conveyor.py --out DIR --seed 7 --split train=12000 --split val=2000
  /usr/bin/python3 models/recipe/conveyor.py --out DIR --seed 31 --line supplier-b --split fresh=600
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

W, H = 320, 240
DEFECTS = ("crack", "chip", "burn", "missing_chunk")
# A frame's random stream is (seed, split code, index). "fresh" is never used by the build: frames
# no model or footage has seen, for measuring the drift detector on new parts (bench/fresh-frames.sh).
SPLIT_CODES = {"train": 1, "val": 2, "test": 3, "footage": 4, "fresh": 5}
FIELDS = ["file", "label", "defect", "part", "brightness", "cast_r", "cast_g", "cast_b", "blur", "noise"]

LINES = ("belt-a", "supplier-b", "belt-b", "varied")

YY, XX = np.mgrid[0:H, 0:W].astype(np.float32)
VIGNETTE = 1.0 - 0.18 * (((XX - W / 2) / (W / 2)) ** 2 + ((YY - H / 2) / (H / 2)) ** 2) / 2
# Line B's light: a warm lamp to one side, so the frame brightens across it, plus the lens falloff.
SIDE_LIGHT = (0.8 + 0.32 * XX / W) * (1.0 - 0.1 * ((YY - H / 2) / (H / 2)) ** 2)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def belt(rng: np.random.Generator, line: str = "belt-a") -> np.ndarray:
    """Dark rubber belt with a woven pattern that moves along the belt, plus rails."""
    if line == "belt-b":
        return belt_b(rng)
    if line == "varied-belt":
        return belt_varied(rng)
    base = np.array([56, 60, 58], np.float32) * rng.uniform(0.9, 1.1)
    shift = rng.uniform(0, 12)
    weave = 5 * np.sin((XX + shift) * (2 * math.pi / 6)) * np.sin(YY * (2 * math.pi / 9))
    img = base[None, None, :] + weave[..., None] + rng.normal(0, 3.0, (H, W, 1)).astype(np.float32)
    rail = (YY < 16) | (YY > H - 17)
    img[rail] = np.array([128, 130, 134], np.float32)
    return img


def belt_b(rng: np.random.Generator) -> np.ndarray:
    """Line B: a blue PVC belt with fine diagonal ribs, wider and darker rails."""
    base = np.array([58, 84, 116], np.float32) * rng.uniform(0.9, 1.1)
    shift = rng.uniform(0, 10)
    ribs = 2 * np.sin((XX + 0.6 * YY + shift) * (2 * math.pi / 10))
    img = base[None, None, :] + ribs[..., None] + rng.normal(0, 3.5, (H, W, 1)).astype(np.float32)
    rail = (YY < 22) | (YY > H - 23)
    img[rail] = np.array([92, 94, 100], np.float32)
    return img


def belt_varied(rng: np.random.Generator) -> np.ndarray:
    """Any belt: a random colour, a weave, ribs at a random angle and pitch or a plain surface,
    rails of a random grey and width (domain randomization for training)."""
    hue = rng.uniform(0, 2 * math.pi)
    value, sat = rng.uniform(40, 130), rng.uniform(0, 0.45)
    base = value * (1 + sat * np.cos(hue - np.array([0, 2 * math.pi / 3, 4 * math.pi / 3]))).astype(np.float32)
    kind = rng.integers(3)
    shift = rng.uniform(0, 12)
    if kind == 0:
        pa, pb = rng.uniform(4, 10), rng.uniform(6, 12)
        tex = rng.uniform(2, 7) * np.sin((XX + shift) * (2 * math.pi / pa)) * np.sin(YY * (2 * math.pi / pb))
    elif kind == 1:
        ang = rng.uniform(0, math.pi)
        tex = rng.uniform(1, 4) * np.sin((XX * math.cos(ang) + YY * math.sin(ang) + shift) * (2 * math.pi / rng.uniform(6, 16)))
    else:
        tex = np.zeros((H, W), np.float32)
    img = base[None, None, :] + tex[..., None] + rng.normal(0, rng.uniform(2, 5), (H, W, 1)).astype(np.float32)
    edge = int(rng.integers(12, 26))
    rail = (YY < edge) | (YY > H - edge - 1)
    img[rail] = rng.uniform(80, 140) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    return img


def crumbs(img: np.ndarray, rng: np.random.Generator) -> None:
    for _ in range(rng.integers(0, 7)):
        x, y = rng.uniform(5, W - 5), rng.uniform(20, H - 20)
        r = rng.uniform(0.8, 2.2)
        m = smoothstep(r + 0.7, r - 0.7, np.hypot(XX - x, YY - y))
        img += m[..., None] * (np.array([150, 120, 80], np.float32) - img) * 0.7


# A supplier's washers: the hole's share of the radius, the metal's level and tint.
WASHERS = {"a": ((0.3, 0.4), (150, 185), (1.0, 1.0, 1.04)), "b": ((0.45, 0.55), (140, 175), (1.12, 0.95, 0.55))}


def part_layer(rng: np.random.Generator, part: str, cx: float, cy: float, r: float, rot: float, supplier: str = "a"):
    """Colour image of the part and its coverage (alpha, antialiased), before defects."""
    d = np.hypot(XX - cx, YY - cy)
    theta = np.arctan2(YY - cy, XX - cx)
    alpha = smoothstep(r + 0.6, r - 0.6, d)
    if part == "washer":
        hole, levels, tint0 = WASHERS[supplier]
        rh = r * rng.uniform(*hole)
        alpha = alpha * smoothstep(rh - 0.6, rh + 0.6, d)
        level = rng.uniform(*levels)
        light = rng.uniform(-math.pi, math.pi)
        shade = 0.85 + 0.22 * np.cos(theta - light) * (d / r) + 3 * np.sin(d * 1.7) / level
        tint = np.array(tint0, np.float32) * rng.uniform(0.97, 1.03, 3).astype(np.float32)
        colour = level * shade[..., None] * tint[None, None, :]
    elif supplier == "b":  # wholemeal: darker, grainier, seeds instead of docking holes
        rh = 0.0
        base = np.array([150, 105, 65], np.float32) * rng.uniform(0.9, 1.08) * rng.uniform(0.96, 1.04, 3).astype(np.float32)
        rim = 1 - 0.15 * smoothstep(0.8 * r, r, d)
        colour = base[None, None, :] * rim[..., None] * (1 + rng.normal(0, 0.06, (H, W, 1)).astype(np.float32))
        for _ in range(int(rng.integers(15, 30))):
            a, rad = rng.uniform(0, 2 * math.pi), r * math.sqrt(rng.uniform(0, 0.8))
            m = smoothstep(1.6, 0.6, np.hypot(XX - cx - rad * math.cos(a), YY - cy - rad * math.sin(a)))
            colour *= (1 + 0.35 * m)[..., None]
    else:
        rh = 0.0
        base = np.array([205, 160, 98], np.float32) * rng.uniform(0.9, 1.08) * rng.uniform(0.96, 1.04, 3).astype(np.float32)
        rim = 1 - 0.28 * smoothstep(0.72 * r, r, d)
        colour = base[None, None, :] * rim[..., None] * (1 + rng.normal(0, 0.035, (H, W, 1)).astype(np.float32))
        # docking holes: small dark dots on a ring, turned with the part
        n = int(rng.integers(5, 8))
        for k in range(n):
            a = rot + 2 * math.pi * k / n
            hx, hy = cx + 0.5 * r * math.cos(a), cy + 0.5 * r * math.sin(a)
            m = smoothstep(2.6, 1.2, np.hypot(XX - hx, YY - hy))
            colour *= (1 - 0.35 * m)[..., None]
    return colour.astype(np.float32), alpha.astype(np.float32), d, theta, rh


def rim_point(cx: float, cy: float, rad: float, angle: float) -> tuple[float, float]:
    return cx + rad * math.cos(angle), cy + rad * math.sin(angle)


def crack(colour, alpha, rng, cx, cy, r, rh) -> None:
    """A dark jagged line from the rim (or the hole's edge) into the part."""
    mask = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(mask)
    a = rng.uniform(-math.pi, math.pi)
    from_hole = rh > 0 and rng.random() < 0.4
    x, y = rim_point(cx, cy, rh if from_hole else r, a)
    heading = a if from_hole else a + math.pi  # outward from the hole, inward from the rim
    length = rng.uniform(0.25, 0.7) * 2 * r
    pts = [(x, y)]
    for _ in range(max(3, int(length / 6))):
        heading += rng.normal(0, 0.45)
        x += 6 * math.cos(heading)
        y += 6 * math.sin(heading)
        pts.append((x, y))
    draw.line(pts, fill=255, width=int(rng.integers(2, 4)), joint="curve")
    m = np.asarray(mask, np.float32) / 255 * alpha
    colour *= (1 - 0.78 * m)[..., None]


def chip(colour, alpha, rng, cx, cy, r, d, theta) -> None:
    """A small bite out of the edge: the belt shows through."""
    a = rng.uniform(-math.pi, math.pi)
    br = r * rng.uniform(0.14, 0.26)
    bx, by = rim_point(cx, cy, r + br * rng.uniform(0.2, 0.5), a)
    bite = smoothstep(br - 0.6, br + 0.6, np.hypot(XX - bx, YY - by))
    alpha *= bite


def burn(colour, alpha, rng, cx, cy, r, rh) -> None:
    """A dark brown/black scorch (on metal: an oxidised patch) with soft, irregular edges."""
    a = rng.uniform(-math.pi, math.pi)
    dist = rng.uniform(max(rh + 0.15 * r, 0.0), 0.7 * r)
    bx, by = rim_point(cx, cy, dist, a)
    sigma = r * rng.uniform(0.1, 0.22)
    g = np.exp(-((XX - bx) ** 2 + ((YY - by) * rng.uniform(0.7, 1.3)) ** 2) / (2 * sigma**2))
    g *= 1 + 0.3 * np.sin(XX * 0.21 + rng.uniform(0, 6)) * np.sin(YY * 0.17 + rng.uniform(0, 6))
    w = np.clip(g * rng.uniform(0.75, 0.95), 0, 1) * alpha
    dark = np.array([45, 28, 16], np.float32)
    colour += w[..., None] * (dark[None, None, :] - colour)


def missing_chunk(colour, alpha, rng, cx, cy, r, d, theta) -> None:
    """A large piece broken off: a wedge or a big bite, 20-40% of the part."""
    a = rng.uniform(-math.pi, math.pi)
    if rng.random() < 0.5:
        half = rng.uniform(0.2, 0.4) * math.pi  # wedge of 72-144 degrees
        delta = np.abs((theta - a + math.pi) % (2 * math.pi) - math.pi)
        alpha *= smoothstep(half - 0.03, half + 0.03, delta)
    else:
        br = r * rng.uniform(0.6, 0.8)
        bx, by = rim_point(cx, cy, r + br * rng.uniform(0.05, 0.25), a)
        alpha *= smoothstep(br - 0.6, br + 0.6, np.hypot(XX - bx, YY - by))


def render(rng: np.random.Generator, defect: str, part: str, line: str = "belt-a") -> tuple[Image.Image, dict]:
    if line == "varied":  # half the original line, half any belt under any light
        line = "belt-a" if rng.random() < 0.5 else "varied-belt"
    supplier = "b" if line == "supplier-b" else "a"
    if line == "supplier-b":  # belt-a's belt and light
        line = "belt-a"
    img = belt(rng, line)
    crumbs(img, rng)
    cx, cy = W / 2 + rng.uniform(-25, 25), H / 2 + rng.uniform(-15, 15)
    r = rng.uniform(55, 75)
    rot = rng.uniform(0, 2 * math.pi)
    colour, alpha, d, theta, rh = part_layer(rng, part, cx, cy, r, rot, supplier)
    if defect == "crack":
        crack(colour, alpha, rng, cx, cy, r, rh)
    elif defect == "chip":
        chip(colour, alpha, rng, cx, cy, r, d, theta)
    elif defect == "burn":
        burn(colour, alpha, rng, cx, cy, r, rh)
    elif defect == "missing_chunk":
        missing_chunk(colour, alpha, rng, cx, cy, r, d, theta)
    # soft shadow of what is really there (a missing chunk casts none), offset from the light
    sx, sy = int(rng.integers(2, 7)), int(rng.integers(3, 8))
    silhouette = Image.fromarray((np.roll(alpha, (sy, sx), (0, 1)) * 255).astype(np.uint8), "L")
    shadow = np.asarray(silhouette.filter(ImageFilter.GaussianBlur(3)), np.float32) / 255
    img *= (1 - 0.35 * shadow * (1 - alpha))[..., None]
    img = img * (1 - alpha[..., None]) + colour * alpha[..., None]

    if line == "varied-belt":  # a lamp from any side, any warmth
        ang = rng.uniform(0, 2 * math.pi)
        strength = rng.uniform(0, 0.35)
        ramp = (XX - W / 2) / W * math.cos(ang) + (YY - H / 2) / H * math.sin(ang)
        gain = rng.uniform(0.88, 1.18)
        warm = rng.uniform(-0.12, 0.12)
        cast = (np.array([1 + warm, 1.0, 1 - 1.3 * warm]) * rng.uniform(0.95, 1.05, 3)).astype(np.float32)
        img *= (gain * (1 + strength * 2 * ramp) * VIGNETTE)[..., None] * cast[None, None, :]
    elif line == "belt-b":  # warmer and brighter, from the side
        gain = rng.uniform(0.95, 1.18)
        cast = (np.array([1.08, 1.0, 0.84]) * rng.uniform(0.97, 1.03, 3)).astype(np.float32)
        img *= (gain * SIDE_LIGHT)[..., None] * cast[None, None, :]
    else:
        gain = rng.uniform(0.88, 1.12)
        cast = rng.uniform(0.95, 1.05, 3).astype(np.float32)
        img *= (gain * VIGNETTE)[..., None] * cast[None, None, :]
    noise = rng.uniform(2, 5)
    img += rng.normal(0, noise, (H, W, 3)).astype(np.float32)
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    blur = rng.uniform(0.3, 0.9) if rng.random() < 0.35 else 0.0
    if blur:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    params = {"brightness": round(gain, 4), "cast_r": round(float(cast[0]), 4), "cast_g": round(float(cast[1]), 4),
              "cast_b": round(float(cast[2]), 4), "blur": round(blur, 3), "noise": round(noise, 3)}
    return out, params


def plan(split: str, n: int, seed: int, good_fraction: float) -> list[tuple[str, str]]:
    """Exact class counts (round(n*g) good, the rest cycled over the defects), shuffled, with
    washers and biscuits alternating within each class."""
    n_good = round(n * good_fraction)
    kinds = ["good"] * n_good + [DEFECTS[i % len(DEFECTS)] for i in range(n - n_good)]
    seen: dict[str, int] = {}
    jobs = []
    for k in kinds:
        seen[k] = seen.get(k, 0) + 1
        jobs.append((k, "washer" if seen[k] % 2 else "biscuit"))
    order = np.random.default_rng([seed, SPLIT_CODES[split], 0xC0FFEE]).permutation(n)
    return [jobs[i] for i in order]


def _render_one(job: tuple[str, str, int, int, str, str, str]) -> dict:
    out_dir, split, seed, index, defect, part, line = job
    rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
    img, params = render(rng, defect, part, line)
    name = f"{split}-{index:06d}-{defect}.jpg"
    img.save(os.path.join(out_dir, name), quality=90, subsampling=2)
    return {"file": name, "label": "good" if defect == "good" else "defect", "defect": defect, "part": part, **params}


def generate(out: str, split: str, n: int, seed: int, good_fraction: float, workers: int, line: str = "belt-a") -> None:
    if line not in LINES:
        raise ValueError(f"line {line!r}: expected one of {', '.join(LINES)}")
    d = os.path.join(out, split)
    os.makedirs(d, exist_ok=True)
    jobs = [(d, split, seed, i, k, p, line) for i, (k, p) in enumerate(plan(split, n, seed, good_fraction))]
    if workers > 1:
        with Pool(workers) as pool:
            rows = pool.map(_render_one, jobs, chunksize=64)
    else:
        rows = [_render_one(j) for j in jobs]
    with open(os.path.join(d, "labels.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--split", action="append", required=True, help="NAME=COUNT, NAME one of " + ", ".join(SPLIT_CODES))
    p.add_argument("--good-fraction", type=float, default=0.5)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--line", choices=LINES, default="belt-a",
                   help="belt-a: the line the shipped model was built for; supplier-b: its belt with a new "
                   "supplier's parts; belt-b: another belt and light; varied: any belt and light (training)")
    a = p.parse_args(argv)
    for spec in a.split:
        name, _, count = spec.partition("=")
        if name not in SPLIT_CODES or not count.isdigit():
            p.error(f"--split {spec}: expected NAME=COUNT with NAME in {', '.join(SPLIT_CODES)}")
        generate(a.out, name, int(count), a.seed, a.good_fraction, a.workers, a.line)


if __name__ == "__main__":
    main(sys.argv[1:])
