"""Export a trained StyleNet to ONNX (dynamic H, W) and write the style manifest."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import yaml

from .model import BORDER, STYLE_DIM, StyleNet, build

MODEL_FILE = "stylenet.onnx"
WEIGHTS_FILE = "stylenet_weights.npz"


class _Packed(torch.nn.Module):
    """A scale-s network without its final pixel shuffle: ONNX output [1,3*s*s,H/s,W/s]."""

    def __init__(self, net: StyleNet):
        super().__init__()
        self.net = net

    def forward(self, image, style):
        return self.net(image, style, packed=True)


def output_layout(net: StyleNet) -> str:
    """How the ONNX output is laid out (the manifest's `output`, read by the engine)."""
    return f"subpixel{net.scale}" if net.scale > 1 else "rgb"


def _output_doc(s: int) -> str:
    if s == 1:
        return "stylized: float32 [1,3,H,W] RGB 0..1"
    return (f"stylized: float32 [1,{3 * s * s},H/{s},W/{s}] RGB 0..1, channel c*{s * s}+{s}*i+j is colour c "
            f"of pixel ({s}y+i, {s}x+j) (ONNX DepthToSpace, CRD)")


def export_onnx(net: StyleNet, path: Path, opset: int = 17) -> None:
    net = net.eval()
    x = torch.rand(1, 3, 128, 160)
    s = torch.zeros(1, STYLE_DIM)
    module = _Packed(net) if net.scale > 1 else net
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (x, s), str(path), input_names=["image", "style"], output_names=["stylized"],
            dynamic_axes={"image": {2: "height", 3: "width"}, "stylized": {2: "out_height", 3: "out_width"}},
            opset_version=opset, dynamo=False, do_constant_folding=True,
        )


def save_weights(net: StyleNet, path: Path) -> None:
    """The PyTorch weights as plain numpy (used by custom-style training; no pickle)."""
    arrays = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    np.savez_compressed(path, **arrays)


def load_weights(path: Path, config: dict) -> StyleNet:
    net = build(config)
    with np.load(path) as data:
        net.load_state_dict({k: torch.from_numpy(data[k]) for k in data.files})
    return net.eval()


def write_manifest(out_dir: Path, styles: list[dict], net: StyleNet, extra: dict | None = None) -> Path:
    """styles: [{name, title, artist, year, default_strength, vector}]"""
    manifest = {
        "format": 1,
        "model": MODEL_FILE,
        "weights": WEIGHTS_FILE,
        "architecture": net.config,
        "stride": net.stride,
        "min_size": net.scale * 2 * BORDER + net.stride,
        "output": output_layout(net),
        "inputs": {"image": "float32 NCHW RGB 0..1, H and W multiples of stride",
                   "style": f"float32 [1,{STYLE_DIM}] style vector"},
        "outputs": _output_doc(net.scale),
        "styles": [
            {**{k: s[k] for k in ("name", "title", "artist", "year", "default_strength")},
             "vector": [round(float(v), 6) for v in s["vector"]]}
            for s in styles
        ],
    }
    if extra:
        manifest.update(extra)
    path = out_dir / "styles.yaml"
    manifest.update(_kept_networks(path, manifest["styles"]))
    path.write_text(yaml.safe_dump(manifest, sort_keys=False, width=100))
    return path


def _kept_networks(path: Path, styles: list[dict]) -> dict:
    """The quality presets' networks (`networks`) of the manifest being replaced, when it names
    the same styles and their files are there: training the main network into models/
    (scripts/train_builtin.sh) must not drop the detail network of `balanced` and `best`."""
    if not path.exists():
        return {}
    old = yaml.safe_load(path.read_text()) or {}
    networks = old.get("networks") or {}
    same = [s["name"] for s in old.get("styles") or []] == [s["name"] for s in styles]
    if not networks or not same or not all((path.parent / n["model"]).exists() for n in networks.values()):
        return {}
    return {"networks": networks}


def export_all(net: StyleNet, out_dir: Path, styles: list[dict], extra: dict | None = None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    export_onnx(net, out_dir / MODEL_FILE)
    save_weights(net, out_dir / WEIGHTS_FILE)
    write_manifest(out_dir, styles, net, extra)
