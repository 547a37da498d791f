"""Timing and counters as data: the pipeline records, /status and `stylecam bench` read."""
from __future__ import annotations

import contextlib
import threading
import time
from collections import deque

import numpy as np

STAGES = ("capture", "preprocess", "inference", "smoothing", "carry", "segmentation", "postprocess", "output")


class Stats:
    def __init__(self, window: int = 300) -> None:
        self._lock = threading.Lock()
        self.stage_ms = {s: deque(maxlen=window) for s in STAGES}
        self.latency_ms: deque = deque(maxlen=window)
        self.frame_times: deque = deque(maxlen=window)
        self.frames = 0
        self.started = time.monotonic()
        self.first_frame_s: float | None = None
        self.info: dict = {}

    def stage(self, name: str, ms: float) -> None:
        with self._lock:
            self.stage_ms[name].append(ms)

    @contextlib.contextmanager
    def timer(self, name: str):
        """`with stats.timer("inference"): ...` records the block's wall time as that stage."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stage(name, (time.perf_counter() - t0) * 1000)

    def frame_done(self, captured_at: float) -> None:
        now = time.monotonic()
        with self._lock:
            self.frames += 1
            self.frame_times.append(now)
            self.latency_ms.append((now - captured_at) * 1000)
            if self.first_frame_s is None:
                self.first_frame_s = now - self.started

    def set(self, **info) -> None:
        with self._lock:
            self.info.update(info)

    def fps(self) -> float:
        with self._lock:
            t = list(self.frame_times)
        if len(t) < 2 or t[-1] == t[0]:
            return 0.0
        if time.monotonic() - t[-1] > 2.0:
            return 0.0
        return (len(t) - 1) / (t[-1] - t[0])

    def snapshot(self) -> dict:
        with self._lock:
            lat = np.array(self.latency_ms) if self.latency_ms else None
            stages = {k: round(float(np.mean(v)), 2) if v else None for k, v in self.stage_ms.items()}
            snap = {
                "frames": self.frames,
                "latency_ms": None if lat is None else {
                    "p50": round(float(np.percentile(lat, 50)), 1),
                    "p95": round(float(np.percentile(lat, 95)), 1),
                    "p99": round(float(np.percentile(lat, 99)), 1),
                },
                "stage_ms": stages,
                "first_frame_s": None if self.first_frame_s is None else round(self.first_frame_s, 3),
                **self.info,
            }
        snap["fps"] = round(self.fps(), 2)
        return snap
