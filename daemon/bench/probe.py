"""What the bench measures: every frame the pipeline finishes, and the process's CPU and memory.

RecordingStats is the pipeline's own Stats (so /status-style numbers stay as they are) that also
keeps one record per finished frame: when it finished, its capture-to-done latency, the time of
each stage and the processing size. ResourceMeter samples CPU time and RSS over a window.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from ..stats import STAGES, Stats


@dataclass
class FrameRecord:
    done: float                 # time.monotonic() when the worker finished the frame
    latency_ms: float           # capture -> done
    stages: dict = field(default_factory=dict)
    size: tuple = (0, 0)        # processing size the controller holds after this frame


class RecordingStats(Stats):
    """Drop-in for Pipeline.stats (called from the worker thread only, like Stats)."""

    def __init__(self, base: Stats, size_of):
        super().__init__()
        self.started, self.info = base.started, dict(base.info)
        self.size_of = size_of
        self.records: list[FrameRecord] = []
        self._current: dict = {}

    def stage(self, name: str, ms: float) -> None:
        super().stage(name, ms)
        self._current[name] = ms

    def frame_done(self, captured_at: float) -> None:
        now = time.monotonic()
        super().frame_done(captured_at)
        rec = FrameRecord(now, (now - captured_at) * 1000, self._current, tuple(self.size_of()))
        self._current = {}
        with self._lock:
            self.records.append(rec)

    def count(self) -> int:
        with self._lock:
            return len(self.records)

    def since(self, index: int) -> list[FrameRecord]:
        with self._lock:
            return self.records[index:]


def wait_frames(stats: RecordingStats, n: int, timeout: float, stop=None) -> bool:
    """Block until `stats` holds n records (True) or `timeout` s pass / `stop()` is true (False)."""
    deadline = time.monotonic() + timeout
    while stats.count() < n:
        if time.monotonic() > deadline or (stop is not None and stop()):
            return False
        time.sleep(0.02)
    return True


# -- process CPU and memory ------------------------------------------------------------------
def _cpu_seconds() -> float:
    try:
        import psutil

        t = psutil.Process().cpu_times()
        return t.user + t.system
    except ImportError:
        import resource

        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime


def _rss_bytes() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss


def lifetime_peak_rss_mb() -> float | None:
    """The process's peak RSS since it started (getrusage), or None where unavailable."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


class ResourceMeter:
    """CPU % (100 = one core busy) and peak RSS of this process between start() and stop().

    RSS is sampled every `interval` s with psutil; without psutil the peak is the process's
    lifetime peak from getrusage (so it can only grow from one window to the next)."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ResourceMeter:
        self._t0, self._cpu0 = time.monotonic(), _cpu_seconds()
        if _rss_bytes() is not None:
            self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, _rss_bytes() or 0)
            self._stop.wait(self.interval)

    def stop(self) -> dict:
        wall, cpu = time.monotonic() - self._t0, _cpu_seconds() - self._cpu0
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            peak, source = self.peak_rss / 2**20, "psutil"
        else:
            peak, source = lifetime_peak_rss_mb(), "getrusage"
        return {"cpu_percent": round(100 * cpu / wall, 1) if wall > 0 else None,
                "peak_rss_mb": None if peak is None else round(peak, 1), "rss_source": source}


# -- summaries -------------------------------------------------------------------------------
def pct(values, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if len(values) else None


def fps_of(records: list[FrameRecord]) -> float:
    """Finished frames per second over the records' span."""
    if len(records) < 2 or records[-1].done <= records[0].done:
        return 0.0
    return (len(records) - 1) / (records[-1].done - records[0].done)


def fps_between(records: list[FrameRecord], t0: float, t1: float) -> float:
    n = sum(1 for r in records if t0 < r.done <= t1)
    return n / (t1 - t0) if t1 > t0 else 0.0


def size_text(size) -> str:
    w, h = size
    return f"{w}x{h}"


def summarize(records: list[FrameRecord]) -> dict:
    """fps, latency percentiles, jitter (p95 - p50), per-stage times and the processing sizes."""
    lat = [r.latency_ms for r in records]
    stages = {}
    for name in STAGES:
        vals = [r.stages[name] for r in records if name in r.stages]
        stages[name] = {"mean": round(float(np.mean(vals)), 2) if vals else None,
                        "p50": pct(vals, 50), "p95": pct(vals, 95)}
    sizes: dict[str, int] = {}
    for r in records:
        sizes[size_text(r.size)] = sizes.get(size_text(r.size), 0) + 1
    p50, p95 = pct(lat, 50), pct(lat, 95)
    return {
        "frames": len(records),
        "seconds": round(records[-1].done - records[0].done, 3) if len(records) > 1 else 0.0,
        "fps": round(fps_of(records), 2),
        "latency_ms": {"p50": p50, "p95": p95, "p99": pct(lat, 99),
                       "mean": round(float(np.mean(lat)), 2) if lat else None,
                       "max": round(max(lat), 2) if lat else None},
        "jitter_ms": None if p50 is None else round(p95 - p50, 2),
        "stage_ms": stages,
        "processing_size": size_text(records[-1].size) if records else None,
        "processing_sizes": sizes,
        "latencies_ms": [round(v, 2) for v in lat],
    }
