"""End to end: the daemon reads a real video file, runs the real ONNX model on ONNX Runtime and
publishes to a virtual camera (a pyvirtualcam backend registered by the test) and an MP4 file:
frames arrive at the configured size and rate, and they are not the input. The `stylecam run`
command shuts down cleanly on SIGTERM and SIGINT with its file finalized."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import (
    ApiClient,
    build_tiny_model,
    make_config,
    probe,
    read_frames,
    wait_for,
    write_clip,
)
from stylecam.framepath import StyleFade
from stylecam.pipeline import Pipeline
from stylecam.styles import STYLE_DIM, Catalogue, Style

FPS = 15.0
OUT = (320, 180)


def distance_to_input(frame: np.ndarray, inputs: list[np.ndarray]) -> float:
    """Mean absolute difference to the most similar input frame."""
    return min(float(np.abs(frame.astype(np.int16) - f).mean()) for f in inputs)


def test_daemon_publishes_stylized_frames_at_size_and_rate(virtualcam, run_service, bikes_clip, tmp_path):
    out_file = tmp_path / "out.mp4"
    cfg = make_config(input={"source": bikes_clip},
                      output={"size": "%dx%d" % OUT, "fps": FPS, "virtualcam_backend": virtualcam.backend},
                      processing={"target_fps": FPS, "max_size": "256x144"})
    svc = run_service(cfg, outputs=["virtualcam", f"file:{out_file}"])
    wait_for(lambda: virtualcam.count >= 10, what="frames on the virtual camera")
    t0 = time.monotonic()
    time.sleep(4.0)
    t1 = time.monotonic()
    status = svc.status()
    svc.stop()

    assert virtualcam.opened[0]["width"] == OUT[0] and virtualcam.opened[0]["fps"] == FPS
    assert virtualcam.shapes == {(OUT[1], OUT[0], 3)}
    rate = virtualcam.rate(t0, t1)
    assert FPS * 0.75 <= rate <= FPS * 1.25, f"{rate:.1f} fps on the virtual camera, configured {FPS}"
    assert virtualcam.closed == 1

    inputs = read_frames(bikes_clip, None, OUT)
    published = virtualcam.last_frames(40)[::8]
    for frame in published:
        assert distance_to_input(frame, inputs) > 10, "a published frame is just the input"
    assert any(np.abs(a.astype(np.int16) - b).mean() > 1 for a, b in zip(published, published[1:]))

    assert status["provider"] == "cpu" and status["frames"] > 10
    names = {o["name"]: o for o in status["outputs"]}
    assert names["virtualcam"]["sent"] > 10 and names[f"file:{out_file}"]["errors"] == 0

    info = probe(out_file)
    assert (info["width"], info["height"]) == OUT and info["r_frame_rate"] == "15/1"
    assert int(info["nb_read_frames"]) >= 30
    written = read_frames(out_file, 60)
    assert distance_to_input(written[-1], inputs) > 10


def test_file_input_without_loop_ends_the_daemon_with_outputs_finalized(catalogue, engine, carphone_clip, tmp_path):
    clip = write_clip(tmp_path / "short.mp4", read_frames(carphone_clip, 20), 30.0)
    out_file = tmp_path / "out.mp4"
    cfg = make_config(input={"source": str(clip), "loop": False}, output={"size": "%dx%d" % OUT, "fps": FPS})
    pipe = Pipeline(cfg, catalogue, engine=engine)
    pipe.add_output(f"file:{out_file}")
    pipe.start()
    assert pipe.wait(60), "the daemon did not stop at the end of the input"
    status = pipe.status()
    assert status["state"] == "stopped" and status["input"]["state"] == "ended"
    assert 1 <= status["frames"] <= 20
    assert int(probe(out_file)["nb_read_frames"]) >= 1


# -- style cross-fade -----------------------------------------------------------------------------
class StillCamera:
    """A camera on a tripod: one real frame, delivered at 25 fps."""

    def __init__(self, frame: np.ndarray):
        self.frame = frame

    def opener(self, source, width, height, fps):
        return self

    def isOpened(self):
        return True

    def read(self):
        time.sleep(0.04)
        return True, self.frame.copy()

    def get(self, prop):
        return 0.0

    def set(self, *args):
        return False

    def release(self):
        pass


def steady_frame(recorder, after: float) -> np.ndarray:
    """A frame the virtual camera received well after `after` (monotonic time)."""
    wait_for(lambda: recorder.times and recorder.times[-1] > after + 0.6, what="frames after the change")
    return recorder.last_frames(1)[0].astype(np.int16)


def tint_catalogue(tmp_path) -> Catalogue:
    """Two styles that differ clearly, on a small real ONNX model (the shipped placeholder model's
    styles are nearly alike): `red` and `blue` add a colour offset."""
    model = build_tiny_model(tmp_path / "tint.onnx", "tint")
    red, blue = np.zeros(STYLE_DIM, np.float32), np.zeros(STYLE_DIM, np.float32)
    red[0], blue[2] = 0.4, 0.4
    return Catalogue(model_path=model, styles={"red": Style("red", red), "blue": Style("blue", blue)})


def test_style_cross_fade_ends_at_the_new_style(virtualcam, bikes_clip, tmp_path):
    catalogue = tint_catalogue(tmp_path)
    camera = StillCamera(read_frames(bikes_clip, 1)[0])
    cfg = make_config(input={"source": "0"},
                      style={"name": "red", "smoothing": "off"},
                      processing={"adaptive": False, "max_size": "256x144"},
                      output={"size": "%dx%d" % OUT, "fps": 20.0, "virtualcam_backend": virtualcam.backend})
    pipe = Pipeline(cfg, catalogue, opener=camera.opener)
    pipe.add_output("virtualcam")
    pipe.start()
    try:
        red = steady_frame(virtualcam, time.monotonic())
        pipe.set_style("blue", 0)  # a cut
        blue = steady_frame(virtualcam, time.monotonic())
        assert np.abs(red - blue).mean() > 20  # the two styles look different

        t_fade = time.monotonic()
        pipe.set_style("red", 1500)  # a cross-fade back
        during = []
        while time.monotonic() < t_fade + 1.3:
            time.sleep(0.1)
            during.append(virtualcam.last_frames(1)[0].astype(np.int16))
        end = steady_frame(virtualcam, time.monotonic())
    finally:
        pipe.stop()
    assert np.abs(end - red).max() <= 2, "the fade did not end exactly at the new style"
    between = [f for f in during if np.abs(f - red).mean() > 5 and np.abs(f - blue).mean() > 5]
    assert len(between) >= 3, "no frames between the two styles: the switch was a cut, not a fade"


def test_switch_during_a_fade_starts_from_what_is_on_screen(catalogue):
    a, b, c = (catalogue.get(n).vector for n in ("starry_night", "udnie", "great_wave"))
    fade = StyleFade(a)
    fade.switch(b, 1.0, 1000, now=100.0)
    half = fade.vector(100.5)
    assert np.allclose(half, (a + b) / 2, atol=1e-5)
    fade.switch(c, 1.0, 1000, now=100.5)  # half-way through the first fade
    assert np.allclose(fade.vector(100.5), half, atol=1e-6)  # no jump back to a or on to b
    assert np.allclose(fade.vector(101.0), (half + c) / 2, atol=1e-5)
    assert np.array_equal(fade.vector(101.5), c) and not fade.fading
    assert np.array_equal(fade.vector(105.0), c)


# -- the command line, in a real subprocess --------------------------------------------------------------
class Daemon:
    """`stylecam run` in a subprocess; its log is collected on a thread."""

    def __init__(self, args: list[str], env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "stylecam.cli", "run", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def port(self) -> int:
        def find():
            m = re.search(r"control API on http://127\.0\.0\.1:(\d+)", self.log)
            if self.proc.poll() is not None and not m:
                pytest.fail(f"stylecam run exited with {self.proc.returncode}:\n{self.log}")
            return int(m.group(1)) if m else None
        return wait_for(find, timeout=60, what="the control API line in the log")

    def wait(self, timeout: float) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def daemon_env(config_dir):
    env = dict(os.environ)
    env["STYLECAM_CONFIG_DIR"] = str(config_dir)
    return env


def common_args(clip: str, out_file) -> list[str]:
    return ["--input", clip, "--output", "null", "--output", f"file:{out_file}", "--port", "0",
            "--output-size", "%dx%d" % OUT, "--size", "256x144", "--fps", str(int(FPS)), "--smoothing", "ema"]


def test_stylecam_run_stops_at_max_frames_with_a_playable_file(bikes_clip, tmp_path, daemon_env):
    out_file = tmp_path / "run.mp4"
    daemon = Daemon(common_args(bikes_clip, out_file) + ["--max-frames", "30"], daemon_env)
    try:
        assert daemon.wait(120) == 0, daemon.log
    finally:
        daemon.kill()
    assert "stopped after 30 frames" in daemon.log
    info = probe(out_file)
    assert (info["width"], info["height"]) == OUT and int(info["nb_read_frames"]) >= 10


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_stylecam_run_down_cleanly(bikes_clip, tmp_path, daemon_env, config_dir, signum):
    out_file = tmp_path / "run.mp4"
    daemon = Daemon(common_args(bikes_clip, out_file), daemon_env)
    try:
        port = daemon.port()
        client = ApiClient(port, (config_dir / "token").read_text().strip())
        wait_for(lambda: client.get("/status")[2]["frames"] >= 20, timeout=60, what="frames in the daemon")
        daemon.proc.send_signal(signum)
        assert daemon.wait(60) == 0, daemon.log
    finally:
        daemon.kill()
    assert f"signal {int(signum)}: shutting down" in daemon.log
    assert "Traceback" not in daemon.log
    info = probe(out_file)  # finalized: ffprobe reads every frame of it
    assert (info["width"], info["height"]) == OUT and int(info["nb_read_frames"]) >= 10
    with pytest.raises(OSError):  # and the port is free again
        client.get("/status", timeout=2)
