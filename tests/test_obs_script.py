"""The OBS script (obs_script/stylecam_obs.py) driven through a fake `obspython`, talking to the
daemon's real control API (stylecam.api.ControlApi over real HTTP on loopback) in front of a
recording daemon object. Only OBS is replaced."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

import fake_obspython as fake
from conftest import free_port, wait_for
from stylecam.api import ApiError, ControlApi

SCRIPT = Path(__file__).resolve().parents[1] / "obs_script" / "stylecam_obs.py"
TOKEN = "test-token-0123456789"
STYLES = ["starry_night", "the_scream", "great_wave"]


class RecordingDaemon:
    """What ControlApi needs from the daemon; records every call the script causes."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.state = {"style": STYLES[0], "enabled": True, "strength": 1.0, "preserve_color": False,
                      "smoothing": "flow", "region": "all", "fps": 14.5, "latency_ms": {"p50": 83.0, "p95": 90.0},
                      "provider": "CPUExecutionProvider", "processing_size": "448x252"}
        self.rtmp = {"state": "off"}
        self.rtmp_error: str | None = None

    def status(self):
        return dict(self.state, rtmp=self.rtmp)

    def styles(self):
        return {"current": self.state["style"],
                "styles": [{"name": n, "title": n.replace("_", " ").title(), "artist": "A"} for n in STYLES]}

    def set_style(self, name, transition_ms=None):
        if name not in STYLES:
            from stylecam.styles import StyleError
            raise StyleError(f"unknown style {name!r}")
        self.calls.append(("style", name))
        self.state["style"] = name

    def set_params(self, **params):
        self.calls.append(("params", params))
        self.state.update(params)

    def rtmp_start(self, body):
        self.calls.append(("rtmp_start", body))
        if self.rtmp_error:
            raise ApiError(502, self.rtmp_error)
        self.rtmp = {"state": "live", "url": body.get("server", "") + "/****", "last_error": None}
        return self.rtmp

    def rtmp_stop(self):
        self.calls.append(("rtmp_stop",))
        self.rtmp = {"state": "off"}
        return self.rtmp

    def rtmp_status(self):
        return self.rtmp


def script_threads():
    return [t for t in threading.enumerate() if t.name == "stylecam-obs" and t.is_alive()]


@pytest.fixture
def daemon():
    d = RecordingDaemon()
    api = ControlApi(d, "127.0.0.1", 0, token=TOKEN).start()
    d.port = api.port
    yield d
    api.stop()


