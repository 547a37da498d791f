"""The panel's pictures: the live preview and the style thumbnails, as JPEG.

Nothing here runs per frame. The pipeline keeps a reference to its latest camera frame and the
frame it published (`Pipeline.latest`); a JPEG is made only when a panel asks for one, at most once per frame
and view however many panels are open, so with no panel open the preview costs nothing.
"""
from __future__ import annotations

import threading

import cv2
import numpy as np

from .. import postprocess, preprocess

PREVIEW_WIDTH = 480
THUMB_SIZE = (224, 128)  # multiples of 16: every network stride fits
JPEG_QUALITY = 75
VIEWS = ("stylized", "original")


def encode_jpeg(image: np.ndarray, width: int | None = None) -> bytes:
    if width and image.shape[1] > width:
        height = max(2, round(image.shape[0] * width / image.shape[1]))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


class Preview:
    def __init__(self, pipeline, width: int = PREVIEW_WIDTH):
        self.pipeline, self.width = pipeline, width
        self._lock = threading.Lock()
        self._cache: dict[str, tuple] = {}  # view -> (the frames it was made from, JPEG)
        self.encoded = 0  # JPEGs made (the tests check that an idle panel makes none)

    def jpeg(self, view: str) -> bytes | None:
        """The latest frame as a scaled-down JPEG: `stylized` (what the outputs get) or
        `original` (the camera, mirrored like the output). None before the first frame."""
        frames = self.pipeline.latest
        if frames is None:
            return None
        with self._lock:
            cached = self._cache.get(view)
            if cached is not None and cached[0] is frames:
                return cached[1]
            camera, image = frames
            out_w, out_h = self.pipeline.out_size
            width = min(self.width, out_w)  # scaled down, never up
            if view == "original":  # cropped like the output, at the preview's size
                image = preprocess.fit_to(camera, (width, max(2, round(width * out_h / out_w))))
                if self.pipeline.style.mirror:
                    image = cv2.flip(image, 1)
            data = encode_jpeg(image, width)
            self._cache[view] = (frames, data)
            self.encoded += 1
            return data


class Thumbnails:
    """One small picture per style: the camera frame of the moment through that style (the demo
    scene before the first frame), made on first request and kept until refresh()."""

    def __init__(self, pipeline, catalogue, size: tuple[int, int] = THUMB_SIZE):
        self.pipeline, self.catalogue, self.size = pipeline, catalogue, size
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] = {}
        self._source: np.ndarray | None = None  # every thumbnail of one round shows the same frame

    def refresh(self) -> None:
        with self._lock:
            self._cache.clear()
            self._source = None

    def jpeg(self, name: str) -> bytes:
        """StyleError (unknown style) propagates; the message lists the styles."""
        style = self.catalogue.get(name)
        with self._lock:
            if name in self._cache:
                return self._cache[name]
            if self._source is None:
                self._source = preprocess.fit_to(self._frame(), self.size)
            small = self._source
            out = self.pipeline.engine.stylize(small, style.vector)
            image = postprocess.finish(out, small, strength=min(1.0, style.default_strength))
            data = self._cache[name] = encode_jpeg(image)
            return data

    def _frame(self) -> np.ndarray:
        latest = self.pipeline.latest
        if latest is not None:
            return latest[0]
        from ..demo import DemoScene

        return DemoScene(*self.size).read()[1]
