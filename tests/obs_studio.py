"""A real OBS Studio, headless: Xvfb, an isolated OBS config (XDG_CONFIG_HOME), a scene
collection that loads the stylecam script, obs-websocket on a free port, and an obsws-python
client. Every process is started in its own session and stopped by its PID.

Used by tests/test_obs_e2e.py and scripts/obs_screenshots.py (the docs' screenshots).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import need

SCRIPT = Path(__file__).resolve().parents[1] / "obs_script" / "stylecam_obs.py"
OBS_VERSION_29 = (29 << 24) | (0 << 16) | 2   # global.ini LastVersion: no first-run wizard
COLLECTION, PROFILE = "stylecam-test", "stylecam-test"


def need_obs() -> None:
    need("OBS Studio (obs)", shutil.which("obs"))
    need("Xvfb", shutil.which("Xvfb"))
    try:
        import obsws_python  # noqa: F401
    except ImportError:
        need("obsws-python (pip install obsws-python)", False)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_pid(proc: subprocess.Popen | None, sig=signal.SIGTERM, timeout: float = 15) -> None:
    """Signal a process's session by its PID; SIGKILL if it has not gone after `timeout`."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(timeout=10)


class Xvfb:
    """A virtual X display on a free display number (Xvfb -displayfd)."""

    def __init__(self, width: int = 1280, height: int = 800):
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            stop_pid(self.proc)
            raise RuntimeError("Xvfb did not start (no display number)")
        self.display = ":" + number

    def stop(self) -> None:
        stop_pid(self.proc)


def scene_collection(script_settings: dict, stream_url: str | None, scene: str = "stylecam",
                     source: str = "stylecam output") -> dict:
    """One scene; a Media Source reading the daemon's local stream; the script, loaded."""
    items, sources = [], []
    if stream_url:
        items.append({"name": source, "id": 1, "visible": True, "locked": False, "pos": {"x": 0.0, "y": 0.0},
                      "scale": {"x": 1.0, "y": 1.0}, "rot": 0.0, "align": 5, "bounds_type": 0,
                      "bounds": {"x": 0.0, "y": 0.0}, "bounds_align": 0})
        sources.append({"id": "ffmpeg_source", "versioned_id": "ffmpeg_source", "name": source,
                        "settings": {"is_local_file": False, "input": stream_url, "input_format": "mpegts",
                                     "buffering_mb": 0, "reconnect_delay_sec": 1, "hw_decode": False,
                                     "restart_on_activate": False, "close_when_inactive": False}})
    sources.insert(0, {"id": "scene", "versioned_id": "scene", "name": scene,
                       "settings": {"id_counter": len(items), "items": items}})
    return {"name": COLLECTION, "current_scene": scene, "current_program_scene": scene,
            "scene_order": [{"name": scene}], "sources": sources,
            "modules": {"scripts-tool": [{"path": str(SCRIPT), "settings": script_settings}]}}


