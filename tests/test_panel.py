"""The browser panel's security and plumbing over real HTTP against a real daemon: one-time
login codes, the session cookie, the Origin and CSRF checks, the headers that keep other sites
out, the preview's cost when nobody watches, the generic controls and `stylecam panel`."""
from __future__ import annotations

import json
import os
import re
import stat

import numpy as np
import pytest
from conftest import ApiClient, make_config, wait_for
from stylecam import cli
from stylecam.panel import STATIC, Panel
from stylecam.panel.controls import describe_controls
from stylecam.panel.sessions import Sessions
from stylecam.service import Service

TOKEN = "panel-test-token-0123456789"


@pytest.fixture(scope="module")
def daemon(catalogue, tmp_path_factory):
    cfg = make_config(input={"source": "demo"}, output={"size": "256x144", "fps": 10.0})
    svc = Service(cfg, catalogue, outputs=["null"], token=TOKEN)
    svc.api.panel.sessions = Sessions(tmp_path_factory.mktemp("panel") / "sessions.json")
    svc.start()
    wait_for(lambda: svc.pipeline.stats.frames > 0, what="the first frame")
    yield svc
    svc.stop()


class Browser:
    """What a browser sends: Host, Origin (on changes), the cookie jar, the CSRF header."""

    def __init__(self, port: int):
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.http = ApiClient(port, None)
        self.cookie = ""
        self.csrf = ""

    def request(self, method, path, body=None, *, origin="same", csrf="session", cookie="jar", headers=None):
        hdrs = {"Host": f"127.0.0.1:{self.port}"}
        if origin == "same":
            origin = self.origin if method != "GET" else None
        if origin:
            hdrs["Origin"] = origin
        cookie = self.cookie if cookie == "jar" else cookie
        if cookie:
            hdrs["Cookie"] = cookie
        csrf = self.csrf if csrf == "session" else csrf
        if csrf and method != "GET":
            hdrs["X-Stylecam-CSRF"] = csrf
        hdrs.update(headers or {})
        return self.http.request(method, path, body if body is not None or method == "GET" else {},
                                 headers=hdrs, token=None)

    def login(self, code: str):
        status, headers, body = self.request("POST", "/panel/login", {"code": code})
        if status == 200:
            self.cookie = headers["set-cookie"].split(";", 1)[0]
            self.csrf = body["csrf"]
        return status, headers, body


def code_from(url: str) -> str:
    return re.fullmatch(r"http://127\.0\.0\.1:\d+/panel/#code=([\w-]+)", url).group(1)


def new_code(daemon, **kw) -> str:
    return code_from(daemon.api.panel.login_link(f"127.0.0.1:{daemon.api.port}", **kw))


@pytest.fixture
def browser(daemon) -> Browser:
    b = Browser(daemon.api.port)
    assert b.login(new_code(daemon))[0] == 200
    return b


# -- login codes and the cookie -------------------------------------------------------------------
def test_login_code_buys_an_httponly_samesite_strict_cookie_once(daemon):
    b = Browser(daemon.api.port)
    code = new_code(daemon)
    status, headers, body = b.login(code)
    assert status == 200 and len(body["csrf"]) >= 24
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"stylecam_{daemon.api.port}=")
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {p.strip() for p in cookie.split(";")}
    assert code not in cookie and TOKEN not in cookie
    assert b.request("GET", "/panel/session")[0] == 200
    other = Browser(daemon.api.port)
    status, _, body = other.login(code)  # the same link again
    assert status == 401 and "used already or has expired" in body["error"]
    assert "stylecam panel" in body["error"]


def test_expired_or_unknown_login_codes_are_refused(daemon):
    b = Browser(daemon.api.port)
    assert b.login(new_code(daemon, ttl_s=0))[0] == 401
    assert b.login("not-a-code")[0] == 401
    assert b.request("GET", "/panel/session")[0] == 401


def test_login_needs_the_pages_own_origin(daemon):
    b = Browser(daemon.api.port)
    code = new_code(daemon)
    status, _, body = b.request("POST", "/panel/login", {"code": code}, origin=None)
    assert status == 403 and "no Origin" in body["error"]
    status, _, body = b.request("POST", "/panel/login", {"code": code}, origin="http://evil.example")
    assert status == 403 and "cross-site" in body["error"]


def test_get_never_logs_in_or_out(daemon, browser):
    code = new_code(daemon)
    assert browser.request("GET", f"/panel/login?code={code}")[0] == 405
    assert Browser(daemon.api.port).login(code)[0] == 200  # the GET did not use the code up
    assert browser.request("GET", "/panel/logout")[0] == 405
    assert browser.request("GET", "/panel/session")[0] == 200


