"""Contact sheet: a real photo and a real video frame through every shipped style.

    python -m stylecam.training.contact_sheet PHOTO CLIP --out docs/img/contact_sheet.jpg [--teacher]
    python -m stylecam.training.contact_sheet PHOTO CLIP --live 512x288 --out docs/img/contact_sheet.jpg

Uses the shipped ONNX model exactly as the daemon does (no smoothing: single frames). With
--teacher, adds the teacher's output under each student tile for comparison. With --live PROC,
each tile is a 100 % crop (320x180, from the middle) of what the daemon publishes at its
default 1280x720 output when it paints at PROC (the size `stylecam bench` settles on) with the
default preset's network: the daemon's own frame path, upsampler included.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from .dataset import read_frames, read_rgb
from .quality import Student, fit

TILE = (320, 180)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    out = tile.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _middle(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = (h - TILE[1]) // 2, (w - TILE[0]) // 2
    return img[y:y + TILE[1], x:x + TILE[0]]


def make_sheet(inputs: list[np.ndarray], model_dir: Path, teacher=None,
               live: tuple[int, int] | None = None) -> np.ndarray:
    student = Student(model_dir)
    paint = student.stylize
    if live:
        from ..config import Config
        from ..engine import Engine
        from ..styles import load_catalogue
        from .live_look import Live

        # the network the default quality preset runs (the manifest's networks), as the daemon
        net = load_catalogue(Path(model_dir)).for_quality(Config().processing.quality)
        engine = Engine(net.model_path, ["cpu"])
        paint = lambda rgb, vec: Live(engine, (1280, 720), live, "off")(rgb, vec) / 255.0  # noqa: E731
    rows = []
    for img in inputs:
        src = fit(img, (1280, 720) if live else (640, 360))
        shown = _middle if live else (lambda t: cv2.resize(t, TILE, interpolation=cv2.INTER_AREA))
        row = [_label(shown(src), "input")]
        trow = [np.zeros_like(row[0])] if teacher else None
        for name, vec in student.styles.items():
            out = (np.clip(paint(src, vec), 0, 1) * 255 + 0.5).astype(np.uint8)
            row.append(_label(shown(out), name))
            if teacher:
                t = (teacher.stylize(src, vec) * 255 + 0.5).astype(np.uint8)
                trow.append(_label(shown(t), f"teacher: {name}"))
        rows.append(row)
        if trow:
            rows.append(trow)
    cols = 5
    lines = []
    for row in rows:
        for i in range(0, len(row), cols):
            chunk = row[i:i + cols]
            chunk += [np.full_like(row[0], 255)] * (cols - len(chunk))
            lines.append(np.concatenate(chunk, 1))
    return np.concatenate(lines, 0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photo", type=Path)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--frame", type=int, default=60)
    ap.add_argument("--models", type=Path, default=Path("models"))
    ap.add_argument("--out", type=Path, default=Path("docs/img/contact_sheet.jpg"))
    ap.add_argument("--teacher", action="store_true")
    ap.add_argument("--live", metavar="PROC", help="100 %% crops of the daemon's 1280x720 output painted at PROC (WxH)")
    a = ap.parse_args(argv)
    frame = read_frames(a.clip, limit=a.frame + 1)[-1]
    teacher = None
    if a.teacher:
        from .teacher import Teacher

        teacher = Teacher()
    from ..config import parse_size

    live = parse_size(a.live, "--live") if a.live else None
    sheet = make_sheet([read_rgb(a.photo), frame], a.models, teacher, live)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(a.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
