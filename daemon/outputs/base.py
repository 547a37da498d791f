"""The Output protocol and the threaded base every output kind builds on."""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from ..errors import StylecamError
from ..slots import LatestSlot

log = logging.getLogger(__name__)


class OutputError(StylecamError, RuntimeError):
    """An output cannot start; the message says how to fix it."""


class OutputFailed(OutputError):
    """A running output cannot go on (a full disk...): it stops, the daemon carries on."""


class Output:
    """send() never blocks. With paced=True the output emits at a steady `fps`, repeating the
    last frame when no new one arrived (a virtual camera or a file needs an even clock);
    otherwise it writes each new frame as it comes."""

    kind = "output"
    paced = False
    idle_fps = 0.0  # >0: while the pipeline is idle, repeat the idle card at this lower rate

    def __init__(self, size: tuple[int, int], fps: float, name: str | None = None):
        self.size, self.fps = tuple(size), fps
        self.name = name or self.kind
        self.slot = LatestSlot()
        self.sent = 0
        self.skipped = 0  # paced: frames replaced by a newer one before their tick
        self.errors = 0
        self.last_error = ""
        self.write_ms = 0.0
        self._period = 1.0 / fps
        self._fresh = False  # paced: holding a frame not written yet
        self._due = 0.0      # paced: when the next tick writes
        self._stop = threading.Event()
        self._counts = threading.Lock()  # fail() from another thread: no frame counts as sent after it
        self._failed = False
        self._thread: threading.Thread | None = None

    # -- to implement ---------------------------------------------------------
    def open(self) -> None:
        """Acquire the device / file / process. Raise OutputError with the fix on failure."""

    def write(self, frame: np.ndarray) -> None:
        """Write one BGR frame of self.size."""

    def close(self) -> None:
        """Release everything open() acquired."""

    # -- shared machinery -----------------------------------------------------
    def start(self) -> "Output":
        self.open()
        self._thread = threading.Thread(target=self._run, name=f"out-{self.name}", daemon=True)
        self._thread.start()
        return self

    def send(self, frame: np.ndarray) -> None:
        self.slot.put(frame)

    def wants_frame(self, lead_s: float = 0.0) -> bool:
        """Paced: whether a frame finished `lead_s` from now would be written (none is waiting,
        or the one waiting goes out at the tick before that). The worker stylizes a frame only
        when some output wants one, so none is made for nothing, and a worker slower than the
        output still starts the next frame at once. Unpaced outputs take every frame (the worker
        caps them at their fps)."""
        if not self.paced or self._thread is None or not self._thread.is_alive():
            return True
        if not self._fresh and not self.slot.pending:
            return True
        return self._due - time.monotonic() <= lead_s

    def set_idle(self, idle: bool) -> None:
        """Paced outputs with an idle_fps repeat frames at that rate while idle, else at fps."""
        if self.idle_fps > 0:
            self._period = 1.0 / (self.idle_fps if idle else self.fps)
            self.slot.wake()

    def stop(self) -> None:
        self._stop.set()
        self.slot.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.close()
        except Exception as exc:
            log.warning("closing %s: %s", self.name, exc)

    def _write_safely(self, frame) -> None:
        t0 = time.perf_counter()
        try:
            self.write(frame)
            with self._counts:
                if not self._failed:
                    self.sent += 1
        except OutputFailed as exc:
            self.fail(str(exc))
        except Exception as exc:
            self.errors += 1
            self.last_error = str(exc)
            if self.errors in (1, 10, 100) or self.errors % 1000 == 0:
                log.warning("output %s: %s", self.name, exc)
        self.write_ms = (time.perf_counter() - t0) * 1000

    def fail(self, message: str) -> None:
        """Stop taking frames for good: the error stays in /status (errors, last_error) and is
        logged once; close() still runs when the output is stopped or removed."""
        with self._counts:
            self.errors += 1
            self.last_error = message
            self._failed = True
            self._stop.set()
        log.error("output %s: %s; this output has stopped", self.name, message)

    def _run(self) -> None:
        last = None
        period = self._period
        self._due = time.monotonic()  # the next tick (read by wants_frame)
        while not self._stop.is_set():
            if period != self._period:  # set_idle(): a faster pace starts at once
                period = self._period
                self._due = min(self._due, time.monotonic() + period)
            if not self.paced:
                frame = self.slot.get(timeout=0.5)
                if frame is not None:
                    self._write_safely(frame)
                continue
            frame = self.slot.get(timeout=max(0.0, self._due - time.monotonic()))
            if frame is not None:
                self.skipped += self._fresh
                last, self._fresh = frame, True
            now = time.monotonic()
            if now < self._due:
                continue  # a newer frame may still arrive before the tick
            if last is not None:
                self._write_safely(last)
                self._fresh = False
            self._due += period
            if now - self._due > 1.0:  # fell far behind (suspended?): resync the clock
                self._due = now + period

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "size": "%dx%d" % self.size, "fps": self.fps,
                "sent": self.sent, "dropped": self.slot.dropped + self.skipped, "errors": self.errors,
                "last_error": self.last_error}
