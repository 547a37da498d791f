"""Bad files on disk never reach the user as a traceback, run as the real `stylecam` command: a
broken custom style is skipped with one warning naming the file and the field (and may not
replace a built-in), a non-UTF-8 config or bad rtmp.* keys are config errors naming the key, a
file input that does not exist is an error naming the path, a damaged model says so; and a run
on a machine without a camera prints none of OpenCV's probing noise."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import run_stylecam


def builtin_entry(catalogue, name="starry_night") -> dict:
    style = catalogue.get(name)
    return {"name": name, "vector": [float(v) for v in style.vector], "default_strength": 0.8}


def write_styles(config_dir: Path, files: dict[str, bytes]) -> Path:
    folder = config_dir / "styles"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_broken_custom_styles_are_skipped_with_one_warning_each(config_dir, catalogue, astronaut_png, tmp_path):
    good = {**builtin_entry(catalogue), "name": "my_good"}
    folder = write_styles(config_dir, {
        "text_vector.yaml": yaml.safe_dump({"name": "text_vector", "vector": ["a"] * 100}).encode(),
        "bad_strength.yaml": yaml.safe_dump({**good, "name": "bad_strength", "default_strength": "strong"}).encode(),
        "latin1.yaml": "name: caf\xe9\nvector: [0]\n".encode("latin-1"),
        "not_a_mapping.yaml": b"- just\n- a list\n",
        "impostor.yaml": yaml.safe_dump({**good, "name": "starry_night"}).encode(),
        "my_good.yaml": yaml.safe_dump(good).encode(),
    })
    proc = run_stylecam("styles")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    listed = [line.split()[0] for line in proc.stdout.splitlines()]
    assert "my_good" in listed and listed.count("starry_night") == 1
    for name in ("text_vector", "bad_strength", "latin1", "not_a_mapping", "impostor"):
        lines = [ln for ln in proc.stderr.splitlines() if str(folder / f"{name}.yaml") in ln]
        assert len(lines) == 1, (name, proc.stderr)
    assert "'vector'" in proc.stderr and "'default_strength'" in proc.stderr and "UTF-8" in proc.stderr
    assert "built-in style's name" in proc.stderr
    starry = next(ln for ln in proc.stdout.splitlines() if ln.startswith("starry_night"))
    assert "custom" not in starry  # the built-in is still the one listed
    out = tmp_path / "out.png"
    proc = run_stylecam("stylize", str(astronaut_png), str(out), "--style", "my_good", "--size", "128x128")
    assert proc.returncode == 0 and out.exists(), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("text, key", [
    ("style:\n  name: caf\xe9\n".encode("latin-1"), "UTF-8"),
    (b"rtmp:\n  preset: tiktok\n", "rtmp.preset"),
    (b"rtmp:\n  bitrate_kbps: -5\n", "rtmp.bitrate_kbps"),
    (b"rtmp:\n  width: 1281\n", "rtmp.width"),
    (b"rtmp:\n  server: http://example.com/app\n", "rtmp.server"),
])
def test_run_refuses_a_bad_config_file_naming_the_problem(config_dir, text, key):
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.yaml").write_bytes(text)
    proc = run_stylecam("run", "--input", "demo", "--output", "null", "--no-api", "--max-frames", "1")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("config error:") and key in proc.stderr


def test_a_file_input_that_does_not_exist_is_an_error_naming_the_path(tmp_path):
    proc = run_stylecam("run", "--input", "late.mp4", "--output", "null", "--no-api", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "input file late.mp4 does not exist" in proc.stderr and str(tmp_path) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_damaged_model_file_is_named_as_damaged_with_the_fix(tmp_path, catalogue):
    from stylecam.engine import Engine, EngineError

    damaged = tmp_path / catalogue.model_path.name
    damaged.write_bytes(catalogue.model_path.read_bytes()[:30000])  # a truncated download
    with pytest.raises(EngineError) as err:
        Engine(damaged, ["tensorrt", "cuda", "cpu"])
    message = str(err.value)
    assert message.startswith(f"model file {damaged} is damaged")
    assert "reinstall stylecam" in message and "stylecam train" in message
    assert "TensorRT" not in message and "NVIDIA" not in message and len(message) < 400


def test_run_without_a_camera_prints_no_opencv_probing_noise():
    import cv2

    if cv2.VideoCapture(0).isOpened():
        pytest.skip("this machine has a camera")
    proc = run_stylecam("run", "--output", "null", "--no-api", "--max-frames", "3", "--size", "128x72")
    assert proc.returncode == 0, proc.stderr
    noise = [ln for ln in proc.stderr.splitlines() if "[ WARN" in ln or "[ERROR" in ln or "VIDEOIO" in ln]
    assert noise == [], noise
    assert "no camera found: using the built-in demo scene" in proc.stderr


def test_quiet_opencv_restores_the_log_level():
    import cv2
    from stylecam.capture import quiet_opencv

    before = cv2.utils.logging.getLogLevel()
    with quiet_opencv():
        assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_SILENT
        cv2.VideoCapture(7).release()
    assert cv2.utils.logging.getLogLevel() == before


def test_a_file_input_is_paced_and_loops_without_lost_events(tmp_path, carphone_clip, test_config, catalogue,
                                                             engine, caplog):
    import time

    from conftest import read_frames, wait_for, write_clip
    from stylecam.pipeline import Pipeline

    clip = write_clip(tmp_path / "short.avi", read_frames(carphone_clip, 10), fps=25)
    for loop in (True, False):
        cfg = test_config(input={"source": str(clip), "loop": loop})
        pipe = Pipeline(cfg, catalogue, engine=engine)
        t0 = time.monotonic()
        pipe.start()
        try:
            if loop:
                wait_for(lambda p=pipe: p.capture.frames >= 40, timeout=60, what="four passes through the clip")
                elapsed, frames = time.monotonic() - t0, pipe.capture.frames
                assert pipe.capture.state == "running" and pipe.capture.reconnects == 0
                assert elapsed >= (frames - 10) / 25 * 0.8, (frames, elapsed)  # read at 25 fps, not as fast as it decodes
            else:
                assert pipe.wait(60), "--no-loop: the daemon stops at the end of the file"
                assert pipe.capture.state == "ended" and pipe.capture.frames == 10
        finally:
            pipe.stop()
    assert not [r for r in caplog.records if "lost" in r.getMessage()]
