"""Shared base for outputs that feed raw frames to an ffmpeg subprocess (RTMP push, local stream).

Frame path, none of which waits for ffmpeg or the network:
  pipeline -> LatestSlot -> pacing thread (steady fps, repeats the last frame; base.Output)
           -> FrameQueue (bounded, drops the oldest) -> stdin writer thread -> ffmpeg
A supervisor thread runs ffmpeg, reads its progress (frames muxed) and its stderr, and when it
exits restarts it after a capped exponential backoff. Everything ffmpeg says passes through
redact() before it reaches a log line or `last_error`.

States: starting -> live -> reconnecting -> live ...; stalled (ffmpeg stopped making progress:
killed, restarted with the same backoff); error (retrying cannot help: fix the settings);
stopped. Once live again, last_error moves to previous_error.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections import deque

import cv2
import numpy as np

from .. import children
from ..redact import redact, redact_url
from .base import Output, OutputError

log = logging.getLogger(__name__)

STALLED = "ffmpeg stalled"

# ffmpeg messages that no retry can fix
PERMANENT = re.compile(r"Unknown encoder|Unrecognized option|Option \S+ not found|Protocol not found|"
                       r"Error initializing output stream|Unable to find a suitable output format|"
                       r"Invalid data found when processing input")
# follow-up lines that only repeat the cause given before them
NOISE = re.compile(r"Cannot open connection|Conversion failed|Error writing trailer|Error closing file|"
                   r"Exiting normally|Error muxing|Task finished with error|Terminating thread", re.IGNORECASE)
HINTS = (
    (re.compile(r"Connection refused", re.IGNORECASE), "the server refused the connection: is it running, are host and port right?"),
    (re.compile(r"Broken pipe|Connection reset|End of file", re.IGNORECASE), "the other end closed the connection"),
    (re.compile(r"resolve hostname|Name or service not known|nodename nor servname", re.IGNORECASE),
     "unknown host: check the server address"),
    (re.compile(r"timed out|Connection timeout", re.IGNORECASE), "the connection timed out"),
    (re.compile(r"Input/output error", re.IGNORECASE), "the other end ended the session"),
    (re.compile(r"No space left on device", re.IGNORECASE), "the disk is full: free some space or write elsewhere"),
    (re.compile(r"Unknown encoder"), "this ffmpeg lacks the encoder: install a full build (ffmpeg.org, apt, brew, winget)"),
)
CONTEXT = re.compile(r"^(\[[^\]]+ @ 0x[0-9a-f]+\] )?(\[(error|fatal|warning|panic)\] )?", re.IGNORECASE)


def ffmpeg_binary() -> str:
    """The ffmpeg executable (STYLECAM_FFMPEG overrides), or OutputError naming the fix."""
    name = os.environ.get("STYLECAM_FFMPEG", "ffmpeg")
    path = shutil.which(name)
    if not path:
        raise OutputError("ffmpeg is not installed or not on PATH: install it (apt install ffmpeg, "
                          "brew install ffmpeg, winget install ffmpeg) or set STYLECAM_FFMPEG to its path")
    return path


# -- H.264 encoder choice -------------------------------------------------------------
def h264_args(encoder: str, *, bitrate_kbps: int, fps: float, keyint_s: float) -> list[str]:
    """Encoder arguments: constant-ish bitrate, a keyframe every keyint_s, no B-frames."""
    gop = max(1, round(fps * keyint_s))
    rate = ["-b:v", f"{bitrate_kbps}k", "-maxrate", f"{bitrate_kbps}k", "-bufsize", f"{2 * bitrate_kbps}k"]
    if encoder == "h264_nvenc":
        codec = ["-c:v", "h264_nvenc", "-preset", "p4", "-tune", "ll", "-rc", "cbr", "-bf", "0"]
    else:
        codec = ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-sc_threshold", "0"]
    return codec + rate + ["-g", str(gop), "-keyint_min", str(gop),
                           "-force_key_frames", f"expr:gte(t,n_forced*{keyint_s:g})", "-pix_fmt", "yuv420p"]


@functools.cache
def pick_h264_encoder(ffmpeg: str) -> str:
    """h264_nvenc when a one-frame trial encode succeeds (NVIDIA GPU and driver), else libx264."""
    if os.environ.get("STYLECAM_H264_ENCODER"):
        return os.environ["STYLECAM_H264_ENCODER"]
    trial = [ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=black:s=256x256:r=30",
             "-frames:v", "1", *h264_args("h264_nvenc", bitrate_kbps=2000, fps=30, keyint_s=2), "-f", "null", "-"]
    try:
        ok = children.run(trial, stdin=subprocess.DEVNULL, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    log.info("H.264 encoder: %s", "h264_nvenc" if ok else "libx264 (no NVENC)")
    return "h264_nvenc" if ok else "libx264"


def local_bitrate_kbps(size, fps: float) -> int:
    """Generous for a local link or a file: about 0.12 bits per pixel, at least 2 Mb/s."""
    w, h = size
    return max(2000, int(w * h * fps * 0.12 / 1000))


def even_size_args(size) -> list[str]:
    """A crop to even width and height when needed (yuv420p cannot hold odd sizes)."""
    w, h = size
    return ["-vf", f"crop={w // 2 * 2}:{h // 2 * 2}:0:0"] if w % 2 or h % 2 else []


# -- the frame queue -------------------------------------------------------------------
class FrameQueue:
    """Bounded FIFO between the pacing thread and the stdin writer; when full the oldest frame
    goes (counted in `dropped`), so put() never blocks."""

    def __init__(self, maxlen: int):
        self._items: deque = deque(maxlen=maxlen)
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item) -> None:
        with self._cond:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float):
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        with self._cond:
            self._items.clear()


# -- the output --------------------------------------------------------------------------
class FfmpegOutput(Output):
    """Subclasses give `url` and implement output_args(encoder): everything after the raw video
    input (extra inputs, filters, codecs, format, destination)."""

    kind = "ffmpeg"
    paced = True
    queue_frames = 8            # ~1/4 s at 30 fps between the pacer and ffmpeg
    backoff_first_s = 1.0       # first retry after this long ...
    backoff_max_s = 8.0         # ... doubling up to this
    stable_s = 30.0             # a run live this long resets the backoff
    stop_timeout_s = 5.0        # time ffmpeg gets to flush on stop
    stall_s = 5.0               # live, but no frame muxed for this long: stalled, restart
    start_timeout_s = 20.0      # the same before the first frame (connecting, encoder start)
    restart = True              # False: the first failure is final (a file must not be overwritten)

    def __init__(self, url: str, size, fps: float, name: str | None = None):
        super().__init__(size, fps, name=name or redact_url(url))
        self.url = url
        self.queue = FrameQueue(self.queue_frames)
        self.state = "stopped"
        self.encoder = ""
        self.frames = 0             # frames ffmpeg muxed, over all runs
        self.restarts = 0
        self.ever_live = False
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._run_frames = 0
        self._progress_at = time.monotonic()
        self._live_at: float | None = None
        self.previous_error = ""    # the last fault, kept once live again
        self._supervisor: threading.Thread | None = None
        self.running = threading.Event()  # set once the first ffmpeg has started
        self._writer: threading.Thread | None = None

    # -- to implement ---------------------------------------------------------------
    def output_args(self, encoder: str) -> list[str]:
        raise NotImplementedError

    def video_input_args(self) -> list[str]:
        """Options placed before the raw video input (after the format and size)."""
        return []

    # -- Output hooks -----------------------------------------------------------------
    def open(self) -> None:
        ffmpeg_binary()  # fail now, with the fix, when ffmpeg is missing
        self._set_state("starting")
        self._supervisor = threading.Thread(target=self._supervise, name=f"ffmpeg-{self.kind}", daemon=True)
        self._supervisor.start()

    def write(self, frame: np.ndarray) -> None:
        w, h = self.size
        if frame.shape[0] != h or frame.shape[1] != w:  # ffmpeg reads fixed-size raw frames
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        self.queue.put(np.ascontiguousarray(frame))

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None:
            self._end(proc)
        if self._supervisor is not None:
            self._supervisor.join(timeout=self.stop_timeout_s + 5)
        self._set_state("stopped")

    def describe(self) -> dict:
        d = super().describe()
        d.update(state=self.state, last_error=self.last_error, previous_error=self.previous_error,
                 url=redact_url(self.url), encoder=self.encoder,
                 frames=self.frames, restarts=self.restarts, dropped=d["dropped"] + self.queue.dropped)
        return d

    # -- the command line ---------------------------------------------------------------
    def command(self, ffmpeg: str, encoder: str) -> list[str]:
        w, h = self.size
        return [ffmpeg, "-hide_banner", "-loglevel", "repeat+level+warning", "-nostats", "-progress", "pipe:1",
                "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-framerate", f"{self.fps:g}",
                *self.video_input_args(), "-i", "pipe:0", *self.output_args(encoder)]

    # -- supervision ----------------------------------------------------------------------
    def _supervise(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                ffmpeg = ffmpeg_binary()
                self.encoder = self.encoder or pick_h264_encoder(ffmpeg)
                cmd = self.command(ffmpeg, self.encoder)
            except OutputError as exc:
                self._fail(str(exc), permanent=True)
                return
            error = self._run_once(cmd)
            if self._stop.is_set():
                break
            if self._live_at is not None and time.monotonic() - self._live_at >= self.stable_s:
                failures = 0
            failures += 1
            self.restarts += 1
            if PERMANENT.search(error) or not self.restart:
                self._fail(error, permanent=True)
                return
            delay = min(self.backoff_max_s, self.backoff_first_s * 2 ** (failures - 1))
            self._fail(error, permanent=False)
            if failures <= 5 or failures % 10 == 0:
                log.warning("%s: %s; retrying in %.0f s", self.name, self.last_error, delay)
            self._stop.wait(delay)

    def _run_once(self, cmd: list[str]) -> str:
        """Run ffmpeg until it exits; returns why it ended (redacted)."""
        if self.restarts:
            self.queue.clear()  # frames queued while disconnected are stale
        self._run_frames, self._live_at = 0, None
        lines: deque = deque(maxlen=40)
        with self._lock:
            if self._stop.is_set():
                return ""
            try:
                # dies with the daemon however it ends (children.py); started from the supervisor
                # thread, which lives as long as the output
                proc = children.popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            except OSError as exc:
                return f"cannot run ffmpeg: {exc}"
            self._proc = proc
        self.running.set()
        log.debug("%s: started ffmpeg (pid %d)", self.name, proc.pid)
        readers = [threading.Thread(target=self._read_progress, args=(proc,), daemon=True),
                   threading.Thread(target=self._read_log, args=(proc, lines), daemon=True)]
        writer = threading.Thread(target=self._feed, args=(proc,), name=f"ffmpeg-stdin-{self.kind}", daemon=True)
        for t in (*readers, writer):
            t.start()
        self._writer = writer
        stalled = self._watch(proc)
        code = proc.wait()
        for t in (*readers, writer):
            t.join(timeout=2)
        with self._lock:
            self._proc = None
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            try:
                pipe.close()
            except (OSError, ValueError):
                pass
        if self._stop.is_set():
            return ""
        return stalled or summarize(list(lines), code)

    def _watch(self, proc: subprocess.Popen) -> str:
        """Wait for ffmpeg to exit; kill it when its frame count stops rising (a hung encoder or
        a connection that accepts nothing): stall_s once live, start_timeout_s before that.
        Returns why it was killed, or ""."""
        self._progress_at = time.monotonic()
        while True:
            try:
                proc.wait(timeout=0.5)
                return ""
            except subprocess.TimeoutExpired:
                pass
            if self._stop.is_set():
                continue  # close() is ending it
            limit = self.stall_s if self._run_frames > 0 else self.start_timeout_s
            idle = time.monotonic() - self._progress_at
            if idle > limit:
                why = f"{STALLED}: no frame muxed for {idle:.0f} s; restarting it"
                self._set_state("stalled")
                self.last_error = why
                log.warning("%s: %s", self.name, why)
                proc.kill()
                return why

    def _feed(self, proc: subprocess.Popen) -> None:
        pipe = proc.stdin
        try:
            while proc.poll() is None:
                frame = self.queue.get(timeout=0.25)
                if frame is None:
                    if self._stop.is_set():  # stopping: the queue is drained, now EOF
                        break
                    continue
                pipe.write(memoryview(frame).cast("B"))
                pipe.flush()
        except (OSError, ValueError):  # BrokenPipe: ffmpeg has gone; the supervisor sees why
            pass

    def _read_progress(self, proc: subprocess.Popen) -> None:
        base = self.frames
        for raw in proc.stdout:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            if key == "frame" and value.isdigit():
                if int(value) > self._run_frames:
                    self._progress_at = time.monotonic()
                self._run_frames = int(value)
                self.frames = base + self._run_frames
                if self._run_frames > 0 and self.state != "live" and proc.poll() is None:
                    self._live_at = time.monotonic()
                    self.ever_live = True
                    if self.last_error:  # live again: the fault is history
                        self.previous_error, self.last_error = self.last_error, ""
                    self._set_state("live")
                    log.info("%s: live (%s)", self.name, self.encoder)

    def _read_log(self, proc: subprocess.Popen, lines: deque) -> None:
        for raw in proc.stderr:
            line = redact(raw.decode("utf-8", "replace").rstrip())
            if line:
                lines.append(line)
                log.debug("%s ffmpeg: %s", self.name, line)

    def _end(self, proc: subprocess.Popen) -> None:
        """EOF on stdin lets ffmpeg flush and finish; an endless second input (the silent audio)
        keeps it going, so after a moment it gets SIGTERM (also a clean finish), then SIGKILL."""
        writer = self._writer
        if writer is not None:
            writer.join(timeout=1.0)
        if writer is None or not writer.is_alive():
            try:
                proc.stdin.close()
            except OSError:
                pass
        else:  # ffmpeg stopped reading (a stalled connection): a clean finish cannot happen
            proc.terminate()
        for wait_s, then in ((1.0, proc.terminate), (self.stop_timeout_s, proc.kill), (5.0, None)):
            try:
                proc.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                if then is not None:
                    then()

    def _set_state(self, state: str) -> None:
        self.state = state

    def _fail(self, error: str, *, permanent: bool) -> None:
        if not self.ever_live and not permanent and "host" not in error:
            error += f" (check the URL{' and stream key' if self.kind == 'rtmp' else ''})"
        self.last_error = error
        self._set_state("error" if permanent else "stalled" if error.startswith(STALLED) else "reconnecting")
        if permanent:  # nothing more will be written: stop taking frames (the daemon carries on)
            self.running.set()  # no one waits for a start that will not come
            self.fail(error)


def summarize(lines: list[str], code: int) -> str:
    """One line saying why ffmpeg ended: the first error that names a cause, plus a hint."""
    errors = [CONTEXT.sub("", ln) for ln in lines if "[error]" in ln or "[fatal]" in ln or "[panic]" in ln]
    causes = [ln for ln in errors if not NOISE.search(ln)] or errors
    if not causes:
        return f"ffmpeg exited with code {code}"
    cause = causes[0]
    for pattern, hint in HINTS:
        if pattern.search(cause):
            return f"{hint} ({cause})"
    return cause
