"""stylecam remote control for OBS Studio (Tools -> Scripts -> +).

A thin remote control of the running stylecam daemon over its local HTTP API: switch styles
(properties, hotkeys, scene changes), change strength / colour / smoothing, paint everything or
only the background or only the person (properties, hotkeys), turn stylization on and off, start and stop the daemon's RTMP stream, and show what the daemon is doing.

Standard library only: OBS embeds its own Python and nothing can be installed into it. All
network calls run on one worker thread with short timeouts; OBS's threads (UI, graphics,
hotkeys) only queue commands and read the latest results. No image work happens here.
"""
from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import obspython as obs

DEFAULT_ADDRESS = "127.0.0.1:8765"
POLL_S = 1.0                     # /status poll interval while connected
STYLES_EVERY = 15                # re-read the style list every N polls
BACKOFF_S = (1, 2, 4, 8, 15, 30)  # retry delays while the daemon is unreachable
TIMEOUT_S = 2.0                  # per request; RTMP start gets longer
TICK_MS = 500                    # the OBS timer: drains log lines, registers new style hotkeys
SMOOTHING = (("off", "Off"), ("ema", "Light (EMA)"), ("flow", "Steady (optical flow)"))
REGIONS = (("all", "Everything"), ("background", "Background only (keep the person as is)"),
           ("person", "Person only (keep the room as is)"))
RTMP_PRESETS = ("custom", "twitch", "youtube", "bilibili", "douyin")
NO_STYLE = ""                    # the "keep the current style" entry of a scene's list

ACTIONS = {"refresh": "refreshing", "style": "switching style", "step": "switching style",
           "region_step": "changing the region",
           "toggle": "turning stylization on/off", "params": "changing settings",
           "rtmp_start": "starting the stream", "rtmp_stop": "stopping the stream"}

# name suffix, description, action: the fixed hotkeys (a style's own are added per style)
HOTKEYS = (
    ("next_style", "stylecam: next style", ("step", 1)),
    ("previous_style", "stylecam: previous style", ("step", -1)),
    ("toggle_stylization", "stylecam: stylization on/off", ("toggle",)),
    ("next_region", "stylecam: next region (everything / background / person)", ("region_step", 1)),
    *((f"region_{value}", f"stylecam: region {value}", ("params", {"region": value})) for value, _ in REGIONS),
    ("rtmp_start", "stylecam: start RTMP stream", ("rtmp_start",)),
    ("rtmp_stop", "stylecam: stop RTMP stream", ("rtmp_stop",)),
)


# -- pure helpers (no OBS, no network) ----------------------------------------------------
def parse_address(text: str) -> tuple[str, int]:
    """'127.0.0.1:8765', 'localhost:8765', 'http://127.0.0.1:8765/' or '8765' -> (host, port)."""
    text = (text or "").strip() or DEFAULT_ADDRESS
    for prefix in ("http://", "https://"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    text = text.split("/", 1)[0]
    if text.isdigit():
        text = "127.0.0.1:" + text
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        host = "[" + host + "]"
    else:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"daemon address {text!r} is not host:port (e.g. {DEFAULT_ADDRESS})")
    return host, int(port)


def token_file() -> Path:
    """Where the daemon writes its token (mirrors stylecam.paths.user_config_dir)."""
    if os.environ.get("STYLECAM_CONFIG_DIR"):
        return Path(os.environ["STYLECAM_CONFIG_DIR"]) / "token"
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "stylecam" / "token"