@pytest.fixture
def host(daemon, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_CONFIG_DIR", str(tmp_path / "no-config"))
    fake.reset()
    h = fake.ScriptHost(SCRIPT, fake.Data({"address": f"127.0.0.1:{daemon.port}", "token": TOKEN}))
    h.load()
    yield h
    if h.module is not None and h.module._state.link is not None:
        h.unload()


def connected(h):
    return h.module._state.link.view().get("state") == "connected"


def test_fixed_hotkeys_are_registered_with_plain_functions(host):
    names = host.hotkey_names()
    for suffix in ("next_style", "previous_style", "toggle_stylization", "rtmp_start", "rtmp_stop",
                   "next_region", "region_all", "region_background", "region_person"):
        assert f"stylecam.{suffix}" in names
    assert all(h["description"].startswith("stylecam: ") for h in fake.rec.hotkeys.values())


def test_next_previous_and_per_style_hotkeys_switch_the_daemons_style(host, daemon):
    wait_for(lambda: connected(host), what="connection")
    host.press("stylecam.next_style")
    wait_for(lambda: daemon.state["style"] == STYLES[1], what="next style")
    host.press("stylecam.previous_style")
    host.press("stylecam.previous_style")
    wait_for(lambda: daemon.state["style"] == STYLES[-1], what="previous style wraps around")
    host.tick()   # the timer registers a hotkey per style the daemon reported
    host.press("stylecam.style.the_scream")
    wait_for(lambda: daemon.state["style"] == "the_scream", what="style hotkey")
    assert [c for c in daemon.calls if c[0] == "style"] == [
        ("style", STYLES[1]), ("style", STYLES[0]), ("style", STYLES[-1]), ("style", "the_scream")]


def test_toggle_hotkey_turns_stylization_off_and_on(host, daemon):
    wait_for(lambda: connected(host), what="connection")
    host.press("stylecam.toggle_stylization")
    wait_for(lambda: daemon.state["enabled"] is False, what="stylization off")
    host.press("stylecam.toggle_stylization")
    wait_for(lambda: daemon.state["enabled"] is True, what="stylization on")


def test_region_hotkeys_cycle_and_set_the_painted_region(host, daemon):
    wait_for(lambda: connected(host), what="connection")
    host.press("stylecam.next_region")
    wait_for(lambda: daemon.state["region"] == "background", what="next region")
    wait_for(lambda: host.module._state.link.view()["status"]["region"] == "background", what="view update")
    host.press("stylecam.next_region")
    wait_for(lambda: daemon.state["region"] == "person", what="next region again")
    wait_for(lambda: host.module._state.link.view()["status"]["region"] == "person", what="view update")
    host.press("stylecam.next_region")
    wait_for(lambda: daemon.state["region"] == "all", what="the cycle wraps around")
    host.press("stylecam.region_background")
    wait_for(lambda: daemon.state["region"] == "background", what="direct region hotkey")
    assert [c[1]["region"] for c in daemon.calls if c[0] == "params"] == ["background", "person", "all",
                                                                          "background"]
    host.properties()
    assert host.shown("region") == "background"
    assert "region background" in host.shown("status")


def test_hotkey_bindings_persist_through_save_and_a_new_obs_session(host, daemon):
    wait_for(lambda: connected(host), what="connection")
    host.tick()
    host.bind("stylecam.next_style", "OBS_KEY_F9")
    host.bind("stylecam.style.great_wave", "OBS_KEY_F10")
    saved = host.save()   # what the scene collection file keeps
    assert saved.values["hotkey.next_style"] == [{"key": "OBS_KEY_F9"}]
    host.unload()

    fake.reset()   # OBS restarted: nothing registered, settings come from the file
    again = fake.ScriptHost(SCRIPT, saved)
    again.load()
    try:
        assert again.hotkey("stylecam.next_style")["bindings"] == [{"key": "OBS_KEY_F9"}]
        # the per-style hotkey exists at load, before the daemon is asked, and keeps its key
        assert again.hotkey("stylecam.style.great_wave")["bindings"] == [{"key": "OBS_KEY_F10"}]
        assert again.hotkey("stylecam.rtmp_start")["bindings"] == []
    finally:
        again.unload()


def test_reload_leaves_no_duplicate_hotkeys_timers_or_threads(host, daemon):
    wait_for(lambda: connected(host), what="connection")
    host.tick()
    before = sorted(host.hotkey_names())
    host.bind("stylecam.toggle_stylization", "OBS_KEY_F8")
    host.reload()   # the fake refuses a second registration of the same hotkey name
    host.tick()
    wait_for(lambda: connected(host), what="reconnection")
    host.tick()
    assert sorted(host.hotkey_names()) == before
    assert host.hotkey("stylecam.toggle_stylization")["bindings"] == [{"key": "OBS_KEY_F8"}]
    assert len(fake.rec.timers) == 1
    assert len(fake.rec.event_callbacks) == 1
    wait_for(lambda: len(script_threads()) == 1, what="the old worker thread to end")
    host.unload()
    assert fake.rec.hotkeys == {} and fake.rec.timers == [] and fake.rec.event_callbacks == []
    wait_for(lambda: not script_threads(), timeout=5, what="the worker thread to stop")


def test_properties_show_status_styles_and_hide_secrets(host, daemon):
    wait_for(lambda: connected(host), what="connection")
    props = host.properties()
    assert props["token"].text_type == fake.OBS_TEXT_PASSWORD
    assert props["rtmp_key"].text_type == fake.OBS_TEXT_PASSWORD
    assert props["status"].text_type == fake.OBS_TEXT_INFO
    status = host.shown("status")
    for part in ("Connected", "starry_night", "stylization on", "14.5 fps", "latency 83 ms",
                 "CPUExecutionProvider", "448x252"):
        assert part in status
    assert [v for _label, v in props["style"].items] == STYLES
    assert [v for _label, v in props["smoothing"].items] == ["off", "ema", "flow"]
    assert [v for _label, v in props["region"].items] == ["all", "background", "person"]
    assert props["strength"].slider and (props["strength"].min, props["strength"].max) == (0.0, 1.0)
    for name in ("enabled", "preserve_color", "refresh", "rtmp_server", "rtmp_start_button",
                 "rtmp_stop_button", "rtmp_status", "scene_link", "scene_style.Scene"):
        assert name in props


def test_properties_follow_changes_made_by_hotkeys(host, daemon):
    wait_for(lambda: connected(host), what="connection")
    host.press("stylecam.toggle_stylization")
    wait_for(lambda: daemon.state["enabled"] is False, what="stylization off")
    wait_for(lambda: host.module._state.link.view()["status"]["enabled"] is False, what="view update")
    host.properties()
    assert host.shown("enabled") is False
    assert "stylization off" in host.shown("status")
    calls = len(daemon.calls)
    host.change(address=f"127.0.0.1:{daemon.port}")   # any edit: the synced value is not re-sent
    time.sleep(0.3)
    assert daemon.calls[calls:] == []


def test_status_shows_whether_the_daemon_idles_and_why(host, daemon):
    daemon.state.update(state="idle", state_reason="no app has /dev/video10 open")
    wait_for(lambda: connected(host) and host.module._state.link.view()["status"].get("state") == "idle",
             what="the idle status")
    host.properties()
    assert "Idle: no app has /dev/video10 open" in host.shown("status")
    daemon.state.update(state="running", state_reason="read by pid 4242 (zoom)")
    wait_for(lambda: host.module._state.link.view()["status"].get("state") == "running", what="the wake")
    host.properties()
    assert "Running: read by pid 4242 (zoom)" in host.shown("status")


def test_loading_sends_nothing_and_edits_send_only_what_changed(host, daemon):
    wait_for(lambda: connected(host), what="connection")
    assert daemon.calls == []
    host.change(strength=0.4)
    wait_for(lambda: daemon.calls, what="params")
    host.change(preserve_color=True, smoothing="ema")
    host.change(style="great_wave")
    host.change(region="person")
    wait_for(lambda: len(daemon.calls) == 4, what="four requests")
    assert daemon.calls == [("params", {"strength": 0.4}),
                            ("params", {"preserve_color": True, "smoothing": "ema"}),
                            ("style", "great_wave"), ("params", {"region": "person"})]


def test_scene_change_switches_to_the_linked_style(host, daemon):
    fake.rec.scenes = ["Talking head", "Screen share"]
    wait_for(lambda: connected(host), what="connection")
    host.switch_scene("Talking head")   # linking is off: nothing happens
    host.change(**{"scene_link": True, "scene_style.Talking head": "the_scream",
                   "scene_style.Screen share": ""})
    assert "scene_style.Screen share" in host.properties()
    host.switch_scene("Screen share")   # mapped to "keep the current style"
    host.switch_scene("Talking head")
    wait_for(lambda: daemon.state["style"] == "the_scream", what="linked style")
    time.sleep(0.3)
    assert [c for c in daemon.calls if c[0] == "style"] == [("style", "the_scream")]


def test_rtmp_buttons_start_and_stop_and_the_key_never_reaches_the_log(host, daemon):
    key = "live_123456_SECRETKEY"
    host.change(rtmp_server="rtmp://live.example.com/app", rtmp_key=key, rtmp_preset="twitch")
    wait_for(lambda: connected(host), what="connection")
    assert host.click("rtmp_start_button") is True
    wait_for(lambda: daemon.rtmp["state"] == "live", what="stream start")
    assert daemon.calls[-1] == ("rtmp_start", {"server": "rtmp://live.example.com/app", "key": key,
                                               "preset": "twitch"})
    wait_for(lambda: (host.module._state.link.view().get("rtmp") or {}).get("state") == "live",
             what="view update")
    host.properties()
    assert host.shown("rtmp_status").startswith("live")
    host.click("rtmp_stop_button")
    wait_for(lambda: daemon.rtmp["state"] == "off", what="stream stop")

    daemon.rtmp_error = f"server refused rtmp://live.example.com/app/{key}: bad key"
    host.press("stylecam.rtmp_start")
    wait_for(lambda: host.module._state.link.view().get("action_error"), what="the error")
    host.tick()
    host.properties()
    assert "server refused" in host.shown("status") and "bad key" in host.shown("status")
    assert key not in host.shown("status")
    assert key not in host.log_text() and "server refused" in host.log_text()


def test_daemon_not_running_says_how_to_start_it_and_retries_quietly(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_CONFIG_DIR", str(tmp_path))
    (tmp_path / "token").write_text(TOKEN + "\n")
    port = free_port()
    fake.reset()
    h = fake.ScriptHost(SCRIPT, fake.Data({"address": f"127.0.0.1:{port}"}))   # token: from the file
    h.load()
    api = None
    try:
        link = h.module._state.link
        wait_for(lambda: link.view().get("state") == "down", what="the daemon to be seen down")
        time.sleep(3.5)   # several retries (1 s, 2 s, ...)
        h.tick()
        h.properties()
        status = h.shown("status")
        assert "not running" in status and "stylecam run" in status and "Retrying in" in status
        assert h.properties()["status"].info_type == fake.OBS_TEXT_INFO_WARNING
        assert [lvl for lvl, _m in fake.rec.log] == [fake.LOG_INFO]   # one line per outage
        assert "not running" in fake.rec.log[0][1]       # (no warning: OBS would pop the log up)
        assert "Traceback" not in h.log_text()

        daemon = RecordingDaemon()
        api = ControlApi(daemon, "127.0.0.1", port, token=TOKEN).start()
        wait_for(lambda: link.view().get("state") == "connected", timeout=40, what="reconnection")
        h.tick()
        assert "connected to the daemon" in h.log_text()
    finally:
        h.unload()
        if api:
            api.stop()


def test_wrong_token_is_reported_with_the_fix(daemon, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_CONFIG_DIR", str(tmp_path))
    fake.reset()
    h = fake.ScriptHost(SCRIPT, fake.Data({"address": f"127.0.0.1:{daemon.port}", "token": "wrong"}))
    h.load()
    try:
        wait_for(lambda: h.module._state.link.view().get("state") == "unauthorized", what="401")
        h.properties()
        assert "refused the token" in h.shown("status") and "stylecam token" in h.shown("status")
        h.change(token=TOKEN)   # fixing it reconnects at once
        wait_for(lambda: connected(h), what="connection with the right token")
    finally:
        h.unload()


def test_obs_callbacks_never_wait_for_a_hung_daemon(tmp_path, monkeypatch):
    """A daemon that accepts connections and never answers: hotkeys, the timer, the properties
    view, buttons and scene events all return while the worker is stuck in a request."""
    monkeypatch.setenv("STYLECAM_CONFIG_DIR", str(tmp_path))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, release = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not release.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    fake.reset()
    h = fake.ScriptHost(SCRIPT, fake.Data({"address": f"127.0.0.1:{server.getsockname()[1]}",
                                           "token": TOKEN, "scene_link": True, "scene_style.Scene": "x"}))
    h.load()
    try:
        wait_for(lambda: held, what="the worker to connect")
        actions = [lambda n=n: h.press(n) for n in
                   ("stylecam.next_style", "stylecam.toggle_stylization", "stylecam.rtmp_start")]
        actions += [h.tick, h.properties, lambda: h.click("refresh"), lambda: h.switch_scene("Scene"),
                    lambda: h.change(strength=0.3)]
        for action in actions:
            t0 = time.monotonic()
            action()
            # a request to this server takes the script's whole 2 s timeout
            assert time.monotonic() - t0 < 1.0
    finally:
        release.set()
        h.unload()
        t.join()
        for conn in held:
            conn.close()
        server.close()


def test_address_forms():
    fake.install()
    import importlib.util
    spec = importlib.util.spec_from_file_location("stylecam_obs_pure", SCRIPT)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    assert m.parse_address("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert m.parse_address("http://localhost:9000/") == ("localhost", 9000)
    assert m.parse_address("9001") == ("127.0.0.1", 9001)
    assert m.parse_address("") == ("127.0.0.1", 8765)
    assert m.parse_address("[::1]:8765") == ("[::1]", 8765)
    with pytest.raises(ValueError, match="host:port"):
        m.parse_address("localhost")
    assert m.step_style(STYLES, STYLES[-1], 1) == STYLES[0]
    assert m.step_style(STYLES, "gone", -1) == STYLES[-1]
    assert m.redact("rtmp://x/app/abcd1234", ["abcd1234"]) == "rtmp://x/app/****"


def test_script_drives_a_real_in_process_daemon(run_service, test_config, monkeypatch, config_dir):
    """The same script against the real Service (pipeline on the demo scene, real RTMP
    controller): the status fields it shows are the ones the daemon really reports."""
    svc = run_service(test_config(), outputs=["null"])
    assert (config_dir / "token").read_text().strip() == svc.api.token   # the script reads this file
    fake.reset()
    h = fake.ScriptHost(SCRIPT, fake.Data({"address": f"127.0.0.1:{svc.api.port}"}))
    h.load()
    try:
        link = h.module._state.link
        wait_for(lambda: link.view().get("state") == "connected"
                 and (link.view()["status"] or {}).get("fps", 0) > 0, timeout=60, what="a connected, running daemon")
        h.properties()
        st = svc.status()
        status = h.shown("status")
        assert f"Provider {st['provider']}" in status and f"processing {st['processing_size']}" in status
        assert " fps, latency " in status and "latency -" not in status
        names = [s["name"] for s in svc.styles()["styles"]]
        assert [v for _label, v in h.properties()["style"].items] == names
        before = svc.pipeline.style.name
        h.press("stylecam.next_style")
        wait_for(lambda: svc.pipeline.style.name == names[(names.index(before) + 1) % len(names)],
                 what="the real pipeline's style to change")
        h.change(strength=0.5)
        wait_for(lambda: svc.pipeline.style.strength == 0.5, what="strength 0.5 in the pipeline")
        h.press("stylecam.rtmp_start")   # no server, no key: the daemon refuses and says why
        wait_for(lambda: link.view().get("action_error"), what="the RTMP refusal")
        h.properties()
        assert "starting the stream" in h.shown("status") and "no server" in h.shown("status")
    finally:
        h.unload()
