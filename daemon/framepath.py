"""The frame path: one camera frame in, one published frame out.

    fit to the output size -> shrink to the processing size -> engine (network) -> smoother
    -> [segmentation: the person's matte, when style.region is not `all`] -> upsampler
    (processing -> output size, guided by the full-resolution frame) -> [region blend through
    the matte] -> finish (strength, colours, mirror)

`FramePath` is the only place these stages are chained: the live pipeline, `stylecam
stylize`, the bench and the quality report all call it, so what they measure is what the
daemon publishes. It owns the per-stream state (the smoother's previous frame); the caller
owns the settings (`FrameSettings`) and passes them with every frame.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import postprocess, preprocess
from .segment import Blender, PersonMatte
from .smoothing import make_smoother
from .stats import Stats


@dataclass
class FrameSettings:
    """What may change from one frame to the next (the API changes these between frames)."""
    vector: np.ndarray
    proc_size: tuple[int, int]
    strength: float = 1.0        # already scaled by the style's default_strength
    keep_color: bool = False
    mirror: bool = False
    enabled: bool = True
    region: tuple[float, float] = (1.0, 0.0)  # the style's weight is a + b * person: segment.weights()


class FramePath:
    def __init__(self, engine, out_size: tuple[int, int], *, smoothing: str = "off",
                 stats: Stats | None = None):
        self.engine, self.out_size = engine, tuple(out_size)
        self.stats = stats or Stats()
        self.smoothing = smoothing
        self.smoother = make_smoother(smoothing)
        self.upsampler = postprocess.Upsampler()
        self.matte: PersonMatte | None = None  # made on the first frame that needs it
        self.blender = Blender()
        # the last stylized frame's time in the stages that work at the output size (fit, shrink,
        # the full-size half of the upsampler, blend, finish): they do not get cheaper with a
        # smaller processing size, so the adaptive controller must not expect them to
        # (ResolutionController.observe)
        self.fixed_ms = 0.0

    def set_smoothing(self, mode: str) -> None:
        """A new mode starts from a clean state (make_smoother raises on an unknown mode)."""
        self.smoother, self.smoothing = make_smoother(mode), mode

    def __call__(self, frame: np.ndarray, s: FrameSettings, *, placeholder: bool = False) -> np.ndarray:
        """Publishable BGR frame at out_size. placeholder (a card, not the camera): shown as is."""
        if placeholder or not s.enabled:  # not timed: the stage figures describe stylized frames
            self.smoother.reset()
            self._forget_matte()
            guide = preprocess.fit_to(frame, self.out_size)
            return postprocess.finish(guide, guide, mirror=s.mirror and not placeholder)
        timer = self.stats.timer
        t0 = time.perf_counter()
        with timer("preprocess"):
            guide = preprocess.fit_to(frame, self.out_size)
            small = preprocess.shrink(guide, s.proc_size)
        fixed = time.perf_counter() - t0
        with timer("inference"):
            out = self.engine.stylize(small, s.vector)
        with timer("smoothing"):
            out = self.smoother.apply(out, small)
        matte = None
        if s.region[1]:
            with timer("segmentation"):
                self.matte = self.matte or PersonMatte()
                matte = self.matte(small)
        else:
            self._forget_matte()
        t0 = time.perf_counter()
        with timer("postprocess"):
            full = self.blender(self.upsampler(out, small, guide), guide, matte, s.region)
            full = postprocess.finish(full, guide, strength=s.strength, keep_color=s.keep_color,
                                       mirror=s.mirror)
        self.fixed_ms = (fixed + time.perf_counter() - t0) * 1000 - self.upsampler.small_ms
        return full

    def _forget_matte(self) -> None:
        """A region of `all`, a placeholder: the next matte starts without the old frames."""
        if self.matte is not None:
            self.matte.reset()


class StyleFade:
    """The style vector (and its default_strength gain) over time: a switch cross-fades from
    wherever the previous fade was to the new style in `ms` milliseconds."""

    def __init__(self, vector: np.ndarray, gain: float = 1.0):
        self._from = self._to = vector
        self.gain = gain
        self._start, self._ms = 0.0, 0.0

    def switch(self, vector: np.ndarray, gain: float, ms: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._from, self._to = self.vector(now), vector
        self.gain = gain
        self._start, self._ms = now, float(ms)

    def vector(self, now: float | None = None) -> np.ndarray:
        if self._ms <= 0:
            return self._to
        now = time.monotonic() if now is None else now
        t = min(1.0, (now - self._start) * 1000.0 / self._ms)
        if t >= 1.0:
            self._ms = 0.0
            return self._to
        return (1 - t) * self._from + t * self._to

    @property
    def fading(self) -> bool:
        return self._ms > 0
