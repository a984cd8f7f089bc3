#!/usr/bin/python3
"""An export-shaped folder (what `linesight samples export --out DIR` writes: DIR/<label>/<id>.jpg
and DIR/manifest.csv) from labelled frames (a folder with the simulator's labels.csv), labeled by
their ground truth and naming the defect kind, as an operator would on the labeling page. For
trying retraining on a simulated changed line without a device:

  /usr/bin/python3 models/recipe/conveyor.py --out /tmp/supplier-b --seed 23 --line supplier-b --split fresh=400 --good-fraction 0.6
  /usr/bin/python3 models/recipe/frames_to_export.py /tmp/supplier-b/fresh --out /tmp/supplier-b-export
  npm run model:build -- --quick --from-export /tmp/supplier-b-export
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import shutil
import sys

COLUMNS = ["id", "file", "label", "label_kind", "labeled_by", "labeled_at", "model_name", "model_version",
           "captured_at", "width", "height", "device_id"]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("frames", help="a folder with labels.csv (file,label,defect)")
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="round-parts@1.0.0", help="NAME@VERSION that decided the samples")
    p.add_argument("--start", default="2026-11-26T08:00:00+00:00", help="captured_at of the first frame")
    p.add_argument("--device", default="simulated-line", help="the device id written on every row")
    a = p.parse_args(argv)
    name, _, version = a.model.partition("@")
    with open(os.path.join(a.frames, "labels.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    start = datetime.datetime.fromisoformat(a.start)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "manifest.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for i, r in enumerate(rows):
            sid = str(i + 1)
            rel = os.path.join(r["label"], f"{sid}.jpg")
            os.makedirs(os.path.join(a.out, r["label"]), exist_ok=True)
            shutil.copyfile(os.path.join(a.frames, r["file"]), os.path.join(a.out, rel))
            at = (start + datetime.timedelta(seconds=2 * i)).isoformat()
            kind = r.get("defect") or ""
            w.writerow({"id": sid, "file": rel, "label": r["label"],
                        "label_kind": kind if r["label"] != "good" and kind not in ("", "defect") else "",
                        "labeled_by": "simulator", "labeled_at": at, "model_name": name, "model_version": version,
                        "captured_at": at, "width": 320, "height": 240, "device_id": a.device})
    print(f"{len(rows)} labeled samples in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
