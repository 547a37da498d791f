"""RTMP push against a real nginx-rtmp server on loopback, driven through the daemon's real HTTP
control API: the recording has the configured codecs, size and frame rate; a server crash and
restart is survived without help; bad settings give a clear error and the daemon stays up; the
stream key appears in no log line and no status."""
from __future__ import annotations

import json
import secrets
import stat
import time
from pathlib import Path

import pytest
from conftest import free_port, need_ffmpeg, wait_for
from streaming_helpers import (
    Daemon,
    Nginx,
    elapsed,
    frame_rate,
    need_nginx_rtmp,
    probe,
    wait_state,
)

pytestmark = pytest.mark.rtmp

KEY = "live_" + secrets.token_hex(10)  # what a platform hands out; must never be printed
W, H, FPS = 320, 180, 15


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, bikes_clip):
    need_ffmpeg()
    need_nginx_rtmp()
    d = Daemon(tmp_path_factory.mktemp("daemon"),
               ["--input", bikes_clip, "--output", "null", "--output-size", f"{W}x{H}", "--fps", str(FPS),
                "--smoothing", "off"])
    yield d
    d.stop()
    assert KEY not in d.log(), "the stream key leaked into the daemon's log"


@pytest.fixture
def nginx(tmp_path):
    server = Nginx(tmp_path / "nginx", free_port()).start()
    yield server
    server.cleanup()


def start_stream(daemon: Daemon, body: dict) -> dict:
    code, _, reply = daemon.api.post("/rtmp/start", body)
    assert code == 200, reply
    return reply


def stop_stream(daemon: Daemon) -> dict:
    code, _, reply = daemon.api.post("/rtmp/stop")
    assert code == 200, reply
    assert reply["state"] == "stopped"
    return reply


def assert_key_hidden(daemon: Daemon) -> None:
    assert KEY not in daemon.log()
    assert KEY not in json.dumps(daemon.status())


def null_frames(daemon: Daemon) -> int:
    return next(o["sent"] for o in daemon.status()["outputs"] if o["name"] == "null")


def finished_recording(nginx: Nginx, exclude=()) -> Path:
    """The newest recording nginx has closed (its size stops changing)."""
    def stable():
        files = [p for p in nginx.recordings() if p not in exclude]
        if not files:
            return None
        size = files[-1].stat().st_size
        time.sleep(0.5)
        return files[-1] if size > 0 and files[-1].stat().st_size == size else None

    return wait_for(stable, timeout=20, what="nginx to finish the recording")


def test_push_records_h264_and_aac_at_the_configured_size_and_fps(daemon, nginx):
    # douyin is vertical: the 16:9 pipeline is cropped to 9:16, never stretched
    start_stream(daemon, {"server": f"rtmp://127.0.0.1:{nginx.port}/live", "key": KEY, "preset": "douyin",
                          "width": 180, "height": 320, "fps": FPS, "bitrate_kbps": 600})
    wait_state(daemon, "live", timeout=30)
    live_at = time.monotonic()
    time.sleep(5)
    live_s = elapsed(live_at)
    stopped = stop_stream(daemon)
    assert stopped["url"] == f"rtmp://127.0.0.1:{nginx.port}/live/****"

    info = probe(finished_recording(nginx))
    video, audio = info["video"], info["audio"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 180, 320)
    assert frame_rate(video) == pytest.approx(FPS, abs=0.5)
    expected = FPS * live_s
    assert int(video["nb_read_frames"]) >= 0.9 * expected, (video["nb_read_frames"], expected)
    assert audio["codec_name"] == "aac" and int(audio["nb_read_packets"]) > 0
    assert_key_hidden(daemon)


def test_server_crash_and_restart_is_survived_without_help(daemon, nginx):
    start_stream(daemon, {"server": f"rtmp://127.0.0.1:{nginx.port}/live", "key": KEY, "preset": "custom",
                          "bitrate_kbps": 500})
    wait_state(daemon, "live", timeout=30)
    wait_for(lambda: daemon.rtmp()["frames"] >= 2 * FPS and nginx.recordings(), what="two seconds on the server")
    first = nginx.recordings()
    sent_before = null_frames(daemon)

    nginx.kill()
    down = wait_state(daemon, "reconnecting", timeout=20)
    assert down["last_error"] and KEY not in down["last_error"]
    # still down: the daemon keeps retrying, and every other output keeps going
    wait_for(lambda: daemon.rtmp()["restarts"] > down["restarts"], what="a retry while the server is down")
    assert null_frames(daemon) > sent_before
    assert daemon.rtmp()["state"] in ("reconnecting", "starting")

    nginx.start()
    back = wait_state(daemon, "live", timeout=10, what="the stream to reconnect within 10 s of the restart")
    assert back["restarts"] >= 1
    frames_back = back["frames"]
    wait_for(lambda: daemon.rtmp()["frames"] >= frames_back + 2 * FPS, what="two seconds on the restarted server")
    stop_stream(daemon)
    info = probe(finished_recording(nginx, exclude=first))
    assert info["video"]["codec_name"] == "h264" and int(info["video"]["nb_read_frames"]) > 0
    assert daemon.proc.poll() is None
    assert_key_hidden(daemon)


def test_bad_url_and_unreachable_server_give_clear_errors_and_the_daemon_stays_up(daemon):
    for body, words in [
        ({"url": f"http://127.0.0.1/live/{KEY}"}, "rtmp://"),
        ({"url": "rtmp://127.0.0.1/live"}, "no stream key"),
        ({"server": "rtmp://127.0.0.1/live", "preset": "custom"}, "no stream key"),
        ({"server": "rtmp://127.0.0.1/live", "key": KEY, "preset": "periscope"}, "choose one of"),
        ({"server": "rtmp://127.0.0.1/live", "key": KEY, "width": 321, "height": 180}, "even"),
    ]:
        code, _, reply = daemon.api.post("/rtmp/start", body)
        assert code == 400 and words in reply["error"], (body, reply)
        assert KEY not in reply["error"]
    status = daemon.rtmp()
    assert status["state"] == "error" and status["last_error"] == reply["error"]

    frames_before = daemon.status()["frames"]
    start_stream(daemon, {"server": f"rtmp://127.0.0.1:{free_port()}/live", "key": KEY})
    down = wait_state(daemon, "reconnecting", timeout=30, what="the unreachable server to be reported")
    assert "refused" in down["last_error"] and KEY not in json.dumps(down)
    wait_for(lambda: daemon.status()["frames"] > frames_before + FPS, timeout=30,
             what="the pipeline to keep running while RTMP fails")
    stop_stream(daemon)
    assert daemon.proc.poll() is None
    assert_key_hidden(daemon)


def test_key_is_saved_only_on_request_and_only_readable_by_the_user(daemon):
    port = free_port()  # nobody listens: this is about where the key goes, not the push
    start_stream(daemon, {"server": f"rtmp://127.0.0.1:{port}/live", "key": KEY})
    stop_stream(daemon)
    key_file = daemon.config_dir / "rtmp_key"
    assert not key_file.exists()

    start_stream(daemon, {"server": f"rtmp://127.0.0.1:{port}/live", "key": KEY, "save_key": True})
    stop_stream(daemon)
    assert key_file.read_text().strip() == KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not (daemon.config_dir / "config.yaml").exists() or KEY not in (daemon.config_dir / "config.yaml").read_text()

    reply = start_stream(daemon, {"server": f"rtmp://127.0.0.1:{port}/live"})  # the saved key is used
    assert reply["url"] == f"rtmp://127.0.0.1:{port}/live/****"
    stop_stream(daemon)
    assert_key_hidden(daemon)
