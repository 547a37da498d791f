"""Camera loss: a source that fails mid-run and comes back. The virtual camera keeps receiving
frames at its rate throughout (a "camera lost - reconnecting" card while the source is gone),
and the daemon picks the source up again by itself.

Only the OS edge is replaced: the capture `opener` (a "camera" that plays the real clip and can
be unplugged), or the real clip file is renamed away and back."""
from __future__ import annotations

import shutil
import threading
import time

import cv2
import numpy as np
from conftest import make_config, read_frames, wait_for, write_clip
from stylecam.capture import open_source

FPS = 15.0


class UnpluggableCamera:
    """A webcam made of a real clip: reads block at the clip's rate like a camera's; while
    unplugged, read() fails and opening fails, as with a pulled USB cable."""

    def __init__(self, clip: str, plugged: bool = True):
        self.clip = clip
        self.plugged = threading.Event()
        if plugged:
            self.plugged.set()
        self.opens = 0

    def opener(self, source, width, height, fps):
        if not self.plugged.is_set():
            return cv2.VideoCapture()  # what OpenCV gives for a missing device: not opened
        self.opens += 1
        return _CameraHandle(self, open_source(self.clip, width, height, fps))


class _CameraHandle:
    def __init__(self, camera: UnpluggableCamera, cap):
        self.camera, self.cap = camera, cap
        self.period = 1.0 / (cap.get(cv2.CAP_PROP_FPS) or 25.0)
        self.next_due = time.monotonic()

    def isOpened(self):
        return self.cap.isOpened()

    def read(self):
        if not self.camera.plugged.is_set():
            return False, None
        self.next_due = max(self.next_due + self.period, time.monotonic() - self.period)
        time.sleep(max(0.0, self.next_due - time.monotonic()))  # a camera delivers at its rate
        ok, img = self.cap.read()
        if not ok:  # the clip ended: start again, the camera goes on
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self.cap.read()
        return ok, img

    def get(self, prop):
        return self.cap.get(prop)

    def set(self, prop, value):
        return False

    def release(self):
        self.cap.release()


def is_lost_card(frame: np.ndarray) -> bool:
    """The placeholder: dark grey with a line of light text."""
    return frame.mean() < 60 and np.median(frame) <= 40


def camera_config(recorder, **input_cfg):
    return make_config(input={"source": "0", **input_cfg},  # a camera index: not a file
                       output={"size": "256x144", "fps": FPS, "virtualcam_backend": recorder.backend},
                       processing={"max_size": "256x144", "min_size": "128x72", "target_fps": FPS})


def check_fed_throughout(recorder, t0: float, t1: float) -> None:
    rate = recorder.rate(t0, t1)
    assert FPS * 0.75 <= rate <= FPS * 1.25, f"virtual camera got {rate:.1f} fps, configured {FPS}"
    assert recorder.max_gap(t0, t1) < 1.0, "the virtual camera went without frames"


def sent_while_lost(recorder, frames: float) -> None:
    """Wait until the virtual camera has received `frames` more frames (the source is gone)."""
    start = recorder.count
    wait_for(lambda: recorder.count >= start + frames, what=f"{frames:g} frames while the source is gone")


def test_camera_loss_keeps_virtualcam_fed(virtualcam, run_service, carphone_clip):
    camera = UnpluggableCamera(carphone_clip)
    svc = run_service(camera_config(virtualcam), outputs=["virtualcam"], opener=camera.opener)
    wait_for(lambda: virtualcam.count >= 15, what="first frames on the virtual camera")
    t_start = time.monotonic()
    assert svc.status()["input"]["state"] == "running"
    assert not is_lost_card(virtualcam.last_frames(1)[0])

    camera.plugged.clear()  # pull the cable
    t_unplug = time.monotonic()
    wait_for(lambda: svc.status()["input"]["state"] == "lost", what="the loss to be noticed")
    status = svc.status()["input"]
    assert "read failed" in status["last_error"]
    sent_while_lost(virtualcam, 2 * FPS)
    t_plug = time.monotonic()
    lost_frames = virtualcam.last_frames(int(FPS))
    assert sum(is_lost_card(f) for f in lost_frames) >= len(lost_frames) // 2

    camera.plugged.set()  # plug it back in
    wait_for(lambda: svc.status()["input"]["reconnects"] >= 1, timeout=20, what="the reconnect")
    assert svc.status()["input"]["state"] == "running"
    wait_for(lambda: not any(is_lost_card(f) for f in virtualcam.last_frames(5)), what="stylized pictures again")
    t_end = time.monotonic()

    check_fed_throughout(virtualcam, t_start, t_end)
    check_fed_throughout(virtualcam, t_unplug + 0.5, t_plug)  # fed while the camera is gone too
    assert virtualcam.shapes == {(144, 256, 3)}


