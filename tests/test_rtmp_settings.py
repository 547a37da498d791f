"""The parts of the RTMP and stream outputs that need no server: key redaction, presets and
their validation, the ffmpeg command line, the aspect-keeping scaler (run through the real
ffmpeg), the frame queue, and how ffmpeg's exit is explained."""
from __future__ import annotations

import logging
import subprocess

import numpy as np
import pytest
from conftest import need_ffmpeg
from stylecam.outputs import OutputError, create_output
from stylecam.outputs.ffmpeg import FrameQueue, summarize
from stylecam.outputs.rtmp import PRESETS, fit_filter, resolve
from stylecam.redact import (
    RedactingFilter,
    redact,
    redact_url,
    register_secret,
    register_url_secret,
)

SIZE, FPS = (320, 180), 15.0


# -- redaction --------------------------------------------------------------------------------
@pytest.mark.parametrize("url, shown", [
    ("rtmp://live.twitch.tv/app/live_123_abcdef", "rtmp://live.twitch.tv/app/****"),
    ("rtmps://a.rtmps.youtube.com:443/live2/abcd-efgh-ijkl", "rtmps://a.rtmps.youtube.com:443/live2/****"),
    ("rtmp://live-push.bilivideo.com/live-bvc/?streamname=live_1_2&key=f00d&schedule=rtmp",
     "rtmp://live-push.bilivideo.com/live-bvc/?****"),
    ("rtmp://live-push.bilivideo.com/live-bvc/live_1_2?streamname=live_1_2&key=f00d",
     "rtmp://live-push.bilivideo.com/live-bvc/****?****"),
    ("rtmp://user:hunter2@example.com/live/k3y", "rtmp://user:****@example.com/live/****"),
    ("rtmp://example.com/live", "rtmp://example.com/live"),  # a server without a key stays readable
    ("srt://127.0.0.1:9000?mode=caller&passphrase=topsecret1", "srt://127.0.0.1:9000?mode=caller&passphrase=****"),
    ("udp://127.0.0.1:9999?pkt_size=1316", "udp://127.0.0.1:9999?pkt_size=1316"),
])
def test_redact_url_hides_the_key_and_keeps_the_rest(url, shown):
    assert redact_url(url) == shown


def test_redact_masks_urls_inside_ffmpeg_messages_and_registered_keys_anywhere():
    line = "[error] Error writing trailer of rtmp://127.0.0.1:1935/live/s3cr3t_key_1: Broken pipe"
    assert redact(line) == "[error] Error writing trailer of rtmp://127.0.0.1:1935/live/****: Broken pipe"
    register_secret("s3cr3t_key_2")
    assert "s3cr3t_key_2" not in redact("recorded to /var/rec/s3cr3t_key_2-1700000000.flv")
    register_url_secret("rtmp://host/live/live_9?streamname=live_9&key=0123456789abcdef")
    assert "0123456789abcdef" not in redact("streamname=live_9&key=0123456789abcdef")


def test_log_filter_redacts_messages_arguments_and_tracebacks():
    register_secret("tr4ceback_key")
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "push to %s failed", ("rtmp://h/live/tr4ceback_key",), None)
    try:
        raise RuntimeError("rtmp://h/live/tr4ceback_key: refused")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "tr4ceback_key" not in text and "rtmp://h/live/****" in text


# -- presets and settings -----------------------------------------------------------------------
def test_presets_give_platform_defaults_and_overrides_win():
    tw = resolve("rtmp://live.twitch.tv/app/key123", "twitch", pipeline_size=SIZE, pipeline_fps=FPS)
    assert (tw.width, tw.height, tw.fps, tw.bitrate_kbps) == (1280, 720, 30, 3000)
    dy = resolve("rtmp://push.example/live/key123", "douyin", pipeline_size=SIZE, pipeline_fps=FPS)
    assert (dy.width, dy.height, dy.fit) == (720, 1280, "crop")  # vertical, filled by cropping
    custom = resolve("rtmp://h/live/key123", "custom", pipeline_size=SIZE, pipeline_fps=FPS, bitrate_kbps=900)
    assert (custom.width, custom.height, custom.fps, custom.bitrate_kbps) == (320, 180, FPS, 900)
    small = resolve("rtmp://h/live/key123", "douyin", pipeline_size=SIZE, pipeline_fps=FPS, width=360)
    assert (small.width, small.height) == (360, 640)  # one side given: the preset's aspect is kept
    bili = resolve("rtmp://live-push.bilivideo.com/live-bvc/?streamname=live_1_2&key=f00d", "bilibili",
                   pipeline_size=SIZE, pipeline_fps=FPS)
    assert bili.url.endswith("/live-bvc/?streamname=live_1_2&key=f00d")
    assert set(PRESETS) == {"bilibili", "douyin", "twitch", "youtube", "custom"}


