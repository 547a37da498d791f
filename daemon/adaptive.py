"""Adaptive resolution: a closed-loop controller that picks the processing size so the
measured per-frame work fits the target frame rate.

Sizes form a ladder between min and max (multiples of the network stride, the output's aspect
ratio). Decisions use the median work time of the last few frames, so a frame stalled by
another process does not move the size. Going down is quick (the predicted best rung); going
up needs the predicted time at the next rung to be well under budget for a while (hysteresis),
then goes as far up as that margin holds, and the wait doubles each time a rise had to be undone soon after (no oscillation).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from statistics import median

from .look import upscale_period


def _round_to(value: float, step: int) -> int:
    return max(step, int(round(value / step)) * step)


def size_ladder(max_size: tuple[int, int], min_size: tuple[int, int], aspect: float,
                stride: int, rungs: int = 10, out_size: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """Processing sizes from largest to smallest, aspect kept, multiples of `stride`. With
    `out_size`, a side whose upscale to the output would repeat every few pixels (2x, 1.5x,
    4/3: a visible grid, stylecam.look.upscale_period) moves a stride or two to one that does
    not: down, except the smallest size, which moves up (the preset's largest upscale holds)
    unless the largest size is in the way (then it upscales a few pixels more than the preset
    says). Never above the largest size."""
    max_h = min(max_size[1], max_size[0] / aspect)
    min_h = min(max(min_size[1], min_size[0] / aspect), max_h)
    sizes = [(_round_to(h * aspect, stride), _round_to(h, stride))
             for h in (max_h * (min_h / max_h) ** (i / max(1, rungs - 1)) for i in range(rungs))]
    if out_size is not None:  # within the ladder's bounds (a few strides below the smallest), it moving up first
        bounds = [(lo - 4 * stride, hi) for lo, hi in zip(sizes[-1], sizes[0])]
        sizes = [tuple(_off_period(v, out, stride, lo, hi, up=i == rungs - 1)
                       for v, out, (lo, hi) in zip(size, out_size, bounds)) for i, size in enumerate(sizes)]
    ladder: list[tuple[int, int]] = []
    for size in sizes:
        if size not in ladder:
            ladder.append(size)
    return ladder


def _off_period(side: int, out: int, stride: int, lo: int, hi: int, up: bool) -> int:
    """`side`, or the nearest multiple of `stride` from `lo` to `hi` (in `up`'s direction first)
    whose upscale to `out` has no short period."""
    if side >= out or upscale_period(out, side) is None:
        return side
    first, second = (1, -1) if up else (-1, 1)
    for k in range(1, 5):
        for v in (side + first * k * stride, side + second * k * stride):
            if lo <= v <= hi and v < out and upscale_period(out, v) is None:
                return v
    return side


@dataclass
class ControllerState:
    rung: int = 0
    ema_ms: float | None = None
    frames_at_rung: int = 0
    up_wait: int = 30
    last_change: str = ""


class ResolutionController:
    def __init__(self, ladder: list[tuple[int, int]], target_fps: float, *, enabled: bool = True,
                 settle: int = 6, base_up_wait: int = 30, headroom: float = 0.9,
                 up_margin: float = 0.7):
        self.ladder = ladder
        self.target_fps = target_fps
        self.rate_cap_fps = 0.0  # the outputs' rate: frames beyond it are never processed
        self.enabled = enabled
        self.settle, self.base_up_wait = settle, base_up_wait
        self.headroom, self.up_margin = headroom, up_margin
        self.s = ControllerState(up_wait=base_up_wait)
        self.changes = 0
        # decisions use the median of the last frames at this size: one frame stalled by another
        # process (a busy machine) must not move the size; a steady change does within a few frames
        self._recent: deque[float] = deque(maxlen=max(settle, 9))
        self._recent_fixed: deque[float] = deque(maxlen=max(settle, 9))
        self._frames_since_up: int | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.ladder[self.s.rung]

    @property
    def budget_ms(self) -> float:
        """Time per frame at the target rate, or at the outputs' rate when that is lower: the
        time no frame is processed in may buy a larger size."""
        fps = min(self.target_fps, self.rate_cap_fps) if self.rate_cap_fps > 0 else self.target_fps
        return 1000.0 / fps * self.headroom

    def set_target(self, fps: float) -> None:
        self.target_fps = fps
        self.s.frames_at_rung = 0
        self._recent.clear()
        self._recent_fixed.clear()

    def set_rate_cap(self, fps: float) -> None:
        if fps != self.rate_cap_fps:
            self.rate_cap_fps = fps
            self.s.frames_at_rung = 0
            self._recent.clear()
            self._recent_fixed.clear()

    def _area(self, rung: int) -> int:
        w, h = self.ladder[rung]
        return w * h

    def observe(self, work_ms: float, fixed_ms: float = 0.0) -> tuple[int, int]:
        """Feed the measured work time of one frame; returns the size for the next frame.

        `fixed_ms` is the part of it spent at the output size (FramePath.fixed_ms): only the
        rest is expected to scale with the processing area. Without it a large output (whose
        upscale and finish cost the same at every processing size) looks as if a smaller size
        would save more than it does, and the controller drops further than it must and never
        climbs back."""
        s = self.s
        s.ema_ms = work_ms if s.ema_ms is None or s.frames_at_rung == 0 else 0.8 * s.ema_ms + 0.2 * work_ms
        s.frames_at_rung += 1
        self._recent.append(work_ms)
        self._recent_fixed.append(fixed_ms)
        if self._frames_since_up is not None:
            self._frames_since_up += 1
            if self._frames_since_up >= 4 * s.up_wait:
                # the last rise held for long: halve the wait again, so a long-past bad spell
                # does not keep rises slow for good
                s.up_wait = max(self.base_up_wait, s.up_wait // 2)
                self._frames_since_up = None
        if not self.enabled or len(self._recent) < self.settle:
            return self.size
        typical = median(self._recent)
        fixed = min(median(self._recent_fixed), typical)

        def predicted(rung: int) -> float:
            return fixed + (typical - fixed) * self._area(rung) / self._area(s.rung)

        if typical > self.budget_ms and s.rung < len(self.ladder) - 1:
            # the variable part scales with area: jump straight to the largest rung that fits
            target = s.rung + 1
            while target < len(self.ladder) - 1 and predicted(target) > self.budget_ms:
                target += 1
            if self._frames_since_up is not None and self._frames_since_up < 4 * self.base_up_wait:
                # that rise did not hold: wait longer next time
                s.up_wait = min(s.up_wait * 2, 2000)
                self._frames_since_up = None
            self._move(target, "down")
        elif s.rung > 0 and s.frames_at_rung >= s.up_wait:
            # the margin is for the part that grows (and is guessed): with fixed_ms 0 this is
            # "predicted < budget * up_margin"
            fits = lambda rung: fixed + (predicted(rung) - fixed) / self.up_margin < self.budget_ms  # noqa: E731
            if fits(s.rung - 1):
                target = s.rung - 1  # and on up while the margin holds: far under budget, far up
                while target > 0 and fits(target - 1):
                    target -= 1
                self._move(target, "up")
                self._frames_since_up = 0
        return self.size

    def _move(self, rung: int, direction: str) -> None:
        self.s.rung, self.s.frames_at_rung, self.s.last_change = rung, 0, direction
        self._recent.clear()
        self._recent_fixed.clear()
        self.changes += 1

    def describe(self) -> dict:
        return {"processing_size": "%dx%d" % self.size, "rung": self.s.rung, "rungs": len(self.ladder),
                "work_ms": None if self.s.ema_ms is None else round(self.s.ema_ms, 2),
                "budget_ms": round(self.budget_ms, 2), "adaptive": self.enabled}
