"""Quantization-aware training set-up and export to a standard int8 QDQ ONNX graph.

What Debian's torch 1.13.1 can export (checked on this machine): eager-mode QAT with plain
FakeQuantize modules and moving-average observers, BatchNorm folded into the convs first,
observers disabled before `torch.onnx.export(opset_version=13)`. The default QAT qconfigs emit
`fused_moving_avg_obs_fake_quant`, which the exporter rejects.

The raw export stores weights as float32 followed by QuantizeLinear -> DequantizeLinear, and
biases as float32. `finalize_int8` stores the weights as int8 and the biases as int32 (the form
onnxruntime's QDQ-to-QLinearConv fusion needs), so the file is small and runs int8 kernels.
"""

from __future__ import annotations

import copy

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn
from torch.ao import quantization as tq
from torch.nn.utils.fusion import fuse_conv_bn_eval

from net import Inspector

ACT_FAKE_QUANT = tq.FakeQuantize.with_args(
    observer=tq.MovingAverageMinMaxObserver,
    quant_min=0,
    quant_max=255,
    dtype=torch.quint8,
    qscheme=torch.per_tensor_affine,
    reduce_range=False,
)
WEIGHT_FAKE_QUANT = tq.FakeQuantize.with_args(
    observer=tq.MovingAveragePerChannelMinMaxObserver,
    quant_min=-128,
    quant_max=127,
    dtype=torch.qint8,
    qscheme=torch.per_channel_symmetric,
    ch_axis=0,
    reduce_range=False,
)
QCONFIG = tq.QConfig(activation=ACT_FAKE_QUANT, weight=WEIGHT_FAKE_QUANT)


class QuantInspector(nn.Module):
    """The pruned Inspector with BatchNorm folded and quant stubs where int8 starts and ends."""

    def __init__(self, model: Inspector) -> None:
        super().__init__()
        model = copy.deepcopy(model).eval()
        self.quant = tq.QuantStub()
        self.features = nn.Sequential(
            *[nn.Sequential(fuse_conv_bn_eval(b.conv, b.bn), nn.ReLU()) for b in model.blocks]
        )
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc_quant = tq.QuantStub()  # keeps the classifier's input in int8 after pooling
        self.fc = model.fc
        self.dequant = tq.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(self.quant(x)))
        return self.dequant(self.fc(self.fc_quant(torch.flatten(x, 1))))


def prepare_qat(model: Inspector) -> QuantInspector:
    torch.backends.quantized.engine = "qnnpack"
    qm = QuantInspector(model)
    tq.fuse_modules(qm, [[f"features.{i}.0", f"features.{i}.1"] for i in range(len(qm.features))], inplace=True)
    qm.qconfig = QCONFIG
    qm.train()
    tq.prepare_qat(qm, inplace=True)
    return qm


def freeze_observers(qm: nn.Module) -> None:
    qm.apply(tq.disable_observer)


def export_qdq(qm: QuantInspector, path: str, height: int, width: int) -> None:
    qm = copy.deepcopy(qm).eval()
    freeze_observers(qm)
    dummy = torch.zeros(1, 3, height, width)
    torch.onnx.export(
        qm, dummy, path, opset_version=13, input_names=["image"], output_names=["logits"],
        do_constant_folding=True,
    )


def export_fp32(model: nn.Module, path: str, height: int, width: int) -> None:
    model = copy.deepcopy(model).eval()
    dummy = torch.zeros(1, 3, height, width)
    torch.onnx.export(
        model, dummy, path, opset_version=13, input_names=["image"], output_names=["logits"],
        do_constant_folding=True,
    )


def _quantize_array(w: np.ndarray, scale: np.ndarray, zp: np.ndarray, axis: int) -> np.ndarray:
    if scale.ndim == 1 and scale.size > 1:
        shape = [1] * w.ndim
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    info = np.iinfo(zp.dtype)
    q = np.rint(w / scale) + zp.astype(np.int64)  # rint = round half to even, as ONNX does
    return np.clip(q, info.min, info.max).astype(zp.dtype)


def graph_constants(g):
    """The graph's initializers by name (a dict the caller may add to) and `value(name)`: a
    tensor's constant value, following Identity aliases, from an initializer or a Constant node;
    None when it is computed."""
    inits = {i.name: i for i in g.initializer}
    consts = {n.output[0]: n for n in g.node if n.op_type == "Constant"}
    # The exporter sometimes passes a shared scale or zero point through an Identity node.
    aliases = {n.output[0]: n.input[0] for n in g.node if n.op_type == "Identity"}

    def value(name: str) -> np.ndarray | None:
        while name in aliases:
            name = aliases[name]
        if name in inits:
            return numpy_helper.to_array(inits[name])
        if name in consts:
            return numpy_helper.to_array(consts[name].attribute[0].t)
        return None

    return inits, value


def finalize_int8(src: str, dst: str) -> dict:
    """Rewrites weight Q->DQ pairs as int8 initializers and float biases as int32 + DQ."""
    m = onnx.load(src)
    g = m.graph
    inits, value = graph_constants(g)

    def add_init(arr: np.ndarray, name: str) -> str:
        g.initializer.append(numpy_helper.from_array(arr, name))
        inits[name] = g.initializer[-1]
        return name

    producer = {o: n for n in g.node for o in n.output}
    folded = 0
    rename: dict[str, str] = {}
    keep = []
    for n in g.node:
        if n.op_type == "QuantizeLinear" and value(n.input[0]) is not None:
            w = value(n.input[0]).astype(np.float32)
            scale, zp = value(n.input[1]), value(n.input[2])
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            q = _quantize_array(w, scale.astype(np.float32), zp, axis)
            rename[n.output[0]] = add_init(q, n.output[0] + "_int8")
            folded += 1
            continue
        keep.append(n)
    for n in keep:
        for i, name in enumerate(n.input):
            if name in rename:
                n.input[i] = rename[name]

    # Float biases of quantized Conv/Gemm -> int32 with scale = input scale * weight scale.
    producer = {o: n for n in keep for o in n.output}
    biased = 0
    new_nodes = []
    for n in keep:
        if n.op_type in ("Conv", "Gemm") and len(n.input) == 3:
            x_dq, w_dq = producer.get(n.input[0]), producer.get(n.input[1])
            b = value(n.input[2])
            if x_dq is not None and w_dq is not None and b is not None and \
                    x_dq.op_type == w_dq.op_type == "DequantizeLinear":
                s_x = value(x_dq.input[1]).astype(np.float64)
                s_w = value(w_dq.input[1]).astype(np.float64)
                scale = (s_x * s_w).astype(np.float32).reshape(-1)
                q = np.rint(b.astype(np.float64) / scale).astype(np.int32)
                base = n.input[2]
                qname = add_init(q, base + "_int32")
                sname = add_init(scale, base + "_scale")
                zname = add_init(np.zeros(scale.shape, np.int32), base + "_zp")
                out = base + "_dq"
                new_nodes.append(helper.make_node(
                    "DequantizeLinear", [qname, sname, zname], [out], name=out, axis=0))
                n.input[2] = out
                biased += 1
        new_nodes.append(n)
    del g.node[:]
    g.node.extend(new_nodes)

    used = {i for n in g.node for i in n.input}
    live = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(live)
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    return {"weights_int8": folded, "biases_int32": biased}