@pytest.mark.parametrize("url, kwargs, words", [
    ("http://h/live/key123", {}, "rtmp://"),
    ("rtmp:///live/key123", {}, "no server"),
    ("rtmp://h/live", {}, "no stream key"),
    ("rtmp://h/live/key 123", {}, "spaces"),
    ("rtmp://h/live/key123", {"width": 321, "height": 180}, "even"),
    ("rtmp://h/live/key123", {"fps": 500}, "fps"),
    ("rtmp://h/live/key123", {"bitrate_kbps": 10}, "bitrate"),
    ("rtmp://h/live/key123", {"fit": "stretch"}, "crop"),
    ("rtmp://h/live/key123", {"audio": "default"}, "FORMAT:DEVICE"),
])
def test_bad_settings_are_refused_with_the_fix_and_without_the_key(url, kwargs, words):
    with pytest.raises(OutputError) as info:
        resolve(url, "custom", pipeline_size=SIZE, pipeline_fps=FPS, **kwargs)
    assert words in str(info.value) and "key123" not in str(info.value)


def test_rtmp_command_pushes_flv_with_h264_silent_aac_keyframes_every_2s_and_a_stall_timeout():
    out = create_output("rtmp://127.0.0.1:1935/live/key123", SIZE, FPS)
    cmd = out.command("ffmpeg", "libx264")
    joined = " ".join(cmd)
    assert cmd[-1] == "rtmp://127.0.0.1:1935/live/key123" and cmd[-5:-1] == ["-f", "flv", "-flvflags", "no_duration_filesize"]
    assert "-re -f lavfi -i anullsrc=channel_layout=stereo:sample_rate=44100" in joined
    assert "-c:a aac" in joined and "-c:v libx264 -preset veryfast -tune zerolatency" in joined
    assert cmd[cmd.index("-g") + 1] == str(int(2 * FPS)) and "yuv420p" in cmd
    assert int(cmd[cmd.index("-rw_timeout") + 1]) >= 1_000_000
    assert out.name == "rtmp://127.0.0.1:1935/live/****"


# -- the scaler keeps shapes --------------------------------------------------------------------
def _white_box(frame: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(frame.mean(axis=2) > 128)
    return xs.max() - xs.min() + 1, ys.max() - ys.min() + 1


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_vertical_output_crops_or_pads_but_never_stretches(fit):
    need_ffmpeg()
    src = np.zeros((180, 320, 3), np.uint8)
    src[60:120, 130:190] = 255  # a 60x60 white square in the middle of a 16:9 frame
    dst = (180, 320)
    vf = fit_filter((320, 180), dst, fit)
    run = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", "320x180", "-i", "pipe:0",
                          "-vf", vf, "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"],
                         check=False, input=src.tobytes(), capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = np.frombuffer(run.stdout, np.uint8).reshape(dst[1], dst[0], 3)
    w, h = _white_box(out)
    assert abs(w - h) <= 2, f"the square became {w}x{h}"
    assert (w > 60) if fit == "crop" else (w < 60)  # crop scales up to fill, pad scales down to fit


# -- plumbing ------------------------------------------------------------------------------------
def test_frame_queue_drops_the_oldest_and_never_blocks():
    q = FrameQueue(3)
    for i in range(5):
        q.put(i)
    assert q.dropped == 2
    assert [q.get(0) for _ in range(4)] == [2, 3, 4, None]


def test_ffmpeg_exit_is_explained_by_its_first_real_error():
    refused = ["[tcp @ 0x5] [error] Connection to tcp://127.0.0.1:1?tcp_nodelay=0 failed: Connection refused",
               "[rtmp @ 0x6] [error] Cannot open connection tcp://127.0.0.1:1?tcp_nodelay=0",
               "[error] rtmp://127.0.0.1:1/live/****: Connection refused"]
    assert summarize(refused, 1).startswith("the server refused the connection")
    dropped = ["[error] av_interleaved_write_frame(): Broken pipe", "[error] Error writing trailer of x: Broken pipe"]
    assert summarize(dropped, 1) == "the other end closed the connection (av_interleaved_write_frame(): Broken pipe)"
    assert summarize(["[warning] something odd"], 234) == "ffmpeg exited with code 234"