def read_token_file(path: Path | None = None) -> str:
    try:
        return (path or token_file()).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def redact(text: str, secrets) -> str:
    """Hide the stream key (and the token) wherever a message might echo them."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "****")
    return text


def step_style(styles: list[str], current: str | None, step: int) -> str | None:
    if not styles:
        return None
    if current not in styles:
        return styles[0] if step > 0 else styles[-1]
    return styles[(styles.index(current) + step) % len(styles)]


def describe_rtmp(rtmp: dict | None) -> str:
    rtmp = rtmp or {}
    state = rtmp.get("state") or "off"
    text = state
    if rtmp.get("url") and state not in ("off", "stopped"):
        text += f" ({rtmp['url']})"
    if rtmp.get("last_error") and state != "live":
        text += f": {rtmp['last_error']}"
    return text


def describe(view: dict, now: float | None = None) -> str:
    """The status shown in the script's properties (a few short lines)."""
    now = time.monotonic() if now is None else now
    if view.get("state") == "connected":
        st = view.get("status") or {}
        lat = (st.get("latency_ms") or {}).get("p50")
        lines = [
            f"Connected to {view.get('address', 'the daemon')}",
            f"Style {st.get('style', '?')}, stylization " + ("on" if st.get("enabled", True) else "off")
            + f", region {st.get('region', 'all')}",
            f"{float(st.get('fps') or 0):.1f} fps, latency "
            + (f"{lat:.0f} ms" if isinstance(lat, (int, float)) else "-"),
            f"Provider {st.get('provider', '?')}, processing {st.get('processing_size', '?')}",
        ]
        if st.get("state") in ("idle", "running"):  # on demand: idle while no app reads the camera
            lines.insert(1, f"{st['state'].capitalize()}: {st.get('state_reason') or '-'}")
    else:
        lines = [view.get("message") or "Connecting to the stylecam daemon..."]
        retry_at = view.get("retry_at")
        if retry_at and view.get("state") != "connecting":
            lines.append(f"Retrying in {max(0, round(retry_at - now))} s.")
    err = view.get("action_error")
    if err and now - view.get("action_error_at", 0) < 60:
        lines.append(f"Last action failed: {err}")
    return "\n".join(lines)


# -- talking to the daemon (worker thread only) ---------------------------------------
class DaemonDown(Exception):
    """Nothing answers at the address (not running, wrong port)."""


class Unauthorized(Exception):
    """The daemon answered 401."""


class ApiFailure(Exception):
    """The daemon refused a request (4xx/5xx); the message is the daemon's."""


class Client:
    def __init__(self, host: str, port: int, token: str):
        self.host, self.port, self.token = host, port, token

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = TIMEOUT_S):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                msg = json.loads(exc.read() or b"{}").get("error") or exc.reason
            except (ValueError, AttributeError, OSError):
                msg = exc.reason
            if exc.code == 401:
                raise Unauthorized(str(msg)) from None
            raise ApiFailure(f"{msg} (HTTP {exc.code})") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DaemonDown(str(reason) or type(exc).__name__) from None


