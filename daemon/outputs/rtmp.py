"""`rtmp://SERVER/APP/KEY` (and rtmps://): push the stylized video to a live platform.

H.264 (NVENC when a trial encode works, else x264 veryfast/zerolatency) at a near-constant
bitrate with a keyframe every 2 s, plus an AAC track (silence by default: platforms expect
audio; or a capture device). The preset gives size, fps and bitrate; a size with another
aspect than the pipeline's is filled by cropping or padding, never by stretching. Faults
(server down, connection lost, stalled) end ffmpeg and the base restarts it with backoff.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from ..config import LIMITS
from . import register_output
from .base import OutputError
from .ffmpeg import FfmpegOutput, h264_args

SCHEMES = ("rtmp", "rtmps")
FITS = ("crop", "pad")
KEYINT_S = 2
RW_TIMEOUT_S = 10          # a connection that accepts nothing for this long ends ffmpeg
SILENT_AUDIO = "anullsrc=channel_layout=stereo:sample_rate=44100"
URL_FORM = "rtmp://HOST[:PORT]/APP/ followed by the stream key"  # no literal key: redact() would mask it


@dataclass(frozen=True)
class Preset:
    name: str
    server: str             # default ingest (empty: the user must give one)
    width: int              # 0: the pipeline's output size / fps
    height: int
    fps: float
    bitrate_kbps: int
    fit: str = "pad"


PRESETS = {
    "bilibili": Preset("bilibili", "rtmp://live-push.bilivideo.com/live-bvc", 1280, 720, 30, 4000),
    "douyin": Preset("douyin", "", 720, 1280, 30, 3000, fit="crop"),   # vertical; server comes with the key
    "twitch": Preset("twitch", "rtmp://live.twitch.tv/app", 1280, 720, 30, 3000),
    "youtube": Preset("youtube", "rtmp://a.rtmp.youtube.com/live2", 1280, 720, 30, 4000),
    "custom": Preset("custom", "", 0, 0, 0, 2500),
}


@dataclass(frozen=True)
class RtmpSettings:
    url: str                # the full URL, key included: never print it, use redact_url()
    preset: str
    width: int
    height: int
    fps: float
    bitrate_kbps: int
    fit: str
    audio: str = "silent"   # silent | FORMAT:DEVICE, e.g. pulse:default, alsa:hw:0, dshow:audio=Mic
    audio_kbps: int = 128


def check_url(url: str) -> str:
    """A usable rtmp(s)://host[:port]/app/key URL, or OutputError (never showing the key)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutputError(f"the stream URL is not a valid URL; write {URL_FORM}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise OutputError(f"the stream URL must start with rtmp:// or rtmps:// (got {parts.scheme or 'no'} scheme)")
    if not parts.hostname:
        raise OutputError(f"the stream URL has no server; write {URL_FORM}")
    if port == 0:
        raise OutputError("the stream URL has port 0; leave the port out (1935) or give the server's port")
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 and not parts.query:  # bilibili's key is a query: /live-bvc/?streamname=...
        raise OutputError(f"the stream URL has no stream key; write {URL_FORM} (or give server and key separately)")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise OutputError("the stream URL or key contains spaces or control characters; copy the key again")
    return url


def join_url(server: str, key: str) -> str:
    return server.strip().rstrip("/") + "/" + key.strip().lstrip("/")


def resolve(url: str, preset: str = "custom", *, pipeline_size=(1280, 720), pipeline_fps: float = 30.0,
            width: int = 0, height: int = 0, fps: float = 0, bitrate_kbps: int = 0, fit: str = "",
            audio: str = "silent") -> RtmpSettings:
    """Preset defaults, overridden by whatever is non-zero; validated (OutputError on bad values)."""
    if preset not in PRESETS:
        raise OutputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    p = PRESETS[preset]
    w = width or p.width or pipeline_size[0] // 2 * 2  # H.264 in yuv420p needs even sizes
    h = height or p.height or pipeline_size[1] // 2 * 2
    settings = RtmpSettings(url=check_url(url), preset=preset, width=int(w), height=int(h),
                            fps=float(fps or p.fps or pipeline_fps), bitrate_kbps=int(bitrate_kbps or p.bitrate_kbps),
                            fit=fit or p.fit, audio=audio or "silent")
    if bool(width) != bool(height) and preset != "custom":
        # one side given: keep the preset's orientation and aspect
        scale = (width / p.width) if width else (height / p.height)
        settings = replace(settings, width=_even(p.width * scale), height=_even(p.height * scale))
    return validate(settings)


def validate(s: RtmpSettings) -> RtmpSettings:
    side, fps, bitrate = LIMITS["stream_side"], LIMITS["stream_fps"], LIMITS["stream_bitrate_kbps"]
    if not (side.allows(s.width) and side.allows(s.height)) or s.width % 2 or s.height % 2:
        raise OutputError(f"stream size {s.width}x{s.height}: width and height must be even and {side}")
    if not fps.allows(s.fps):
        raise OutputError(f"stream fps {s.fps:g}: must be {fps}")
    if not bitrate.allows(s.bitrate_kbps):
        raise OutputError(f"stream bitrate {s.bitrate_kbps} kb/s: must be {bitrate}")
    if s.fit not in FITS:
        raise OutputError(f"fit {s.fit!r}: use crop (fill the frame) or pad (black bars)")
    check_audio(s.audio)
    return s


