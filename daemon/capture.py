"""Capture stage: camera index, device path, video file (optionally looped), URL, or the
built-in demo scene, on its own thread. The newest frame wins (CAP_PROP_BUFFERSIZE=1).

A video file must exist at start (check_source); it is read at its own frame rate and loops
(or ends with loop=False) without counting as lost. When the source fails (read error,
unplugged camera, file gone) the stage keeps producing a
"camera lost - reconnecting" placeholder at the input rate and reopens the source with
exponential backoff, so everything downstream keeps running and resumes by itself.

pause() releases the source (a camera's LED goes off) until resume(); meanwhile nothing is read
or published.

request_rate(fps) asks the source for no more frames than the outputs publish: a camera is set
to that rate (CAP_PROP_FPS; a camera picks the nearest mode it has) and the demo scene renders
at it, so frames nobody will see are not captured and decoded at all. A file keeps its own
frame rate (it plays in real time; the worker drops the frames it does not need).
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from .demo import DemoScene
from .redact import redact_url
from .slots import LatestSlot

log = logging.getLogger(__name__)


@dataclass
class Frame:
    image: np.ndarray          # BGR uint8
    captured_at: float         # time.monotonic()
    placeholder: bool = False


def parse_source(source: str):
    """'0' -> camera 0; '/dev/video2', a file, or a URL stay text; 'demo' the built-in scene."""
    text = str(source).strip()
    if text.isdigit():
        return int(text)
    return text


def check_source(source) -> None:
    """A file input must exist at start (OSError naming the path); a camera, a device or a URL
    may come later (the capture stage retries those)."""
    source = parse_source(source)
    if not isinstance(source, str) or source in ("demo", "auto") or "://" in source or source.startswith("/dev/"):
        return
    if not os.path.exists(source):
        raise FileNotFoundError(f"input file {source} does not exist; check the path (relative paths start in "
                                f"{os.getcwd()}), or give a camera index (0), a /dev/video device, a URL or 'demo'")
    if os.path.isdir(source):
        raise IsADirectoryError(f"input {source} is a folder; give a video file")


@contextlib.contextmanager
def quiet_opencv():
    """OpenCV's own log off while probing cameras (its V4L2/obsensor warnings for every missing
    device), restored afterwards: stylecam says what it found in one line of its own."""
    utils = getattr(cv2, "utils", None)
    logging_mod = getattr(utils, "logging", None)
    if logging_mod is None:
        yield
        return
    before = logging_mod.getLogLevel()
    logging_mod.setLogLevel(logging_mod.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging_mod.setLogLevel(before)


def open_source(source, width: int, height: int, fps: float):
    """Open a source the way OpenCV does; the OS edge that tests may replace."""
    if source == "demo":
        return DemoScene(width, height, fps)
    cap = cv2.VideoCapture(source)
    if isinstance(source, int) or str(source).startswith("/dev/"):
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
    return cap


@functools.lru_cache(maxsize=4)
def placeholder_frame(width: int, height: int, message: str) -> np.ndarray:
    """The card shown while the source is lost; drawn once per size, then reused (read-only)."""
    img = np.full((height, width, 3), 32, np.uint8)
    scale = max(0.5, height / 720)
    for i, line in enumerate(message.split("\n")):
        (tw, th), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale, 2)
        cv2.putText(img, line, ((width - tw) // 2, height // 2 + int(i * 60 * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale, (230, 230, 230), 2, cv2.LINE_AA)
    img.flags.writeable = False
    return img


class Capture:
    """Reads frames into `slot` until stop(). `state` is 'running', 'lost', 'paused' or 'ended'."""

    def __init__(self, source, slot: LatestSlot, *, width: int = 1280, height: int = 720,
                 fps: float = 30.0, loop: bool = True, opener: Callable = open_source,
                 max_backoff_s: float = 5.0):
        self.source = parse_source(source)
        self.slot, self.width, self.height, self.fps = slot, width, height, fps
        self.loop, self.opener, self.max_backoff_s = loop, opener, max_backoff_s
        self.is_file = isinstance(self.source, str) and os.path.isfile(self.source)
        self.state = "starting"
        self.last_error = ""
        self.reconnects = 0
        self.frames = 0
        self._stop = threading.Event()
        self._wanted = threading.Event()  # cleared by pause(); set by resume() and stop()
        self._wanted.set()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self.read_ms = 0.0
        self.requested_fps = 0.0  # request_rate(); 0: the source's own rate (input.fps)

    @property
    def rate(self) -> float:
        """The rate asked of a camera or the demo scene: input.fps, or less when requested."""
        return min(self.fps, self.requested_fps) if self.requested_fps > 0 else self.fps

    def request_rate(self, fps: float) -> None:
        """Ask the source for at most `fps` frames a second (0: its own rate); applied by the
        capture thread before its next read."""
        self.requested_fps = float(fps)

    def start(self) -> "Capture":
        self._thread.start()
        return self

    def pause(self) -> None:
        """Release the source and stop reading until resume()."""
        self._wanted.clear()

    def resume(self) -> None:
        self._wanted.set()

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()
        if self._thread.ident is not None:  # never started (start-up failed): nothing to join
            self._thread.join(timeout=5)

    def describe(self) -> dict:
        return {"source": redact_url(str(self.source)), "state": self.state, "last_error": self.last_error,
                "reconnects": self.reconnects, "frames": self.frames,
                "fps_asked": round(self.rate, 2) if self._takes_rate else None}

    @property
    def _takes_rate(self) -> bool:
        """A camera (index or device) or the demo scene: sources that take CAP_PROP_FPS."""
        return isinstance(self.source, int) or str(self.source).startswith("/dev/") or self.source == "demo"

    def _open(self):
        cap = self.opener(self.source, self.width, self.height, self.rate)
        if cap is None or not cap.isOpened():
            raise OSError(f"cannot open {redact_url(str(self.source))}")
        return cap

    def _run(self) -> None:
        cap, backoff, next_try = None, 0.25, 0.0
        frames_since_open = 0
        frame_period, applied = 1.0 / self.fps, self.rate
        next_due = time.monotonic()
        while not self._stop.is_set():
            if not self._wanted.is_set():
                if cap is not None:
                    cap.release()
                    cap = None
                self.state = "paused"
                log.info("source %s released (paused)", redact_url(str(self.source)))
                self._wanted.wait()
                next_try, backoff, next_due = 0.0, 0.25, time.monotonic()
                continue
            if cap is None:
                now = time.monotonic()
                if now >= next_try:
                    try:
                        cap = self._open()
                        src_fps = cap.get(cv2.CAP_PROP_FPS)
                        applied = self.rate  # what the opener was given
                        frame_period = 1.0 / applied
                        if self.is_file and src_fps and 1 <= src_fps <= 240:
                            frame_period = 1.0 / src_fps
                        if self.state == "lost":
                            self.reconnects += 1
                            log.info("source %s is back", redact_url(str(self.source)))
                        self.state, backoff = "running", 0.25
                        frames_since_open = 0
                        continue
                    except Exception as exc:
                        self._lost(str(exc))
                        next_try = now + backoff
                        backoff = min(backoff * 2, self.max_backoff_s)
                self._publish_placeholder()
                self._stop.wait(frame_period)
                continue
            if self.rate != applied and self._takes_rate:
                applied = self.rate
                self._apply_rate(cap, applied)
                frame_period = 1.0 / applied
            t0 = time.perf_counter()
            ok, image = cap.read()
            self.read_ms = (time.perf_counter() - t0) * 1000
            if not ok or image is None:
                cap.release()
                cap = None
                if self.is_file and not self.loop:
                    self.state = "ended"
                    self.slot.close()
                    return
                if self.is_file and frames_since_open:
                    continue  # end of file: reopen at once (loop)
                self._lost("read failed (camera unplugged or stream ended)")
                next_try = time.monotonic() + backoff
                continue
            self.frames += 1
            frames_since_open += 1
            self.slot.put(Frame(image, time.monotonic()))
            if self.is_file or self.source == "demo":  # pace files and the demo to their frame rate
                next_due = max(next_due + frame_period, time.monotonic() - frame_period)
                self._stop.wait(max(0.0, next_due - time.monotonic()))
        if cap is not None:
            cap.release()

    def _apply_rate(self, cap, fps: float) -> None:
        """A camera or the demo scene: its rate, on the open source (a camera that cannot
        change it keeps its own: the worker still drops what it does not need)."""
        if cap.set(cv2.CAP_PROP_FPS, fps):
            log.info("source %s asked for %g fps (the outputs' rate)", redact_url(str(self.source)), fps)

    def _lost(self, why: str) -> None:
        if self.state != "lost":
            log.warning("source %s lost: %s; reconnecting", redact_url(str(self.source)), why)
        self.state, self.last_error = "lost", why

    def _publish_placeholder(self) -> None:
        img = placeholder_frame(self.width, self.height, "camera lost - reconnecting")
        self.slot.put(Frame(img, time.monotonic(), placeholder=True))
