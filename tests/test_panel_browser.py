"""The panel in a real browser: Debian's chromium, headless, driven by Playwright (no browser
download), against `stylecam run` as a real subprocess and the real nginx-rtmp the streaming
tests use. Logs in through the link the daemon logs, watches the preview update, switches a
style by its thumbnail, moves the strength slider, starts and stops the RTMP stream, and saves
screenshots to docs/img (wide, and dock-sized as in OBS)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import free_port, need, need_ffmpeg, wait_for
from streaming_helpers import Daemon, Nginx, need_nginx_rtmp, wait_state

pytestmark = [pytest.mark.browser, pytest.mark.rtmp]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
KEY = "panel_test_key_4242"


def need_browser():
    need("chromium (apt: chromium)", os.path.exists(CHROMIUM))
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        need("Playwright for Python (pip install playwright, in the test extra)", False)


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    need_nginx_rtmp()
    server = Nginx(tmp_path_factory.mktemp("nginx"), free_port()).start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, bikes_clip):
    need_ffmpeg()
    need_browser()
    d = Daemon(tmp_path_factory.mktemp("daemon"),
               ["--input", bikes_clip, "--output", "null", "--output-size", "640x360", "--fps", "12",
                "--size", "256x144", "--smoothing", "off"])
    yield d
    d.stop()
    assert KEY not in d.log()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        def launch(name="profile", **kw):
            return pw.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp(name)), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                headless=True, viewport={"width": 1280, "height": 900}, **kw)
        yield launch


@pytest.fixture(scope="module")
def panel(daemon, chromium):
    """The page, logged in through the link in the daemon's start-up log."""
    link = wait_for(lambda: re.search(r"control panel: (http://127\.0\.0\.1:\d+/panel/#code=[\w-]+)", daemon.log()),
                    what="the login link in the daemon's log").group(1)
    context = chromium()
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and page.csp_errors.append(msg.text))
    page.goto(link)
    page.wait_for_selector("#app", state="visible")
    page.link = link
    yield page
    context.close()


def test_the_login_link_opens_the_panel_and_leaves_the_address_bar(panel, daemon):
    assert "code=" not in panel.url and panel.url.endswith("/panel/")
    cookies = panel.context.cookies()
    assert len(cookies) == 1
    assert cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
    assert panel.evaluate("document.cookie") == ""  # HttpOnly: no script can read it
    panel.reload()
    panel.wait_for_selector("#app", state="visible")  # the cookie keeps it logged in
    panel.goto("about:blank")
    panel.goto(panel.link)  # an OBS dock restarts with its used link: the cookie still works
    panel.wait_for_selector("#app", state="visible")
    assert "code=" not in panel.url


def test_the_same_link_in_another_browser_is_refused(panel, chromium):
    context = chromium("second")
    try:
        page = context.new_page()
        page.goto(panel.link)
        page.wait_for_selector("#login", state="visible")
        assert "used already" in page.text_content("#login-why")
        assert "code=" not in page.url
    finally:
        context.close()


def test_the_preview_updates_and_toggles_to_the_original(panel):
    count = lambda: int(panel.get_attribute("#preview", "data-frames"))  # noqa: E731
    first = wait_for(lambda: count() >= 2 and panel.get_attribute("#preview", "src"), what="a preview frame")
    wait_for(lambda: count() >= 6 and panel.get_attribute("#preview", "src") != first, what="the preview to update")
    assert panel.evaluate("document.getElementById('preview').naturalWidth") == 480
    panel.click("#view-original")
    wait_for(lambda: panel.get_attribute("#preview", "data-view") == "original", what="the original view")
    panel.click("#view-stylized")
    wait_for(lambda: panel.get_attribute("#preview", "data-view") == "stylized", what="the stylized view")


def test_the_stats_are_live(panel):
    wait_for(lambda: panel.text_content("#s-fps") not in ("–", "") and "ms" in panel.text_content("#s-latency"),
             what="live stats")
    assert panel.text_content("#s-provider").startswith("cpu")
    assert panel.text_content("#state") == "running"


def test_clicking_a_thumbnail_switches_the_style(panel, daemon):
    panel.wait_for_selector('.thumb[data-style="the_scream"] img')
    wait_for(lambda: panel.evaluate("[...document.querySelectorAll('.thumb img')].every(i => i.complete && i.naturalWidth > 0)"),
             what="every thumbnail to load")
    assert daemon.status()["style"] != "the_scream"
    panel.click('.thumb[data-style="the_scream"]')
    wait_for(lambda: daemon.status()["style"] == "the_scream", what="/status to follow the click")
    panel.wait_for_selector('.thumb.current[data-style="the_scream"]')


def test_the_strength_slider_sets_the_strength(panel, daemon):
    slider = panel.locator("#param-strength")
    slider.focus()
    panel.keyboard.press("Home")
    for _ in range(13):
        panel.keyboard.press("ArrowRight")
    wait_for(lambda: abs(daemon.status()["strength"] - 0.65) < 1e-6, what="strength 0.65 in /status")
    assert panel.text_content("#out-strength") == "0.65"


def test_a_switch_changes_a_param(panel, daemon):
    panel.click("#param-mirror")
    wait_for(lambda: daemon.status()["mirror"] is True, what="mirror on in /status")
    panel.click("#param-mirror")
    wait_for(lambda: daemon.status()["mirror"] is False, what="mirror off in /status")


def test_rtmp_starts_and_stops_from_the_panel(panel, daemon, nginx):
    panel.fill("#rtmp-server", f"rtmp://127.0.0.1:{nginx.port}/live")
    panel.fill("#rtmp-key", KEY)
    panel.click("#rtmp-start")
    wait_state(daemon, "live", timeout=60)
    panel.wait_for_selector("#rtmp-state.ok", timeout=30000)
    assert panel.input_value("#rtmp-key") == ""  # the key does not stay in the page
    wait_for(lambda: nginx.recordings(), what="nginx to record the stream")
    save_screenshots(panel)
    panel.click("#rtmp-stop")
    wait_state(daemon, "stopped", timeout=30)
    wait_for(lambda: panel.text_content("#rtmp-state") == "stopped", what="the panel to show the stop")
    assert KEY not in panel.content()


def test_the_page_ran_without_a_csp_violation(panel):
    assert panel.csp_errors == []


def save_screenshots(page) -> None:
    """docs/img/panel.png (a browser window) and panel-dock.png (an OBS dock's width)."""
    wait_for(lambda: page.evaluate("[...document.querySelectorAll('.thumb img')].every(i => i.complete)"),
             what="thumbnails before the screenshot")
    page.screenshot(path=str(IMG / "panel.png"), full_page=True)
    page.set_viewport_size({"width": 380, "height": 900})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(IMG / "panel-dock.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