# -- no cookie, a wrong cookie ------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/status", "/panel/session", "/panel/preview.jpg", "/panel/thumb.jpg?style=udnie"])
def test_no_cookie_or_a_wrong_one_gets_401(daemon, path):
    b = Browser(daemon.api.port)
    assert b.request("GET", path)[0] == 401
    b.cookie = f"stylecam_{daemon.api.port}=forged-session-id"
    status, _, body = b.request("GET", path)
    assert status == 401 and "unknown or expired" in body["error"]


def test_a_cookie_for_another_port_is_not_this_daemons(daemon, browser):
    b = Browser(daemon.api.port)
    b.cookie = browser.cookie.replace(f"stylecam_{daemon.api.port}=", "stylecam_1=")
    assert b.request("GET", "/status")[0] == 401


def test_the_bearer_token_keeps_working_beside_the_panel(daemon):
    client = ApiClient(daemon.api.port, TOKEN)
    assert client.get("/status")[0] == 200
    status, headers, _ = client.get("/panel/preview.jpg")
    assert status == 200 and headers["content-type"] == "image/jpeg"
    # a stale cookie next to the right token does not lock a script out
    assert client.get("/status", headers={"Cookie": f"stylecam_{daemon.api.port}=old"})[0] == 200


# -- CSRF: Origin and token ------------------------------------------------------------------------------
def test_changes_with_the_cookie_need_same_origin_and_the_csrf_token(daemon, browser):
    assert browser.request("POST", "/params", {"mirror": False})[0] == 200
    status, _, body = browser.request("POST", "/params", {"mirror": True}, origin="http://evil.example")
    assert status == 403 and "cross-site" in body["error"]
    status, _, body = browser.request("POST", "/params", {"mirror": True}, csrf=None)
    assert status == 403 and "X-Stylecam-CSRF" in body["error"]
    assert browser.request("POST", "/params", {"mirror": True}, csrf="wrong")[0] == 403
    assert browser.request("POST", "/params", {"mirror": True}, origin=None)[0] == 403
    assert browser.request("POST", "/style", {"name": "udnie"}, origin="null")[0] == 403
    assert daemon.status()["mirror"] is False  # none of the refused requests changed anything


def test_a_cross_site_origin_is_refused_even_on_reads(daemon, browser):
    status, headers, body = browser.request("GET", "/status", origin="http://127.0.0.1.evil.example")
    assert status == 403 and "cross-site" in body["error"]
    assert not [h for h in headers if h.startswith("access-control-")]


def test_logout_ends_the_session(daemon, browser):
    status, headers, _ = browser.request("POST", "/panel/logout")
    assert status == 200 and "Max-Age=0" in headers["set-cookie"]
    assert browser.request("GET", "/status")[0] == 401


def test_sessions_survive_a_restart_and_their_ids_are_not_on_disk(daemon, browser):
    path = daemon.api.panel.sessions.path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    sid = browser.cookie.split("=", 1)[1]
    assert sid not in path.read_text() and browser.csrf in path.read_text()
    assert Sessions(path).get(sid).csrf == browser.csrf  # a restarted daemon reads the file
    assert Sessions(path).get("forged") is None


# -- headers ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/panel/", "/panel/panel.js", "/panel/panel.css", "/status"])
def test_every_answer_forbids_framing_and_foreign_content(daemon, browser, path):
    status, headers, _ = browser.request("GET", path)
    assert status == 200
    csp = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in headers["content-security-policy"].split(";"))}
    assert csp["default-src"] == ["'none'"] and csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_the_page_has_no_inline_script_and_loads_nothing_from_elsewhere():
    from importlib import resources

    html = resources.files("stylecam.panel").joinpath("static", "index.html").read_text()
    assert all('src="/panel/' in tag for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"<script[^>]*>\s*[^<\s]", html), "inline script"
    assert not re.search(r"\son\w+=", html) and " style=" not in html
    for name, _ in set(STATIC.values()):
        text = resources.files("stylecam.panel").joinpath("static", name).read_text()
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), f"{name} names another origin"


