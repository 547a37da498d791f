"""The look of a published frame, measured without the teacher: the block-grid measure.

`grid_ratio(frame, period)`: the mean step between neighbouring pixels, taken separately at each
phase of a `period`-pixel grid (x and y), largest phase over smallest, the worse axis. A photo
measures 1.00 and Magenta's network run at full size 1.03-1.17; a 2-pixel nearest-neighbour
pattern (the first decoder) 2.0; a bilinear x2 upscale of painted texture ~1.35. Measured at the
size the daemon publishes (100 %), on gray. `look_figures` checks every period from 2 to 8
pixels and the processing grid's (the upscale factor, when a whole number of pixels). An
upscale by a factor p/q with a small p (2, 1.5, 4/3) lays interpolated pixels in a pattern that
repeats every p output pixels (painted texture: 1.5-1.9 at that period); `upscale_period` finds
it, and the adaptive controller's sizes avoid it.
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


SHORT_PERIODS = range(2, 9)  # the periods every published frame is checked at, in output pixels


def upscale_period(out: int, proc: int, limit: int = SHORT_PERIODS[-1]) -> int | None:
    """The period, in output pixels, of the pattern an upscale from `proc` to `out` pixels
    leaves (p output pixels covering a whole number of input pixels: 2 for 2x, 3 for 1.5x, 4
    for 1.33x), if it is at most `limit`; None for an upscale without a short period."""
    if proc >= out:
        return None
    for p in range(2, limit + 1):
        if proc * p % out == 0:
            return p
    return None


def look_figures(frame_bgr: np.ndarray, proc_size: tuple[int, int]) -> dict:
    """Grid figures of one published frame painted at `proc_size`: at every period from 2 to 8
    pixels (an upscale by 2, 1.5 or 4/3 leaves a pattern at 2, 3 or 4 pixels; the network's own
    at 2 and its multiples), and at the processing grid (the upscale factor) and twice it when
    those are whole numbers above that."""
    factor = frame_bgr.shape[1] / proc_size[0]
    periods = set(SHORT_PERIODS)
    for p in (factor, 2 * factor):
        if p >= 2.5 and abs(p - round(p)) < 0.05:
            periods.add(round(p))
    ratios = {f"grid_ratio_{p}px": round(grid_ratio(frame_bgr, p), 3) for p in sorted(periods)}
    return {"upscale": round(factor, 2), "grid_ratio": max(ratios.values()), **ratios}
