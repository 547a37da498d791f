"""Faults around the daemon's ffmpeg children, with real processes: a daemon killed with
SIGKILL takes its RTMP and local-stream ffmpeg along, a hung one too (and a new daemon can
publish to the same key at once); the RTMP encode ends on stdin EOF although its silent audio never ends; a hung
ffmpeg (SIGSTOP) is reported as stalled, killed and restarted; the `audio` field of
POST /rtmp/start cannot make ffmpeg open a file, a filter or a URL."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess

import numpy as np
import pytest
from conftest import free_port, need_ffmpeg, wait_for
from streaming_helpers import (
    Daemon,
    Nginx,
    free_udp_port,
    need_nginx_rtmp,
    process_gone,
    stop_process,
    wait_state,
)

pytestmark = pytest.mark.rtmp

KEY = "live_" + secrets.token_hex(8)
W, H, FPS = 320, 180, 15


@pytest.fixture
def nginx(tmp_path):
    need_ffmpeg()
    need_nginx_rtmp()
    server = Nginx(tmp_path / "nginx", free_port()).start()
    yield server
    server.cleanup()


def run_daemon(workdir, clip, *outputs) -> Daemon:
    args = ["--input", clip, "--output", "null", "--output-size", f"{W}x{H}", "--fps", str(FPS), "--smoothing", "off"]
    for spec in outputs:
        args += ["--output", spec]
    workdir.mkdir(parents=True, exist_ok=True)
    return Daemon(workdir, args)


def start_stream(daemon: Daemon, nginx: Nginx) -> None:
    code, _, reply = daemon.api.post("/rtmp/start", {"url": f"rtmp://127.0.0.1:{nginx.port}/live/{KEY}"})
    assert code == 200, reply


def test_a_killed_daemon_takes_its_ffmpeg_children_along_and_a_new_one_can_publish(tmp_path, nginx, bikes_clip):
    first = run_daemon(tmp_path / "first", bikes_clip, f"stream:udp://127.0.0.1:{free_udp_port()}")
    pids: list[int] = []
    try:
        start_stream(first, nginx)
        wait_state(first, "live", timeout=90)
        pids = wait_for(lambda: len(first.ffmpeg_pids()) == 2 and first.ffmpeg_pids(), timeout=30,
                        what="the RTMP and the local-stream ffmpeg")
        os.kill(pids[0], signal.SIGSTOP)  # a hung ffmpeg never sees its stdin close: only the OS can end it
        first.kill()
        wait_for(lambda: all(process_gone(p) for p in pids), timeout=10,
                 what=f"ffmpeg {pids} to end after its daemon was killed")
    finally:
        first.stop()
        for pid in pids:  # an orphan left by a failure must not outlive the test
            if not process_gone(pid):
                os.kill(pid, signal.SIGKILL)
    second = run_daemon(tmp_path / "second", bikes_clip)
    try:  # the same key: an orphaned publisher would make nginx answer "Already publishing"
        start_stream(second, nginx)
        status = wait_state(second, "live", timeout=90)
        assert status["restarts"] == 0, status
    finally:
        second.stop()


def test_the_rtmp_encode_ends_when_its_input_closes_although_the_silent_audio_never_ends(nginx):
    from stylecam.outputs.ffmpeg import ffmpeg_binary
    from stylecam.outputs.rtmp import RtmpOutput, resolve

    settings = resolve(f"rtmp://127.0.0.1:{nginx.port}/live/{KEY}", "custom", pipeline_size=(W, H), pipeline_fps=FPS)
    cmd = RtmpOutput(settings, (W, H)).command(ffmpeg_binary(), "libx264")
    # a plain Popen: no parent-death signal, only ffmpeg's own end of input
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        frame = np.full((H, W, 3), 128, np.uint8).tobytes()
        for _ in range(FPS * 2):
            proc.stdin.write(frame)
        proc.stdin.close()
        wait_for(lambda: proc.poll() is not None, timeout=30, what="ffmpeg to finish after stdin EOF")
    finally:
        stop_process(proc, signal.SIGKILL)


def test_a_hung_ffmpeg_is_reported_stalled_killed_and_restarted(tmp_path, nginx, bikes_clip):
    daemon = run_daemon(tmp_path / "d", bikes_clip)
    try:
        start_stream(daemon, nginx)
        wait_state(daemon, "live", timeout=90)
        (hung,) = wait_for(daemon.ffmpeg_pids, timeout=30, what="the RTMP ffmpeg")
        os.kill(hung, signal.SIGSTOP)
        stalled = wait_state(daemon, "stalled", timeout=60)
        assert "stalled" in stalled["last_error"]
        wait_for(lambda: process_gone(hung), timeout=20, what="the hung ffmpeg to be killed")
        live = wait_state(daemon, "live", timeout=90)
        assert live["restarts"] >= 1
        assert live["last_error"] == "" and "stalled" in live["previous_error"], live
        assert hung not in daemon.ffmpeg_pids()
        assert daemon.proc.poll() is None
    finally:
        daemon.stop()


BAD_AUDIO = (
    "lavfi:anullsrc,ametadata=mode=print:file={victim}",   # a filter that writes a file
    "alsa:file:{victim}",                                   # ALSA's file plugin
    "pulse:{victim}",                                       # a path as a device name
    "file:{victim}",                                        # a demuxer reading any file
    "hls:http://127.0.0.1:1/x.m3u8",                        # fetching a URL
    "dshow:audio=x:video=y",                                # a second device in the name
)


def test_rtmp_audio_only_takes_capture_devices(tmp_path, nginx, bikes_clip):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    url = f"rtmp://127.0.0.1:{nginx.port}/live/{KEY}"
    daemon = run_daemon(tmp_path / "d", bikes_clip)
    try:
        for audio in BAD_AUDIO:
            code, _, reply = daemon.api.post("/rtmp/start", {"url": url, "audio": audio.format(victim=victim)})
            assert code == 400, (audio, reply)
            assert "capture" in reply["error"] and "pulse:default" in reply["error"], reply
            assert daemon.ffmpeg_pids() == [] and daemon.rtmp()["state"] == "error"
        assert victim.read_text() == "keep me\n"
        code, _, reply = daemon.api.post("/rtmp/start", {"url": url})
        assert code == 200, reply  # the daemon is fine, and silent audio still works
        wait_state(daemon, "live", timeout=90)
    finally:
        daemon.stop()
