"""Outputs: the registry's errors name the fix, `auto` falls back when there is no virtual camera
or display, paced outputs keep an even clock (repeating the last frame when the pipeline stalls),
and outputs can come and go while the daemon runs."""
from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import make_config, probe, read_frames, wait_for
from stylecam.outputs import Output, OutputError, create_output
from stylecam.pipeline import Pipeline, open_outputs

SIZE = (320, 180)


def frame(value: int) -> np.ndarray:
    return np.full((SIZE[1], SIZE[0], 3), value, np.uint8)


def test_unknown_output_spec_lists_the_choices():
    with pytest.raises(OutputError, match="unknown output 'hdmi'.*virtualcam, window, file:PATH"):
        create_output("hdmi", SIZE, 15)


def test_file_output_into_a_missing_folder_names_the_fix(tmp_path):
    out = create_output(f"file:{tmp_path}/nope/x.mp4", SIZE, 15)
    with pytest.raises(OutputError, match="does not exist; create it or choose another path"):
        out.start()
    with pytest.raises(OutputError, match="needs a path"):
        create_output("file:", SIZE, 15)


def test_virtualcam_without_a_device_says_how_to_get_one(monkeypatch):
    from pyvirtualcam import camera as pvc_camera

    # only the platform's own backends (a machine with no v4l2loopback device)
    monkeypatch.setattr(pvc_camera, "BACKENDS", {k: v for k, v in pvc_camera.BACKENDS.items()
                                                 if not k.startswith("stylecam-test")})
    out = create_output("virtualcam", SIZE, 15)
    with pytest.raises(OutputError) as err:
        out.start()
    message = str(err.value)
    assert "no virtual camera available" in message
    assert "v4l2loopback" in message and "--output file:out.mp4" in message


def test_auto_output_falls_back_to_a_file_without_virtualcam_or_display(catalogue, engine, tmp_path, monkeypatch):
    from pyvirtualcam import camera as pvc_camera

    monkeypatch.setattr(pvc_camera, "BACKENDS", {k: v for k, v in pvc_camera.BACKENDS.items()
                                                 if not k.startswith("stylecam-test")})
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.chdir(tmp_path)
    pipe = Pipeline(make_config(), catalogue, engine=engine)
    try:
        notes = open_outputs(pipe, ["auto"])
        assert [o.name for o in pipe.outputs] == ["file:stylecam-output.mp4"]
    finally:
        pipe.stop()
    assert any("no virtual camera" in n for n in notes) and any("DISPLAY" in n for n in notes)
    assert notes[-1].startswith("writing stylecam-output.mp4 instead")
    assert (tmp_path / "stylecam-output.mp4").exists()


def test_paced_virtualcam_repeats_the_last_frame_when_the_pipeline_stalls(virtualcam):
    out = create_output("virtualcam", SIZE, 20.0, backend=virtualcam.backend).start()
    try:
        out.send(frame(10))  # then nothing: a stalled pipeline
        t0 = time.monotonic()
        time.sleep(1.5)
        t1 = time.monotonic()
    finally:
        out.stop()
    rate = virtualcam.rate(t0, t1)
    assert 20 * 0.75 <= rate <= 20 * 1.25, f"{rate:.1f} fps"
    assert all(f.mean() == 10 for f in virtualcam.last_frames(10))


def test_paced_virtualcam_keeps_its_rate_and_shows_the_newest_frame(virtualcam):
    out = create_output("virtualcam", SIZE, 10.0, backend=virtualcam.backend).start()
    try:
        t0 = time.monotonic()
        for i in range(150):  # the pipeline runs at ~100 fps
            out.send(frame(i))
            time.sleep(0.01)
        t1 = time.monotonic()
        # the newest frame is shown next, not a queue of old ones
        wait_for(lambda: virtualcam.last_frames(1)[0].mean() >= 140, timeout=5, what="the newest frame")
    finally:
        out.stop()
    rate = virtualcam.rate(t0, t1)
    assert 10 * 0.75 <= rate <= 10 * 1.25, f"{rate:.1f} fps"
    assert out.describe()["dropped"] > 0


def test_a_failing_output_counts_errors_and_keeps_going():
    class Flaky(Output):
        kind = "flaky"

        def __init__(self):
            super().__init__(SIZE, 30.0)
            self.written = 0

        def write(self, img):
            self.written += 1
            if self.written % 2:
                raise OSError("device busy")

    out = Flaky().start()
    try:
        for i in range(10):
            out.send(frame(i))
            time.sleep(0.02)
        wait_for(lambda: out.sent + out.errors >= 6, what="writes")
    finally:
        out.stop()
    assert out.errors >= 3 and out.sent >= 3 and out.last_error == "device busy"


def test_outputs_come_and_go_while_the_daemon_runs(catalogue, engine, bikes_clip, tmp_path):
    pipe = Pipeline(make_config(input={"source": bikes_clip}), catalogue, engine=engine)
    pipe.add_output("null")
    pipe.start()
    try:
        wait_for(lambda: pipe.stats.frames >= 3, what="frames")
        path = tmp_path / "late.mp4"
        pipe.add_output(f"file:{path}")
        wait_for(lambda: next(o for o in pipe.outputs if o.kind == "file").sent >= 15, what="file frames")
        assert pipe.remove_output(f"file:{path}")
        assert not pipe.remove_output(f"file:{path}")
        assert [o["name"] for o in pipe.status()["outputs"]] == ["null"]
        info = probe(path)  # finalized at removal, while the daemon goes on
        assert int(info["nb_read_frames"]) >= 15
        frames = pipe.stats.frames
        wait_for(lambda: pipe.stats.frames > frames + 3, what="frames after the removal")
    finally:
        pipe.stop()
    assert len(read_frames(path)) >= 15
