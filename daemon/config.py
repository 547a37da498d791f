"""The daemon's configuration: one validated object built at start-up from YAML + CLI flags.

Every key, its default and its meaning is listed in docs/config.md (tests/test_config_docs.py
holds it to the dataclasses below). Unknown keys and bad values raise ConfigError naming the key
and the fix.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import StylecamError
from .paths import user_config_dir


# -- limits and choices: the one table config validation, the control API, `stylecam stylize`,
# `stylecam bench` and the command line's argparse choices all read ------------------------------
@dataclass(frozen=True)
class Span:
    """The numbers from `lo` to `hi`, both included; str() says it the way the errors do."""
    lo: float
    hi: float

    def allows(self, value) -> bool:
        return self.lo <= value <= self.hi  # False for NaN

    def text(self, joiner: str = " to ") -> str:
        return f"{_number(self.lo)}{joiner}{_number(self.hi)}"

    def __str__(self) -> str:
        return f"between {self.text(' and ')}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class Choices(tuple):
    """The words a setting accepts, in the order they are listed; str() lists them."""

    def allows(self, value) -> bool:
        return value in self

    def __str__(self) -> str:
        return ", ".join(self)


# processing.quality: how far the adaptive controller may shrink the processing size to hold the
# frame rate, as the largest upscale to the output it accepts (below that it lowers fps instead)
QUALITY_PRESETS = {"fast": None, "balanced": 1.5, "best": 4 / 3}  # the largest upscale each accepts

LIMITS: dict[str, Span | Choices] = {
    "fps": Span(1, 240),               # input.fps, processing.target_fps, output.fps; /params target_fps
    "strength": Span(0, 1),            # style.strength; /params strength; --strength
    "transition_ms": Span(0, 10000),   # style.transition_ms; /style transition_ms
    "idle_after_s": Span(0, 600),      # processing.idle_after_s
    "port": Span(0, 65535),            # api.port (0 picks a free port)
    "width": Span(16, 7680),           # every WIDTHxHEIGHT size, and the camera size asked for
    "height": Span(16, 4320),
    "stream_side": Span(16, 3840),     # rtmp.width / rtmp.height and the stream's (even)
    "stream_fps": Span(1, 120),        # rtmp.fps and the stream's
    "stream_bitrate_kbps": Span(100, 50000),
    "smoothing": Choices(("off", "ema", "flow")),
    "provider": Choices(("tensorrt", "cuda", "dml", "coreml", "cpu")),  # tried in this order
    "precision": Choices(("fp32", "fp16", "int8")),  # fp16/int8: the manifest's reduced-precision variants
    # when to stylize: while an app reads the virtual camera | always | never
    "on_demand": Choices(("auto", "always", "never")),
    "region": Choices(("all", "background", "person")),  # where the style paints (person segmentation)
    "quality": Choices(QUALITY_PRESETS),  # processing.quality
    "device": Span(0, 63),             # processing.device: a GPU index
    "paint_every": Span(1, 8),         # processing.paint_every
    "sharpen": Span(0, 2),             # processing.sharpen
}
# the choices under the names the modules (and the panel's control lookup) know them by
SMOOTHING_MODES = LIMITS["smoothing"]
PROVIDERS = LIMITS["provider"]
PRECISIONS = LIMITS["precision"]
ON_DEMAND_MODES = LIMITS["on_demand"]
REGIONS = LIMITS["region"]
CPU_MAX_SIZE = "640x360"  # processing.max_size auto, on the CPU (times the network's scale); on a GPU: the output size


class ConfigError(StylecamError, ValueError):
    """A bad config key or value; the message names the key and the fix."""


@dataclass
class InputConfig:
    source: str = "auto"          # auto | demo | camera index (0) | /dev/videoN | file | URL
    loop: bool = True             # loop video files
    width: int = 1280             # requested camera size (the camera may choose another)
    height: int = 720
    fps: float = 30.0


@dataclass
class ProcessingConfig:
    target_fps: float = 30.0      # the adaptive controller holds this
    adaptive: bool = True         # pick the processing size from measured stage times
    max_size: str = "auto"        # largest processing size (WxH; aspect follows the output); auto: 640x360 on the CPU, the output size on a GPU
    quality: str = "balanced"     # fast | balanced | best: the smallest processing size the controller may pick (QUALITY_PRESETS)
    min_size: str = "256x144"     # smallest processing size
    providers: list = field(default_factory=lambda: list(PROVIDERS))  # tried in this order
    threads: int = 0              # ONNX Runtime intra-op threads (0: ORT decides)
    device: int = 0               # which GPU: ONNX Runtime's device_id for cuda, tensorrt and dml (`stylecam doctor` lists them)
    precision: str = "fp32"       # fp32 | fp16 | int8 (smaller, faster variants; see docs/quality.md)
    on_demand: str = "auto"       # auto: idle while no app reads the virtual camera | always | never (paused)
    idle_after_s: float = 5.0     # auto: seconds without a reader before going idle (apps that reopen don't flap it)
    paint_every: int = 3          # the network may paint as rarely as every Nth frame (in the background); frames in between carry the last painting along the optical flow; 1: every frame
    sharpen: float = 0.6          # before an upscale, the painting's strokes sharpened by this much (unsharp mask, 1 px); 0: off


@dataclass
class StyleConfig:
    name: str = "starry_night"
    enabled: bool = True
    strength: float = 1.0         # 0 = original, 1 = full style
    preserve_color: bool = False  # keep the camera's colours, take light and texture from the style
    mirror: bool = False
    smoothing: str = "flow"       # off | ema | flow
    transition_ms: int = 400      # cross-fade length on style switches (and region changes)
    region: str = "all"           # all | background (keep the person as is) | person (paint only the person)


@dataclass
class OutputConfig:
    size: str = "1280x720"        # size of every published frame
    fps: float = 30.0
    targets: list = field(default_factory=lambda: ["auto"])  # virtualcam, window, file:PATH, stream:URL, rtmp://..., null, auto
    virtualcam_backend: str = ""  # pyvirtualcam backend (v4l2loopback, obs, unitycapture); empty: first that works
    virtualcam_device: str = ""   # e.g. /dev/video10
    idle_image: str = ""          # picture shown while idle (PNG/JPEG); empty: a "stylecam paused" card


@dataclass
class ApiConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8765
    allow_remote: bool = False    # true: api.host may be an address other machines reach (0.0.0.0, a LAN address)


@dataclass
class RtmpConfig:
    preset: str = "custom"        # bilibili | douyin | twitch | youtube | custom
    server: str = ""              # rtmp://host/app ; the key is given at start, not stored here
    key: str = ""                 # leave empty: the key is passed through the API / OBS script
    bitrate_kbps: int = 0         # 0: preset default
    width: int = 0                # 0: preset default
    height: int = 0
    fps: float = 0


@dataclass
class Config:
    input: InputConfig = field(default_factory=InputConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    style: StyleConfig = field(default_factory=StyleConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    rtmp: RtmpConfig = field(default_factory=RtmpConfig)


def processing_bounds(p: ProcessingConfig, out_size: tuple[int, int], provider: str,
                      scale: int = 1) -> tuple[tuple[int, int], tuple[int, int]]:
    """(largest, smallest) processing size for this output and provider: max_size auto is the
    output size on a GPU provider and 640x360 (never above the output) on the CPU, times the
    network's scale (a scale-2 network paints its input size from a body at half of it, so
    1280x720 in costs what 640x360 costs the first design); the quality preset raises the
    smallest size to output / its largest upscale."""
    if p.max_size == "auto":
        cpu = parse_size(CPU_MAX_SIZE)
        cap = out_size if provider != "cpu" else (cpu[0] * scale, cpu[1] * scale)
        top = (min(cap[0], out_size[0]), min(cap[1], out_size[1]))
    else:
        top = parse_size(p.max_size, "processing.max_size")
    low = parse_size(p.min_size, "processing.min_size")
    upscale = QUALITY_PRESETS[p.quality]
    if upscale:
        low = (max(low[0], round(out_size[0] / upscale)), max(low[1], round(out_size[1] / upscale)))
    return top, (min(low[0], top[0]), min(low[1], top[1]))


def parse_size(text: str, key: str = "size") -> tuple[int, int]:
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
        if not (LIMITS["width"].allows(w) and LIMITS["height"].allows(h)):
            raise ValueError
        return w, h
    except ValueError:
        raise ConfigError(f"{key}: {text!r} is not a size; write WIDTHxHEIGHT, e.g. 1280x720") from None


def _coerce(key: str, value: Any, default: Any) -> Any:
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected a whole number, got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                raise ConfigError(f"{key}: {value!r} is far too large") from None
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if kind is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        if isinstance(value, str):
            return [value]
        raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
    if kind is str:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected text, got {value!r}")
    raise ConfigError(f"{key}: unsupported value {value!r}")


def _apply(section_obj: Any, data: dict, prefix: str) -> None:
    names = [f.name for f in dataclasses.fields(section_obj)]
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"{prefix}{key}: unknown key; valid keys in {prefix.rstrip('.') or 'the top level'}: "
                              f"{', '.join(names)}")
        current = getattr(section_obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix}{key}: expected a mapping of keys, got {value!r}")
            _apply(current, value, f"{prefix}{key}.")
        else:
            setattr(section_obj, key, _coerce(prefix + key, value, current))


def _check(key: str, value: Any, limit: str, note: str = "") -> None:
    """ConfigError naming `key` when `value` is not one LIMITS[limit] allows."""
    allowed = LIMITS[limit]
    if allowed.allows(value):
        return
    if isinstance(allowed, Choices):
        raise ConfigError(f"{key}: {value!r}; choose one of {allowed}")
    raise ConfigError(f"{key}: must be {allowed}{note}")


def validate(cfg: Config) -> Config:
    p, s, o = cfg.processing, cfg.style, cfg.output
    _check("processing.target_fps", p.target_fps, "fps")
    maxw, maxh = parse_size(CPU_MAX_SIZE if p.max_size == "auto" else p.max_size, "processing.max_size")
    minw, minh = parse_size(p.min_size, "processing.min_size")
    if minw > maxw or minh > maxh:
        raise ConfigError("processing.min_size: must not be larger than processing.max_size")
    if not LIMITS["device"].allows(p.device):
        raise ConfigError("processing.device: give a GPU index from 0 (see `stylecam doctor`)")
    _check("processing.quality", p.quality, "quality")
    _check("processing.paint_every", p.paint_every, "paint_every", " (1: the network paints every frame)")
    _check("processing.sharpen", p.sharpen, "sharpen", " (0: off)")
    bad = [v for v in p.providers if not PROVIDERS.allows(v)]
    if bad or not p.providers:
        raise ConfigError(f"processing.providers: unknown {bad}; choose from {PROVIDERS}")
    _check("style.strength", s.strength, "strength")
    _check("style.smoothing", s.smoothing, "smoothing")
    _check("style.region", s.region, "region")
    _check("style.transition_ms", s.transition_ms, "transition_ms")
    parse_size(o.size, "output.size")
    host = cfg.api.host.strip().lower()
    if not (cfg.api.allow_remote or host in ("localhost", "::1", "[::1]") or host.startswith("127.")):
        raise ConfigError(f"api.host: {cfg.api.host!r} would let other machines reach the control API; "
                          "use 127.0.0.1, or set api.allow_remote: true if you mean it (anyone with the "
                          "token could then control stylecam)")
    _check("output.fps", o.fps, "fps")
    _check("api.port", cfg.api.port, "port", " (0 picks a free port)")
    i = cfg.input
    _check("input.fps", i.fps, "fps")  # also refuses NaN
    width, height = LIMITS["width"], LIMITS["height"]
    if not (width.allows(i.width) and height.allows(i.height)):
        raise ConfigError("input.width/input.height: the requested camera size must be between "
                          f"{_number(width.lo)}x{_number(height.lo)} and {_number(width.hi)}x{_number(height.hi)}")
    _check("processing.precision", p.precision, "precision")
    _check("processing.on_demand", p.on_demand, "on_demand")
    _check("processing.idle_after_s", p.idle_after_s, "idle_after_s", " seconds")
    if o.idle_image and not Path(o.idle_image).expanduser().is_file():
        raise ConfigError(f"output.idle_image: no file at {o.idle_image}; give a PNG or JPEG path, "
                          "or leave it empty for the built-in \"stylecam paused\" card")
    if p.threads < 0:
        raise ConfigError("processing.threads: must be 0 (ONNX Runtime decides) or a positive count")
    _validate_rtmp(cfg.rtmp)
    return cfg


def _validate_rtmp(r: RtmpConfig) -> None:
    """The rtmp section, checked at start like the rest (the stream itself starts later)."""
    from .outputs import rtmp

    if r.preset not in rtmp.PRESETS:
        raise ConfigError(f"rtmp.preset: {r.preset!r}; choose one of {', '.join(rtmp.PRESETS)}")
    bitrate, side, fps = LIMITS["stream_bitrate_kbps"], LIMITS["stream_side"], LIMITS["stream_fps"]
    if r.bitrate_kbps and not bitrate.allows(r.bitrate_kbps):
        raise ConfigError(f"rtmp.bitrate_kbps: {r.bitrate_kbps}; 0 (the preset's) or {bitrate.text()}")
    for key in ("width", "height"):
        value = getattr(r, key)
        if value and (not side.allows(value) or value % 2):
            raise ConfigError(f"rtmp.{key}: {value}; 0 (the preset's) or an even number from {side.text()}")
    if r.fps and not fps.allows(r.fps):  # also refuses NaN
        raise ConfigError(f"rtmp.fps: {r.fps:g}; 0 (the preset's) or {fps.text()}")
    if r.server and not r.server.strip().lower().startswith(tuple(f"{s}://" for s in rtmp.SCHEMES)):
        raise ConfigError("rtmp.server: must start with rtmp:// or rtmps://, e.g. rtmp://live.twitch.tv/app")
    if any(c.isspace() or ord(c) < 32 for c in r.key.strip()):
        raise ConfigError("rtmp.key: contains spaces or control characters; copy the key again")


def from_dict(data: dict | None) -> Config:
    cfg = Config()
    if data:
        if not isinstance(data, dict):
            raise ConfigError("the config file must be a YAML mapping (key: value lines)")
        _apply(cfg, data, "")
    return validate(cfg)


def default_path() -> Path:
    return user_config_dir() / "config.yaml"


def load(path: Path | None = None) -> Config:
    """Load the YAML config (default: the user config dir; missing file = defaults)."""
    path = Path(path) if path else default_path()
    if not path.exists():
        if path != default_path():
            raise ConfigError(f"config file {path} does not exist; omit --config to use defaults")
        return from_dict(None)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8 or delete it for defaults") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror}); fix its permissions or omit --config") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}); fix the file or delete it for defaults") from None
    try:
        return from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)