class ObsStudio:
    """OBS Studio with its own config dir, on an X display, with obs-websocket enabled."""

    def __init__(self, workdir: Path, display: str, env: dict | None = None, size=(640, 360)):
        self.workdir = Path(workdir)
        self.config = self.workdir / "xdg"
        self.display = display
        self.env = env or {}
        self.ws_port = free_tcp_port()
        self.proc: subprocess.Popen | None = None
        self.client = None
        self._out = None
        self._write_config(size)

    @property
    def collection_path(self) -> Path:
        return self.config / "obs-studio" / "basic" / "scenes" / f"{COLLECTION}.json"

    def _write_config(self, size) -> None:
        obs_dir = self.config / "obs-studio"
        (obs_dir / "basic" / "profiles" / PROFILE).mkdir(parents=True, exist_ok=True)
        (obs_dir / "basic" / "scenes").mkdir(parents=True, exist_ok=True)
        # obs-websocket 5.1 (OBS 29) reads [OBSWebSocket] from global.ini; newer ones read
        # plugin_config/obs-websocket/config.json: both are written
        (obs_dir / "global.ini").write_text(f"""[General]
FirstRun=true
LastVersion={OBS_VERSION_29}
ConfirmOnExit=false
EnableAutoUpdates=false

[Basic]
Profile={PROFILE}
ProfileDir={PROFILE}
SceneCollection={COLLECTION}
SceneCollectionFile={COLLECTION}
ConfigOnNewProfile=false

[BasicWindow]
SysTrayEnabled=false
ShowTransitions=false

[OBSWebSocket]
FirstLoad=false
ServerEnabled=true
ServerPort={self.ws_port}
AlertsEnabled=false
AuthRequired=false
ServerPassword=
""")
        ws_dir = obs_dir / "plugin_config" / "obs-websocket"
        ws_dir.mkdir(parents=True, exist_ok=True)
        (ws_dir / "config.json").write_text(json.dumps({
            "first_load": False, "server_enabled": True, "server_port": self.ws_port,
            "alerts_enabled": False, "auth_required": False, "server_password": ""}))
        w, h = size
        (obs_dir / "basic" / "profiles" / PROFILE / "basic.ini").write_text(f"""[General]
Name={PROFILE}

[Video]
BaseCX={w}
BaseCY={h}
OutputCX={w}
OutputCY={h}
FPSType=1
FPSInt=10

[Audio]
SampleRate=48000
ChannelSetup=Stereo
""")

    def write_collection(self, collection: dict) -> None:
        self.collection_path.write_text(json.dumps(collection, indent=1))

    def read_collection(self) -> dict:
        return json.loads(self.collection_path.read_text())

    def script_settings(self) -> dict:
        tools = self.read_collection().get("modules", {}).get("scripts-tool", [])
        return next(t["settings"] for t in tools if t["path"].endswith("stylecam_obs.py"))

    def start(self, timeout: float = 90) -> "ObsStudio":
        env = dict(os.environ, DISPLAY=self.display, XDG_CONFIG_HOME=str(self.config),
                   LIBGL_ALWAYS_SOFTWARE="1", QT_QPA_PLATFORM="xcb", **self.env)
        env.pop("WAYLAND_DISPLAY", None)
        # opencv-python points Qt at its own bundled plugins when cv2 is imported in this
        # process; OBS must load its own Qt plugins
        for var in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR", "QT_PLUGIN_PATH"):
            env.pop(var, None)
        self._out = open(self.workdir / "obs.log", "ab")
        # --disable-shutdown-check: OBS 30+ (no safe-mode question after a kill); 29 ignores it
        self.proc = subprocess.Popen(
            ["obs", "--collection", COLLECTION, "--profile", PROFILE, "--disable-shutdown-check",
             "--disable-missing-files-check", "--multi"],
            cwd=self.workdir, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)
        self.client = self._connect(timeout)
        return self

    def _connect(self, timeout: float):
        import logging

        import obsws_python

        logging.getLogger("obsws_python").setLevel(logging.CRITICAL)   # refused tries while OBS starts
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"OBS exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                return obsws_python.ReqClient(host="127.0.0.1", port=self.ws_port, timeout=10)
            except (OSError, Exception):   # refused until obs-websocket listens
                if time.monotonic() > deadline:
                    raise RuntimeError(f"obs-websocket did not answer on port {self.ws_port} within "
                                       f"{timeout:.0f}s:\n{self.log()[-3000:]}") from None
                time.sleep(0.5)

    def log(self) -> str:
        path = self.workdir / "obs.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 30) -> None:
        """Quit the way a user does (OBS saves its scene collection on SIGINT); SIGKILL if stuck."""
        if self.client is not None:
            try:
                self.client.disconnect()
            except Exception:
                pass
            self.client = None
        stop_pid(self.proc, signal.SIGINT, timeout)
        if self._out:
            self._out.close()
            self._out = None
