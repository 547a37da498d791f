"""The built-in demo input: an animated scene drawn by stylecam itself, so a machine with no
camera still shows stylized output at once. A sunlit room with a window, a moving figure and
drifting shapes: edges, flat areas and motion for the style network to work on."""
from __future__ import annotations

import math

import cv2
import numpy as np


class DemoScene:
    """Behaves like the part of cv2.VideoCapture the capture stage uses."""

    def __init__(self, width: int = 1280, height: int = 720, fps: float = 30.0):
        self.width, self.height, self.fps = width, height, fps
        self.t = 0
        self._background = self._room(width, height)

    @staticmethod
    def _room(w: int, h: int) -> np.ndarray:
        y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
        x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
        wall = np.stack([150 + 60 * x + 0 * y, 170 + 40 * y + 0 * x, 200 - 30 * x + 0 * y], -1)
        img = np.ascontiguousarray(wall.astype(np.uint8))
        floor = int(h * 0.72)
        img[floor:] = (60, 90, 130)
        for i in range(0, w, max(8, w // 16)):
            cv2.line(img, (i, floor), (w // 2 + (i - w // 2) * 2, h), (50, 70, 105), 2)
        wx0, wy0, wx1, wy1 = int(w * 0.06), int(h * 0.1), int(w * 0.36), int(h * 0.55)
        img[wy0:wy1, wx0:wx1] = (235, 200, 140)
        cv2.circle(img, (int(w * 0.28), int(h * 0.22)), int(h * 0.06), (120, 230, 255), -1)
        cv2.rectangle(img, (wx0, wy0), (wx1, wy1), (40, 50, 60), max(2, h // 80))
        cv2.line(img, ((wx0 + wx1) // 2, wy0), ((wx0 + wx1) // 2, wy1), (40, 50, 60), max(2, h // 120))
        cv2.rectangle(img, (int(w * 0.66), int(h * 0.18)), (int(w * 0.9), int(h * 0.5)), (30, 60, 120), -1)
        for k in range(5):
            x0 = int(w * (0.67 + 0.045 * k))
            cv2.rectangle(img, (x0, int(h * 0.2)), (x0 + int(w * 0.035), int(h * 0.48)),
                          (40 + 40 * k, 120, 200 - 30 * k), -1)
        return img

    def isOpened(self) -> bool:  # noqa: N802 (cv2 naming)
        return True

    def read(self):
        w, h = self.width, self.height
        t = self.t / self.fps
        self.t += 1
        img = self._background.copy()
        cx = int(w * (0.5 + 0.12 * math.sin(t * 0.7)))
        cy = int(h * (0.52 + 0.02 * math.sin(t * 1.9)))
        r = int(h * 0.13)
        cv2.ellipse(img, (cx, cy + int(r * 2.6)), (int(r * 1.7), int(r * 1.5)), 0, 180, 360, (70, 40, 150), -1)
        cv2.circle(img, (cx, cy), r, (150, 180, 225), -1)
        cv2.ellipse(img, (cx, cy - int(r * 0.35)), (int(r * 1.05), int(r * 0.75)), 0, 180, 360, (30, 40, 60), -1)
        eye = int(r * 0.12)
        look = int(r * 0.08 * math.sin(t * 1.3))
        for dx in (-0.38, 0.38):
            cv2.circle(img, (cx + int(dx * r) + look, cy), eye, (40, 30, 30), -1)
        cv2.ellipse(img, (cx, cy + int(r * 0.4)), (int(r * 0.35), int(r * 0.15)), 0, 0, 180, (60, 60, 160), 3)
        for k in range(3):
            a = t * (0.5 + 0.2 * k) + k * 2.1
            px, py = int(w * (0.5 + 0.4 * math.cos(a))), int(h * (0.3 + 0.2 * math.sin(a * 1.3)))
            cv2.circle(img, (px, py), int(h * 0.03), (60 + 80 * k, 200 - 50 * k, 90 + 60 * k), -1)
        return True, img

    def set(self, *_args) -> bool:
        return False

    def get(self, prop) -> float:
        if prop == cv2.CAP_PROP_FPS:
            return self.fps
        return 0.0

    def release(self) -> None:
        pass