def test_daemon_starts_without_a_camera_and_picks_it_up(virtualcam, run_service, carphone_clip):
    camera = UnpluggableCamera(carphone_clip, plugged=False)
    svc = run_service(camera_config(virtualcam), outputs=["virtualcam"], opener=camera.opener)
    wait_for(lambda: virtualcam.count >= 10, what="the lost-camera card on the virtual camera")
    assert all(is_lost_card(f) for f in virtualcam.last_frames(5))
    assert svc.status()["input"]["state"] == "lost"
    camera.plugged.set()
    wait_for(lambda: svc.status()["input"]["state"] == "running", timeout=20, what="the camera to be found")
    wait_for(lambda: not is_lost_card(virtualcam.last_frames(1)[0]), what="stylized frames")


def test_video_file_renamed_away_and_back_keeps_virtualcam_fed(virtualcam, run_service, carphone_clip, tmp_path):
    # a one-second real clip, played in a loop: it is reopened at every end
    clip = write_clip(tmp_path / "clip.mp4", read_frames(carphone_clip, 30), 30.0)
    svc = run_service(camera_config(virtualcam, source=str(clip)), outputs=["virtualcam"])
    wait_for(lambda: virtualcam.count >= 15, what="first frames on the virtual camera")
    t_start = time.monotonic()

    away = tmp_path / "moved.mp4"
    shutil.move(clip, away)
    wait_for(lambda: svc.status()["input"]["state"] == "lost", what="the missing file to be noticed")
    assert "cannot open" in svc.status()["input"]["last_error"]
    sent_while_lost(virtualcam, FPS)
    shutil.move(away, clip)
    wait_for(lambda: svc.status()["input"]["reconnects"] >= 1, timeout=20, what="the file to be reopened")
    wait_for(lambda: not is_lost_card(virtualcam.last_frames(1)[0]), what="stylized pictures again")
    t_end = time.monotonic()

    check_fed_throughout(virtualcam, t_start, t_end)
    assert svc.status()["input"]["state"] == "running"


def test_video_file_without_frames_is_retried_with_backoff_not_in_a_busy_loop(tmp_path):
    from stylecam.capture import Capture
    from stylecam.slots import LatestSlot

    empty = tmp_path / "empty.avi"  # opens fine, has no frames
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    writer.release()
    opens = []

    def counting_opener(*args):
        opens.append(time.monotonic())
        return open_source(*args)

    slot = LatestSlot()
    cap = Capture(str(empty), slot, width=320, height=180, fps=25.0, opener=counting_opener).start()
    try:
        time.sleep(2.0)
        placeholder = slot.get(timeout=2)
    finally:
        cap.stop()
    assert len(opens) <= 8, f"{len(opens)} opens in 2 s: a busy loop"
    assert cap.state == "lost"
    assert placeholder is not None and placeholder.placeholder


def test_a_network_source_is_shown_without_its_password_or_token():
    from stylecam.capture import Capture
    from stylecam.slots import LatestSlot

    cap = Capture("rtsp://admin:hunter2@cam.local:554/stream?token=s3cret&ch=1", LatestSlot())
    shown = cap.describe()["source"]
    assert "hunter2" not in shown and "s3cret" not in shown
    assert shown.startswith("rtsp://admin:****@cam.local:554/stream") and "ch=1" in shown
