"""`stylecam train`: build the teacher cache, train (resumable), export ONNX + manifest;
or, with --style-image, add a custom style to the shipped model."""
from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from ..paths import user_cache_dir

PAINTINGS = Path(__file__).with_name("paintings.yaml")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--content", type=Path, help="folder of photos and videos (default: the "
                    "registry data set from python -m stylecam.training.fetch_content)")
    ap.add_argument("--styles-dir", type=Path, help="folder holding the paintings named in "
                    "training/paintings.yaml (built-in styles)")
    ap.add_argument("--style-image", type=Path, help="train a custom style from this picture")
    ap.add_argument("--name", help="name of the custom style (letters, digits, _ and -)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="cache folder for teacher outputs and checkpoints")
    ap.add_argument("--out", type=Path, default=None, help="where to write model + manifest")
    ap.add_argument("--steps", type=int, default=None, help="total optimisation steps")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--size", type=int, default=256, help="training crop size in pixels")
    ap.add_argument("--minutes", type=float, default=None, help="stop (resumably) after this long")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a training setting, e.g. --set w_gram=2 (see TrainConfig "
                    "in training/train.py; loss weights start with w_)")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="start from the weights of this checkpoint (last.pt) instead of random")
    ap.add_argument("--export-only", action="store_true", help="export the last checkpoint and exit")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="where the student trains (auto: CUDA when PyTorch sees a GPU); the "
                    "teacher cache is built on the CPU")
    ap.add_argument("--distributed", action="store_true",
                    help="train with DistributedDataParallel, one process per rank: runs under "
                    "torchrun (which is detected anyway; this flag makes a plain start an error). "
                    "--batch is the global batch, each rank takes batch / world size")


def _default_content(cache: Path) -> Path:
    from .fetch_content import fetch

    folder = cache / "content"
    if not (folder / "train").is_dir():
        fetch(folder)
    return folder / "train"


