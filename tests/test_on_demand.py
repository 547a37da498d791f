"""On demand: with the virtual camera as the only output, the daemon idles while no process
reads its device (no inference, the camera source released, an idle card on the virtual
camera at a low rate), wakes with stylized frames when a reader opens it, and does not flap
when a reader closes and reopens within the grace period. Independently, the worker never
stylizes more frames than the outputs publish.

The OS edge is the only stand-in: the v4l2loopback device is a real file that a pyvirtualcam
backend registered by the test holds open and writes (conftest `loopback_device`); readers are
real processes, not descendants of this one (the daemon's own process tree does not count),
that open and close that file."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_config, read_frames, wait_for, write_clip
from stylecam.config import ConfigError
from stylecam.ondemand import RateCap, can_see_readers, device_readers, idle_card

OUT = (256, 144)
OUT_FPS = 15.0
GRACE_S = 4.0

HOLDER = r"""
import os, signal, sys
path = sys.argv[1]
fds = [os.open(path, os.O_RDONLY)]
def close(*_):
    while fds:
        os.close(fds.pop())
def reopen(*_):
    if not fds:
        fds.append(os.open(path, os.O_RDONLY))
signal.signal(signal.SIGUSR1, close)
signal.signal(signal.SIGUSR2, reopen)
while True:
    signal.pause()