# -- pictures ----------------------------------------------------------------------------------------------
def test_the_preview_is_encoded_only_when_a_panel_asks(daemon, browser):
    preview = daemon.api.panel.preview
    frames = daemon.pipeline.stats.frames
    wait_for(lambda: daemon.pipeline.stats.frames > frames + 5, what="frames with nobody watching")
    before = preview.encoded
    wait_for(lambda: daemon.pipeline.stats.frames > frames + 10, what="more frames")
    assert preview.encoded == before, "JPEGs were made while no panel asked for one"
    for view in ("stylized", "original"):
        status, headers, _ = browser.request("GET", f"/panel/preview.jpg?view={view}")
        assert status == 200 and headers["content-type"] == "image/jpeg"
    assert preview.encoded >= before + 2
    pictures = {}
    for view in ("stylized", "original"):
        pictures[view] = _decode(browser, f"/panel/preview.jpg?view={view}")
    assert pictures["stylized"].shape == pictures["original"].shape == (144, 256, 3)  # output size: never scaled up
    diff = np.abs(pictures["stylized"].astype(int) - pictures["original"].astype(int)).mean()
    assert diff > 10, f"the original view looks like the stylized one (mean difference {diff:.1f})"
    assert browser.request("GET", "/panel/preview.jpg?view=raw")[0] == 400


def _decode(browser, path):
    import http.client

    import cv2

    conn = http.client.HTTPConnection("127.0.0.1", browser.port, timeout=10)
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{browser.port}", "Cookie": browser.cookie})
    data = conn.getresponse().read()
    conn.close()
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def test_thumbnails_are_made_once_per_style_and_cached(daemon, browser):
    thumbs = daemon.api.panel.thumbnails
    thumbs.refresh()
    first = browser.http.request("GET", "/panel/thumb.jpg?style=udnie", token=TOKEN)
    assert first[0] == 200 and first[1]["content-type"] == "image/jpeg"
    assert "udnie" in thumbs._cache
    status, _, body = browser.request("GET", "/panel/thumb.jpg?style=nope")
    assert status == 404 and "known styles" in body["error"]
    assert browser.request("POST", "/panel/thumbs/refresh")[0] == 200
    assert thumbs._cache == {}


# -- controls ---------------------------------------------------------------------------------------------
def test_session_describes_every_param_the_daemon_reports(daemon, browser):
    status, _, body = browser.request("GET", "/panel/session")
    assert status == 200 and body["csrf"] == browser.csrf
    controls = {c["name"]: c for c in body["controls"]}
    assert {"enabled", "strength", "preserve_color", "mirror", "smoothing", "target_fps"} <= set(controls)
    assert controls["strength"]["kind"] == "number" and controls["strength"]["max"] == 1
    assert controls["smoothing"]["choices"] == ["off", "ema", "flow"]
    assert "twitch" in body["rtmp_presets"] and body["rtmp_preset"] == "custom"


def test_a_new_param_gets_a_control_without_panel_changes():
    from types import SimpleNamespace

    types = {"strength": (int, float), "hdr": (bool,), "region": (str,), "on_demand": (str,),
             "note": (str,), "future": (int,)}
    status = {"strength": 1.0, "hdr": False, "region": "full", "on_demand": "always", "note": ""}
    config_names = SimpleNamespace(REGIONS=("full", "person"), ON_DEMAND_MODES=("always", "watched"))
    controls = {c["name"]: c for c in describe_controls(types, status, config_names)}
    assert controls["hdr"] == {"name": "hdr", "kind": "bool", "label": "Hdr"}
    assert controls["region"] == {"name": "region", "kind": "choice", "label": "Region", "choices": ["full", "person"]}
    assert controls["on_demand"]["choices"] == ["always", "watched"]
    assert controls["note"]["kind"] == "text"  # no list in config.py: a text field
    assert "future" not in controls  # not in /status: nothing to show


# -- the commands -----------------------------------------------------------------------------------------
def test_stylecam_panel_prints_a_working_login_link(daemon, capsys):
    assert cli.main(["panel", "--port", str(daemon.api.port), "--no-open"]) == 0
    # `stylecam panel` read the token from the config dir: give the daemon that one
    out = capsys.readouterr().out.strip()
    assert Browser(daemon.api.port).login(code_from(out))[0] == 200


def test_stylecam_panel_without_a_daemon_says_how_to_start_one(capsys):
    from conftest import free_port

    assert cli.main(["panel", "--port", str(free_port()), "--no-open"]) == 2
    assert "start it with `stylecam run`" in capsys.readouterr().err


@pytest.fixture(autouse=True)
def _token_file(config_dir):
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "token").write_text(TOKEN + "\n")


def test_panel_runs_in_front_of_a_stand_in_daemon():
    Panel(object())  # reads nothing from the daemon until a panel request comes


def test_panel_code_needs_the_token_or_a_session(daemon):
    b = Browser(daemon.api.port)
    assert b.request("POST", "/panel/code")[0] == 401
    status, _, body = ApiClient(daemon.api.port, TOKEN).post("/panel/code")
    assert status == 200 and code_from(body["url"])
    assert json.dumps(body).count("code=") == 1