def run(args: argparse.Namespace) -> int:
    """`stylecam train`: the library raises TrainingError; here it becomes the exit message."""
    from .errors import TrainingError

    try:
        return _run(args)
    except TrainingError as exc:
        raise SystemExit(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    try:
        import torch
    except ImportError:
        raise SystemExit("training needs PyTorch and the teacher: pip install '.[train]'")
    if args.threads:
        torch.set_num_threads(args.threads)
    cache = args.cache or user_cache_dir() / "training"
    from .distributed import from_env

    try:
        ranks = from_env(required=args.distributed)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    if args.style_image and ranks.world > 1:
        raise SystemExit("--style-image tunes one style vector in minutes on one process: run it "
                         "without torchrun")
    if args.style_image:
        from .custom import train_custom_style

        if not args.name:
            raise SystemExit("--style-image needs --name NAME for the new style")
        train_custom_style(args.style_image, args.name, cache=cache,
                           content=args.content or _default_content(cache),
                           minutes=args.minutes or 20.0, steps=args.steps or 1000)
        return 0
    if not args.styles_dir:
        raise SystemExit("give --styles-dir DIR (the paintings) for the built-in styles, "
                         "or --style-image FILE --name NAME for a custom style")
    if not ranks.distributed:
        return train_builtin(args, cache, ranks)
    from torch.distributed.elastic.multiprocessing.errors import record

    return record(train_builtin)(args, cache, ranks)  # a rank's error reaches torchrun's summary


def train_builtin(args, cache: Path, ranks) -> int:
    """ranks: training/distributed.py's Ranks, from torchrun's environment (not started yet)."""
    from .distributed import check_split, resolve_device, start, stop
    from .model import build
    from .train import TrainConfig, trained_parameters

    paintings = yaml.safe_load(PAINTINGS.read_text())
    missing = [p["file"] for p in paintings if not (args.styles_dir / p["file"]).exists()]
    if missing:
        raise SystemExit(f"missing paintings in {args.styles_dir}: {', '.join(missing)}")
    if args.init_from and not args.init_from.is_file():
        raise SystemExit(f"--init-from {args.init_from}: no such checkpoint; give a last.pt that "
                         "`stylecam train` printed after 'checkpoints:'")
    cfg = TrainConfig()  # settings first: a typo fails now, not after the teacher cache
    if args.steps:
        cfg.steps = args.steps
    if args.batch:
        cfg.batch = args.batch
    for item in args.set:
        _apply_setting(cfg, item)
    try:
        net = build(cfg.model)  # a bad model.* value fails now, not after the teacher cache
    except (ValueError, TypeError) as exc:
        raise SystemExit(f"--set model.*: {exc}") from None
    try:
        trained_parameters(net, cfg.train_only)
    except ValueError as exc:
        raise SystemExit(f"--set {exc}") from None
    try:
        check_split(ranks.world, cfg.batch, cfg.pair_batch)
        device = resolve_device(args.device, ranks)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    ranks = start(ranks, device)
    try:
        return _train_and_export(args, cache, cfg, paintings, ranks, device)
    finally:
        stop(ranks)


MODEL_KEYS = {"width": int, "blocks": int, "expand": int, "stem": int, "fine": int, "scale": int,
              "upsample": str, "detail": int}


def _apply_setting(cfg, item: str) -> None:
    """--set KEY=VALUE for a TrainConfig field, or --set model.KEY=VALUE for the network."""
    key, _, value = item.partition("=")
    keys = [k for k in vars(cfg) if k != "model"] + [f"model.{k}" for k in MODEL_KEYS]
    if key not in keys or not value:
        raise SystemExit(f"--set {item}: expected KEY=VALUE with KEY one of {', '.join(keys)}")
    if key.startswith("model."):
        name = key.split(".", 1)[1]
        kind, target, current = MODEL_KEYS[name], cfg.model, cfg.model.get(name)
    else:
        name, target, current = key, None, getattr(cfg, key)
        kind = type(current)
    try:
        parsed = _parse_bool(value) if kind is bool else kind(value)
    except ValueError:
        raise SystemExit(f"--set {item}: {key} takes a {kind.__name__}, e.g. --set {key}={current}") from None
    if target is None:
        setattr(cfg, name, parsed)
    else:
        target[name] = parsed


def _parse_bool(value: str) -> bool:
    """true/false, yes/no, on/off, 1/0 (bool("false") would be True)."""
    words = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
    if value.lower() not in words:
        raise ValueError(value)
    return words[value.lower()]


def _train_and_export(args, cache: Path, cfg, paintings: list[dict], ranks, device) -> int:
    import torch

    from .dataset import build_cache, read_rgb
    from .export import export_all
    from .teacher import Teacher
    from .train import Data, config_key, train

    teacher = Teacher(threads=args.threads)
    vectors = {p["name"]: teacher.style_vector(read_rgb(args.styles_dir / p["file"])) for p in paintings}
    content = args.content or _default_content(cache)
    root = build_cache(content, cache / "data", vectors, teacher, size=args.size, ranks=ranks,
                       teacher_scale=cfg.teacher_scale)
    if cfg.live_view:  # their target: the teacher's full-size painting, centres
        build_cache(content, cache / "data", vectors, teacher, size=args.size, ranks=ranks,
                    teacher_scale=cfg.paint_grow, centre=True)
    names = [p["name"] for p in paintings]
    ckpt = cache / "checkpoints" / f"{root.name}-{config_key(cfg)}"
    vec = torch.from_numpy(__import__("numpy").stack([vectors[n] for n in names]))
    if args.export_only:
        if not ranks.main:
            return 0
        state = torch.load(ckpt / "last.pt", map_location="cpu")
        from .model import build

        net = build(state["config"]["model"])
        net.load_state_dict(state["model"])
        steps = state["step"] + state.get("base_steps", 0)
    else:
        if ranks.main:
            print(f"checkpoints: {ckpt / 'last.pt'} (run the same command again to resume)"
                  + (f"; {ranks.world} ranks, {cfg.batch // ranks.world} crops each a step"
                     if ranks.distributed else ""))
        live = cfg.paint_grow if cfg.live_view else None
        net = train(Data(root, names, cfg.teacher_scale, live), vec, ckpt, cfg, max_minutes=args.minutes,
                    init_from=args.init_from, ranks=ranks, device=device).cpu()
        if not ranks.main:
            return 0
        state = torch.load(ckpt / "last.pt", map_location="cpu")
        steps = state["step"] + state.get("base_steps", 0)
    out = args.out or Path("models")
    styles = [{**p, "vector": vectors[p["name"]]} for p in paintings]
    weights = {k: v for k, v in vars(cfg).items() if k.startswith("w_")}
    if cfg.paint_small_pad and cfg.w_paint_small > 0:
        weights["paint_small_pad"] = True  # what w_paint_small looked at
    extra = {"trained_steps": steps, "loss_weights": weights}
    if cfg.teacher_scale != 1.0:
        extra["teacher_scale"] = cfg.teacher_scale
    export_all(net, out, styles, extra=extra)
    print(f"exported {out / 'stylenet.onnx'} and {out / 'styles.yaml'} (step {steps})")
    return 0
