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
    def _noise(h: int, w: int, cell: int, rng: np.random.Generator) -> np.ndarray:
        """Smooth value noise in 0..1 (random grid, bicubic upsampling)."""
        grid = rng.random((h // cell + 2, w // cell + 2)).astype(np.float32)
        return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)

    @classmethod
    def _room(cls, w: int, h: int) -> np.ndarray:
        rng = np.random.default_rng(7)
        u = max(1, h // 90)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        # wallpaper: a diamond pattern over a warm gradient, with plaster grain
        pattern = (np.sin(xx / (7 * u) + yy / (7 * u)) * np.sin(xx / (7 * u) - yy / (7 * u))) > 0.55
        grain = cls._noise(h, w, 3 * u, rng) * 0.5 + cls._noise(h, w, 40 * u, rng) * 0.5
        wall = np.stack([120 + 50 * grain, 150 + 40 * grain, 185 + 30 * grain], -1)
        wall[pattern] *= 0.85
        img = wall.clip(0, 255).astype(np.uint8)
        # wooden floor: planks with grain
        floor = int(h * 0.72)
        fx = xx[floor:]
        rings = np.sin(fx / (1.5 * u) + 9 * cls._noise(h - floor, w, 12 * u, rng)) * 0.5 + 0.5
        wood = np.stack([40 + 30 * rings, 75 + 40 * rings, 120 + 50 * rings], -1)
        img[floor:] = wood.astype(np.uint8)
        for x in range(0, w, 60 * u):
            cv2.line(img, (x, floor), (x + (x - w // 2) // 3, h), (30, 45, 70), max(1, u))
        # window with sky, clouds and a hill
        wx0, wy0, wx1, wy1 = int(w * 0.06), int(h * 0.1), int(w * 0.36), int(h * 0.55)
        sky_h, sky_w = wy1 - wy0, wx1 - wx0
        clouds = cls._noise(sky_h, sky_w, 18 * u, rng)
        sky = np.stack([235 - 40 * clouds, 190 + 40 * clouds, 130 + 110 * clouds], -1)
        img[wy0:wy1, wx0:wx1] = sky.clip(0, 255).astype(np.uint8)
        hill = (wy1 - (0.25 + 0.08 * np.sin(np.arange(sky_w) / (15 * u))) * sky_h).astype(int)
        for i, top in enumerate(hill):
            img[top:wy1, wx0 + i] = (60, 140 + (i % 7) * 3, 70)
        cv2.circle(img, (int(w * 0.28), int(h * 0.22)), int(h * 0.05), (120, 230, 255), -1)
        cv2.rectangle(img, (wx0, wy0), (wx1, wy1), (40, 50, 60), max(2, h // 80))
        cv2.line(img, ((wx0 + wx1) // 2, wy0), ((wx0 + wx1) // 2, wy1), (40, 50, 60), max(2, h // 120))
        # bookshelf with books of different colours and heights
        bx0, by0, bx1, by1 = int(w * 0.64), int(h * 0.14), int(w * 0.94), int(h * 0.62)
        cv2.rectangle(img, (bx0, by0), (bx1, by1), (30, 55, 95), -1)
        for shelf in range(3):
            top = by0 + shelf * (by1 - by0) // 3
            x = bx0 + 4 * u
            while x < bx1 - 8 * u:
                bw = int(rng.integers(5, 11)) * u
                bh = int((by1 - by0) // 3 * rng.uniform(0.6, 0.92))
                colour = tuple(int(c) for c in rng.integers(40, 230, 3))
                cv2.rectangle(img, (x, top + (by1 - by0) // 3 - bh), (min(x + bw, bx1 - 4 * u), top + (by1 - by0) // 3 - 2 * u), colour, -1)
                x += bw + u
            cv2.line(img, (bx0, top), (bx1, top), (20, 35, 60), 2 * u)
        # a plant
        px, py = int(w * 0.9), int(h * 0.9)
        for k in range(9):
            a = -math.pi / 2 + (k - 4) * 0.3
            tip = (int(px + math.cos(a) * 22 * u), int(py - 10 * u + math.sin(a) * 22 * u))
            cv2.line(img, (px, py - 10 * u), tip, (50, 150 + 8 * k, 60), max(1, 3 * u // 2))
        cv2.rectangle(img, (px - 7 * u, py - 10 * u), (px + 7 * u, py + 4 * u), (40, 70, 160), -1)
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
        body = (cx, cy + int(r * 2.6))
        shirt = np.zeros((h, w), np.uint8)
        cv2.ellipse(shirt, body, (int(r * 1.7), int(r * 1.6)), 0, 0, 360, 255, -1)
        stripes = ((np.arange(w) - cx) // max(2, r // 8)) % 2 == 0
        colour = np.where(stripes[None, :, None], (110, 90, 210), (70, 40, 150)).astype(np.uint8)
        img[shirt > 0] = np.broadcast_to(colour, (h, w, 3))[shirt > 0]
        cv2.ellipse(img, body, (int(r * 1.7), int(r * 1.6)), 0, 0, 360, (40, 20, 90), max(2, r // 20))
        cv2.circle(img, (cx, cy + int(r * 0.9)), int(r * 0.35), (120, 150, 200), -1)  # neck
        cv2.circle(img, (cx, cy), r, (140, 170, 220), -1)
        cv2.circle(img, (cx, cy), r, (60, 80, 120), max(2, r // 25))
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

    def set(self, prop, value) -> bool:
        """CAP_PROP_FPS, as a camera takes it: the scene's clock keeps running where it was."""
        if prop == cv2.CAP_PROP_FPS and value > 0:
            self.t = round(self.t * value / self.fps)
            self.fps = float(value)
            return True
        return False

    def get(self, prop) -> float:
        if prop == cv2.CAP_PROP_FPS:
            return self.fps
        return 0.0

    def release(self) -> None:
        pass