class Link:
    """The worker thread: polls /status, runs queued commands, keeps the latest view.

    Everything OBS calls (hotkeys, buttons, scene events, the timer) only uses submit(),
    configure(), view() and drain_log(): none of them waits for the network."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cmds: queue.Queue = queue.Queue(maxsize=64)
        self._stop = threading.Event()
        self._log: list[tuple[str, str]] = []
        self._thread: threading.Thread | None = None
        self._client = Client("127.0.0.1", 8765, "")
        self._token_given = ""
        self._address_error = ""
        self._secrets: tuple = ()
        self._rtmp_body: dict = {}
        self._failures = 0
        self._polls = 0
        self._view: dict = {"state": "connecting", "message": "Connecting to the stylecam daemon...",
                            "styles": [], "style_info": {}, "status": None}

    # -- used from OBS's threads ------------------------------------------------------
    def start(self) -> "Link":
        self._thread = threading.Thread(target=self._run, name="stylecam-obs", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 0.5) -> None:
        self._stop.set()
        try:
            self._cmds.put_nowait(("wake",))
        except queue.Full:   # the thread checks the stop flag after the command in hand
            pass
        if self._thread is not None:
            self._thread.join(timeout)   # a request in flight ends by its own short timeout

    def configure(self, address: str, token: str, rtmp: dict) -> None:
        """New settings: reconnect at once (resets the backoff)."""
        with self._lock:
            try:
                host, port = parse_address(address)
                self._address_error = ""
            except ValueError as exc:
                host, port = "127.0.0.1", 8765
                self._address_error = str(exc)
            self._client = Client(host, port, token or read_token_file())
            self._token_given = token
            self._rtmp_body = dict(rtmp)
            self._secrets = (rtmp.get("key", ""), token)
            self._failures = 0
        self._put(("reconnect",))

    def submit(self, *cmd) -> None:
        self._put(cmd)

    def view(self) -> dict:
        with self._lock:
            return dict(self._view)

    def drain_log(self) -> list[tuple[str, str]]:
        with self._lock:
            lines, self._log = self._log, []
        return lines

    def _put(self, cmd) -> None:
        try:
            self._cmds.put_nowait(cmd)
        except queue.Full:   # a stuck daemon: drop the key press rather than block OBS
            pass

    # -- the worker thread ------------------------------------------------------------------
    def _run(self) -> None:
        next_poll = None   # no request before the first configure(): the address is not known yet
        while not self._stop.is_set():
            try:
                wait = None if next_poll is None else max(0.0, next_poll - time.monotonic())
                cmd = self._cmds.get(timeout=wait)
            except queue.Empty:
                cmd = None
            if self._stop.is_set():
                break
            try:
                if cmd and cmd[0] == "reconnect":
                    next_poll = 0.0
                elif cmd and next_poll is not None:
                    self._command(cmd)
                if next_poll is not None and time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + self._poll()
            except Exception as exc:  # never let the thread die; one line, no traceback
                self._note("fault", f"stylecam: unexpected {type(exc).__name__}: {exc}")
                next_poll = time.monotonic() + POLL_S

    def _poll(self) -> float:
        """One status poll; returns the delay until the next one."""
        with self._lock:
            address_error = self._address_error
        if address_error:
            self._set_down("error", address_error + ". Fix it in the script's properties.")
            return BACKOFF_S[-1]
        try:
            self._refresh_token_if_auto()
            was = self._view.get("state")
            status = self._call("GET", "/status")
            self._polls += 1
            if was != "connected" or self._polls % STYLES_EVERY == 0 or not self._view.get("styles"):
                self._fetch_styles()
            with self._lock:
                self._view.update(state="connected", status=status, message="", retry_at=None,
                                  rtmp=status.get("rtmp"), address=f"{self._client.host}:{self._client.port}")
                self._failures = 0
            if was != "connected":
                self._note("info", f"stylecam: connected to the daemon at {self._client.base} "
                                   f"(provider {status.get('provider', '?')}, style {status.get('style', '?')})")
            return POLL_S
        except (DaemonDown, Unauthorized) as exc:
            return self._down(exc)
        except ApiFailure as exc:
            self._set_down("error", f"The daemon answered an error: {exc}")
            return self._backoff()

    def _command(self, cmd: tuple) -> None:
        kind = cmd[0]
        try:
            if kind == "refresh":
                self._fetch_styles()
            elif kind == "style":
                self._set_style(cmd[1])
            elif kind == "step":
                if not self._view.get("styles"):
                    self._fetch_styles()
                target = step_style(self._view["styles"], self._current_style(), cmd[1])
                if target:
                    self._set_style(target)
            elif kind == "region_step":
                status = self._view.get("status") or self._call("GET", "/status")
                names = [value for value, _label in REGIONS]
                self._params({"region": step_style(names, status.get("region", "all"), cmd[1])})
            elif kind == "toggle":
                status = self._view.get("status") or self._call("GET", "/status")
                self._params({"enabled": not status.get("enabled", True)})
            elif kind == "params":
                self._params(cmd[1])
            elif kind == "rtmp_start":
                with self._lock:
                    body = {k: v for k, v in self._rtmp_body.items() if v}
                rtmp = self._call("POST", "/rtmp/start", body, timeout=3 * TIMEOUT_S)
                self._set_rtmp(rtmp)
            elif kind == "rtmp_stop":
                self._set_rtmp(self._call("POST", "/rtmp/stop", {}))
            with self._lock:
                self._view["action_error"] = None
        except (DaemonDown, Unauthorized) as exc:
            self._down(exc)
        except ApiFailure as exc:
            msg = self._redact(f"{ACTIONS.get(kind, kind)}: {exc}")
            with self._lock:
                self._view.update(action_error=msg, action_error_at=time.monotonic())
            self._note("info", "stylecam: " + msg)

    def _current_style(self) -> str | None:
        status = self._view.get("status") or {}
        return status.get("style") or self._view.get("current")

    def _set_style(self, name: str) -> None:
        self._call("POST", "/style", {"name": name})
        with self._lock:
            self._view["status"] = dict(self._view.get("status") or {}, style=name)

    def _params(self, params: dict) -> None:
        self._call("POST", "/params", params)
        with self._lock:
            self._view["status"] = dict(self._view.get("status") or {}, **params)

    def _set_rtmp(self, rtmp: dict) -> None:
        with self._lock:
            self._view["rtmp"] = rtmp
            self._view["status"] = dict(self._view.get("status") or {}, rtmp=rtmp)

    def _fetch_styles(self) -> None:
        answer = self._call("GET", "/styles")
        styles = [s for s in answer.get("styles", []) if isinstance(s, dict) and s.get("name")]
        with self._lock:
            self._view["styles"] = [s["name"] for s in styles]
            self._view["style_info"] = {s["name"]: s for s in styles}
            self._view["current"] = answer.get("current")

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = TIMEOUT_S):
        with self._lock:
            client = self._client
        return client.call(method, path, body, timeout)

    def _refresh_token_if_auto(self) -> None:
        """With no token typed in, re-read the token file until connected (the daemon writes
        it on its first start, possibly after OBS started)."""
        with self._lock:
            if self._token_given or self._view.get("state") == "connected":
                return
            token = read_token_file()
            if token:
                self._client = Client(self._client.host, self._client.port, token)

    def _down(self, exc: Exception) -> float:
        with self._lock:
            base, auto = self._client.base, not self._token_given
        if isinstance(exc, Unauthorized):
            where = (f"the token file {token_file()} does not match this daemon" if auto
                     else "the token in the script's properties is wrong")
            self._set_down("unauthorized", f"The daemon at {base} refused the token: {where}. "
                                           "Run `stylecam token` and paste its output into Token.")
        else:
            hint = "Start it with `stylecam run` (or check the address and port)."
            if auto and not read_token_file():
                hint += f" No token yet at {token_file()}."
            self._set_down("down", f"stylecam daemon not running at {base} ({exc}). {hint}")
        return self._backoff()

    def _set_down(self, state: str, message: str) -> None:
        with self._lock:
            was = self._view.get("state")
            was_msg = self._view.get("message")
            self._view.update(state=state, message=message)
        if was != state or (state != "down" and was_msg != message):
            self._note("info", "stylecam: " + message + " Retrying with backoff.")

    def _backoff(self) -> float:
        with self._lock:
            delay = BACKOFF_S[min(self._failures, len(BACKOFF_S) - 1)]
            self._failures += 1
            self._view["retry_at"] = time.monotonic() + delay
        return delay

    def _note(self, level: str, message: str) -> None:
        with self._lock:
            self._log.append((level, self._redact(message)))
            del self._log[:-50]

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


# -- OBS glue ------------------------------------------------------------------------------
class _Script:
    """What the script holds between OBS callbacks (one instance per load)."""

    def __init__(self):
        self.link: Link | None = None
        self.settings = None
        self.hotkeys: dict[str, tuple[int, object]] = {}   # hotkey name -> (id, callback)
        self.seen: dict = {}                               # last settings values we acted on
        self.scene_link = False
        self.scene_map: dict[str, str] = {}
        self.known_styles: list[str] = []


# A reload re-runs this file in the same module namespace: stop a worker left behind by a
# previous load that (against the rules) was not unloaded.
_old = globals().get("_state")
if isinstance(getattr(_old, "link", None), Link):
    _old.link.stop(0.1)
_state = _Script()

CONTROLS = ("enabled", "strength", "preserve_color", "smoothing", "region")


def _log(level: str, message: str) -> None:
    """OBS pops the script log window up for warnings: only the script's own faults use them;
    the daemon's state and refused actions are info lines (and the status line says them)."""
    obs.script_log(obs.LOG_WARNING if level == "fault" else obs.LOG_INFO, message)


