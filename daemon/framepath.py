"""The frame path: one camera frame in, one published frame out.

    fit to the output size -> shrink to the processing size -> [paint: engine (network) ->
    smoother] -> carry (the latest painting moved onto this frame along the optical flow)
    -> [segmentation: the person's matte, when style.region is not `all`] -> upsampler
    (processing -> output size, guided by the full-resolution frame) -> [region blend through
    the matte] -> finish (strength, colours, mirror)

`FramePath` is the only place these stages are chained: the live pipeline, `stylecam
stylize`, the bench and the quality report all call it, so what they measure is what the
daemon publishes. It owns the per-stream state (the smoother's previous painting, the painting
being carried, the painter thread); the caller owns the settings (`FrameSettings`) and passes
them with every frame.

When the network paints (`paint_every`):
  1            every frame (the network's output is the frame; nothing is carried);
  N, in order  every N-th frame, in the caller's thread (stylize, reports, tests: repeatable);
  N, background the painter thread paints the newest frame whenever it is free, while every
               frame is published at once from the latest painting carried onto it. A painting
               that is expected within `wait_ms` is waited for (a GPU: every frame painted);
               a longer one is not (a CPU at a large size: frames in between are carried). The
               caller sizes the painting so it takes at most N frames (the adaptive controller).
A frame the motion does not explain (a cut, a new scene: Carry returns None) is painted at once
in order; in the background the painter takes it as soon as it is free, and until then the
frames show the last painting as it was (a cut shows the old scene for up to one painting).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from . import postprocess, preprocess
from .carry import Carry
from .config import ProcessingConfig
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
                 stats: Stats | None = None, paint_every: int = 1, background: bool = False,
                 sharpen: float = ProcessingConfig.sharpen):
        if paint_every < 1:
            raise ValueError(f"paint_every must be at least 1, got {paint_every}")
        self.engine, self.out_size = engine, tuple(out_size)
        self.stats = stats or Stats()
        self.smoothing = smoothing
        self.smoother = make_smoother(smoothing)
        self.carry = Carry()
        self.upsampler = postprocess.Upsampler(sharpen=sharpen)
        self.matte: PersonMatte | None = None  # made on the first frame that needs it
        self.blender = Blender()
        self.paint_every = paint_every
        self.painter = Painter(self._paint) if background and paint_every > 1 else None
        self.wait_ms = 0.0  # background: wait for a painting expected within this (the caller sets it)
        self.own_ms = 0.0   # the last frame's time less any painting it waited for (or made)
        self._count = 0  # frames since the last reset (in order: which ones are painted)
        self._waited = 0.0  # seconds this frame spent on a painting (waited for, or made here)
        # the last stylized frame's time in the stages that work at the output size (fit, shrink,
        # the full-size half of the upsampler, blend, finish): they do not get cheaper with a
        # smaller processing size, so the adaptive controller must not expect them to
        # (ResolutionController.observe)
        self.fixed_ms = 0.0
        self.paint_ms = 0.0    # the last painting's time (network and smoother)
        self.paint_size: tuple[int, int] | None = None  # and its processing size
        self.painted = 0       # paintings made

    def set_smoothing(self, mode: str) -> None:
        """A new mode starts from a clean state (make_smoother raises on an unknown mode)."""
        self.smoother, self.smoothing = make_smoother(mode), mode

    def reset(self) -> None:
        """Forget the stream: the next frame is painted from scratch (a pause, a new source)."""
        if self.painter is not None:
            self.painter.forget()
        self.smoother.reset()
        self.carry.reset()
        self._count = 0

    def close(self) -> None:
        if self.painter is not None:
            self.painter.close()

    def _paint_here(self, small: np.ndarray, vector: np.ndarray) -> None:
        t0 = time.perf_counter()
        self.carry.key(self._paint(small, vector), small)
        self._waited += time.perf_counter() - t0

    def _paint(self, small: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """The network, then the smoother, on one processing-size frame."""
        t0 = time.perf_counter()
        with self.stats.timer("inference"):
            out = self.engine.stylize(small, vector)
        smoother = self.smoother
        with self.stats.timer("smoothing"):
            out = smoother.apply(out, small)
        self.paint_ms = (time.perf_counter() - t0) * 1000
        self.paint_size = (small.shape[1], small.shape[0])
        self.painted += 1
        return out

    def __call__(self, frame: np.ndarray, s: FrameSettings, *, placeholder: bool = False) -> np.ndarray:
        """Publishable BGR frame at out_size. placeholder (a card, not the camera): shown as is."""
        start = time.perf_counter()
        self._waited = 0.0
        out = self._frame(frame, s, placeholder)
        self.own_ms = (time.perf_counter() - start - self._waited) * 1000
        return out

    def _frame(self, frame: np.ndarray, s: FrameSettings, placeholder: bool) -> np.ndarray:
        if placeholder or not s.enabled:  # not timed: the stage figures describe stylized frames
            self.reset()
            self._forget_matte()
            guide = preprocess.fit_to(frame, self.out_size)
            return postprocess.finish(guide, guide, mirror=s.mirror and not placeholder)
        timer = self.stats.timer
        t0 = time.perf_counter()
        with timer("preprocess"):
            guide = preprocess.fit_to(frame, self.out_size)
            small = preprocess.shrink(guide, s.proc_size)
        fixed = time.perf_counter() - t0
        out, small = self._painting_for(small, guide, s)
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

    def _painting_for(self, small: np.ndarray, guide: np.ndarray, s: FrameSettings):
        """(the painting for this frame, the processing-size frame it lines up with)."""
        size_changed = self.carry.ready and self.carry.painting.shape[:2] != small.shape[:2]
        if self.painter is None:
            if self._count % self.paint_every == 0 or not self.carry.ready or size_changed:
                self._paint_here(small, s.vector)
                self._count = 0
            self._count += 1
            with self.stats.timer("carry"):
                out = self.carry(small)
            if out is None:  # a new scene: the last painting does not fit it
                self._paint_here(small, s.vector)
                out, self._count = self.carry.painting, 1
            return out, small
        else:
            key = self.painter.latest()
            if key is not None:
                self.carry.key(*key)
            if not self.carry.ready:  # the first frame: nothing to carry yet, wait for its painting
                t0 = time.perf_counter()
                self.carry.key(*self.painter.paint(small, s.vector))
                self._waited += time.perf_counter() - t0
                self._count = 0
            else:
                # one painting per paint_every frames at most (the CPU left is the frames'), or
                # every frame when it will be done within what the frame has left of its budget
                wait = self.paint_ms <= self.wait_ms
                if (self._count >= self.paint_every or wait) and self.painter.submit(small, s.vector):
                    self._count = 0
                    if wait:
                        t0 = time.perf_counter()
                        key = self.painter.wait(self.wait_ms)
                        self._waited += time.perf_counter() - t0
                        if key is not None:
                            self.carry.key(*key)
            self._count += 1
            if self.carry.painting.shape[:2] != small.shape[:2]:  # painted before a size change
                small = preprocess.shrink(guide, self.carry.painting.shape[1::-1])
            with self.stats.timer("carry"):
                out = self.carry(small)
            if out is None:  # a new scene: the painter takes the next frame as soon as it is free;
                out = self.carry.painting  # until then the old painting, as it was (no frame waits)
                self._count = self.paint_every
            return out, small

    def _forget_matte(self) -> None:
        """A region of `all`, a placeholder: the next matte starts without the old frames."""
        if self.matte is not None:
            self.matte.reset()


class Painter:
    """The painter thread: paints one frame at a time, taking a new one only when it is free
    (`submit` says False otherwise: the caller carries the last painting meanwhile); the caller
    takes finished paintings with `latest()` or `wait()`, or has a frame painted next and waits
    for it with `paint()`. Only this thread runs the network and the smoother."""

    def __init__(self, paint):
        self._paint = paint
        self._cond = threading.Condition()
        self._job: tuple | None = None
        self._busy = False
        self._done: tuple | None = None  # (painting, the frame it is of)
        self._error: BaseException | None = None  # raised in the caller's thread
        self._generation = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="painter", daemon=True)
        self._thread.start()

    def submit(self, small: np.ndarray, vector: np.ndarray) -> bool:
        """Give the painter this frame if it is free; False when it is still painting."""
        with self._cond:
            if self._busy or self._job is not None:
                return False
            self._job = (small, vector, self._generation)
            self._cond.notify_all()
            return True

    def paint(self, small: np.ndarray, vector: np.ndarray, timeout_s: float = 60.0) -> tuple:
        """Paint this frame as soon as the painting in progress (if any) is done, and wait for it."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while (self._busy or self._job is not None) and self._cond.wait(max(0.0, deadline - time.monotonic())):
                pass
            self._done = None
            self._job = (small, vector, self._generation)
            self._cond.notify_all()
        done = self.wait(max(0.0, deadline - time.monotonic()) * 1000)
        if done is None:
            raise TimeoutError(f"the painter thread painted nothing in {timeout_s:g} s")
        return done

    def latest(self) -> tuple | None:
        """The painting finished since the last call, if any (a painting that failed raises its
        error here, in the caller's thread)."""
        with self._cond:
            return self._take()

    def _take(self) -> tuple | None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        done, self._done = self._done, None
        return done

    def wait(self, timeout_ms: float) -> tuple | None:
        """The painting of the frame just submitted, if it is done within timeout_ms."""
        deadline = time.monotonic() + timeout_ms / 1000
        with self._cond:
            while (self._busy or self._job is not None) and self._done is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._take()

    def forget(self) -> None:
        """Drop the waiting frame and anything painted from before now."""
        with self._cond:
            self._generation += 1
            self._job = self._done = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._job is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                (small, vector, generation), self._job = self._job, None
                self._busy = True
            painting = error = None
            try:
                painting = self._paint(small, vector)
            except Exception as exc:  # noqa: BLE001  handed to the caller, as if it had painted
                error = exc
            with self._cond:
                self._busy = False
                if generation == self._generation:
                    if error is not None:
                        self._error = error
                    else:
                        self._done = (painting, small)
                self._cond.notify_all()


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
