"""`stylecam stylize INPUT OUTPUT`: stylize an image or a whole video file offline.

The same stages as the live pipeline (preprocess -> engine -> smoothing -> postprocess), run
on the calling thread: every frame in order, none dropped, no pacing. The output has the
input's size and frame rate; with ffmpeg on PATH a video keeps its audio track.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import children
from .adaptive import size_ladder
from .config import CPU_MAX_SIZE, LIMITS, Config, ConfigError, ProcessingConfig, parse_size
from .errors import StylecamError
from .framepath import FramePath, FrameSettings
from .segment import weights as region_weights

VIDEO_EXTS = (".mp4", ".mkv", ".mov", ".m4v", ".avi")


class UserError(StylecamError):
    """Something the user can fix; the message says how. Exit code 2, no traceback."""


# -- the per-frame stages ---------------------------------------------------------------------
def processing_size(frame_size: tuple[int, int], max_size: tuple[int, int], stride: int,
                    min_side: int = 20) -> tuple[int, int]:
    """The largest size within `max_size` (and not above the input's) with the input's aspect,
    in multiples of `stride`."""
    fw, fh = frame_size
    cap = (min(max_size[0], max(fw, min_side)), min(max_size[1], max(fh, min_side)))
    w, h = size_ladder(cap, cap, fw / fh, stride, rungs=1)[0]
    floor = -(-min_side // stride) * stride
    return max(w, floor), max(h, floor)


class FrameStylizer:
    """The daemon's frame path (framepath.FramePath) with the fixed settings of one file."""

    def __init__(self, path: FramePath, settings: FrameSettings):
        self.path, self.settings = path, settings
        self.proc_size = settings.proc_size

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return self.path(frame, self.settings)


# -- checks that name the fix -------------------------------------------------------------------
def _check_paths(src: Path, dst: Path) -> None:
    if not src.exists():
        raise UserError(f"input {src} does not exist; check the path (relative paths start in {Path.cwd()})")
    if src.is_dir():
        raise UserError(f"input {src} is a folder; give an image or a video file")
    if dst.is_dir():
        raise UserError(f"output {dst} is a folder; give a file name, e.g. {dst / ('styled' + src.suffix)}")
    if dst.resolve() == src.resolve():
        raise UserError(f"output {dst} would overwrite the input; choose another file name")
    folder = dst.parent
    if not folder.exists():
        raise UserError(f"output folder {folder} does not exist; create it (mkdir -p {folder}) "
                        "or choose another output path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to folder {folder} (permission denied); choose an output path "
                        "in a folder you can write to")


def _open_input(src: Path):
    """('image', BGR array) or ('video', cv2.VideoCapture), or UserError."""
    import cv2

    if cv2.haveImageReader(str(src)):
        image = cv2.imread(str(src), cv2.IMREAD_COLOR)
        if image is not None:
            return "image", image
    cap = cv2.VideoCapture(str(src))
    if cap.isOpened() and cap.get(cv2.CAP_PROP_FRAME_WIDTH) > 0:
        return "video", cap
    cap.release()
    raise UserError(f"cannot read {src} as an image or a video; give a picture (PNG, JPEG, WebP, TIFF...) "
                    "or a video file (MP4, MKV, MOV, AVI...) that is not damaged")


def _check_output_kind(kind: str, dst: Path) -> None:
    import cv2

    if kind == "image" and not cv2.haveImageWriter(str(dst)):
        raise UserError(f"the input is an image, and {dst.name!r} is not an image name OpenCV can write; "
                        "end the output name with .png, .jpg, .webp, .bmp or .tiff")
    if kind == "video" and dst.suffix.lower() not in VIDEO_EXTS:
        raise UserError(f"the input is a video; end the output name with {', '.join(VIDEO_EXTS)} "
                        f"(got {dst.name!r})")


@dataclass
class Settings:
    style: str
    smoothing: str
    strength: float
    keep_color: bool
    max_size: tuple[int, int]
    providers: list[str]
    precision: str = "fp32"
    allow_partial: bool = False   # a damaged video: keep the frames that decode instead of failing
    region: str = "all"
    sharpen: float = ProcessingConfig.sharpen


def settings_from(args) -> Settings:
    """CLI flags over the config defaults (the user's config file does not apply here), turned
    into a Config the way `stylecam run` does it (cli.apply_flags)."""
    from .cli import apply_flags

    try:
        _check_flags(args)
        cfg = apply_flags(Config(), args)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    p, s = cfg.processing, cfg.style
    return Settings(style=s.name, smoothing=s.smoothing, strength=s.strength, keep_color=s.preserve_color,
                    max_size=parse_size(CPU_MAX_SIZE if p.max_size == "auto" else p.max_size),
                    providers=p.providers, precision=p.precision,
                    allow_partial=bool(getattr(args, "allow_partial", False)), region=s.region,
                    sharpen=p.sharpen)


def _check_flags(args) -> None:
    """Each flag refused under its own name (the Config's own errors name its keys)."""
    _check_choice("smoothing", args.smoothing)
    strength = LIMITS["strength"]
    if args.strength is not None and not strength.allows(args.strength):
        raise UserError(f"--strength {args.strength}: give a number from {strength.lo:g} (original) "
                        f"to {strength.hi:g} (full style)")
    sharpen = LIMITS["sharpen"]
    if getattr(args, "sharpen", None) is not None and not sharpen.allows(args.sharpen):
        raise UserError(f"--sharpen {args.sharpen}: give a number from {sharpen.lo:g} (off) to {sharpen.hi:g}")
    if args.size:
        parse_size(args.size, "--size")
    _check_choice("provider", getattr(args, "provider", None), " (`stylecam doctor` shows which ones work here)")
    _check_choice("precision", getattr(args, "precision", None))
    _check_choice("region", getattr(args, "region", None))


def _check_choice(flag: str, value, hint: str = "") -> None:
    if value and not LIMITS[flag].allows(value):
        raise UserError(f"--{flag} {value!r}: choose one of {LIMITS[flag]}{hint}")


# -- progress ---------------------------------------------------------------------------------------
class _Counter:
    """The fallback progress display when tqdm is not installed."""

    def __init__(self, total: int | None):
        self.total, self.n = total, 0

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n % 10 == 0 or self.n == self.total:
            of = f"/{self.total}" if self.total else ""
            print(f"\rstylize: frame {self.n}{of}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        print(file=sys.stderr)


def _progress(total: int | None):
    try:
        from tqdm import tqdm
    except ImportError:
        return _Counter(total)
    return tqdm(total=total, unit="frame", desc="stylize", file=sys.stderr, mininterval=0.5)


# -- image and video ---------------------------------------------------------------------------------
def stylize_image(image: np.ndarray, dst: Path, make_stylizer) -> dict:
    import cv2

    h, w = image.shape[:2]
    stylizer = make_stylizer((w, h))
    result = stylizer(image)
    try:
        ok = cv2.imwrite(str(dst), result)
    except cv2.error as exc:
        raise UserError(f"cannot write {dst}: {str(exc).strip().splitlines()[-1]}; "
                        "choose a .png or .jpg name") from None
    if not ok:
        raise UserError(f"cannot write {dst}; check the free space and the file name (.png, .jpg)")
    return {"kind": "image", "size": [w, h], "processing_size": list(stylizer.proc_size), "frames": 1}


def _mux(ffmpeg: str, video: Path, fps: float, src: Path, dst: Path) -> tuple[bool, str]:
    """Encode `video` to H.264 with `src`'s audio (if any) into `dst`; falls back to copying the
    video stream (e.g. odd sizes, which yuv420p cannot hold). Returns (ok, how)."""
    rate = Fraction(fps).limit_denominator(1001)  # 29.97 -> 30000/1001 (the AVI rounds it)
    base = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-r", f"{rate.numerator}/{rate.denominator}", "-i", str(video), "-i", str(src),
            "-map", "0:v", "-map", "1:a?"]
    tries = [("h264", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18"]),
             ("mjpeg (the size is odd or libx264 is missing)", ["-c:v", "copy"])]
    errors = []
    for how, video_args in tries:
        cmd = base + video_args + ["-c:a", "aac", "-shortest", str(dst)]
        proc = children.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            return True, how
        errors.append(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    return False, "; ".join(errors)


def _has_audio(ffprobe: str | None, path: Path) -> bool | None:
    if not ffprobe:
        return None
    try:
        proc = children.run([ffprobe, "-v", "error", "-select_streams", "a", "-show_entries", "stream=index",
                             "-of", "csv=p=0", str(path)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(proc.stdout.strip()) if proc.returncode == 0 else None


DISK_CHECK_EVERY = 10  # frames between free-space checks while writing


def _check_space(folder: Path, need: int, dst: Path) -> None:
    """UserError when the disk holding `folder` has less than `need` bytes free (OpenCV's video
    writer does not report failed writes)."""
    free = shutil.disk_usage(folder).free
    if free < need:
        raise UserError(f"the disk holding {folder} is full ({free // 1024} KiB free); free some space "
                        f"or write {dst.name} to another disk")


def _check_complete(frames: int, total: int | None, src: Path, allow_partial: bool, notes: list) -> None:
    """A video that decodes to fewer frames than its header states is damaged or truncated:
    UserError unless allow_partial (then a note). The header's count may be an estimate
    (Matroska, WebM): a 1 % shortfall is tolerated."""
    if not total or frames >= total - max(2, total // 100):
        return
    what = f"read {frames} of the {total} frames {src.name} states: the file is damaged or truncated"
    if not allow_partial:
        raise UserError(f"{what}; nothing was written (--allow-partial keeps the frames that could be read)")
    notes.append(f"{what} (--allow-partial: wrote those {frames})")


def stylize_video(cap, src: Path, dst: Path, make_stylizer, *, allow_partial: bool = False) -> dict:
    import cv2

    ok, frame = cap.read()
    if not ok:
        cap.release()
        raise UserError(f"{src} has no frames that can be decoded; is the file complete?")
    h, w = frame.shape[:2]  # the decoded size (rotation metadata already applied)
    fps = cap.get(cv2.CAP_PROP_FPS)
    notes = []
    if not fps or not np.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 30.0
        notes.append("the input does not state its frame rate: wrote 30 fps")
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    frame_bytes = w * h * 3  # more than an MJPEG frame takes: the margin the disk checks keep
    try:
        _check_space(dst.parent, 2 * frame_bytes, dst)  # fail before any work on a full disk
    except UserError:
        cap.release()
        raise
    stylizer = make_stylizer((w, h))
    ffmpeg = shutil.which("ffmpeg")
    tmpdir = Path(tempfile.mkdtemp(prefix=".stylecam-", dir=dst.parent)) if ffmpeg else None
    frames_path = tmpdir / "frames.avi" if tmpdir else dst
    wrote_dst, done = not tmpdir, False
    try:
        if tmpdir:  # near-lossless intermediate (the built-in MJPEG writer takes any size)
            writer = cv2.VideoWriter(str(frames_path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"),
                                     fps, (w, h))
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
        else:
            codec = "mp4v" if dst.suffix.lower() in (".mp4", ".mov", ".m4v") else "MJPG"
            writer = cv2.VideoWriter(str(frames_path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
        bar = _progress(total)
        frames = 0
        try:
            if not writer.isOpened():
                raise UserError(f"cannot write a video to {frames_path}; check the free space, "
                                f"or use a {' / '.join(VIDEO_EXTS)} name")
            while ok:
                _raise_if_signalled()
                writer.write(stylizer(frame))
                frames += 1
                bar.update(1)
                if frames % DISK_CHECK_EVERY == 0:
                    _check_space(frames_path.parent, 2 * frame_bytes, dst)
                ok, frame = cap.read()
        finally:
            bar.close()
            writer.release()
            cap.release()
        _check_complete(frames, total, src, allow_partial, notes)
        audio = None
        if tmpdir:
            wrote_dst = True
            ok, how = _mux(ffmpeg, frames_path, fps, src, dst)
            if not ok:
                full = "No space left" in how
                raise UserError(f"ffmpeg could not write {dst} ({how}); "
                                + ("free some space or write to another disk" if full
                                   else "try an .mp4 or .mkv output name"))
            audio = _has_audio(shutil.which("ffprobe"), dst)
            if how != "h264":
                notes.append(f"video stored as {how}")
        else:
            audio = False
            notes.append("ffmpeg not found: wrote the video only (any sound was dropped); "
                         "install ffmpeg to keep the audio track")
        _raise_if_signalled()
        done = True
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        if wrote_dst and not done:  # never leave a partial output behind
            dst.unlink(missing_ok=True)
    return {"kind": "video", "size": [w, h], "processing_size": list(stylizer.proc_size), "frames": frames,
            "fps": round(fps, 3), "audio": audio, "notes": notes}


def stylize_file(src: Path, dst: Path, settings: Settings, catalogue=None) -> dict:
    """Stylize `src` into `dst`; returns what was done (data). Raises UserError for user errors.
    `catalogue`: the styles and networks to use (default: the shipped ones plus custom styles)."""
    from .engine import Engine, EngineError
    from .styles import StyleError, load_catalogue

    _check_paths(src, dst)
    kind, media = _open_input(src)
    try:
        _check_output_kind(kind, dst)
        try:
            catalogue = catalogue or load_catalogue()
            style = catalogue.get(settings.style)
            vector = style.vector
        except StyleError as exc:
            raise UserError(f"{exc} (`stylecam styles` lists them)") from None
        try:
            model = catalogue.model_for(settings.precision)
        except StyleError as exc:
            raise UserError(str(exc)) from None
        try:
            engine = Engine(model, settings.providers)
        except EngineError as exc:
            raise UserError(str(exc)) from None
    except BaseException:
        if kind == "video":
            media.release()
        raise
    stride = max(8, catalogue.stride)

    def make_stylizer(size):
        proc = processing_size(size, settings.max_size, stride, catalogue.min_size)
        return FrameStylizer(FramePath(engine, size, smoothing=settings.smoothing, sharpen=settings.sharpen),
                             FrameSettings(vector=vector, proc_size=proc,
                                           strength=settings.strength * style.default_strength,
                                           keep_color=settings.keep_color,
                                           region=region_weights(settings.region)))

    if kind == "image":
        info = stylize_image(media, dst, make_stylizer)
    else:
        info = stylize_video(media, src, dst, make_stylizer, allow_partial=settings.allow_partial)
    info.update(output=str(dst), style=settings.style, provider=engine.provider, precision=settings.precision,
                region=settings.region)
    return info


_signalled = threading.Event()


def _interrupt(signum, _frame):
    # The flag outlives the exception: Python drops an exception raised while it runs a callback
    # it cannot unwind (a weakref callback inside an import, a __del__), and the run would go on.
    _signalled.set()
    raise KeyboardInterrupt(f"signal {signum}")


def _raise_if_signalled():
    if _signalled.is_set():
        raise KeyboardInterrupt("signal")


def cmd_stylize(args) -> int:
    # SIGTERM ends the run the way Ctrl+C does: the temporary folder and a partial output go
    main = threading.current_thread() is threading.main_thread()
    _signalled.clear()
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)} if main else {}
    try:
        settings = settings_from(args)
        info = stylize_file(Path(args.input), Path(args.output), settings)
    except UserError as exc:
        print(f"stylecam stylize: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stylecam stylize: interrupted; the partial output and the temporary files were removed",
              file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    size = "x".join(map(str, info["size"]))
    pw, ph = info["processing_size"]
    line = (f"wrote {info['output']}: {size}, style {info['style']}, processed at {pw}x{ph} "
            f"on {info['provider']} ({info['precision']})")
    if info["region"] != "all":
        line += f", painted: {info['region']} only"
    if info["kind"] == "video":
        sound = {True: "audio kept", False: "no audio", None: "audio unknown"}[info["audio"]]
        line += f", {info['frames']} frames at {info['fps']:g} fps, {sound}"
    print(line, file=sys.stderr)
    for note in info.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    return 0
