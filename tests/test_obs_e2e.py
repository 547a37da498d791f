"""The OBS script inside a real OBS Studio (Debian's obs-studio 29 under Xvfb), controlling a
real stylecam daemon that reads a video file and publishes a local UDP stream; a Media Source
in OBS shows that stream. Driven through obs-websocket (obsws-python).

Skipped (outside CI) when OBS, Xvfb or obsws-python is missing; with CI=true that fails.
"""
from __future__ import annotations

import base64
import subprocess

import numpy as np
import pytest

from conftest import need_ffmpeg, wait_for
from obs_studio import SCRIPT, ObsStudio, Xvfb, need_obs, scene_collection
from streaming_helpers import Daemon, free_udp_port

pytestmark = pytest.mark.obs

SOURCE = "stylecam output"
SHOT = (320, 180)
NEXT_KEY = "OBS_KEY_F9"   # bound to "next style" in the collection, as Settings -> Hotkeys does
FIXED_HOTKEYS = ("stylecam.next_style", "stylecam.previous_style", "stylecam.toggle_stylization",
                 "stylecam.rtmp_start", "stylecam.rtmp_stop")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("obs-e2e")


@pytest.fixture(scope="module")
def still_clip(workdir, bikes_clip):
    """A 2 s clip of one real frame (looped by the daemon): every published frame is the same
    picture, so OBS's screenshot can be compared with the raw input."""
    need_ffmpeg()
    frame, clip = workdir / "frame.png", workdir / "still.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "4", "-i", bikes_clip, "-frames:v", "1", str(frame)],
                   check=True, timeout=60)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(frame), "-t", "2", "-r", "10",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", str(clip)], check=True, timeout=60)
    return frame, clip


@pytest.fixture(scope="module")
def display():
    need_obs()
    x = Xvfb()
    try:
        yield x.display
    finally:
        x.stop()


@pytest.fixture(scope="module")
def daemon(workdir, still_clip, display):
    url = f"udp://127.0.0.1:{free_udp_port()}"
    (workdir / "daemon").mkdir()
    d = Daemon(workdir / "daemon", ["--input", str(still_clip[1]), "--output", f"stream:{url}",
                                    "--output-size", "640x360", "--fps", "10", "--size", "320x180",
                                    "--smoothing", "off", "--style", "starry_night"])
    d.stream_url = url
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def obs(workdir, display, daemon):
    studio = ObsStudio(workdir / "obs", display, env={"STYLECAM_CONFIG_DIR": str(daemon.config_dir)})
    # the token is not given: the script reads the daemon's token file (STYLECAM_CONFIG_DIR)
    settings = {"address": f"127.0.0.1:{daemon.api.port}",
                "hotkey.next_style": [{"key": NEXT_KEY, "shift": False}]}
    studio.write_collection(scene_collection(settings, daemon.stream_url, source=SOURCE))
    try:
        studio.start()
        wait_for(lambda: "Loaded python script: stylecam_obs.py" in studio.log(), timeout=30,
                 what=f"OBS to load {SCRIPT.name} (does this OBS have Python scripting?)")
        yield studio
    finally:
        studio.stop()


def hotkeys(obs: ObsStudio) -> list[str]:
    return [h for h in obs.client.get_hotkey_list().hotkeys if h.startswith("stylecam.")]


def styles(daemon: Daemon) -> list[str]:
    code, _, body = daemon.api.get("/styles")
    assert code == 200, body
    return [s["name"] for s in body["styles"]]


def after(names: list[str], current: str) -> str:
    return names[(names.index(current) + 1) % len(names)]


