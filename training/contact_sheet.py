"""Contact sheet: a real photo and a real video frame through every shipped style.

    python -m stylecam.training.contact_sheet PHOTO CLIP --out docs/img/contact_sheet.jpg [--teacher]

Uses the shipped ONNX model exactly as the daemon does (no smoothing: single frames). With
--teacher, adds the teacher's output under each student tile for comparison.
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


def make_sheet(inputs: list[np.ndarray], model_dir: Path, teacher=None) -> np.ndarray:
    student = Student(model_dir)
    rows = []
    for img in inputs:
        src = fit(img, (640, 360))
        row = [_label(cv2.resize(src, TILE, interpolation=cv2.INTER_AREA), "input")]
        trow = [np.zeros_like(row[0])] if teacher else None
        for name, vec in student.styles.items():
            out = (np.clip(student.stylize(src, vec), 0, 1) * 255 + 0.5).astype(np.uint8)
            row.append(_label(cv2.resize(out, TILE, interpolation=cv2.INTER_AREA), name))
            if teacher:
                t = (teacher.stylize(src, vec) * 255 + 0.5).astype(np.uint8)
                trow.append(_label(cv2.resize(t, TILE, interpolation=cv2.INTER_AREA), f"teacher: {name}"))
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
    a = ap.parse_args(argv)
    frame = read_frames(a.clip, limit=a.frame + 1)[-1]
    teacher = None
    if a.teacher:
        from .teacher import Teacher

        teacher = Teacher()
    sheet = make_sheet([read_rgb(a.photo), frame], a.models, teacher)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(a.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
