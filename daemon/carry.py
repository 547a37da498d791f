"""Carry stage: the last painting, moved onto the current frame along the optical flow.

The network need not paint every frame. Between two paintings, each new frame gets the latest
painting warped by the motion from the frame it was painted from to this one (DIS optical flow,
on gray frames at half the processing size, current -> key). A still scene stays exactly the
painting (flow below `deadband` pixels is sensor noise and snapped to zero, so the brush texture
is not resampled); a moving one follows the motion until the next painting arrives, a few frames
later. Every carried frame is warped from the painting itself, never from an earlier carried
frame, so nothing accumulates. A frame the motion does not explain (a cut, the camera covered:
the painted frame, moved by the flow, differs from it almost everywhere) is not carried: the
caller paints it (framepath).
"""
from __future__ import annotations

import cv2
import numpy as np


class Carry:
    """finest_scale, patch_stride: DIS's settings (its ULTRAFAST preset otherwise). Its preset
    (finest scale 2, stride 4) stops at a quarter of the flow size, 107x61 for a 856x488
    painting, and the carried frames of the held-out clips lagged the motion: the published
    stream's warping error was 8 % above the network painting every frame. Finest scale 1,
    stride 6: 20 % below the preset's error and 14 % below painting every frame, for 0.5-1 ms
    more per frame timed alone (stride 4: 27 % below, 3 ms more; training/live_look.py's warping
    error, two clips and two styles at 1280x720). In the bench the carry stage measured 8.9 ms a
    frame at 1280x720, 6.7 in the run before (docs/benchmarks.md).
    """

    def __init__(self, flow_scale: float = 0.5, deadband: float = 0.75, lost_error: int = 24,
                 lost_share: float = 0.1, finest_scale: int = 1, patch_stride: int = 6):
        self.flow_scale, self.deadband = flow_scale, deadband
        self.lost_error, self.lost_share = lost_error, lost_share
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self.dis.setFinestScale(finest_scale)
        self.dis.setPatchStride(patch_stride)
        self.painting: np.ndarray | None = None
        self._key: np.ndarray | None = None       # the painted frame, gray at the flow size
        self._key_input: np.ndarray | None = None  # the very array it was painted from
        self.lost = 0  # frames the motion did not explain (painted anew)

    @property
    def ready(self) -> bool:
        return self.painting is not None

    def reset(self) -> None:
        self.painting = self._key = self._key_input = None

    def _gray(self, small: np.ndarray) -> np.ndarray:
        h, w = small.shape[:2]
        size = (max(8, round(w * self.flow_scale)), max(8, round(h * self.flow_scale)))
        return cv2.resize(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA)

    def key(self, painting: np.ndarray, small: np.ndarray) -> None:
        """A new painting of the frame `small` (both at the processing size)."""
        self.painting, self._key_input, self._key = painting, small, self._gray(small)

    def __call__(self, small: np.ndarray) -> np.ndarray | None:
        """The painting moved onto `small` (the same processing size), or None when the motion
        does not explain this frame (a new scene: paint it)."""
        if self.painting is None:
            raise RuntimeError("no painting to carry yet")
        if small is self._key_input:
            return self.painting
        h, w = self.painting.shape[:2]
        if small.shape[:2] != (h, w):
            raise ValueError(f"frame is {small.shape[1]}x{small.shape[0]}, the painting {w}x{h}")
        cur = self._gray(small)
        flow = self.dis.calc(cur, self._key, None)  # for each pixel now: where it was in the key
        if self._lost(cur, self._key, flow):
            self.lost += 1
            return None
        # in processing-size pixels; sub-pixel motion is sensor noise, snapped to zero (at the
        # flow size: the map's edges between still and moving come out smooth at full size)
        fx, fy = cv2.split(flow)
        cv2.multiply(fx, w / cur.shape[1], fx)
        cv2.multiply(fy, h / cur.shape[0], fy)
        still = cv2.magnitude(fx, fy) < self.deadband
        if still.all():
            return self.painting
        fx[still] = 0
        fy[still] = 0
        shift = cv2.resize(cv2.merge([fx, fy]), (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.remap(self.painting, shift, None, cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)

    def _lost(self, cur: np.ndarray, key: np.ndarray, flow: np.ndarray) -> bool:
        """The flow does not explain this frame (a cut, the camera covered, a new scene): more
        than `lost_share` of the key frame, moved by it, is off by over `lost_error` gray levels.
        Ordinary motion measures 0-4 % on the held-out clips, a cut over 40 %."""
        moved = cv2.remap(key, flow, None, cv2.INTER_LINEAR | cv2.WARP_RELATIVE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
        off = cv2.compare(cv2.absdiff(cur, moved), self.lost_error, cv2.CMP_GT)
        return cv2.countNonZero(off) > self.lost_share * off.size
