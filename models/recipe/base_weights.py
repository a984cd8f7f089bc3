#!/usr/bin/python3
"""Float weights back out of a model this recipe built, to fine-tune it instead of training anew.

A model directory holds only the int8 QDQ ONNX (`finalize_int8`'s form): per conv, int8 weights
with per-channel scales and an int32 bias whose scale is input scale x weight scale; BatchNorm is
folded into the convs. So the architecture (channel counts, strides) is read from the graph, the
weights are dequantized (int8 x scale, int32 x scale), and every BatchNorm starts as the identity
holding the folded bias. `recalibrate_bn` then gives each BatchNorm the statistics of the data it
will be trained on (without changing what the network computes), so a training-mode pass, which
normalizes by batch statistics, computes nearly the same function as the base model.

`fake_quant_model` rebuilds the QAT graph with the base model's own activation and weight scales:
it should reproduce onnxruntime's int8 scores almost exactly, which checks the recovery.

  /usr/bin/python3 models/recipe/base_weights.py MODEL_DIR --frames FRAMES [--json]
      recovers MODEL_DIR's weights and compares torch with onnxruntime-node (`linesight model eval
      --scores`) on FRAMES (a folder with labels.csv); exit 1 when they disagree, 2 when MODEL_DIR
      is not a model this recipe can recover.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from torch.ao import quantization as tq  # noqa: E402

from device_data import DataError  # noqa: E402
from net import Inspector  # noqa: E402
from quantize import graph_constants, prepare_qat  # noqa: E402
from train import InputTransform, Split, load_split, predict  # noqa: E402

# What the recovered model must do against the base model's onnxruntime scores (tested).
MAX_MEAN_DIFF_FAKE_QUANT = 0.005  # torch with the base's own int8 scales
MIN_AGREEMENT_FLOAT = 0.98  # float weights (no activation rounding): decisions at the threshold


@dataclass
class Recovered:
    model: Inspector  # float weights, BatchNorm as identity holding the folded bias
    qparams: dict[str, tuple[np.ndarray, np.ndarray]]  # module path -> (scale, zero point) in the ONNX
    layers: tuple[tuple[int, int], ...]


def _refuse(path: str, why: str) -> DataError:
    return DataError(
        f"{path}: cannot recover float weights to fine-tune ({why}). --base must be a model this recipe built "
        "(int8 QDQ ONNX of its Inspector net: 3x3 convs with ReLU, global max pooling, one Gemm). To retrain "
        "another model use its own recipe, or add --from-scratch to train this recipe anew on the exports")


def recover(model_dir: str) -> Recovered:
    path = os.path.join(model_dir, "model.onnx")
    if not os.path.exists(path):
        raise DataError(f"{model_dir}: no model.onnx; --base must be a model directory (manifest.json + model.onnx)")
    try:
        g = onnx.load(path).graph
    except Exception as err:  # noqa: BLE001 — any parse failure: not a model we can read
        raise _refuse(path, f"not a readable ONNX file: {err}") from err
    _, value = graph_constants(g)
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def attr(node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def dequantized(name: str, what: str, dtype) -> tuple[np.ndarray, np.ndarray]:
        """(float values, scale) of a DequantizeLinear over a stored integer initializer."""
        dq = producer.get(name)
        if dq is None or dq.op_type != "DequantizeLinear":
            raise _refuse(path, f"{what} is not dequantized from stored integers (a float model?)")
        q, scale = value(dq.input[0]), value(dq.input[1])
        zp = value(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else np.zeros_like(scale)
        if q is None or scale is None or zp is None or q.dtype != dtype:
            raise _refuse(path, f"{what} is not a stored {np.dtype(dtype).name} initializer")
        shape = [-1] + [1] * (q.ndim - 1)
        scale32 = scale.astype(np.float32).reshape(shape if scale.size > 1 else [1] * q.ndim)
        zp64 = zp.astype(np.int64).reshape(shape if zp.size > 1 else [1] * q.ndim)
        return ((q.astype(np.int64) - zp64).astype(np.float32) * scale32), scale

    convs = [n for n in g.node if n.op_type == "Conv"]
    gemms = [n for n in g.node if n.op_type in ("Gemm", "MatMul")]
    if not convs or len(gemms) != 1 or gemms[0].op_type != "Gemm":
        raise _refuse(path, f"{len(convs)} convs and {len(gemms)} classifier ops, expected convs and one Gemm")
    if not any(n.op_type in ("MaxPool", "GlobalMaxPool") for n in g.node):
        raise _refuse(path, "no global max pooling")
    layers, weights = [], []
    cin = 3
    for i, c in enumerate(convs):
        where = f"conv {i + 1} ({c.name or c.output[0]})"
        if list(attr(c, "kernel_shape", [])) != [3, 3] or list(attr(c, "pads", [0] * 4)) != [1] * 4 \
                or attr(c, "group", 1) != 1 or list(attr(c, "dilations", [1, 1])) != [1, 1]:
            raise _refuse(path, f"{where} is not a 3x3, padding 1, ungrouped conv")
        strides = list(attr(c, "strides", [1, 1]))
        if strides[0] != strides[1] or strides[0] not in (1, 2):
            raise _refuse(path, f"{where} has strides {strides}")
        if len(c.input) < 3:
            raise _refuse(path, f"{where} has no bias (BatchNorm not folded)")
        w, w_scale = dequantized(c.input[1], f"{where} weight", np.int8)
        b, _ = dequantized(c.input[2], f"{where} bias", np.int32)
        if w.ndim != 4 or w.shape[1] != cin or b.shape != (w.shape[0],) or w_scale.size != w.shape[0]:
            raise _refuse(path, f"{where} weight {list(w.shape)} does not follow {cin} input channels with a "
                                "per-channel scale")
        if not any(n.op_type == "Relu" for n in consumers.get(c.output[0], [])):
            raise _refuse(path, f"{where} is not followed by a ReLU")
        layers.append((int(w.shape[0]), int(strides[0])))
        weights.append((w, b))
        cin = int(w.shape[0])
    fc = gemms[0]
    if attr(fc, "transB", 0) != 1 or len(fc.input) < 3:
        raise _refuse(path, "the Gemm is not a Linear layer (transB=1 with a bias)")
    fw, _ = dequantized(fc.input[1], "classifier weight", np.int8)
    fb, _ = dequantized(fc.input[2], "classifier bias", np.int32)
    if fw.ndim != 2 or fw.shape[1] != cin:
        raise _refuse(path, f"classifier weight {list(fw.shape)} does not follow {cin} channels")

    model = Inspector(tuple(layers), classes=int(fw.shape[0]))
    with torch.no_grad():
        for block, (w, b) in zip(model.blocks, weights):
            block.conv.weight.copy_(torch.from_numpy(w))
            identity_bn(block.bn, torch.from_numpy(b))
        model.fc.weight.copy_(torch.from_numpy(fw))
        model.fc.bias.copy_(torch.from_numpy(fb.reshape(-1)))
    model.eval()

    # Fake-quant parameters by the QAT module path the exporter named them after.
    qparams = {}
    for n in g.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.input[1].endswith(".scale"):
            scale, zp = value(n.input[1]), value(n.input[2]) if len(n.input) > 2 else None
            if scale is not None and zp is not None:
                qparams[n.input[1][: -len(".scale")]] = (scale.astype(np.float32), zp)
    return Recovered(model, qparams, tuple(layers))


def identity_bn(bn: torch.nn.BatchNorm2d, bias: torch.Tensor) -> None:
    """BatchNorm computing x + bias in eval mode."""
    bn.weight.fill_(1.0)
    bn.bias.copy_(bias)
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)


@torch.no_grad()
def recalibrate_bn(model: Inspector, split: Split, transform: InputTransform, count: int = 1024, batch: int = 128) -> None:
    """Gives every BatchNorm the mean and variance of its input on `count` frames of `split` and
    rescales its weight and bias so the eval-mode function does not change: gamma = sqrt(var + eps),
    beta = mean + bias. Training mode then normalizes by batch statistics close to these, so
    fine-tuning starts from the base model's behaviour instead of a renormalized one."""
    model.eval()
    sums: dict[int, list] = {}
    hooks = []
    for i, block in enumerate(model.blocks):
        def hook(_m, inputs, _out, i=i):
            x = inputs[0].double()
            s = sums.setdefault(i, [0.0, 0.0, 0])
            s[0] = s[0] + x.sum(dim=(0, 2, 3))
            s[1] = s[1] + (x * x).sum(dim=(0, 2, 3))
            s[2] += x.numel() // x.shape[1]
        hooks.append(block.bn.register_forward_hook(hook))
    idx = np.random.default_rng(0).permutation(len(split))[:count]
    for k in range(0, len(idx), batch):
        model(transform(split.pixels[np.sort(idx[k:k + batch])]))
    for h in hooks:
        h.remove()
    for i, block in enumerate(model.blocks):
        s0, s1, n = sums[i]
        mean = s0 / n
        var = (s1 / n - mean * mean).clamp(min=0)
        bn = block.bn
        bias = bn.bias.detach().double()  # the folded conv bias: the BatchNorm is still the identity
        bn.running_mean.copy_(mean.float())
        bn.running_var.copy_(var.float())
        bn.weight.copy_(torch.sqrt(var + bn.eps).float())
        bn.bias.copy_((mean + bias).float())