def _guarded(where: str, func):
    """Wrap an OBS callback: one log line instead of a traceback if something goes wrong."""
    def call(*args):
        try:
            return func(*args)
        except Exception as exc:
            _log("fault", f"stylecam: {where} failed: {type(exc).__name__}: {exc}")
            return False
    call.__name__ = getattr(func, "__name__", where)
    return call


def _submit(*cmd) -> None:
    if _state.link is not None:
        _state.link.submit(*cmd)


def script_description() -> str:
    return ("<b>stylecam</b>: remote control for the stylecam daemon (live neural style transfer)."
            "<br>Start the daemon first: <code>stylecam run</code>. Hotkeys are in Settings &rarr; "
            "Hotkeys (\"stylecam: ...\"). Press <i>Refresh</i> to update the status and style list.")


def script_defaults(settings) -> None:
    obs.obs_data_set_default_string(settings, "address", DEFAULT_ADDRESS)
    obs.obs_data_set_default_bool(settings, "enabled", True)
    obs.obs_data_set_default_double(settings, "strength", 1.0)
    obs.obs_data_set_default_bool(settings, "preserve_color", False)
    obs.obs_data_set_default_string(settings, "smoothing", "flow")
    obs.obs_data_set_default_string(settings, "region", "all")
    obs.obs_data_set_default_bool(settings, "scene_link", False)
    obs.obs_data_set_default_string(settings, "rtmp_preset", "custom")


