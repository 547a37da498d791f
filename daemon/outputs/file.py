"""`file:PATH`: a recording at a steady frame rate (frames repeat when the pipeline is slower).

With ffmpeg on PATH the frames go through the same ffmpeg supervisor as the streams: H.264 in
fragmented MP4 (.mp4/.mov/.m4v, a fragment a second), Matroska (.mkv) or AVI, so a daemon
that is killed leaves a playable file missing at most the last second. A write that fails
(a full disk, a removed drive) ends ffmpeg: the output reports the error once in /status and
the log and stops; the daemon and the other outputs carry on. The file is never restarted
(that would overwrite it).

Without ffmpeg, OpenCV's writer (MPEG-4 Part 2 / MJPEG) is used; it cannot report failed
writes, so the output checks the free space on the file's disk every second instead.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2

from . import register_output
from .base import Output, OutputError, OutputFailed
from .ffmpeg import (
    FfmpegOutput,
    even_size_args,
    ffmpeg_binary,
    h264_args,
    local_bitrate_kbps,
)

log = logging.getLogger(__name__)

MP4_LIKE = (".mp4", ".mov", ".m4v")
FORMATS = {".mkv": "matroska", ".avi": "avi", **{ext: "mp4" for ext in MP4_LIKE}}
FRAGMENT_S = 1  # a keyframe and an MP4 fragment every second: what a SIGKILL can lose


def _check_path(path: Path) -> None:
    if not path.parent.exists():
        raise OutputError(f"folder {path.parent} does not exist; create it or choose another path")
    if path.suffix.lower() not in FORMATS:
        raise OutputError(f"cannot write {path}: end the name with {', '.join(FORMATS)}")


class FfmpegFileOutput(FfmpegOutput):
    kind = "file"
    restart = False
    start_timeout_s = 60.0  # no network to wait for, but a loaded machine may start ffmpeg slowly

    def __init__(self, path: str, size, fps):
        super().__init__(path, size, fps, name=f"file:{path}")
        self.path = Path(path)

    def open(self) -> None:
        _check_path(self.path)
        try:  # fail now, with the reason, rather than in ffmpeg's thread
            self.path.open("ab").close()
        except OSError as exc:
            raise OutputError(f"cannot write {self.path} ({exc.strerror}); choose a path in a writable folder") from None
        super().open()
        # frames sent from now on reach the file, even when the output is removed at once
        self.running.wait(timeout=self.start_timeout_s)

    def output_args(self, encoder: str) -> list[str]:
        fmt = FORMATS[self.path.suffix.lower()]
        mux = ["-movflags", "+frag_keyframe+empty_moov+default_base_moof"] if fmt == "mp4" else []
        return ["-y", *even_size_args(self.size),
                *h264_args(encoder, bitrate_kbps=local_bitrate_kbps(self.size, self.fps), fps=self.fps,
                           keyint_s=FRAGMENT_S),
                *mux, "-f", fmt, str(self.path)]


class FileOutput(Output):
    """The OpenCV writer, for machines without ffmpeg."""

    kind = "file"
    paced = True

    def __init__(self, path: str, size, fps):
        super().__init__(size, fps, name=f"file:{path}")
        self.path = Path(path)
        self.writer = None
        self._frame_bytes = size[0] * size[1] * 3

    def open(self) -> None:
        _check_path(self.path)
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() in MP4_LIKE else "MJPG"))
        self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self.size)
        if not self.writer.isOpened():
            raise OutputError(f"cannot write {self.path}; use a .mp4 or .avi path in a writable folder")

    def write(self, frame) -> None:
        if self.sent % max(1, round(self.fps)) == 0:
            free = shutil.disk_usage(self.path.parent).free
            if free < 2 * self._frame_bytes:
                raise OutputFailed(f"the disk holding {self.path} is full ({free // 1024} KiB free): "
                                   "free some space or write elsewhere")
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


def _factory(arg, size, fps, **_):
    if not arg:
        raise OutputError("file output needs a path: --output file:out.mp4")
    try:
        ffmpeg_binary()
    except OutputError:
        log.warning("ffmpeg not found: recording %s with OpenCV's writer (a killed daemon leaves an unplayable "
                    "MP4); install ffmpeg for H.264 in fragmented MP4", arg)
        return FileOutput(arg, size, fps)
    return FfmpegFileOutput(arg, size, fps)


register_output("file", _factory)