def fake_quant_model(rec: Recovered) -> torch.nn.Module:
    """The QAT graph of the recovered model with the base model's own scales and zero points,
    observers off: what onnxruntime runs, in torch."""
    qm = prepare_qat(rec.model)
    modules = dict(qm.named_modules())
    missing = [p for p in rec.qparams if p not in modules]
    fq = [p for p, m in modules.items() if isinstance(m, tq.FakeQuantize)]
    if missing or set(fq) != set(rec.qparams):
        raise DataError(f"the base model's quantization parameters do not match this recipe's QAT graph "
                        f"(unknown: {missing}, not in the model: {sorted(set(fq) - set(rec.qparams))})")
    for p, (scale, zp) in rec.qparams.items():
        m = modules[p]
        m.scale = torch.from_numpy(scale.reshape(-1).astype(np.float32))
        m.zero_point = torch.from_numpy(zp.reshape(-1).astype(np.int32))
    qm.apply(tq.disable_observer)
    return qm.eval()


def onnx_scores(model_dir: str, frames: str, work: str) -> dict[str, float]:
    """The base model's scores through onnxruntime-node and the daemon's preprocessing."""
    out = os.path.join(work, "base-scores.json")
    subprocess.run(["node", os.path.join(ROOT, "dist/src/cli/main.js"), "model", "eval", model_dir, "--data", frames,
                    "--scores", out, "--json"], check=True, stdout=subprocess.DEVNULL)
    return {r["file"]: float(r["score"]) for r in json.load(open(out))}


