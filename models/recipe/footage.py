#!/usr/bin/python3
"""Picks the bundled footage: a few hundred held-out frames that look like the line as a whole.

A random 200 frames differ from the distribution they come from by chance: per image feature the
population stability index (PSI) of such a sample is about 9/200 = 0.045 on average, and one of
six features is easily at 0.09. Replayed in a loop, that sample is all the drift detector sees,
so it would report a (true, but accidental) difference of the demo footage instead of staying
quiet. So the footage is a stratified sample: rendered from its own seed stream as a pool five
times larger, then chosen greedily, class by class in the planned proportions, so that each
feature's histogram over the pool's deciles matches the pool's.

The features here are a stand-in for the daemon's (same formulas on a PIL resize); they only
choose frames. The drift reference itself is always computed by the daemon (`linesight model
profile`).

  /usr/bin/python3 models/recipe/footage.py --pool DIR --out DIR --count 200
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 160, 120


def features(path: str) -> np.ndarray:
    """brightness, contrast, sharpness, red, green, blue, as src/monitor/frame-features.ts."""
    rgb = np.asarray(Image.open(path).convert("RGB").resize((WIDTH, HEIGHT), Image.LANCZOS), dtype=np.int64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = (77 * r + 150 * g + 29 * b + 128) >> 8
    lap = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * luma[1:-1, 1:-1]
    return np.array([luma.mean(), luma.std(), lap.var(), r.mean(), g.mean(), b.mean()])


def psi_sum(counts: np.ndarray, n: int, ref: np.ndarray) -> np.ndarray:
    """Sum over features of PSI(selection, reference); counts [..., features, bins]."""
    p = (counts + 0.5) / (n + 0.5 * counts.shape[-1])
    return ((p - ref) * np.log(p / ref)).sum(axis=(-1, -2))


def select(feats: np.ndarray, strata: list[str], quotas: dict[str, int], bins: int = 10) -> list[int]:
    nf = feats.shape[1]
    edges = [np.quantile(feats[:, j], np.linspace(0, 1, bins + 1)[1:-1]) for j in range(nf)]
    onehot = np.zeros((len(feats), nf, bins))
    for j in range(nf):
        onehot[np.arange(len(feats)), j, np.searchsorted(edges[j], feats[:, j], side="right")] = 1
    ref = onehot.mean(axis=0)
    chosen: list[int] = []
    counts = np.zeros((nf, bins))
    left = dict(quotas)
    free = np.ones(len(feats), bool)
    strata_arr = np.array(strata)
    for n in range(1, sum(quotas.values()) + 1):
        ok = free & np.isin(strata_arr, [s for s, q in left.items() if q > 0])
        cand = np.flatnonzero(ok)
        cost = psi_sum(counts[None] + onehot[cand], n, ref[None])
        best = int(cand[np.argmin(cost)])
        chosen.append(best)
        counts += onehot[best]
        free[best] = False
        left[strata[best]] -= 1
    return chosen


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pool", required=True, help="a folder of rendered frames with labels.csv")
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    with open(os.path.join(a.pool, "labels.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    strata = [r["defect"] for r in rows]
    share = {k: strata.count(k) / len(strata) for k in sorted(set(strata))}
    quotas = {k: int(round(v * a.count)) for k, v in share.items()}
    quotas[max(quotas, key=quotas.get)] += a.count - sum(quotas.values())
    feats = np.stack([features(os.path.join(a.pool, r["file"])) for r in rows])
    chosen = select(feats, strata, quotas)
    # Replay order: shuffled, so the footage does not play sorted by how it was picked.
    order = np.random.default_rng([a.seed, 0xF00]).permutation(len(chosen))
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    out_rows = []
    for i, k in enumerate(order):
        r = dict(rows[chosen[k]])
        name = f"footage-{i:06d}-{r['defect']}.jpg"
        shutil.copyfile(os.path.join(a.pool, r["file"]), os.path.join(a.out, name))
        r["file"] = name
        out_rows.append(r)
    with open(os.path.join(a.out, "labels.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(out_rows)


if __name__ == "__main__":
    main(sys.argv[1:])