# The audio field reaches ffmpeg as `-f FORMAT -i DEVICE`: only capture devices, never a file,
# URL, lavfi filter or other demuxer (those could read, write or fetch anything the user can).
AUDIO_DEVICES = {
    "pulse": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+\-]*"),                  # default, alsa_input.pci-...
    "alsa": re.compile(r"(default|sysdefault|(plug)?hw|dsnoop|front|pulse|pipewire)(:[A-Za-z0-9_=,.\-]+)?"),
    "dshow": re.compile(r"audio=[^\x00-\x1f\"':/]+"),                    # audio=Microphone (Realtek Audio)
    "avfoundation": re.compile(r"(none)?:([0-9]+|[A-Za-z0-9 _.()\-]+)"),      # :0, :Built-in Microphone
}
AUDIO_HELP = ("use silent, or FORMAT:DEVICE with a capture format (pulse, alsa, dshow, avfoundation), "
              "e.g. pulse:default, alsa:hw:0, dshow:audio=Microphone, avfoundation::0")


def check_audio(audio: str) -> str:
    """'silent' or a FORMAT:DEVICE capture device; OutputError naming the fix otherwise."""
    if audio == "silent":
        return audio
    fmt, sep, device = audio.partition(":")
    if not sep or fmt not in AUDIO_DEVICES:
        raise OutputError(f"audio {audio[:80]!r}: {fmt[:20]!r} is not an audio capture format; {AUDIO_HELP}")
    if len(device) > 200 or not AUDIO_DEVICES[fmt].fullmatch(device):
        raise OutputError(f"audio {audio[:80]!r}: not a {fmt} capture device name; {AUDIO_HELP}")
    return audio


def _even(x: float) -> int:
    return max(16, round(x / 2) * 2)


def fit_filter(src: tuple[int, int], dst: tuple[int, int], fit: str) -> str:
    """An ffmpeg filter chain from src to dst size keeping the aspect: crop fills the frame
    (cutting the overflow at both sides), pad letterboxes; then yuv420p."""
    (sw, sh), (dw, dh) = src, dst
    if (sw, sh) == (dw, dh):
        chain = []
    elif sw * dh == sh * dw:
        chain = [f"scale={dw}:{dh}"]
    elif fit == "crop":
        chain = [f"scale={dw}:{dh}:force_original_aspect_ratio=increase", f"crop={dw}:{dh}"]
    else:
        chain = [f"scale={dw}:{dh}:force_original_aspect_ratio=decrease",
                 f"pad={dw}:{dh}:(ow-iw)/2:(oh-ih)/2:color=black"]
    return ",".join(chain + ["setsar=1", "format=yuv420p"])


class RtmpOutput(FfmpegOutput):
    kind = "rtmp"

    def __init__(self, settings: RtmpSettings, pipeline_size):
        super().__init__(settings.url, pipeline_size, settings.fps)
        self.settings = settings

    def video_input_args(self) -> list[str]:
        # a live audio device runs on the wall clock: stamp video the same way so they stay in sync
        return [] if self.settings.audio == "silent" else ["-use_wallclock_as_timestamps", "1"]

    def audio_input_args(self) -> list[str]:
        if self.settings.audio == "silent":  # -re: generated in real time, not as fast as ffmpeg can
            return ["-re", "-f", "lavfi", "-i", SILENT_AUDIO]
        fmt, device = self.settings.audio.split(":", 1)
        return ["-thread_queue_size", "1024", "-f", fmt, "-i", device]

    def output_args(self, encoder: str) -> list[str]:
        s = self.settings
        vf = fit_filter(self.size, (s.width, s.height), s.fit)
        sync = [] if s.audio == "silent" else ["-r", f"{s.fps:g}"]
        return [*self.audio_input_args(), "-map", "0:v:0", "-map", "1:a:0",
                "-vf", vf, *sync, *h264_args(encoder, bitrate_kbps=s.bitrate_kbps, fps=s.fps, keyint_s=KEYINT_S),
                "-c:a", "aac", "-b:a", f"{s.audio_kbps}k", "-ar", "44100", "-ac", "2",
                "-shortest",  # the generated audio never ends: stop with the video (stdin EOF)
                "-rw_timeout", str(RW_TIMEOUT_S * 1_000_000),
                "-f", "flv", "-flvflags", "no_duration_filesize", s.url]

    def describe(self) -> dict:
        d = super().describe()
        s = self.settings
        d.update(preset=s.preset, stream_size=f"{s.width}x{s.height}", bitrate_kbps=s.bitrate_kbps, fit=s.fit,
                 audio=s.audio)
        return d


def _factory(arg, size, fps, **options):
    """`--output rtmp://...` / create_output: options may carry preset, width, height, fps,
    bitrate_kbps, fit, audio (others, such as the virtual camera's, are ignored)."""
    keys = ("width", "height", "fps", "bitrate_kbps", "fit", "audio")
    settings = resolve(arg, options.get("preset") or "custom", pipeline_size=size, pipeline_fps=fps,
                       **{k: options[k] for k in keys if options.get(k)})
    return RtmpOutput(settings, size)


register_output("rtmp", _factory)
