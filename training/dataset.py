"""Content data and the cache of teacher outputs.

`build_cache` turns a folder of images and videos into fixed-size training crops, runs the
teacher once per (crop, style) and stores everything as .npy files, so training never calls
the teacher again. Consecutive video frames become pairs with DIS optical flow and a
forward-backward occlusion mask for the temporal loss.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

from .distributed import SINGLE, Ranks
from .errors import TrainingError
from .progress import progress

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def read_rgb(path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_frames(path, step: int = 1, limit: int | None = None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames, i = [], 0
    while limit is None or len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        i += 1
    cap.release()
    return frames


def list_content(folder: Path) -> tuple[list[Path], list[Path]]:
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    images = [p for p in files if p.suffix.lower() in IMAGE_EXT]
    videos = [p for p in files if p.suffix.lower() in VIDEO_EXT]
    if not images and not videos:
        raise TrainingError(f"no images or videos found in {folder}; pass --content DIR with photos/clips")
    return images, videos


ZOOM = (1.0, 2.8)  # a 256 crop of a 1280x720 frame is zoom 2.8: the scale the daemon paints at


def random_crop(rgb: np.ndarray, size: int, rng: np.random.Generator, box=None, zoom=ZOOM):
    """Scale so the short side is zoom[0]-zoom[1] x the crop size, then cut a size x size
    window."""
    h, w = rgb.shape[:2]
    if box is None:
        short = size * rng.uniform(*zoom)
        scale = short / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        y, x = rng.integers(0, nh - size + 1), rng.integers(0, nw - size + 1)
        box = (nh, nw, y, x)
    nh, nw, y, x = box
    interp = cv2.INTER_AREA if nh < h else cv2.INTER_CUBIC
    img = cv2.resize(rgb, (nw, nh), interpolation=interp)
    return img[y:y + size, x:x + size], box


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow from a to b (pixel offsets), OpenCV DIS on grey frames."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ga, gb = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b))
    return dis.calc(ga, gb, None)


def warp_with_flow(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample img at p + flow(p): with flow from b to a this brings a onto b's grid."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def occlusion_mask(flow_ba: np.ndarray, flow_ab: np.ndarray, tol: float = 0.01, slack: float = 0.5):
    """1 where the backward flow is consistent with the forward flow (Sundaram et al. test)."""
    fwd_at = warp_with_flow(flow_ab, flow_ba)
    diff = np.sum((flow_ba + fwd_at) ** 2, -1)
    mag = np.sum(flow_ba ** 2, -1) + np.sum(fwd_at ** 2, -1)
    return (diff <= tol * mag + slack).astype(np.float32)


def _content_key(images, videos, size, per_image, seed, zoom) -> str:
    h = hashlib.sha1(json.dumps([[str(p) for p in images], [str(p) for p in videos],
                                 size, per_image, seed, list(zoom)]).encode())
    return h.hexdigest()[:12]


def target_name(style: str, teacher_scale: float = 1.0, centre: bool = False) -> str:
    """The cache file of a style's teacher targets (one per teacher_scale, and per kind:
    shrunk back, or the centre cut out: scaled_teacher)."""
    if teacher_scale == 1.0:
        return f"target_{style}.npy"
    return f"target_{style}_{'c' if centre else 'x'}{teacher_scale:g}.npy"


def scaled_teacher(teacher, rgb: np.ndarray, vector: np.ndarray, scale: float,
                   centre: bool = False) -> np.ndarray:
    """The teacher's painting of rgb enlarged `scale` times (bicubic), shrunk back to rgb's size
    (area): its strokes 1/scale of the teacher's own size, as the teacher's painting at the
    full output size looks once shrunk to a network's processing size.
    centre: not shrunk back; its centre, rgb's size, cut out instead: the middle 1/scale of rgb
    as the teacher paints it at the full output size, seen at 100 % (train.paint_live_loss)."""
    if scale == 1.0:
        return teacher.stylize(rgb, vector)
    h, w = rgb.shape[:2]
    big = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    painted = teacher.stylize(big, vector)
    if centre:
        y, x = (painted.shape[0] - h) // 2, (painted.shape[1] - w) // 2
        return np.ascontiguousarray(painted[y:y + h, x:x + w])
    return cv2.resize(painted, (w, h), interpolation=cv2.INTER_AREA)


def build_cache(content: Path, cache: Path, styles: dict[str, np.ndarray], teacher,
                size: int = 256, per_image: int = 24, frames_per_clip: int = 80,
                pairs_per_clip: int = 30, seed: int = 0, zoom=ZOOM, ranks: Ranks = SINGLE,
                teacher_scale: float = 1.0, centre: bool = False) -> Path:
    """Crops, video pairs and teacher targets in cache/<key>/. Reuses what is already there.
    teacher_scale, centre: targets from scaled_teacher (their own files beside the 1x ones).

    Under torchrun (ranks): rank 0 cuts the crops; every rank runs the teacher on its share of
    them and saves it as a part file; rank 0 joins the parts. The cache folder must be one that
    every rank sees (on several machines: a shared file system).
    """
    images, videos = list_content(content)
    key = _content_key(images, videos, size, per_image, seed, zoom)
    root = Path(cache) / key
    if ranks.main:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "content.npy").exists():
            _build_crops(root, images, videos, size, per_image, frames_per_clip, pairs_per_clip, seed, zoom)
    ranks.wait()
    if not (root / "content.npy").exists():
        raise FileNotFoundError(f"rank {ranks.rank}: {root / 'content.npy'} is missing after rank 0 "
                                "built it: give --cache a folder every machine sees at the same path "
                                "(a shared file system; docs/styles.md)")
    content_arr = np.load(root / "content.npy", mmap_mode="r")
    missing = {n: v for n, v in styles.items() if not (root / target_name(n, teacher_scale, centre)).exists()}
    lo, hi = ranks.span(len(content_arr))
    for name, vec in missing.items():
        part = root / target_name(name, teacher_scale, centre) if ranks.world == 1 else _part_path(root, name, ranks, teacher_scale, centre)
        if not part.exists():  # a part left by an interrupted run with the same world size counts
            desc = f"teacher: {name}" + (f" (1/{ranks.world} on each rank)" if ranks.world > 1 else "")
            out = np.empty((hi - lo,) + content_arr.shape[1:], content_arr.dtype)
            for i in progress(range(lo, hi), desc=desc, quiet=not ranks.main):
                out[i - lo] = (scaled_teacher(teacher, content_arr[i], vec, teacher_scale, centre) * 255 + 0.5).astype(np.uint8)
            _save_atomic(part, out)
    if ranks.world > 1:
        ranks.wait()
        if ranks.main:
            for name in missing:
                parts = [_part_path(root, name, Ranks(r, ranks.world), teacher_scale, centre) for r in range(ranks.world)]
                _save_atomic(root / target_name(name, teacher_scale, centre), np.concatenate([np.load(p) for p in parts]))
                for p in parts:
                    p.unlink()
        ranks.wait()
    return root


def _part_path(root: Path, name: str, ranks: Ranks, teacher_scale: float = 1.0, centre: bool = False) -> Path:
    return root / target_name(name, teacher_scale, centre).replace(".npy", f".part{ranks.rank}of{ranks.world}.npy")


def _save_atomic(path: Path, array: np.ndarray) -> None:
    """np.save to a temporary name, then rename: a reader never sees half a file."""
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


def _build_crops(root: Path, images, videos, size, per_image, frames_per_clip, pairs_per_clip, seed, zoom):
    rng = np.random.default_rng(seed)
    crops, pa, pb, pf, pm = [], [], [], [], []
    for p in progress(images, desc="crops from photos"):
        rgb = read_rgb(p)
        crops += [random_crop(rgb, size, rng, zoom=zoom)[0] for _ in range(per_image)]
    for p in progress(videos, desc="crops from clips"):
        frames = read_frames(p)
        if len(frames) < 2:
            continue
        for i in np.linspace(0, len(frames) - 1, min(frames_per_clip, len(frames))).astype(int):
            crops.append(random_crop(frames[i], size, rng, zoom=zoom)[0])
        for i in rng.integers(0, len(frames) - 1, size=pairs_per_clip):
            a, box = random_crop(frames[i], size, rng, zoom=zoom)
            b, _ = random_crop(frames[i + 1], size, rng, box)
            f_ba, f_ab = dis_flow(b, a), dis_flow(a, b)
            pa.append(a), pb.append(b), pf.append(f_ba.astype(np.float16))
            pm.append(occlusion_mask(f_ba, f_ab).astype(np.uint8))
    np.save(root / "pairs_a.npy", np.stack(pa) if pa else np.zeros((0, size, size, 3), np.uint8))
    np.save(root / "pairs_b.npy", np.stack(pb) if pb else np.zeros((0, size, size, 3), np.uint8))
    np.save(root / "pairs_flow.npy", np.stack(pf) if pf else np.zeros((0, size, size, 2), np.float16))
    np.save(root / "pairs_mask.npy", np.stack(pm) if pm else np.zeros((0, size, size), np.uint8))
    _save_atomic(root / "content.npy", np.stack(crops))  # last: its presence means all is there