def script_load(settings) -> None:
    _state.settings = settings
    _state.link = Link().start()
    saved = _saved_json(settings)
    cached = [s for s in saved.get("known_styles", "").split("\n") if s]
    with_bindings = [k[len("hotkey.style."):] for k in saved if k.startswith("hotkey.style.")]
    _state.known_styles = list(dict.fromkeys(cached + with_bindings))
    for suffix, description, action in HOTKEYS:
        _register_hotkey(suffix, description, _action_callback(action), settings)
    for name in _state.known_styles:
        _register_style_hotkey(name, settings)
    obs.obs_frontend_add_event_callback(_on_frontend_event)
    obs.timer_add(_tick, TICK_MS)


def script_unload() -> None:
    if _state.settings is not None:   # keeps bindings made since the last save across a reload
        _save_bindings(_state.settings)
    obs.timer_remove(_tick)
    obs.obs_frontend_remove_event_callback(_on_frontend_event)
    for _hid, callback in list(_state.hotkeys.values()):
        obs.obs_hotkey_unregister(callback)
    _state.hotkeys.clear()
    if _state.link is not None:
        _state.link.stop()
        _state.link = None
    _state.settings = None


def script_save(settings) -> None:
    _save_bindings(settings)
    styles = (_state.link.view().get("styles") if _state.link else None) or _state.known_styles
    obs.obs_data_set_string(settings, "known_styles", "\n".join(styles))


def script_update(settings) -> None:
    """Settings changed (or were loaded): reconnect if needed; send what the user changed."""
    address = obs.obs_data_get_string(settings, "address")
    token = obs.obs_data_get_string(settings, "token").strip()
    rtmp = {"server": obs.obs_data_get_string(settings, "rtmp_server").strip(),
            "key": obs.obs_data_get_string(settings, "rtmp_key").strip(),
            "preset": obs.obs_data_get_string(settings, "rtmp_preset") or "custom"}
    values = {
        "enabled": obs.obs_data_get_bool(settings, "enabled"),
        "strength": round(obs.obs_data_get_double(settings, "strength"), 3),
        "preserve_color": obs.obs_data_get_bool(settings, "preserve_color"),
        "smoothing": obs.obs_data_get_string(settings, "smoothing") or "flow",
        "region": obs.obs_data_get_string(settings, "region") or "all",
        "style": obs.obs_data_get_string(settings, "style"),
        "connection": (address, token, tuple(sorted(rtmp.items()))),
    }
    first, seen = not _state.seen, _state.seen
    _state.seen = values
    link = _state.link
    if link is None:
        return
    if first or values["connection"] != seen.get("connection"):
        link.configure(address, token, rtmp)
    if not first:   # at load the daemon keeps its own state: only the user's edits are sent
        changed = {k: values[k] for k in CONTROLS if values[k] != seen.get(k)}
        if changed:
            link.submit("params", changed)
        if values["style"] and values["style"] != seen.get("style"):
            link.submit("style", values["style"])
    _state.scene_link = obs.obs_data_get_bool(settings, "scene_link")
    _state.scene_map = {k[len("scene_style."):]: v for k, v in _saved_json(settings).items()
                        if k.startswith("scene_style.") and isinstance(v, str) and v}


