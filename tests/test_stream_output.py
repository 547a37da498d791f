"""The local stream output (`stream:udp://127.0.0.1:PORT`): what OBS's Media Source opens when no
virtual camera driver can be installed. A real daemon sends, a real ffmpeg reads like OBS does
(joining whenever it likes), and the frames must decode at the configured size."""
from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest
from conftest import need, need_ffmpeg, wait_for
from streaming_helpers import Daemon, free_udp_port, stop_process

W, H, FPS = 320, 180, 15


def read_stream(url: str, frames: int, timeout: float = 60, tries: int = 1) -> list[np.ndarray]:
    """Decode `frames` BGR frames from a network stream with ffmpeg, as a late-joining reader
    (`tries` > 1: retry a refused connection, as OBS does with its reconnect delay)."""
    for _ in range(tries - 1):
        try:
            return read_stream(url, frames, timeout)
        except AssertionError:
            time.sleep(1)
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", url, "-frames:v", str(frames),
           "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        pytest.fail(f"no {frames} frames from {url} within {timeout:.0f}s")
    data = np.frombuffer(out, np.uint8)
    assert data.size >= W * H * 3, f"the reader got no frames: {err.decode(errors='replace')[-500:]}"
    return list(data[: data.size // (W * H * 3) * W * H * 3].reshape(-1, H, W, 3))


def stream_entry(daemon: Daemon, url: str):
    return next((o for o in daemon.status()["outputs"] if o["name"] == f"stream:{url}"), None)


def ffmpeg_has_srt() -> bool:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-protocols"], check=False, capture_output=True, text=True)
    return " srt" in out.stdout.split("Output:")[-1]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, bikes_clip):
    """One daemon sending the same stylized clip as UDP and (when ffmpeg has libsrt) SRT."""
    need_ffmpeg()
    urls = {"udp": f"udp://127.0.0.1:{free_udp_port()}"}
    if ffmpeg_has_srt():
        urls["srt"] = f"srt://127.0.0.1:{free_udp_port()}?mode=listener"
    outputs = [arg for url in urls.values() for arg in ("--output", f"stream:{url}")]
    d = Daemon(tmp_path_factory.mktemp("stream-daemon"),
               ["--input", bikes_clip, "--output", "null", *outputs,
                "--output-size", f"{W}x{H}", "--fps", str(FPS), "--smoothing", "off"])
    d.urls = urls
    yield d
    d.stop()


def assert_stylized_clip(frames: list[np.ndarray], count: int) -> None:
    assert len(frames) == count
    assert all(f.shape == (H, W, 3) for f in frames)
    assert max(float(f.std()) for f in frames) > 10, "the frames are blank, not the stylized clip"
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1, "the picture does not move"


def test_local_udp_stream_decodes_for_a_reader_that_joins_late(daemon):
    url = daemon.urls["udp"]

    def live():
        entry = stream_entry(daemon, url)
        return entry if entry and entry["state"] == "live" else None

    entry = wait_for(live, timeout=60, interval=0.2, what="the stream output to go live")
    assert entry["last_error"] == ""
    # the daemon has been sending for a while with nobody listening; a reader now joins mid-stream
    assert_stylized_clip(read_stream(url, frames=FPS * 2), FPS * 2)
    entry = stream_entry(daemon, url)
    assert entry["state"] == "live" and entry["frames"] > FPS
    assert daemon.proc.poll() is None


def test_srt_listener_serves_one_reader_after_another(daemon):
    need("an ffmpeg with SRT support (libsrt; Debian's and Ubuntu's have it)", "srt" in daemon.urls)
    reader_url = daemon.urls["srt"].split("?")[0]  # the reader calls the daemon's listener
    for _ in range(2):  # OBS closing and reopening the source
        assert_stylized_clip(read_stream(reader_url, frames=FPS, tries=3), FPS)
    assert daemon.proc.poll() is None


def test_stream_spec_without_udp_or_srt_says_how_to_write_it():
    from stylecam.outputs import OutputError, create_output

    for spec in ("stream:http://127.0.0.1:9000", "stream:udp://127.0.0.1", "stream:"):
        with pytest.raises(OutputError, match=r"udp://127\.0\.0\.1:\d+"):
            create_output(spec, (W, H), FPS)


def test_stream_ffmpeg_command_is_low_latency_mpegts():
    from stylecam.outputs import create_output

    out = create_output("stream:udp://127.0.0.1:9999", (W, H), FPS)
    cmd = out.command("ffmpeg", "libx264")
    assert cmd[cmd.index("-f", cmd.index("pipe:0")) + 1] == "mpegts"
    assert cmd[-1] == "udp://127.0.0.1:9999?pkt_size=1316"
    assert cmd[cmd.index("-g") + 1] == str(FPS)  # a keyframe every second: readers join fast
    assert "zerolatency" in cmd and cmd[cmd.index("-bf") + 1] == "0"


def test_stream_of_an_odd_frame_size_is_cropped_to_even_for_h264():
    from stylecam.outputs import create_output

    cmd = create_output("stream:udp://127.0.0.1:9999", (321, 181), FPS).command("ffmpeg", "libx264")
    assert cmd[cmd.index("-vf") + 1] == "crop=320:180:0:0"
