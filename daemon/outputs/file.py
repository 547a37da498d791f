"""`file:PATH`: an MP4 at a steady frame rate (frames repeat when the pipeline is slower)."""
from __future__ import annotations

from pathlib import Path

import cv2

from . import register_output
from .base import Output, OutputError


class FileOutput(Output):
    kind = "file"
    paced = True

    def __init__(self, path: str, size, fps):
        super().__init__(size, fps, name=f"file:{path}")
        self.path = Path(path)
        self.writer = None

    def open(self) -> None:
        if not self.path.parent.exists():
            raise OutputError(f"folder {self.path.parent} does not exist; create it or choose another path")
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() in (".mp4", ".mov", ".m4v") else "MJPG"))
        self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self.size)
        if not self.writer.isOpened():
            raise OutputError(f"cannot write {self.path}; use a .mp4 or .avi path in a writable folder")

    def write(self, frame) -> None:
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


def _factory(arg, size, fps, **_):
    if not arg:
        raise OutputError("file output needs a path: --output file:out.mp4")
    return FileOutput(arg, size, fps)


register_output("file", _factory)
