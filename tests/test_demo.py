"""The built-in demo input: what a new user without a camera sees first."""
import cv2
import numpy as np

from stylecam.cli import resolve_input
from stylecam.demo import DemoScene


def test_no_camera_falls_back_to_the_demo_scene(monkeypatch):
    class NoCamera:
        def __init__(self, *_):
            pass

        def isOpened(self):  # noqa: N802
            return False

        def read(self):
            return False, None

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", NoCamera)  # the OS edge: no camera device
    assert resolve_input("auto") == "demo"
    assert resolve_input("clip.mp4") == "clip.mp4"


def test_demo_scene_moves_and_has_texture_for_the_style_network():
    scene = DemoScene(640, 360, 30)
    frames = [scene.read()[1] for _ in range(31)]
    assert all(f.shape == (360, 640, 3) and f.dtype == np.uint8 for f in frames)
    moved = np.abs(frames[30].astype(int) - frames[0].astype(int)).mean()
    assert moved > 1.0, "the demo scene should move"
    grey = cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY)
    assert cv2.Laplacian(grey, cv2.CV_32F).var() > 20, "flat scenes stylize poorly: keep texture"
