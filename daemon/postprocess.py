"""Postprocess stage: edge-aware upsampling from the processing size to the output size,
then strength (blend with the original), colour preservation and mirror.

Upsampling: bilinear alone smears every edge. We add back the detail that shrinking removed
from the full-resolution camera frame, scaled per pixel and per channel by the local linear
coefficient between the stylized image and the guide (the guided filter's A, He et al. 2013,
computed at low resolution as in the fast guided filter). Where the style follows the picture's
edges, they come back sharp; where it paints over them, nothing is added.
"""
from __future__ import annotations

import time

import cv2
import numpy as np


class Upsampler:
    def __init__(self, radius: int = 2, eps: float = 1e-3):
        self.radius, self.eps = radius, eps
        self.small_ms = 0.0  # the last call's time at the processing size (the coefficients)

    def __call__(self, stylized_small: np.ndarray, guide_small: np.ndarray, guide_full: np.ndarray) -> np.ndarray:
        oh, ow = guide_full.shape[:2]
        if stylized_small.shape[:2] == (oh, ow):
            self.small_ms = 0.0
            return stylized_small
        t0 = time.perf_counter()
        k = (2 * self.radius + 1,) * 2
        p = stylized_small.astype(np.float32) * (1 / 255)
        i = cv2.cvtColor(guide_small, cv2.COLOR_BGR2GRAY).astype(np.float32) * (1 / 255)
        mean_i = cv2.blur(i, k)
        var_i = cv2.blur(i * i, k) - mean_i * mean_i
        mean_p = cv2.blur(p, k)
        cov = cv2.blur(p * i[..., None], k) - mean_p * mean_i[..., None]
        a = cv2.blur(cov / (var_i[..., None] + self.eps), k)
        self.small_ms = (time.perf_counter() - t0) * 1000
        # full resolution: only OpenCV calls (SIMD, threaded, no float temporaries in numpy)
        detail = cv2.cvtColor(guide_full, cv2.COLOR_BGR2GRAY).astype(np.float32)
        detail = cv2.subtract(detail, cv2.resize(i * 255, (ow, oh), interpolation=cv2.INTER_LINEAR))
        corr = cv2.multiply(cv2.resize(a, (ow, oh), interpolation=cv2.INTER_LINEAR), cv2.merge([detail] * 3))
        up = cv2.resize(stylized_small, (ow, oh), interpolation=cv2.INTER_LINEAR)
        return cv2.add(up, corr, dtype=cv2.CV_8U)


def preserve_color(stylized: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Luminance from the stylized frame, chroma from the camera frame (YCrCb)."""
    s = cv2.cvtColor(stylized, cv2.COLOR_BGR2YCrCb)
    o = cv2.cvtColor(original, cv2.COLOR_BGR2YCrCb)
    s[..., 1:] = o[..., 1:]
    return cv2.cvtColor(s, cv2.COLOR_YCrCb2BGR)


def finish(stylized: np.ndarray, original: np.ndarray, *, strength: float = 1.0,
           keep_color: bool = False, mirror: bool = False) -> np.ndarray:
    out = stylized
    if keep_color:
        out = preserve_color(out, original)
    if strength < 1.0:
        out = cv2.addWeighted(out, strength, original, 1.0 - strength, 0)
    if mirror:
        out = cv2.flip(out, 1)
    return out
