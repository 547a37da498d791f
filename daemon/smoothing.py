"""Temporal smoothing stage, on the small processing-size frames.

Modes (a small registry, pick by name):
  off   the network's output as it is
  ema   motion-adaptive running average: where the input moved, take the new frame; where it
        stood still, average with the previous output (noise and texture shimmer go away)
  flow  DIS optical flow between consecutive input frames warps the previous stylized frame
        onto the current one; a confidence mask from the photometric error of that warp keeps
        moving edges and disocclusions from ghosting
"""
from __future__ import annotations

import cv2
import numpy as np


class Smoother:
    name = "off"

    def apply(self, stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
        return stylized

    def reset(self) -> None:
        pass


class EmaSmoother(Smoother):
    name = "ema"

    def __init__(self, keep: float = 0.6, motion_scale: float = 12.0):
        self.keep, self.motion_scale = keep, motion_scale
        self.prev_out: np.ndarray | None = None
        self.prev_in: np.ndarray | None = None

    def reset(self) -> None:
        self.prev_out = self.prev_in = None

    def apply(self, stylized, content):
        gray = cv2.cvtColor(content, cv2.COLOR_BGR2GRAY)
        if self.prev_out is None or self.prev_out.shape != stylized.shape:
            self.prev_out, self.prev_in = stylized, gray
            return stylized
        motion = cv2.GaussianBlur(cv2.absdiff(gray, self.prev_in), (5, 5), 0).astype(np.float32)
        keep = self.keep * np.exp(-motion / self.motion_scale)[..., None]
        out = (stylized * (1 - keep) + self.prev_out * keep + 0.5).astype(np.uint8)  # round, not truncate
        self.prev_out, self.prev_in = out, gray
        return out


class FlowSmoother(Smoother):
    name = "flow"

    def __init__(self, keep: float = 0.8, sigma: float = 12.0, deadband: float = 0.75):
        self.keep, self.sigma, self.deadband = keep, sigma, deadband
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.prev_out: np.ndarray | None = None
        self.prev_in: np.ndarray | None = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        # the confidence of the warp for each photometric error 0..255 (a table: no exp per pixel)
        err = np.arange(256, dtype=np.float32)
        self._confidence = (keep * np.exp(-(err / sigma) ** 2)).astype(np.float32)
        self._dilate = np.ones((3, 3), np.uint8)

    def reset(self) -> None:
        self.prev_out = self.prev_in = None

    def _base_grid(self, h: int, w: int):
        if self._grid is None or self._grid[0].shape != (h, w):
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = (gx, gy)
        return self._grid

    def apply(self, stylized, content):
        # OpenCV calls only (SIMD, no float temporaries in numpy): this runs on every frame
        gray = cv2.cvtColor(content, cv2.COLOR_BGR2GRAY)
        if self.prev_out is None or self.prev_out.shape != stylized.shape:
            self.prev_out, self.prev_in = stylized, gray
            return stylized
        h, w = gray.shape
        flow = self.dis.calc(gray, self.prev_in, None)  # current -> previous
        fx, fy = cv2.split(flow)
        # Sub-pixel flow on a still scene is sensor noise; warping by it resamples the
        # accumulated output every frame and blurs the brush texture. Snap it to zero.
        moving = cv2.compare(cv2.magnitude(fx, fy), self.deadband, cv2.CMP_GE)
        gx, gy = self._base_grid(h, w)
        mx, my = gx.copy(), gy.copy()
        cv2.add(gx, fx, mx, mask=moving)
        cv2.add(gy, fy, my, mask=moving)
        warped_out = cv2.remap(self.prev_out, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        warped_in = cv2.remap(self.prev_in, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        err = cv2.dilate(cv2.GaussianBlur(cv2.absdiff(gray, warped_in), (5, 5), 0), self._dilate)
        keep = cv2.LUT(err, self._confidence)
        inside = cv2.bitwise_and(cv2.inRange(mx, 0, w - 1), cv2.inRange(my, 0, h - 1))
        keep = cv2.bitwise_and(keep, keep, mask=inside)  # outside the frame: the new output only
        out = cv2.blendLinear(warped_out, stylized, keep, cv2.subtract(1.0, keep))
        self.prev_out, self.prev_in = out, gray
        return out


SMOOTHERS = {"off": Smoother, "ema": EmaSmoother, "flow": FlowSmoother}


def make_smoother(mode: str) -> Smoother:
    try:
        return SMOOTHERS[mode]()
    except KeyError:
        raise ValueError(f"unknown smoothing mode {mode!r}; use one of {', '.join(SMOOTHERS)}") from None