def screenshot(obs: ObsStudio) -> np.ndarray:
    import cv2

    answer = obs.client.get_source_screenshot(SOURCE, "png", SHOT[0], SHOT[1], -1)
    data = base64.b64decode(answer.image_data.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def screenshot_until(obs: ObsStudio, accept, timeout: float, what: str) -> np.ndarray:
    """Take source screenshots until one passes `accept`; fail with the last one's numbers."""
    last = []

    def attempt():
        shot = screenshot(obs)
        last[:] = [shot]
        return shot is not None and accept(shot)

    wait_for(attempt, timeout=timeout, interval=0.5, what=what)
    return last[0]


def raw_input_as_shown(frame_path) -> np.ndarray:
    """The raw input frame as the daemon frames it (cover + crop) at the screenshot's size."""
    import cv2

    from stylecam.preprocess import fit_to

    return cv2.resize(fit_to(cv2.imread(str(frame_path)), (640, 360)), SHOT, interpolation=cv2.INTER_AREA)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_obs_lists_the_scripts_hotkeys(obs, daemon):
    names = wait_for(lambda: (lambda h: h if set(FIXED_HOTKEYS) <= set(h) else None)(hotkeys(obs)),
                     timeout=30, what="the script's hotkeys in GetHotkeyList")
    assert len(names) == len(set(names)), names
    # one per style, once the script has heard from the daemon
    expected = {f"stylecam.style.{name}" for name in styles(daemon)}
    wait_for(lambda: expected <= set(hotkeys(obs)), timeout=30, what="a hotkey per style")


def test_next_style_hotkey_changes_the_daemons_style(obs, daemon):
    names = styles(daemon)
    wait_for(lambda: "connected to the daemon" in obs.log(), timeout=30, what="the script to connect")
    before = daemon.status()["style"]
    obs.client.trigger_hot_key_by_name("stylecam.next_style")
    wait_for(lambda: daemon.status()["style"] == after(names, before), timeout=20,
             what=f"the daemon's style to become {after(names, before)}")


def test_stylized_output_appears_in_an_obs_source_and_the_toggle_hotkey_reaches_it(obs, daemon, still_clip):
    raw = raw_input_as_shown(still_clip[0])
    # the Media Source shows the daemon's stream, stylized: far from the raw picture
    shot = screenshot_until(obs, lambda s: s.std() > 5 and difference(s, raw) > 15, timeout=45,
                            what="the stylized stream in OBS's Media Source")
    # stylization off (hotkey): the same source now shows the raw picture, to codec precision
    obs.client.trigger_hot_key_by_name("stylecam.toggle_stylization")
    wait_for(lambda: daemon.status()["enabled"] is False, timeout=20, what="stylization off")
    plain = screenshot_until(obs, lambda s: difference(s, raw) < 8, timeout=30,
                             what="the unstylized picture in OBS")
    assert difference(plain, raw) < 8 < 15 < difference(shot, raw)
    obs.client.trigger_hot_key_by_name("stylecam.toggle_stylization")
    wait_for(lambda: daemon.status()["enabled"] is True, timeout=20, what="stylization back on")


def test_saved_and_restarted_obs_keeps_a_hotkey_binding(obs, daemon):
    names = styles(daemon)
    wait_for(lambda: "connected to the daemon" in obs.log(), timeout=30, what="the script to connect")
    # the binding loaded from the collection works (a key press, as OBS sees it)
    before = daemon.status()["style"]
    obs.client.trigger_hot_key_by_key_sequence(NEXT_KEY, {"shift": False, "control": False, "alt": False,
                                                          "command": False})
    wait_for(lambda: daemon.status()["style"] == after(names, before), timeout=20, what="F9 -> next style")

    obs.stop()   # SIGINT: OBS quits normally and saves the collection (script_save)
    saved = obs.script_settings()
    # written by obs_hotkey_save (which drops false modifiers), not our input echoed back
    assert saved["hotkey.next_style"] == [{"key": NEXT_KEY}]
    assert saved["known_styles"].split("\n") == names

    obs.start()
    # the per-style hotkeys come back (registered at load from the saved style list)
    wait_for(lambda: {f"stylecam.style.{name}" for name in names} <= set(hotkeys(obs)), timeout=20,
             what="per-style hotkeys after the restart")
    wait_for(lambda: obs.log().count("connected to the daemon") >= 2, timeout=30, what="reconnection")
    before = daemon.status()["style"]
    obs.client.trigger_hot_key_by_key_sequence(NEXT_KEY, {"shift": False, "control": False, "alt": False,
                                                          "command": False})
    wait_for(lambda: daemon.status()["style"] == after(names, before), timeout=20,
             what="the restarted OBS's F9 binding to switch the style")
