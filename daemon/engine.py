"""Inference stage: the style network on ONNX Runtime, on the best provider that really works.

`Engine.stylize(bgr, vector) -> bgr` is the stage: image <-> tensor conversion (colour order,
layout, scale, the network's output layout) happens here and nowhere else.

Provider order TensorRT > CUDA > DirectML > CoreML > CPU (configurable). A provider counts as
usable only after a warm-up run on it succeeds: onnxruntime-gpu lists CUDA as available on a
machine with no GPU, and silently falls back to CPU when its libraries fail to load.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .errors import StylecamError
from .messages import first_line
from .styles import STYLE_DIM

log = logging.getLogger(__name__)

ORT_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
FIXES = {
    "tensorrt": "install TensorRT and onnxruntime-gpu, or leave tensorrt out of processing.providers",
    "cuda": "install an NVIDIA driver and the CUDA/cuDNN versions your onnxruntime-gpu needs "
            "(pip install 'onnxruntime-gpu[cuda,cudnn]')",
    "dml": "pip install onnxruntime-directml (Windows)",
    "coreml": "use the onnxruntime wheel for macOS",
    "cpu": "reinstall onnxruntime",
}


class EngineError(StylecamError, RuntimeError):
    pass


def to_blob(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 HxWx3 -> RGB float32 [1,3,H,W] in 0..1 (one pass: swap, scale, transpose)."""
    return cv2.dnn.blobFromImage(bgr, scalefactor=1.0 / 255.0, swapRB=True)


SUBPIXEL_LAYOUTS = {12: "subpixel2", 48: "subpixel4"}  # output channels -> layout


def subpixel_scale(layout: str) -> int:
    """2 for 'subpixel2', 4 for 'subpixel4', 1 for 'rgb'."""
    return int(layout[len("subpixel"):]) if layout.startswith("subpixel") else 1


def from_output(out: np.ndarray, layout: str = "rgb") -> np.ndarray:
    """Network output (RGB float 0..1) -> BGR uint8 HxWx3. 'subpixelS' (S = 2 or 4): [1,3*S*S,h,w]
    where channel c*S*S+S*i+j is colour c of pixel (S*y+i, S*x+j): converted to 8 bits first (one
    saturating pass), then the pixel shuffle is a uint8 copy (DepthToSpace inside ONNX Runtime
    cost more)."""
    s = subpixel_scale(layout)
    if s > 1:
        _, c, h, w = out.shape
        u8 = cv2.convertScaleAbs(out[0].reshape(c, h * w), alpha=255.0).reshape(3, s, s, h, w)[::-1]
        return np.ascontiguousarray(u8.transpose(3, 1, 4, 2, 0)).reshape(s * h, s * w, 3)
    chw = out[0, ::-1]  # RGB -> BGR on the channel axis (a view)
    return cv2.convertScaleAbs(np.ascontiguousarray(chw.transpose(1, 2, 0)), alpha=255.0)


@dataclass
class ProviderChoice:
    name: str
    skipped: dict[str, str] = field(default_factory=dict)  # provider -> why it was not used


DEVICE_PROVIDERS = ("cuda", "tensorrt", "dml")  # providers that take a device_id (processing.device)


