"""The file output on a real full filesystem (a 1 MiB tmpfs) and under SIGKILL, with the daemon
as a real subprocess: a full disk is reported once in /status and the log, that output stops,
the daemon and the other outputs carry on; a killed daemon leaves a playable recording."""
from __future__ import annotations

import shutil

from conftest import need_ffmpeg, probe, wait_for
from streaming_helpers import Daemon, process_gone

SIZE, FPS = "640x360", 15


def daemon_with_file(workdir, path, env=None) -> Daemon:
    workdir.mkdir(parents=True, exist_ok=True)
    return Daemon(workdir, ["--input", "demo", "--output", "null", "--output", f"file:{path}",
                            "--output-size", SIZE, "--fps", str(FPS), "--size", "128x72", "--smoothing", "off"],
                  env=env)


def outputs(daemon: Daemon) -> dict:
    return {o["name"]: o for o in daemon.status()["outputs"]}


def recording(tmp_path, seconds: int):
    """A daemon recording to tmp_path/rec.mp4, once `seconds` of it are written: (daemon, path)."""
    need_ffmpeg()
    path = tmp_path / "rec.mp4"
    daemon = daemon_with_file(tmp_path / "d", path)
    try:
        wait_for(lambda: outputs(daemon)[f"file:{path}"]["frames"] > seconds * FPS, timeout=120,
                 what=f"{seconds} seconds recorded")
    except BaseException:
        daemon.stop()
        raise
    return daemon, path


def test_a_full_disk_stops_the_file_output_with_an_error_and_the_daemon_carries_on(tmp_path, tiny_fs):
    need_ffmpeg()
    path = tiny_fs / "rec.mp4"
    daemon = daemon_with_file(tmp_path / "d", path)
    name = f"file:{path}"
    try:
        failed = wait_for(lambda: outputs(daemon)[name]["errors"] and outputs(daemon)[name], timeout=120,
                          what="the file output to report the full disk")
        assert failed["errors"] == 1 and failed["state"] == "error", failed
        assert "disk is full" in failed["last_error"] and "No space left" in failed["last_error"]
        sent = outputs(daemon)[name]["sent"]
        null_before = outputs(daemon)["null"]["sent"]
        wait_for(lambda: outputs(daemon)["null"]["sent"] > null_before + 2 * FPS, timeout=60,
                 what="the other output to keep going")
        after = outputs(daemon)[name]
        assert after["sent"] == sent and after["errors"] == 1  # stopped: nothing more counted as sent
        assert daemon.proc.poll() is None and daemon.ffmpeg_pids() == []
        assert daemon.log().count("disk is full") == 1
        assert int(probe(path)["nb_read_frames"]) > 0  # the fragments written before it filled up play
    finally:
        daemon.stop()


def test_a_killed_daemon_leaves_a_playable_recording(tmp_path):
    daemon, path = recording(tmp_path, 3)
    try:
        pids = daemon.ffmpeg_pids()
        daemon.kill()
        wait_for(lambda: all(process_gone(p) for p in pids), timeout=10, what="ffmpeg to end with its daemon")
    finally:
        daemon.stop()
    info = probe(path)  # fragmented MP4: no moov atom at the end needed
    assert int(info["nb_read_frames"]) >= FPS, info  # at least the first second (fragments of 1 s)
    assert f"{info['width']}x{info['height']}" == SIZE


def test_without_ffmpeg_the_opencv_writer_also_stops_on_a_full_disk(tiny_fs, test_config, catalogue, engine,
                                                                     monkeypatch):
    from stylecam.pipeline import Pipeline

    monkeypatch.setenv("STYLECAM_FFMPEG", "no-such-ffmpeg-here")
    cfg = test_config(output={"size": SIZE})
    pipe = Pipeline(cfg, catalogue, engine=engine)
    try:
        out = pipe.add_output(f"file:{tiny_fs / 'rec.avi'}")
        assert type(out).__name__ == "FileOutput"  # the OpenCV writer
        pipe.add_output("null")
        pipe.start()
        wait_for(lambda: out.errors, timeout=120, what="the OpenCV file output to notice the full disk")
        assert "disk holding" in out.last_error and "full" in out.last_error
        sent = out.sent
        null = next(o for o in pipe.outputs if o.name == "null")
        before = null.sent
        wait_for(lambda: null.sent > before + 10, timeout=60, what="the null output to keep going")
        assert out.sent == sent and out.errors == 1
    finally:
        pipe.stop()
    assert shutil.disk_usage(tiny_fs).free < 2 * 640 * 360 * 3


def test_ctrl_c_in_the_terminal_stops_the_recording_cleanly(tmp_path):
    """A terminal's Ctrl+C signals the whole foreground process group: ffmpeg must not get it
    (it died with code 255 before stylecam closed it), stylecam closes the file itself."""
    import os
    import signal

    daemon, path = recording(tmp_path, 2)
    try:
        os.killpg(daemon.proc.pid, signal.SIGINT)  # the daemon's group, as the terminal does
        assert daemon.proc.wait(timeout=60) == 0
    finally:
        daemon.stop()
    assert "ffmpeg exited" not in daemon.log(), daemon.log()[-2000:]
    assert int(probe(path)["nb_read_frames"]) >= 2 * FPS