def agreement(rec: Recovered, packed_prefix: str, scores: dict[str, float], transform: InputTransform,
              labels: list[str], threshold: float) -> dict:
    """Torch (float, and fake-quant with the base's scales) against onnxruntime's int8 scores on
    the same frames, packed by the daemon's preprocessing."""
    split = load_split(packed_prefix, labels)
    files = json.load(open(packed_prefix + ".json"))["files"]
    ref = np.array([scores[f] for f in files])
    out = {"frames": len(ref), "threshold": threshold}
    for name, model in (("fake_quant", fake_quant_model(rec)), ("float", rec.model)):
        p = predict(model, split, transform)
        d = np.abs(p - ref)
        out[name] = {"mean_abs_diff": round(float(d.mean()), 5), "max_abs_diff": round(float(d.max()), 5),
                     "decisions_agree": round(float(((p >= threshold) == (ref >= threshold)).mean()), 5)}
    return out


def check_agreement(a: dict) -> str | None:
    """Why the recovered weights do not reproduce the base model, or None."""
    if a["fake_quant"]["mean_abs_diff"] > MAX_MEAN_DIFF_FAKE_QUANT:
        return (f"torch with the base's int8 scales differs from onnxruntime by {a['fake_quant']['mean_abs_diff']} "
                f"on average (at most {MAX_MEAN_DIFF_FAKE_QUANT})")
    if a["float"]["decisions_agree"] < MIN_AGREEMENT_FLOAT:
        return (f"the float weights decide {a['float']['decisions_agree'] * 100:.1f}% of frames as the base model "
                f"does (at least {MIN_AGREEMENT_FLOAT * 100:.0f}%)")
    return None


def describe(a: dict) -> str:
    f, q = a["float"], a["fake_quant"]
    return (f"on {a['frames']} frames vs onnxruntime int8: fake-quant torch mean |Δscore| {q['mean_abs_diff']}, "
            f"max {q['max_abs_diff']}, decisions agree {q['decisions_agree'] * 100:.2f}%; float weights mean "
            f"|Δscore| {f['mean_abs_diff']}, max {f['max_abs_diff']}, decisions agree {f['decisions_agree'] * 100:.2f}% "
            f"(threshold {a['threshold']})")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir")
    p.add_argument("--frames", required=True, help="a folder of frames with labels.csv")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        rec = recover(a.model_dir)
    except DataError as err:
        print(f"base_weights: {err}", file=sys.stderr)
        return 2
    manifest = json.load(open(os.path.join(a.model_dir, "manifest.json")))
    with tempfile.TemporaryDirectory() as work:
        prefix = os.path.join(work, "frames")
        subprocess.run(["node", os.path.join(ROOT, "dist/src/cli/main.js"), "dataset", "pack", "--data", a.frames,
                        "--model", a.model_dir, "--out", prefix], check=True, stdout=subprocess.DEVNULL)
        res = agreement(rec, prefix, onnx_scores(a.model_dir, a.frames, work), InputTransform(manifest["input"]),
                        manifest["labels"], manifest["decision"]["threshold"])
    res["layers"] = [list(l) for l in rec.layers]
    problem = check_agreement(res)
    res["ok"] = problem is None
    print(json.dumps(res) if a.json else describe(res))
    if problem:
        print(f"base_weights: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