def script_properties():
    """Built on OBS's UI thread each time the properties view (re)loads."""
    view = _state.link.view() if _state.link else {"styles": [], "status": None}
    settings = _state.settings
    if settings is not None:
        _show_daemon_values(settings, view)
    styles = view.get("styles") or _state.known_styles
    info = view.get("style_info") or {}

    props = obs.obs_properties_create()
    conn = obs.obs_properties_create()
    obs.obs_properties_add_text(conn, "address", "Daemon address", obs.OBS_TEXT_DEFAULT)
    p = obs.obs_properties_add_text(conn, "token", "Token", obs.OBS_TEXT_PASSWORD)
    obs.obs_property_set_long_description(
        p, f"Leave empty to read {token_file()} (written by the daemon); `stylecam token` prints it.")
    p = obs.obs_properties_add_text(conn, "status", "Status", obs.OBS_TEXT_INFO)
    _set_info_type(p, view.get("state") != "connected")
    obs.obs_properties_add_button(conn, "refresh", "Refresh status and styles", _on_refresh)
    obs.obs_properties_add_group(props, "connection", "Daemon", obs.OBS_GROUP_NORMAL, conn)

    look = obs.obs_properties_create()
    p = obs.obs_properties_add_list(look, "style", "Style", obs.OBS_COMBO_TYPE_LIST,
                                    obs.OBS_COMBO_FORMAT_STRING)
    for name in styles:
        obs.obs_property_list_add_string(p, _style_label(name, info), name)
    obs.obs_properties_add_bool(look, "enabled", "Stylization on")
    obs.obs_properties_add_float_slider(look, "strength", "Strength", 0.0, 1.0, 0.05)
    obs.obs_properties_add_bool(look, "preserve_color", "Keep the camera's colours")
    p = obs.obs_properties_add_list(look, "smoothing", "Smoothing", obs.OBS_COMBO_TYPE_LIST,
                                    obs.OBS_COMBO_FORMAT_STRING)
    for value, label in SMOOTHING:
        obs.obs_property_list_add_string(p, label, value)
    p = obs.obs_properties_add_list(look, "region", "Paint", obs.OBS_COMBO_TYPE_LIST,
                                    obs.OBS_COMBO_FORMAT_STRING)
    for value, label in REGIONS:
        obs.obs_property_list_add_string(p, label, value)
    obs.obs_property_set_long_description(
        p, "The daemon finds the person with a selfie segmentation model; large objects held "
           "close to the camera can count as the person.")
    obs.obs_properties_add_group(props, "look", "Style", obs.OBS_GROUP_NORMAL, look)

    scenes = obs.obs_properties_create()
    obs.obs_properties_add_bool(scenes, "scene_link", "Switch style when the scene changes")
    for scene in obs.obs_frontend_get_scene_names() or []:
        p = obs.obs_properties_add_list(scenes, "scene_style." + scene, scene,
                                        obs.OBS_COMBO_TYPE_LIST, obs.OBS_COMBO_FORMAT_STRING)
        obs.obs_property_list_add_string(p, "(keep the current style)", NO_STYLE)
        for name in styles:
            obs.obs_property_list_add_string(p, _style_label(name, info), name)
    obs.obs_properties_add_group(props, "scenes", "Scene-linked styles", obs.OBS_GROUP_NORMAL, scenes)

    rtmp = obs.obs_properties_create()
    p = obs.obs_properties_add_list(rtmp, "rtmp_preset", "Service", obs.OBS_COMBO_TYPE_LIST,
                                    obs.OBS_COMBO_FORMAT_STRING)
    for preset in RTMP_PRESETS:
        obs.obs_property_list_add_string(p, preset.capitalize(), preset)
    obs.obs_properties_add_text(rtmp, "rtmp_server", "Server URL", obs.OBS_TEXT_DEFAULT)
    obs.obs_properties_add_text(rtmp, "rtmp_key", "Stream key", obs.OBS_TEXT_PASSWORD)
    obs.obs_properties_add_button(rtmp, "rtmp_start_button", "Start streaming", _on_rtmp_start)
    obs.obs_properties_add_button(rtmp, "rtmp_stop_button", "Stop streaming", _on_rtmp_stop)
    p = obs.obs_properties_add_text(rtmp, "rtmp_status", "Stream status", obs.OBS_TEXT_INFO)
    _set_info_type(p, (view.get("rtmp") or {}).get("state") in ("error", "reconnecting"))
    obs.obs_properties_add_group(props, "rtmp", "RTMP stream (from the daemon)", obs.OBS_GROUP_NORMAL, rtmp)
    return props


# -- helpers for the hooks above --------------------------------------------------------------
def _saved_json(settings) -> dict:
    try:
        return json.loads(obs.obs_data_get_json(settings) or "{}")
    except ValueError:
        return {}


def _style_label(name: str, info: dict) -> str:
    meta = info.get(name) or {}
    if meta.get("title"):
        return f"{meta['title']} ({meta.get('artist') or name})"
    return name


