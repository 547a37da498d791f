"""The look of a published frame, measured without the teacher: the block-grid measure.

`grid_ratio(frame, period)`: the mean step between neighbouring pixels, taken separately at each
phase of a `period`-pixel grid (x and y), largest phase over smallest, the worse axis. A photo
measures 1.00 and Magenta's network run at full size 1.03-1.17; a 2-pixel nearest-neighbour
pattern (the first decoder) 2.0; a bilinear x2 upscale of painted texture ~1.35. Measured at the
size the daemon publishes (100 %), on gray. `look_figures` adds the period of the processing
grid (the upscale factor) when that is a whole number of pixels of at least 3.
"""
from __future__ import annotations

import cv2
import numpy as np


def grid_ratio(frame_bgr: np.ndarray, period: int = 2) -> float:
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    worst = 1.0
    for steps in (np.abs(np.diff(gray, axis=1)), np.abs(np.diff(gray, axis=0)).T):
        n = steps.shape[1] // period * period
        if n < 2 * period:
            continue
        phases = steps[:, :n].reshape(steps.shape[0], -1, period).mean(axis=(0, 1))
        worst = max(worst, float(phases.max() / max(phases.min(), 1e-6)))
    return worst


def look_figures(frame_bgr: np.ndarray, proc_size: tuple[int, int]) -> dict:
    """Grid figures of one published frame painted at `proc_size`: at the output's own 2-pixel
    period, at the processing grid (the upscale factor) and at the network's 2-pixel grid seen
    through the upscale (twice the factor), each where it is a whole number of pixels."""
    factor = frame_bgr.shape[1] / proc_size[0]
    periods = {2}
    for p in (factor, 2 * factor):
        if p >= 2.5 and abs(p - round(p)) < 0.05:
            periods.add(round(p))
    ratios = {f"grid_ratio_{p}px": round(grid_ratio(frame_bgr, p), 3) for p in sorted(periods)}
    return {"upscale": round(factor, 2), "grid_ratio": max(ratios.values()), **ratios}
