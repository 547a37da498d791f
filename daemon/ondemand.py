"""On demand: stylize only while someone sees the frames, and never more often than they are
published.

- `device_readers(path)` lists the processes that hold a device open, the way `fuser` does
  (scanning /proc/*/fd), leaving out this process and its children (they hold it to write).
- `Demand` decides, about twice a second, whether the pipeline should run: with `auto`, it goes
  idle once the virtual camera is the only output and nobody has read it for `idle_after_s`
  (a grace period: browsers probing and apps polling the camera close and reopen it). Where
  readers cannot be seen (no /proc, the OBS and Unity Capture backends), `auto` runs always.
  The /proc scan costs a few ms per hundred processes, so on Linux it runs when inotify says
  someone opened or closed the device (and every SAFETY_SCAN_S anyway), not on every check.
- `RateCap` admits at most `fps` frames a second: with Output.wants_frame(), the worker drops
  the frames no output would publish before spending anything on them.
"""
from __future__ import annotations

import ctypes
import logging
import os
import select
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .capture import placeholder_frame
from .config import ON_DEMAND_MODES, ConfigError
from .preprocess import fit_to

log = logging.getLogger(__name__)

PROC = Path("/proc")
CHECK_INTERVAL_S = 0.5
SAFETY_SCAN_S = 10.0     # full scan even without an open/close event
AFTER_EVENT_S = 1.0      # keep scanning every check for this long after an event (the opener's
                         # fd may land in its table just after the event)


@dataclass(frozen=True)
class Reader:
    pid: int
    name: str

    def describe(self) -> dict:
        return {"pid": self.pid, "name": self.name}


def _parent(pid: int, proc: Path) -> int:
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return 0
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descends_from(pid: int, root: int, proc: Path) -> bool:
    for _ in range(64):  # the chain up to init is short; a bound guards against a read race
        if pid == root:
            return True
        if pid <= 1:
            return False
        pid = _parent(pid, proc)
    return False


def _name(pid: int, proc: Path) -> str:
    try:
        return (proc / str(pid) / "comm").read_text().strip()
    except OSError:
        return "?"


def device_readers(path: str, *, own_pid: int | None = None, proc: Path = PROC) -> list[Reader]:
    """Processes other than `own_pid` (default: this one) and its children with `path` open.
    Processes of other users cannot be inspected and are not seen."""
    own = os.getpid() if own_pid is None else own_pid
    target = os.path.realpath(path)
    readers = []
    try:
        pids = [int(e) for e in os.listdir(proc) if e.isdigit()]
    except OSError:
        return []
    for pid in pids:
        fd_dir = f"{proc}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # another user's process, or gone
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") == target:
                    break
            except OSError:
                continue
        else:
            continue
        if not _descends_from(pid, own, proc):
            readers.append(Reader(pid, _name(pid, proc)))
    return readers


def can_see_readers(device: str, proc: Path = PROC) -> bool:
    """Readers of `device` can be listed here: Linux's /proc and a device that is a real path
    (v4l2loopback's /dev/videoN). The OBS and Unity Capture backends name a camera, not a file."""
    return sys.platform.startswith("linux") and (proc / "self" / "fd").is_dir() \
        and os.path.isabs(device or "") and os.path.exists(device)