def _show_daemon_values(settings, view: dict) -> None:
    """Write the latest status (and the daemon's current values) into the settings the
    properties view is about to read. Runs on the UI thread only."""
    obs.obs_data_set_string(settings, "status", describe(view))
    obs.obs_data_set_string(settings, "rtmp_status", describe_rtmp(view.get("rtmp")))
    st = view.get("status")
    if view.get("state") != "connected" or not st:
        return
    seen = dict(_state.seen)
    if isinstance(st.get("style"), str):
        obs.obs_data_set_string(settings, "style", st["style"])
        seen["style"] = st["style"]
    if isinstance(st.get("enabled"), bool):
        obs.obs_data_set_bool(settings, "enabled", st["enabled"])
        seen["enabled"] = st["enabled"]
    if isinstance(st.get("strength"), (int, float)):
        obs.obs_data_set_double(settings, "strength", float(st["strength"]))
        seen["strength"] = round(float(st["strength"]), 3)
    if isinstance(st.get("preserve_color"), bool):
        obs.obs_data_set_bool(settings, "preserve_color", st["preserve_color"])
        seen["preserve_color"] = st["preserve_color"]
    for key, choices in (("smoothing", SMOOTHING), ("region", REGIONS)):
        if st.get(key) in dict(choices):
            obs.obs_data_set_string(settings, key, st[key])
            seen[key] = st[key]
    _state.seen = seen


def _save_bindings(settings) -> None:
    for name, (hid, _cb) in list(_state.hotkeys.items()):   # the timer may add one meanwhile
        array = obs.obs_hotkey_save(hid)
        if array is None:   # already unregistered (OBS unhooks a script before its unload)
            continue
        obs.obs_data_set_array(settings, _binding_key(name), array)
        obs.obs_data_array_release(array)


def _set_info_type(prop, warning: bool) -> None:
    if warning and hasattr(obs, "obs_property_text_set_info_type"):   # OBS 28+
        obs.obs_property_text_set_info_type(prop, obs.OBS_TEXT_INFO_WARNING)


def _binding_key(hotkey_name: str) -> str:
    return "hotkey." + hotkey_name[len("stylecam."):]


def _register_hotkey(suffix: str, description: str, callback, settings) -> None:
    name = "stylecam." + suffix
    if name in _state.hotkeys:
        return
    hid = obs.obs_hotkey_register_frontend(name, description, callback)
    _state.hotkeys[name] = (hid, callback)
    if settings is not None:
        array = obs.obs_data_get_array(settings, _binding_key(name))
        obs.obs_hotkey_load(hid, array)
        obs.obs_data_array_release(array)


def _register_style_hotkey(style: str, settings) -> None:
    _register_hotkey("style." + style, f"stylecam: style {style}", _action_callback(("style", style)),
                     settings)


def _action_callback(action: tuple):
    """A plain function for OBS's hotkey API (it accepts functions, not bound methods)."""
    def on_hotkey(pressed):
        if pressed:
            _submit(*action)
    return on_hotkey


def _tick_impl() -> None:
    link = _state.link
    if link is None:
        return
    for level, message in link.drain_log():
        _log(level, message)
    for name in link.view().get("styles") or []:
        if "stylecam.style." + name not in _state.hotkeys:
            # a style the daemon gained since load: its hotkey has no saved binding yet, so
            # the settings object is not touched off the UI thread
            _register_style_hotkey(name, None)


def _on_frontend_event_impl(event) -> None:
    if event == obs.OBS_FRONTEND_EVENT_SCENE_CHANGED and _state.scene_link:
        scene = obs.obs_frontend_get_current_scene()
        if scene is None:
            return
        name = obs.obs_source_get_name(scene)
        obs.obs_source_release(scene)
        style = _state.scene_map.get(name)
        if style:
            _submit("style", style)
    elif event in (obs.OBS_FRONTEND_EVENT_EXIT, getattr(obs, "OBS_FRONTEND_EVENT_SCRIPTING_SHUTDOWN", -1)):
        if _state.link is not None:
            _state.link.stop(0.2)


def _on_refresh_impl(props, prop) -> bool:
    _submit("refresh")
    return True


def _on_rtmp_start_impl(props, prop) -> bool:
    _submit("rtmp_start")
    return True


def _on_rtmp_stop_impl(props, prop) -> bool:
    _submit("rtmp_stop")
    return True


_tick = _guarded("timer", _tick_impl)
_on_frontend_event = _guarded("scene event", _on_frontend_event_impl)
_on_refresh = _guarded("refresh", _on_refresh_impl)
_on_rtmp_start = _guarded("start streaming", _on_rtmp_start_impl)
_on_rtmp_stop = _guarded("stop streaming", _on_rtmp_stop_impl)
