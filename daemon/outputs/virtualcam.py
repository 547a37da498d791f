"""`virtualcam`: publish to a virtual camera through pyvirtualcam (Zoom, Teams, OBS see it as
a webcam). Frames go out at a steady rate; the last frame repeats if the pipeline stalls."""
from __future__ import annotations

import sys

from ..messages import first_line
from . import register_output
from .base import Output, OutputError

LOOPBACK_OPTIONS = "devices=1 video_nr=10 card_label=stylecam exclusive_caps=1"  # Chrome/Zoom/Teams need exclusive_caps
LOAD_CMD = f"sudo modprobe v4l2loopback {LOOPBACK_OPTIONS}"
HOW_TO = {
    "linux": f"install v4l2loopback and load it: sudo apt install v4l2loopback-dkms && {LOAD_CMD}",
    "win32": "install OBS Studio (28+) and start its Virtual Camera once, or install Unity Capture",
    "darwin": "install OBS Studio (30+), start its Virtual Camera once (Tools > Start Virtual Camera), then stop it",
}


def how_to_get_one() -> str:
    return HOW_TO.get(sys.platform, HOW_TO["linux"])


class VirtualCamOutput(Output):
    kind = "virtualcam"
    paced = True
    idle_fps = 2.0  # the paused card: nobody watches, converting 30 copies a second is waste

    def __init__(self, size, fps, backend: str = "", device: str = ""):
        super().__init__(size, fps, name="virtualcam")
        self.backend, self.device = backend or None, device or None
        self.cam = None

    def open(self) -> None:
        try:
            import pyvirtualcam
        except ImportError as exc:
            raise OutputError("pyvirtualcam is missing: pip install pyvirtualcam") from exc
        w, h = self.size
        try:
            self.cam = pyvirtualcam.Camera(width=w, height=h, fps=self.fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                           backend=self.backend, device=self.device)
        except Exception as exc:
            raise OutputError(f"no virtual camera available ({first_line(exc)}). "
                              f"To get one, {how_to_get_one()}. Meanwhile use --output window, "
                              "--output file:out.mp4 or --output stream:udp://127.0.0.1:9999 (OBS Media Source)") from exc
        self.device_name = getattr(self.cam, "device", "")

    def write(self, frame) -> None:
        self.cam.send(frame)

    def close(self) -> None:
        if self.cam is not None:
            self.cam.close()
            self.cam = None

    def describe(self) -> dict:
        d = super().describe()
        d["device"] = getattr(self, "device_name", "")
        d["backend"] = getattr(self.cam, "backend", self.backend) if self.cam else self.backend
        return d


def _factory(arg, size, fps, backend: str = "", device: str = "", **_):
    return VirtualCamOutput(size, fps, backend=backend, device=arg or device)


register_output("virtualcam", _factory)
