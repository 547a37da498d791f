"""`stylecam bench --stress`: does the adaptive controller hold the frame rate under load?

A running pipeline is watched for three phases: before (no extra load), during (busy child
processes spinning on the CPU), after (load gone: does the processing size come back up?).
A timeline (fps over the last second, processing size) is sampled twice a second for plots.
"""
from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

from .probe import RecordingStats, fps_between, size_text

BUSY_CODE = "while True:\n    pass\n"


class BusyLoad:
    """`procs` child Python processes that each keep one core busy; stopped by PID."""

    def __init__(self, procs: int = 1):
        self.procs = procs
        self.children: list[subprocess.Popen] = []

    def start(self) -> BusyLoad:
        for _ in range(self.procs):
            self.children.append(subprocess.Popen([sys.executable, "-c", BUSY_CODE],
                                                  stdin=subprocess.DEVNULL))
        return self

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in self.children]

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
        for child in self.children:
            child.wait(timeout=10)

    def __enter__(self) -> BusyLoad:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _area(size) -> int:
    return size[0] * size[1]


def run_stress(stats: RecordingStats, controller, target_fps: float, seconds: float,
               procs: int = 1, tick: float = 0.5) -> dict:
    """Watch a started, warmed-up pipeline through before / during / after phases."""
    timeline: list[dict] = []
    t_origin = time.monotonic()

    def sample(phase: str) -> None:
        now = time.monotonic()
        timeline.append({"t": round(now - t_origin, 2), "phase": phase,
                         "fps": round(fps_between(stats.since(0), now - 1.0, now), 2),
                         "processing_size": size_text(controller.size)})

    def watch(phase: str, duration: float, until=None) -> tuple[float, float]:
        start = time.monotonic()
        while time.monotonic() - start < duration:
            time.sleep(tick)
            sample(phase)
            if until is not None and until():
                break
        return start, time.monotonic()

    b0, b1 = watch("before", seconds)
    before_size = controller.size
    with BusyLoad(procs) as load:
        pids = load.pids
        d0, d1 = watch("during", seconds)
    recovered_at: float | None = None
    after_start = time.monotonic()

    def back_up_and_measured() -> bool:
        """Stop the 'after' phase once the size is back and `seconds` of it were seen."""
        nonlocal recovered_at
        now = time.monotonic()
        if recovered_at is None and _area(controller.size) >= _area(before_size):
            recovered_at = now
        return recovered_at is not None and now - after_start >= seconds

    a0, a1 = watch("after", 3 * seconds, until=back_up_and_measured)
    records = stats.since(0)
    during_low = min((r.size for r in records if d0 < r.done <= d1), key=_area, default=before_size)

    def phase(t0: float, t1: float) -> dict:
        recs = [r for r in records if t0 < r.done <= t1]
        sizes = Counter(size_text(r.size) for r in recs)
        return {"seconds": round(t1 - t0, 2), "frames": len(recs), "fps": round(fps_between(records, t0, t1), 2),
                "processing_size": sizes.most_common(1)[0][0] if sizes else None}

    during = phase(d0, d1)
    settled = phase(d0 + (d1 - d0) / 2, d1)
    dips = [s["fps"] for s in timeline if s["phase"] == "during" and s["t"] >= d0 - t_origin + 1.0]
    lowered = _area(during_low) < _area(before_size)
    return {
        "procs": procs, "child_pids": pids, "target_fps": target_fps,
        "before": phase(b0, b1), "during": during, "during_settled": settled, "after": phase(a0, a1),
        "size_before": size_text(before_size), "size_during_lowest": size_text(during_low),
        "size_after": size_text(controller.size),
        "min_fps_during": min(dips) if dips else None,
        "fps_ratio_during": round(settled["fps"] / target_fps, 3) if target_fps else None,
        "at_floor_before": tuple(before_size) == tuple(controller.ladder[-1]),
        "lowered": lowered,
        # None: the size never went down, so there was nothing to restore
        "recovered": (recovered_at is not None) if lowered else None,
        "recovery_s": round(recovered_at - d1, 2) if recovered_at is not None and lowered else None,
        "timeline": timeline,
    }
