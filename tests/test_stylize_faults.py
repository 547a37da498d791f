"""`stylecam stylize` on a damaged video, a full disk (a real tmpfs) and SIGTERM, run as the real
command: a truncated input is reported with the frame counts and fails unless --allow-partial;
a full disk fails early and leaves no partial output; SIGTERM removes the temporary folder and
the partial output as Ctrl+C does."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import STYLECAM, need_ffmpeg, probe, run_stylecam, wait_for

FAST = ["--size", "128x72", "--smoothing", "off"]


def stylize(*args, timeout=300) -> subprocess.CompletedProcess:
    return run_stylecam("stylize", *args, *FAST, timeout=timeout)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".stylecam-"))


@pytest.fixture(scope="module")
def truncated_clip(tmp_path_factory, bikes_clip) -> Path:
    """A real clip (moov first, 250 frames stated) cut to 30 % of its bytes: a broken download."""
    need_ffmpeg()
    folder = tmp_path_factory.mktemp("damaged")
    whole = folder / "whole.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", bikes_clip, "-c:v", "libx264",
                    "-movflags", "+faststart", str(whole)], check=True, timeout=300)
    data = whole.read_bytes()
    cut = folder / "cut.mp4"
    cut.write_bytes(data[: len(data) * 3 // 10])
    return cut


def test_a_truncated_video_fails_with_the_frame_counts_unless_allow_partial(truncated_clip, tmp_path):
    out = tmp_path / "out.mp4"
    proc = stylize(str(truncated_clip), str(out))
    assert proc.returncode == 2, proc.stderr
    assert "of the 250 frames cut.mp4 states" in proc.stderr and "--allow-partial" in proc.stderr
    assert not out.exists() and leftovers(tmp_path) == []
    proc = stylize(str(truncated_clip), str(out), "--allow-partial")
    assert proc.returncode == 0, proc.stderr
    assert "note: read" in proc.stderr and "of the 250 frames" in proc.stderr
    frames = int(probe(out)["nb_read_frames"])
    assert 0 < frames < 250


def test_a_full_disk_fails_and_leaves_no_partial_output(bikes_clip, tiny_fs):
    need_ffmpeg()
    out = tiny_fs / "out.mp4"
    proc = stylize(bikes_clip, str(out))
    assert proc.returncode == 2, proc.stderr
    assert f"the disk holding {tiny_fs}" in proc.stderr and "is full" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tiny_fs.iterdir()) == []  # no output, no temporary folder


def test_an_already_full_disk_fails_before_any_work(bikes_clip, tiny_fs):
    filler = tiny_fs / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    proc = stylize(bikes_clip, str(tiny_fs / "out.mp4"))
    assert proc.returncode == 2 and "is full" in proc.stderr, proc.stderr
    assert "stylize: frame" not in proc.stderr and "frame/s" not in proc.stderr  # no frame was processed
    assert sorted(p.name for p in tiny_fs.iterdir()) == ["filler"]


def test_sigterm_removes_the_temporary_folder_and_the_partial_output(bikes_clip, tmp_path):
    need_ffmpeg()
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([*STYLECAM, "stylize", bikes_clip, str(out), *FAST], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        def writing():
            return any((tmp_path / d / "frames.avi").exists() for d in leftovers(tmp_path))

        wait_for(lambda: proc.poll() is not None or writing(), timeout=120, what="stylize to start writing")
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert leftovers(tmp_path) == [] and not out.exists()


def test_a_signal_whose_exception_python_dropped_still_ends_the_run(bikes_clip, tmp_path):
    """Python drops an exception raised inside a callback it cannot unwind (CI saw SIGTERM's
    KeyboardInterrupt land in an import lock's weakref callback, and the run went on to exit 0).
    The handler's flag still ends the run at the next frame and removes the partial output."""
    import cv2
    from stylecam import stylize

    need_ffmpeg()
    out = tmp_path / "out.mp4"
    seen = []

    class Stylizer:
        proc_size = (64, 36)

        def __call__(self, frame):
            seen.append(1)
            if len(seen) == 5:  # the handler ran, its exception went nowhere
                try:
                    stylize._interrupt(signal.SIGTERM, None)
                except KeyboardInterrupt:
                    pass
            return frame

    stylize._signalled.clear()
    try:
        with pytest.raises(KeyboardInterrupt):
            stylize.stylize_video(cv2.VideoCapture(bikes_clip), Path(bikes_clip), out, lambda size: Stylizer())
    finally:
        stylize._signalled.clear()
    assert len(seen) == 5
    assert not out.exists() and leftovers(tmp_path) == []
