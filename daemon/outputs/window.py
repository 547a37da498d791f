"""`window`: a preview window (OpenCV HighGUI). Closing it or pressing q hides the preview;
the daemon goes on."""
from __future__ import annotations

import os
import sys

import cv2

from . import register_output
from .base import Output, OutputError

TITLE = "stylecam preview"


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class WindowOutput(Output):
    kind = "window"

    def open(self) -> None:
        if not display_available():
            raise OutputError("no display for a preview window (DISPLAY is not set); "
                              "use --output file:out.mp4 or --output null")
        try:
            cv2.namedWindow(TITLE, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise OutputError("this OpenCV has no GUI support (opencv-python-headless?); "
                              "pip install opencv-python, or use --output file:out.mp4") from exc
        self.closed_by_user = False

    def write(self, frame) -> None:
        if self.closed_by_user:
            return
        cv2.imshow(TITLE, frame)
        key = cv2.waitKey(1) & 0xFF
        if key == ord("q") or cv2.getWindowProperty(TITLE, cv2.WND_PROP_VISIBLE) < 1:
            self.closed_by_user = True
            cv2.destroyWindow(TITLE)

    def close(self) -> None:
        try:
            cv2.destroyWindow(TITLE)
        except cv2.error:
            pass


register_output("window", lambda arg, size, fps, **_: WindowOutput(size, fps))