"""

LAUNCHER = r"""
import subprocess, sys
p = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(p.pid, flush=True)
"""


class Reader:
    """A process that holds `path` open (an app with the camera open). It is started through a
    launcher that exits at once, so it is not a descendant of the test process (nor of the
    daemon inside it). SIGUSR1 closes the device, SIGUSR2 reopens it."""

    def __init__(self, path: str):
        self.path = path
        out = subprocess.run([sys.executable, "-c", LAUNCHER, HOLDER, path], check=True,
                             capture_output=True, text=True, timeout=30)
        self.pid = int(out.stdout.strip())
        wait_for(self.holds_open, what="the reader to open the device")

    def holds_open(self) -> bool:
        return self.pid in [r.pid for r in device_readers(self.path)]

    def close_device(self) -> None:
        os.kill(self.pid, signal.SIGUSR1)
        wait_for(lambda: not self.holds_open(), what="the reader to close the device")

    def reopen_device(self) -> None:
        os.kill(self.pid, signal.SIGUSR2)
        wait_for(self.holds_open, what="the reader to reopen the device")

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        wait_for(lambda: not Path(f"/proc/{self.pid}").exists() or _zombie(self.pid),
                 what="the reader to exit")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
def reader_factory():
    readers = []

    def _start(path: str) -> Reader:
        readers.append(Reader(path))
        return readers[-1]

    yield _start
    for r in readers:
        r.stop()


def holds_open(pid: int, path: str) -> bool:
    """Whether process `pid` has `path` open (its fd table in /proc)."""
    target = os.path.realpath(path)
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:
            continue
    return False


def is_card(frame: np.ndarray) -> bool:
    return np.array_equal(frame, idle_card(OUT))


@pytest.fixture
def clip(carphone_clip, tmp_path) -> str:
    """Two seconds of a real talking-head clip at 30 fps, looped: the "camera" (a file that
    OpenCV holds open while it captures, so releasing it shows in /proc)."""
    return str(write_clip(tmp_path / "camera.mp4", read_frames(carphone_clip, 60), 30.0))


def on_demand_config(device, clip: str, **processing):
    return make_config(input={"source": clip},
                       processing={"max_size": "128x72", "min_size": "128x72", "target_fps": OUT_FPS,
                                   "idle_after_s": GRACE_S, **processing},
                       output={"size": "%dx%d" % OUT, "fps": OUT_FPS, "virtualcam_backend": device.backend})


def test_idle_without_a_reader_releases_the_camera_and_keeps_the_card_flowing(
        loopback_device, run_service, clip):
    svc = run_service(on_demand_config(loopback_device, clip), outputs=["virtualcam"])
    wait_for(lambda: loopback_device.count >= 2, what="the idle card on the virtual camera")
    status = svc.status()
    assert status["state"] == "idle" and status["on_demand"] == "auto"
    assert loopback_device.device in status["state_reason"] and status["readers"] == []
    assert status["input"]["state"] == "paused"
    assert not holds_open(os.getpid(), clip), "the camera source is still open while idle"
    frames_before = status["frames"]
    t0 = time.monotonic()
    time.sleep(3.0)
    t1 = time.monotonic()
    assert svc.status()["frames"] == frames_before, "frames were stylized while idle"
    idle_frames = loopback_device.times_between(t0, t1)
    assert len(idle_frames) >= 3, "the virtual camera went without frames while idle"
    assert loopback_device.rate(t0, t1) < OUT_FPS / 2, "the idle card is sent at the full rate"
    assert all(is_card(f) for f in loopback_device.last_frames(len(idle_frames)))
    assert holds_open(os.getpid(), loopback_device.device)  # the virtual camera itself stays open


def test_a_reader_wakes_it_with_stylized_frames_and_idles_it_again_when_it_leaves(
        loopback_device, run_service, reader_factory, clip):
    svc = run_service(on_demand_config(loopback_device, clip), outputs=["virtualcam"])
    wait_for(lambda: svc.status()["state"] == "idle", what="idle before any reader")
    reader = reader_factory(loopback_device.device)
    t_open = time.monotonic()
    status = wait_for(lambda: (s := svc.status())["state"] == "running" and s, what="the daemon to wake")
    assert f"pid {reader.pid} (python" in status["state_reason"]
    assert status["readers"][0]["pid"] == reader.pid
    wait_for(lambda: not is_card(loopback_device.last_frames(1)[0]), what="stylized frames after the wake")
    print(f"reader opened -> first stylized frame on the device: {time.monotonic() - t_open:.2f} s (polled)")
    assert holds_open(os.getpid(), clip), "the camera source was not reopened"
    assert svc.status()["wake_ms"] is not None

    t_leaving = time.monotonic()
    reader.stop()
    wait_for(lambda: svc.status()["state"] == "idle", what="idle after the reader left")
    # the grace counts from the last check that saw the reader (checks come twice a second)
    assert time.monotonic() - t_leaving >= GRACE_S / 2, "went idle long before the grace period ended"
    wait_for(lambda: is_card(loopback_device.last_frames(1)[0]), what="the idle card again")
    wait_for(lambda: not holds_open(os.getpid(), clip), what="the camera source to be released")
    assert svc.status()["idle_spells"] == 2


def test_a_reader_closing_and_reopening_within_the_grace_period_does_not_flap(
        loopback_device, run_service, reader_factory, clip):
    svc = run_service(on_demand_config(loopback_device, clip), outputs=["virtualcam"])
    reader = reader_factory(loopback_device.device)
    wait_for(lambda: svc.status()["state"] == "running", what="the daemon to wake")
    spells = svc.status()["idle_spells"]
    for _ in range(3):  # an app that polls the camera: closes it, opens it again soon after
        reader.close_device()
        wait_for(lambda: "idle in" in svc.status()["state_reason"], what="the daemon to see the reader leave")
        time.sleep(GRACE_S / 3)  # the app's own pause before it opens the camera again
        reader.reopen_device()
        wait_for(lambda: "read by" in svc.status()["state_reason"], what="the daemon to see it back")
    status = svc.status()
    assert status["state"] == "running" and status["idle_spells"] == spells
    assert status["input"]["state"] == "running"


def test_auto_runs_always_where_readers_cannot_be_seen(virtualcam, run_service, clip):
    # this backend's device (/dev/video-test) is no file: like OBS's or Unity Capture's cameras
    svc = run_service(on_demand_config(virtualcam, clip), outputs=["virtualcam"])
    wait_for(lambda: svc.status()["frames"] >= 5, what="stylized frames without any reader")
    status = svc.status()
    assert status["state"] == "running" and "cannot be seen" in status["state_reason"]
    assert "works like always" in status["state_reason"]


def test_another_output_keeps_the_pipeline_running_without_a_reader(loopback_device, run_service, clip):
    svc = run_service(on_demand_config(loopback_device, clip), outputs=["virtualcam", "null"])
    wait_for(lambda: svc.status()["frames"] >= 5, what="stylized frames without any reader")
    status = svc.status()
    assert status["state"] == "running" and "null keeps it running" in status["state_reason"]


def test_on_demand_changes_live_through_the_api(loopback_device, run_service, api_client, clip):
    svc = run_service(on_demand_config(loopback_device, clip), outputs=["virtualcam"])
    client = api_client(svc)
    wait_for(lambda: svc.status()["state"] == "idle", what="idle without a reader")
    code, _, body = client.post("/params", {"on_demand": "always"})
    assert code == 200 and body == {"applied": {"on_demand": "always"}}
    wait_for(lambda: svc.status()["frames"] >= 5, what="stylized frames with on_demand always")
    _, _, status = client.get("/status")
    assert status["state"] == "running" and status["on_demand"] == "always"

    code, _, body = client.post("/params", {"on_demand": "never"})
    assert code == 200
    wait_for(lambda: svc.status()["input"]["state"] == "paused", what="paused with on_demand never")
    _, _, status = client.get("/status")
    assert status["state"] == "idle" and "never" in status["state_reason"]

    code, _, body = client.post("/params", {"on_demand": "sometimes"})
    assert code == 400 and "auto, always, never" in body["error"]


def test_worker_stylizes_no_more_frames_than_the_output_publishes(virtualcam, run_service, clip):
    out_fps = 10.0  # the clip plays at 30 fps: two frames in three must be dropped before any work
    cfg = make_config(input={"source": clip},
                      processing={"max_size": "128x72", "min_size": "128x72", "adaptive": False,
                                  "target_fps": 30.0},
                      output={"size": "%dx%d" % OUT, "fps": out_fps, "virtualcam_backend": virtualcam.backend})
    svc = run_service(cfg, outputs=["virtualcam"])
    wait_for(lambda: svc.status()["frames"] >= 10, what="stylized frames")
    s0, t0 = svc.status(), time.monotonic()
    time.sleep(4.0)
    s1, t1 = svc.status(), time.monotonic()
    rate = (s1["frames"] - s0["frames"]) / (t1 - t0)
    assert out_fps * 0.7 <= rate <= out_fps * 1.15, f"{rate:.1f} frames stylized a second, output {out_fps}"
    assert s1["rate_cap_fps"] == out_fps
    assert s1["capped_frames"] - s0["capped_frames"] >= (t1 - t0) * 10, "the faster source was not capped"


def test_a_camera_is_asked_for_the_output_rate_not_more(virtualcam, run_service):
    """The demo scene stands in for a camera (it takes CAP_PROP_FPS as one does): at 60 fps
    with a 10 fps output, it is asked for 10, and only 10 frames a second are captured at all."""
    out_fps = 10.0
    cfg = make_config(input={"source": "demo", "fps": 60.0, "width": 320, "height": 180},
                      processing={"max_size": "128x72", "min_size": "128x72", "adaptive": False},
                      output={"size": "%dx%d" % OUT, "fps": out_fps, "virtualcam_backend": virtualcam.backend})
    svc = run_service(cfg, outputs=["virtualcam"])
    wait_for(lambda: svc.status()["input"]["fps_asked"] == out_fps, what="the source asked for the output rate")
    time.sleep(0.5)
    s0, t0 = svc.status(), time.monotonic()
    time.sleep(3.0)
    s1, t1 = svc.status(), time.monotonic()
    captured = (s1["input"]["frames"] - s0["input"]["frames"]) / (t1 - t0)
    stylized = (s1["frames"] - s0["frames"]) / (t1 - t0)
    assert captured <= out_fps * 1.15, f"{captured:.1f} frames captured a second for a {out_fps} fps output"
    assert out_fps * 0.7 <= stylized <= out_fps * 1.15, f"{stylized:.1f} frames stylized a second"


# -- the parts on their own ------------------------------------------------------------------
@pytest.mark.parametrize("source_fps, cap, expected", [(25, 15, 15), (30, 30, 30), (10, 15, 10), (60, 0, 60)])
def test_rate_cap_admits_the_output_rate_from_a_faster_source(source_fps, cap, expected):
    rc = RateCap(cap)
    jitter = np.random.default_rng(1).uniform(-0.004, 0.004, 10 * source_fps)
    times = np.arange(10 * source_fps) / source_fps + jitter
    admitted = sum(rc.admit(float(t)) for t in times)
    assert abs(admitted / 10 - expected) <= 0.3, admitted / 10


def test_device_readers_leave_out_this_process_and_its_children(tmp_path, reader_factory):
    device = tmp_path / "video11"
    device.touch()
    with open(device, "rb"):
        child = subprocess.Popen([sys.executable, "-c", HOLDER, str(device)])
        try:
            wait_for(lambda: holds_open(child.pid, str(device)), what="the child to open the device")
            assert device_readers(str(device)) == []  # ourselves and our child: the daemon's tree
            outsider = reader_factory(str(device))
            found = device_readers(str(device))
            assert [(r.pid, r.name) for r in found] == [(outsider.pid, Path(sys.executable).name[:15])]
        finally:
            child.terminate()
            child.wait(10)


def test_readers_can_be_seen_only_for_a_device_file_on_linux(tmp_path):
    device = tmp_path / "video12"
    device.touch()
    assert can_see_readers(str(device)) == sys.platform.startswith("linux")
    assert not can_see_readers("OBS Virtual Camera")
    assert not can_see_readers(str(tmp_path / "missing"))


def test_idle_image_is_fitted_to_the_output_and_a_bad_one_names_the_key(tmp_path, carphone_clip):
    import cv2

    picture = tmp_path / "away.png"
    cv2.imwrite(str(picture), read_frames(carphone_clip, 1)[0])
    card = idle_card(OUT, str(picture))
    assert card.shape == (OUT[1], OUT[0], 3) and not np.array_equal(card, idle_card(OUT))
    not_a_picture = tmp_path / "notes.txt"
    not_a_picture.write_text("hello")
    with pytest.raises(ConfigError, match="output.idle_image"):
        idle_card(OUT, str(not_a_picture))
    with pytest.raises(ConfigError, match="output.idle_image: no file"):
        make_config(output={"idle_image": str(tmp_path / "missing.png")})
