"""`stream:udp://127.0.0.1:PORT` (or `stream:srt://...`): a low-latency local H.264 MPEG-TS
stream that OBS's Media Source (and ffplay, VLC) can open on Linux, Windows and macOS: the
fallback when no virtual camera driver can be installed.

UDP needs no listener: frames are sent whether or not OBS is reading, and OBS can open and
close the source at any time. Keyframes come every second so a reader joins fast; no
B-frames, no muxer buffering. See docs/streaming.md for the OBS settings.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..redact import redact_url
from . import register_output
from .base import OutputError
from .ffmpeg import FfmpegOutput, even_size_args, h264_args, local_bitrate_kbps

SCHEMES = ("udp", "srt")
TS_PACKETS = "1316"  # 7 x 188-byte TS packets per datagram: fits any MTU, and SRT live mode wants it


stream_bitrate_kbps = local_bitrate_kbps


class StreamOutput(FfmpegOutput):
    kind = "stream"

    def __init__(self, url: str, size, fps, bitrate_kbps: int = 0):
        super().__init__(url, size, fps, name=f"stream:{redact_url(url)}")
        self.bitrate_kbps = bitrate_kbps or stream_bitrate_kbps(size, fps)
        if "mode=listener" in url:  # each reader that leaves ends ffmpeg: listen again at once
            self.backoff_first_s = self.backoff_max_s = 0.5

    def output_args(self, encoder: str) -> list[str]:
        return [*even_size_args(self.size), *h264_args(encoder, bitrate_kbps=self.bitrate_kbps, fps=self.fps, keyint_s=1),
                "-bf", "0", "-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0",
                "-f", "mpegts", _with_packet_size(self.url)]


def _with_packet_size(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("pkt_size", TS_PACKETS)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def parse_stream_url(arg: str) -> str:
    url = arg.strip()
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise OutputError(f"stream output needs udp://HOST:PORT or srt://HOST:PORT, got {url!r}; "
                          "e.g. --output stream:udp://127.0.0.1:9999")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not port:
        raise OutputError(f"stream output {url!r} has no valid port; e.g. stream:udp://127.0.0.1:9999")
    return url


def _factory(arg, size, fps, **options):
    return StreamOutput(parse_stream_url(arg), size, fps, bitrate_kbps=int(options.get("bitrate_kbps") or 0))


register_output("stream", _factory)
