"""Reduced-precision variants of the shipped network: fp16 weights and int8 (static, QDQ).

    python -m stylecam.training.variants --models models --content data/train

int8 is calibrated on training frames (never the held-out ones) through every style, so the
activation ranges cover all eight. Both files are listed in the manifest under `variants`;
`processing.precision` picks one at run time. Whether they keep quality is measured by
training/quality.py --variant (see docs/quality.md), not assumed.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import yaml

from .dataset import list_content, read_frames, read_rgb
from .errors import TrainingError, exits_on_error
from .quality import fit

CALIBRATION_SIZE = (640, 360)


def calibration_inputs(content: Path, vectors: list[np.ndarray], count: int = 16) -> list[dict]:
    images, videos = list_content(content)
    frames = [read_rgb(p) for p in images[: count // 2]]
    for v in videos:
        frames += read_frames(v, step=15, limit=max(1, count // (2 * max(1, len(videos)))))
    frames = [fit(f, CALIBRATION_SIZE) for f in frames[:count]]
    return [{"image": f.astype(np.float32).transpose(2, 0, 1)[None] / 255.0,
             "style": vectors[i % len(vectors)][None]} for i, f in enumerate(frames)]


def make_fp16(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(src)), keep_io_types=True), str(dst))


def make_int8(src: Path, dst: Path, inputs: list[dict]) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(inputs)

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)


@exits_on_error
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=Path("models"), help="folder with styles.yaml")
    ap.add_argument("--content", type=Path, required=True, help="training photos/clips for int8 calibration")
    ap.add_argument("--network", metavar="PRESET",
                    help="the variants of the network the manifest lists for this quality preset "
                         "(its `networks` entry) instead of the main one")
    a = ap.parse_args(argv)
    manifest_path = a.models / "styles.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    entry = manifest
    if a.network:
        entry = (manifest.get("networks") or {}).get(a.network)
        if entry is None:
            raise TrainingError(f"{manifest_path} lists no network for {a.network!r} under 'networks'; "
                                "install one with python -m stylecam.training.networks")
    src = a.models / entry["model"]
    stem = src.stem
    vectors = [np.asarray(s["vector"], np.float32) for s in manifest["styles"]]
    make_fp16(src, a.models / f"{stem}_fp16.onnx")
    make_int8(src, a.models / f"{stem}_int8.onnx", calibration_inputs(a.content, vectors))
    entry["variants"] = {"fp16": f"{stem}_fp16.onnx", "int8": f"{stem}_int8.onnx"}
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False, width=100))
    print(f"wrote {stem}_fp16.onnx and {stem}_int8.onnx; manifest lists them under 'variants'")


if __name__ == "__main__":
    main()