def open_session(model: Path | bytes, provider: str = "cpu", threads: int = 0, *, optimize: bool = True,
                 log_level: int = 3, spin: bool = False, inter_threads: int = 0,
                 profile_prefix: str | None = None, device: int = 0):
    """The one way stylecam builds an ONNX Runtime session: `model` (a path, or a serialized
    model) on `provider` alone (a key of ORT_NAMES). Raises EngineError when onnxruntime did not
    really put the session on `provider`: it falls back to CPU silently (a warning, a stdout
    banner) when a provider's libraries fail to load. A first run (Engine's warm-up) is what
    shows the provider really works; this only builds.

    threads: intra-op threads (0: ORT's default). optimize: full graph optimisation, or none.
    spin: let the pool threads busy-wait between runs; off by default: they measured 67-94 % of
    a core at 15 runs/s against 6-39 % without, at the same run time (docs/benchmarks.md#on-demand),
    and the CPU would not follow the frame rate. profile_prefix: ORT's profiler on, files there.
    device: which GPU (ONNX Runtime's device_id) for cuda, tensorrt and dml.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = log_level
    opts.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                     else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    if threads:
        opts.intra_op_num_threads = threads
    if inter_threads:
        opts.inter_op_num_threads = inter_threads
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if provider == "cpu":
        # ORT's CPU arena keeps the largest frame's buffers for the life of the session: one
        # rise of the controller to 1280x720 left the detail network at 230 MB against 164 MB
        # without the arena, at the same time per frame (40.6 vs 40.9 ms median at 856x488,
        # interleaved in one process).
        opts.enable_cpu_mem_arena = False
    if profile_prefix:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    options = {}
    if provider == "tensorrt":
        options = {"trt_fp16_enable": True, "trt_engine_cache_enable": True}
    if provider in DEVICE_PROVIDERS and device:
        options["device_id"] = int(device)
    prov = [(ORT_NAMES[provider], options)] if options else [ORT_NAMES[provider]]
    # a provider that falls back is reported by the check below instead of a warning and the
    # "EP Error" banners onnxruntime prints
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", UserWarning)
        sess = ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts, providers=prov)
    if sess.get_providers()[0] != ORT_NAMES[provider]:
        raise EngineError(f"onnxruntime fell back to {sess.get_providers()[0]}")
    return sess


def check_model(model: Path) -> None:
    """The model file exists and ONNX Runtime's CPU provider can load it: otherwise the fault is
    the file, whatever the GPU providers would say (EngineError naming the fix)."""
    model = Path(model)
    fix = "reinstall stylecam (pip install --force-reinstall stylecam) or train the network again (stylecam train)"
    if not model.is_file():
        raise EngineError(f"model file {model} is missing: {fix}")
    try:
        open_session(model, "cpu", optimize=False, log_level=4, spin=True)
    except Exception as exc:  # noqa: BLE001  (protobuf parse errors, truncated files, bad graphs)
        raise EngineError(f"model file {model} is damaged ({first_line(exc, 120)}): {fix}") from None


class Engine:
    """Runs image [1,3,H,W] float32 RGB 0..1 + style [1,STYLE_DIM] -> stylized [1,3,H,W]."""

    def __init__(self, model: Path, providers: list[str], threads: int = 0,
                 warmup_size: tuple[int, int] = (64, 48), device: int = 0):
        import onnxruntime as ort

        check_model(model)
        self.model_path = Path(model)
        available = set(ort.get_available_providers())
        # a provider that cannot load prints a red error per attempt; the reason is kept in
        # self.choice.skipped (logged and shown in /status) instead
        ort.set_default_logger_severity(4)
        self.choice = ProviderChoice(name="")
        self.session = None
        for name in providers:
            if ORT_NAMES[name] not in available:
                self.choice.skipped[name] = f"not in this onnxruntime build ({FIXES[name]})"
                continue
            try:
                sess = open_session(model, name, threads, device=device)
                self.layout = self._layout(sess)
                self._warm_up(sess, warmup_size, self.layout)
            except Exception as exc:  # any failure means: not usable here
                self.choice.skipped[name] = f"warm-up failed: {first_line(exc)} ({FIXES[name]})"
                continue
            self.session, self.choice.name = sess, name
            break
        if self.session is None:
            reasons = "; ".join(f"{k}: {v}" for k, v in self.choice.skipped.items())
            raise EngineError(f"no ONNX Runtime provider could run {model.name}: {reasons}")
        for name, why in self.choice.skipped.items():
            log.info("provider %s skipped: %s", name, why)
        log.info("inference on %s", self.choice.name)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.output = self.session.get_outputs()[0].name

    @staticmethod
    def _layout(sess) -> str:
        """The output layout, from the model's declared output channels (12 or 48: sub-pixels)."""
        return SUBPIXEL_LAYOUTS.get(sess.get_outputs()[0].shape[1], "rgb")

    @staticmethod
    def _warm_up(sess, size, layout: str = "rgb") -> None:
        w, h = size
        feeds = {}
        for inp in sess.get_inputs():
            if len(inp.shape) == 4:
                feeds[inp.name] = np.full((1, 3, h, w), 0.5, np.float32)
            else:
                feeds[inp.name] = np.zeros((1, STYLE_DIM), np.float32)
        out = sess.run(None, feeds)[0]
        k = subpixel_scale(layout)
        expected = (1, 3 * k * k, h // k, w // k)
        if out.shape != expected:
            raise EngineError(f"warm-up output has shape {list(out.shape)}, expected {list(expected)} "
                              "(not a stylecam style model, or a manifest that does not match it?)")
        if not np.isfinite(out).all():
            raise EngineError("warm-up output has non-finite values (NaN or infinity)")

    @property
    def provider(self) -> str:
        return self.choice.name

    def stylize(self, bgr: np.ndarray, style: np.ndarray | None) -> np.ndarray:
        """BGR uint8 HxWx3 (sides multiples of the model's stride) -> stylized BGR uint8, same size."""
        return from_output(self.run(to_blob(bgr), style), self.layout)

    def run(self, image: np.ndarray, style: np.ndarray | None) -> np.ndarray:
        """The raw network: [1,3,H,W] float RGB 0..1 -> its output tensor (see `layout`)."""
        feeds = {self.inputs[0]: image}
        if len(self.inputs) > 1:
            feeds[self.inputs[1]] = style.reshape(1, -1).astype(np.float32, copy=False)
        return self.session.run([self.output], feeds)[0]
