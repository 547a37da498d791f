#!/usr/bin/env python3
"""The pictures in docs/region.md: scikit-image's astronaut and camera man through the real
frame path (framepath.FramePath, as `stylecam stylize` runs it) with style.region all,
background and person, at 100 % scale; and a close-up of the edge around the astronaut's head
in `background` mode (100 %, and the hair's edge at 300 %).

    python scripts/region_pictures.py [--style starry_night] [--out docs/img]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from stylecam.config import REGIONS
from stylecam.engine import Engine
from stylecam.framepath import FramePath, FrameSettings
from stylecam.segment import weights
from stylecam.styles import load_catalogue
from stylecam.stylize import processing_size

OUT = Path(__file__).resolve().parent.parent / "docs" / "img"
EDGE = (slice(0, 300), slice(80, 380))    # rows, columns of the astronaut: head against the wall
ZOOM = (slice(10, 110), slice(140, 240))  # the hair's left edge, shown 3x (nearest: the real pixels)


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (12 + 11 * len(text), 28), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> int:
    import skimage.data

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", default="starry_night")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    cat = load_catalogue()
    engine, style = Engine(cat.model_path, ["cpu"]), cat.get(args.style)
    rows, edge = [], None
    for name in ("astronaut", "camera"):
        img = getattr(skimage.data, name)()
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR if img.ndim == 2 else cv2.COLOR_RGB2BGR)
        size = (img.shape[1], img.shape[0])
        proc = processing_size(size, (640, 360), max(8, cat.stride), cat.min_size)
        row = [label(img, "input")]
        for region in REGIONS:
            path = FramePath(engine, size)  # a fresh one per picture: no state from the last
            out = path(img, FrameSettings(vector=style.vector, proc_size=proc, strength=style.default_strength,
                                          region=weights(region)))
            row.append(label(out, f"region: {region}"))
            if name == "astronaut" and region == "background":
                edge = out
        rows.append(np.hstack(row))
    args.out.mkdir(parents=True, exist_ok=True)
    sheet = args.out / "region_modes.jpg"
    cv2.imwrite(str(sheet), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 90])
    zoom = cv2.resize(edge[ZOOM], None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
    close = np.hstack([label(edge[EDGE], "100 %"), np.zeros((300, 8, 3), np.uint8), label(zoom, "300 %")])
    close_path = args.out / "region_edge.png"
    cv2.imwrite(str(close_path), close)
    print(f"wrote {sheet} and {close_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
