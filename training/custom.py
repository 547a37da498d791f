"""Custom styles: a new painting becomes a new style vector for the shipped network.

The teacher's predictor gives the painting's 100-d style vector; the teacher stylizes a few
hundred content crops with it (cached); then, with the shipped network frozen (the one the
default quality preset runs), we optimise only that vector so its output matches the teacher's. The shared model is untouched: the
result is one small YAML file in the user's styles folder, which `stylecam styles` and the
control API pick up without code changes. About 5-15 minutes on a 2-core CPU.
"""
from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from ..paths import models_dir, user_styles_dir
from .dataset import build_cache, read_rgb
from .errors import TrainingError
from .export import load_weights
from .losses import distill_loss
from .progress import progress
from .teacher import Teacher

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def _load_student(model_dir: Path):
    """The network the default quality preset runs (the manifest's `networks` entry for it, else
    the main one): the vector is tuned for what the daemon paints with."""
    from ..config import Config

    manifest = yaml.safe_load((model_dir / "styles.yaml").read_text())
    net = (manifest.get("networks") or {}).get(Config().processing.quality, manifest)
    return load_weights(model_dir / net["weights"], net["architecture"]), manifest


def train_custom_style(style_image: Path, name: str, *, cache: Path, content: Path,
                       minutes: float = 20.0, steps: int = 1000, batch: int = 4,
                       model_dir: Path | None = None, styles_dir: Path | None = None,
                       log=print) -> Path:
    if not NAME_RE.match(name):
        raise TrainingError(f"style name {name!r}: use 1-40 letters, digits, _ or -")
    style_image = Path(style_image)
    if not style_image.is_file():
        raise TrainingError(f"style image {style_image} not found")
    try:
        painting = read_rgb(style_image)
    except ValueError as exc:
        raise TrainingError(f"{exc}; use a JPEG or PNG picture") from None
    model_dir = Path(model_dir) if model_dir else models_dir()
    styles_dir = Path(styles_dir) if styles_dir else user_styles_dir()
    net, manifest = _load_student(model_dir)
    if name in {s["name"] for s in manifest["styles"]}:
        raise TrainingError(f"{name!r} is a built-in style; choose another name")
    for p in net.parameters():
        p.requires_grad_(False)

    teacher = Teacher()
    vector = teacher.style_vector(painting)
    tag = "custom_" + hashlib.sha1(style_image.read_bytes()).hexdigest()[:10]
    root = build_cache(content, Path(cache) / "custom", {tag: vector}, teacher,
                       size=192, per_image=6, frames_per_clip=24, pairs_per_clip=0)
    crops = np.load(root / "content.npy", mmap_mode="r")
    targets = np.load(root / f"target_{tag}.npy", mmap_mode="r")

    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float() / 255  # noqa: E731
    held = np.arange(0, len(crops), max(1, len(crops) // 16))[:16]  # a fixed set to judge the vector
    train_idx = np.setdiff1d(np.arange(len(crops)), held)

    def held_loss(code: torch.Tensor) -> float:
        with torch.no_grad():
            x, t = as_t(crops[held]), as_t(targets[held])
            return float(distill_loss(net(x, code.expand(len(held), -1)), t))

    code = torch.tensor(vector[None], requires_grad=True)
    opt = torch.optim.Adam([code], lr=0.02)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=0.001)
    rng = np.random.default_rng(0)
    start = time.monotonic()
    first = best = held_loss(code)
    best_code = code.detach().clone()
    check_every = max(10, steps // 20)
    for step in progress(range(steps), desc=f"tuning {name}"):
        idx = np.sort(rng.choice(train_idx, batch, replace=False))
        x, t = as_t(crops[idx]), as_t(targets[idx])
        loss = distill_loss(net(x, code.expand(batch, -1)), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        out_of_time = time.monotonic() - start > minutes * 60
        if (step + 1) % check_every == 0 or step + 1 == steps or out_of_time:
            current = held_loss(code)
            if current < best:  # keep the best vector on the held-out crops
                best, best_code = current, code.detach().clone()
        if out_of_time:
            log(f"time limit reached after {step + 1} steps")
            break

    styles_dir.mkdir(parents=True, exist_ok=True)
    tuned = best_code.numpy().reshape(-1)
    entry = {"name": name, "title": style_image.stem, "artist": "custom", "year": "",
             "default_strength": 1.0, "source_image": str(style_image.resolve()),
             "held_out_loss_before": round(first, 5), "held_out_loss_after": round(best, 5),
             "vector": [round(float(v), 6) for v in tuned]}
    out = styles_dir / f"{name}.yaml"
    out.write_text(yaml.safe_dump(entry, sort_keys=False, width=100))
    preview = styles_dir / f"{name}_preview.png"
    _write_preview(preview, net, tuned, crops, targets, painting)
    log(f"style {name!r} saved to {out} (held-out loss {first:.4f} -> {best:.4f}); "
        f"preview: {preview}. It is available now in `stylecam styles` and the control API "
        "(restart a running daemon to load it).")
    return out


def _write_preview(path: Path, net, vector, crops, targets, painting) -> None:
    """The painting at the left, then a row per sample: content | teacher | student."""
    with torch.no_grad():
        idx = np.linspace(0, len(crops) - 1, 3).astype(int)
        x = torch.from_numpy(np.ascontiguousarray(crops[idx])).permute(0, 3, 1, 2).float() / 255
        y = net(x, torch.from_numpy(vector[None]).expand(len(idx), -1))
        student = (y.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    size = crops.shape[1]
    rows = [np.concatenate([crops[i], targets[i], student[k]], 1) for k, i in enumerate(idx)]
    grid = np.concatenate(rows, 0)
    ph, pw = painting.shape[:2]  # centre-crop the painting to the column's shape (never stretch)
    cw = min(pw, ph * size // (size * len(idx)))
    ch = min(ph, cw * len(idx))
    y0, x0 = (ph - ch) // 2, (pw - cw) // 2
    paint = cv2.resize(painting[y0:y0 + ch, x0:x0 + cw], (size, size * len(idx)), interpolation=cv2.INTER_AREA)
    sheet = np.concatenate([paint, grid], 1)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