class OpenCloseEvents:
    """inotify on the watched devices: `wait(timeout)` is True when some process opened or
    closed one of them. `OpenCloseEvents.create()` is None where inotify is not available."""

    IN_CLOSE_WRITE, IN_CLOSE_NOWRITE, IN_OPEN = 0x08, 0x10, 0x20
    IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000

    def __init__(self, libc, fd: int):
        self._libc, self.fd = libc, fd
        self._watched: dict[str, int] = {}

    @classmethod
    def create(cls) -> "OpenCloseEvents | None":
        if not sys.platform.startswith("linux"):
            return None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(cls.IN_NONBLOCK | cls.IN_CLOEXEC)
        except (OSError, AttributeError):
            return None
        return cls(libc, fd) if fd >= 0 else None

    def watch(self, paths: list[str]) -> bool:
        """Watch exactly these paths; False when one cannot be watched (then poll instead)."""
        ok = True
        for path in set(self._watched) - set(paths):
            self._libc.inotify_rm_watch(self.fd, self._watched.pop(path))
        for path in set(paths) - set(self._watched):
            wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path),
                                              self.IN_OPEN | self.IN_CLOSE_WRITE | self.IN_CLOSE_NOWRITE)
            if wd < 0:
                ok = False
            else:
                self._watched[path] = wd
        return ok

    def wait(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            while os.read(self.fd, 65536):  # drain: which event does not matter, a scan follows
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        os.close(self.fd)


@dataclass
class Decision:
    run: bool
    reason: str
    readers: list[Reader] = field(default_factory=list)

    def describe(self) -> dict:
        return {"state": "running" if self.run else "idle", "state_reason": self.reason,
                "readers": [r.describe() for r in self.readers]}


class Demand:
    """Whether the pipeline should run, re-decided every CHECK_INTERVAL_S on its own thread and
    at once on set_mode(). `outputs()` returns the current outputs; `changed` is set whenever
    the decision flips between run and idle."""

    def __init__(self, mode: str, idle_after_s: float, outputs: Callable[[], list], *,
                 scan: Callable[[str], list[Reader]] = device_readers, interval: float = CHECK_INTERVAL_S):
        self.mode, self.idle_after_s = mode, idle_after_s
        self._outputs, self._scan, self.interval = outputs, scan, interval
        self._last_seen = float("-inf")  # start idle when nobody reads: the camera stays off
        self._events: OpenCloseEvents | None = None  # made by start()
        self._watching: list[str] | None = None  # devices inotify watches (None: poll them)
        self._readers: list[Reader] = []
        self._scan_until = self._last_scan = float("-inf")
        self.scans = 0
        self._lock = threading.Lock()
        self.changed = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.decision = self._decide(time.monotonic())

    def start(self) -> "Demand":
        self._events = OpenCloseEvents.create()
        self._thread = threading.Thread(target=self._run, name="on-demand", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.changed.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._events is not None:
            self._events.close()
            self._events = None

    @property
    def running(self) -> bool:
        return self.decision.run

    def set_mode(self, mode: str) -> None:
        if mode not in ON_DEMAND_MODES:
            raise ValueError(f"on_demand: {mode!r}; choose one of {', '.join(ON_DEMAND_MODES)}")
        with self._lock:
            self.mode = mode
        self.update()

    def update(self) -> Decision:
        with self._lock:
            before = self.decision.run
            self.decision = self._decide(time.monotonic())
            if self.decision.run != before:
                self.changed.set()
            return self.decision

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._events is None or self._watching is None:
                self._stop.wait(self.interval)
            elif self._events.wait(self.interval):
                self._scan_until = time.monotonic() + AFTER_EVENT_S
            try:
                self.update()
            except Exception:  # a /proc race must not end the watch
                log.exception("checking the virtual camera's readers failed")

    def _decide(self, now: float) -> Decision:
        devices, early = self._without_readers()
        if early is not None:
            self._last_scan = float("-inf")  # readers were not followed: scan when they matter again
            return early
        readers = self._current_readers(devices, now)
        if readers:
            self._last_seen = now
            return Decision(True, "read by " + ", ".join(f"pid {r.pid} ({r.name})" for r in readers), readers)
        left = self.idle_after_s - (now - self._last_seen)
        if left > 0:
            return Decision(True, f"no reader of {', '.join(devices)}; idle in {left:.1f} s")
        return Decision(False, f"no app has {', '.join(devices)} open")

    def _without_readers(self) -> tuple[list[str], Decision | None]:
        """(the virtual camera devices to watch, or the decision that does not need readers)."""
        if self.mode == "always":
            return [], Decision(True, "on_demand is always")
        if self.mode == "never":
            return [], Decision(False, "paused (on_demand is never)")
        outputs = self._outputs()
        if not outputs:
            return [], Decision(True, "no outputs yet")
        others = [o.name for o in outputs if o.kind != "virtualcam"]
        if others:
            return [], Decision(True, f"{', '.join(others)} keep{'s' if len(others) == 1 else ''} it running")
        devices = [getattr(o, "device_name", "") for o in outputs]
        blind = [d or "?" for d in devices if not can_see_readers(d)]
        if blind:
            return [], Decision(True, f"readers of the virtual camera ({', '.join(blind)}) cannot be "
                                      "seen here, so on_demand auto works like always")
        return devices, None

    def _current_readers(self, devices: list[str], now: float) -> list[Reader]:
        """Scan /proc when it may have changed: after an open/close event, when the devices
        changed, every SAFETY_SCAN_S, or at every check where inotify cannot watch them."""
        if self._events is not None and devices != self._watching:
            self._watching = devices if self._events.watch(devices) else None
            self._last_scan = float("-inf")
        if self._watching is None or now <= self._scan_until or now - self._last_scan >= SAFETY_SCAN_S:
            self._readers = [r for d in devices for r in self._scan(d)]
            self._last_scan = now
            self.scans += 1
        return self._readers


class RateCap:
    """Admits at most `fps` frames a second (token bucket; 0 admits all). The bucket holds two
    frames, so a source slightly faster or jittery still gets the full rate."""

    def __init__(self, fps: float = 0.0, burst: float = 2.0):
        self.fps, self.burst = fps, burst
        self._tokens, self._last = burst, None

    def admit(self, now: float) -> bool:
        if self.fps <= 0:
            return True
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.fps)
        self._last = now
        if self._tokens >= 0.75:  # a frame a little early (capture jitter) still counts
            self._tokens -= 1.0
            return True
        return False


def idle_card(size: tuple[int, int], image: str = "") -> np.ndarray:
    """What the outputs show while idle: `image` fitted to `size`, else a "stylecam paused" card."""
    if not image:  # a copy: the cached card is read-only, and native backends may want a writable buffer
        return placeholder_frame(size[0], size[1], "stylecam paused").copy()
    picture = cv2.imread(os.path.expanduser(image), cv2.IMREAD_COLOR)
    if picture is None:
        raise ConfigError(f"output.idle_image: {image} is not a picture OpenCV can read; "
                          "use a PNG or JPEG, or leave it empty for the built-in card")
    return np.ascontiguousarray(fit_to(picture, size))

