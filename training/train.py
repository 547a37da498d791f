"""Distillation training of StyleNet, resumable from checkpoints.

Each step: a batch of cached content crops with the teacher's output for a random style
(distillation loss in pixels, plus a style loss in the teacher predictor's feature space: Gram
matrices and the 100-d style embedding, which pixel losses alone blur away; optionally a pull
towards the painting's own embedding, up to the teacher's distance: paint_loss, and the same on
the output enlarged as the daemon enlarges it at 1280x720: paint_live_loss), the same crops
moved by a random smooth flow plus camera noise (synthetic temporal loss, exact flow), and consecutive real video frames with DIS flow and an
occlusion mask (video temporal loss).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import ProcessingConfig
from ..postprocess import SHARPEN_SIGMA
from .dataset import target_name
from .distributed import SINGLE, Ranks, check_split
from .live_look import STRUCTURE_SIGMAS
from .losses import distill_loss, gaussian_blur, grid_loss, grid_periods, masked_l1_parts, structure_loss
from .model import StyleNet, build
from .progress import progress
from .style_features import StylePredictor, style_terms
from .warp import camera_noise, random_flow, warp


@dataclass
class TrainConfig:
    steps: int = 5000
    batch: int = 4
    pair_batch: int = 2
    lr: float = 2e-3
    w_grad: float = 2.0
    w_scales: float = 0.5
    w_gram: float = 1.0
    w_embed: float = 0.15
    w_synthetic: float = 0.5
    w_video: float = 0.3
    w_grid: float = 5.0  # the block-grid penalty (losses.grid_loss): no 2- or 4-pixel pattern
    # the output's style embedding against the painting's own (the vector the network is given),
    # as training/quality.py judges style distance, beyond the teacher's on the same crop (paint_loss):
    # at the crop's scale (what the daemon publishes at 100 %) and shrunk by paint_shrink (what
    # quality.md's judge sees of a 640x360 frame: its centre square shrunk to 256 px)
    w_paint: float = 0.0
    w_paint_small: float = 0.0
    paint_shrink: float = 256 / 360
    # the shrunk view reflect-padded back to the crop's size, so the style predictor sees a field
    # as large as the judge's 256 pixels (its distances depend on the field: on the held-out
    # 640x360 frames a 182-pixel field put starry_night at 0.98x the teacher where the judge's
    # 256 pixels say 1.17x; padded, 1.16x)
    paint_small_pad: bool = False
    # the same pull on the output as the daemon publishes a painting it upscales (1280x720 from
    # 856x488): sharpened by paint_sharpen (processing.sharpen), its centre 1/paint_grow of the
    # crop enlarged paint_grow times (bilinear), beyond the teacher's painting of that centre at
    # the full output size (the crop enlarged paint_grow times, painted, its centre cut out;
    # cached beside the 1x targets: dataset.scaled_teacher): paint_live_loss
    w_paint_live: float = 0.0
    # the live look's structure figure as a loss (losses.structure_loss): the band-pass luminance
    # of the output as published (as_published) against the teacher's centre target's, the view
    # and the target of paint_live_loss (needs the same centre targets)
    w_structure: float = 0.0
    paint_grow: float = 1.5
    paint_sharpen: float = ProcessingConfig.sharpen  # the daemon's default
    # the teacher paints each crop enlarged this much, its painting shrunk back (dataset.target_name):
    # strokes 1/teacher_scale of the teacher's own size, for a network whose painting is
    # upscaled that much on the way out (the daemon's 1.5x upscale at 1280x720)
    teacher_scale: float = 1.0
    checkpoint_every: int = 250
    seed: int = 0
    # only the parameters whose names start with this are trained ("detail": the detail head of a
    # scale 2/4 network on top of a frozen body, a learned upsampler); "" trains everything
    train_only: str = ""
    # the shipped design: bilinear (not nearest) decoder upsampling, no 2-pixel grid
    # (training/model.py); `--set model.KEY=VALUE` changes one field
    model: dict = field(default_factory=lambda: dict(width=32, blocks=5, expand=4, stem=16, fine=8,
                                                     upsample="bilinear"))

    @property
    def live_view(self) -> bool:
        """Whether a term looks at the output as published at 1280x720 (paint_live_loss,
        structure_loss): the run needs the teacher's centre targets at paint_grow."""
        return self.w_paint_live > 0 or self.w_structure > 0


class Data:
    """Cached crops, teacher targets (one array per style) and video pairs, as tensors on demand."""

    def __init__(self, root: Path, style_names: list[str], teacher_scale: float = 1.0,
                 live_scale: float | None = None):
        self.content = np.load(root / "content.npy", mmap_mode="r")
        self.targets = [np.load(root / target_name(n, teacher_scale), mmap_mode="r") for n in style_names]
        # live_scale: also the teacher's centre targets at that scale, for paint_live_loss's reach
        self.live = None if live_scale is None else [
            np.load(root / target_name(n, live_scale, centre=True), mmap_mode="r") for n in style_names]
        self.pa = np.load(root / "pairs_a.npy")
        self.pb = np.load(root / "pairs_b.npy")
        self.pflow = np.load(root / "pairs_flow.npy")
        self.pmask = np.load(root / "pairs_mask.npy")

    @staticmethod
    def _t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float() / 255.0

    def batch(self, rng: np.random.Generator, n: int, rows: slice = slice(None)):
        """Draw a batch of n (crops, styles, flip); load only `rows` of it (this rank's share).
        (crops, targets, style indices, live targets or None when not loaded)."""
        idx = np.sort(rng.choice(len(self.content), n, replace=False))
        styles = rng.integers(0, len(self.targets), n)
        flip = rng.random() < 0.5
        idx, styles = idx[rows], styles[rows]
        x = self._t(self.content[idx])
        t = self._t(np.stack([self.targets[s][i] for s, i in zip(styles, idx)]))
        live = None if self.live is None else self._t(np.stack([self.live[s][i] for s, i in zip(styles, idx)]))
        if flip:
            x, t = x.flip(3), t.flip(3)
            live = None if live is None else live.flip(3)
        return x, t, torch.from_numpy(styles), live

    def pairs(self, rng: np.random.Generator, n: int, rows: slice = slice(None)):
        if len(self.pa) == 0:
            return None
        idx = rng.choice(len(self.pa), n, replace=False)[rows]
        flow = torch.from_numpy(self.pflow[idx].astype(np.float32)).permute(0, 3, 1, 2)
        mask = torch.from_numpy(self.pmask[idx].astype(np.float32))[:, None]
        return self._t(self.pa[idx]), self._t(self.pb[idx]), flow, mask


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Short warm-up, then cosine decay to 5 % over cfg.steps."""
    if step < 200:
        return cfg.lr * (step + 1) / 200
    p = min(1.0, step / cfg.steps)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))


def config_key(cfg: TrainConfig) -> str:
    """Short hash of what shapes the result (not steps or checkpoint cadence): one checkpoint
    folder per recipe, so changing a weight never resumes someone else's run."""
    import hashlib

    d = {k: v for k, v in asdict(cfg).items() if k not in ("steps", "checkpoint_every")}
    if not d["train_only"]:
        del d["train_only"]  # the recipes from before this field keep their folders
    if d["teacher_scale"] == 1.0:
        del d["teacher_scale"]  # likewise
    if d["w_paint"] == 0 and d["w_paint_small"] == 0:
        del d["w_paint"], d["w_paint_small"], d["paint_shrink"]  # likewise
    if not d["paint_small_pad"]:
        del d["paint_small_pad"]  # likewise
    if not cfg.live_view:
        del d["paint_grow"], d["paint_sharpen"]  # likewise
    if d["w_paint_live"] == 0:
        del d["w_paint_live"]  # likewise
    if d["w_structure"] == 0:
        del d["w_structure"]  # likewise
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]


def train(data: Data, vectors: torch.Tensor, ckpt_dir: Path, cfg: TrainConfig,
          max_minutes: float | None = None, log=print, init_from: Path | None = None,
          ranks: Ranks = SINGLE, device: torch.device | str = "cpu", on_step=None) -> StyleNet:
    """Train (or resume) until cfg.steps or max_minutes; checkpoints to ckpt_dir/last.pt.

    init_from: a checkpoint whose weights start a new run (fine-tuning with another recipe);
    ignored when ckpt_dir already holds a checkpoint to resume.
    ranks: this process's place in a torchrun run (training/distributed.py, process group
    started): cfg.batch and cfg.pair_batch are global, each rank computes its share, DDP
    averages the gradients; only rank 0 logs and writes checkpoints.
    on_step(done, net, losses): called on every rank after each optimiser step, with the
    step's losses averaged over the ranks.
    """
    check_split(ranks.world, cfg.batch, cfg.pair_batch)
    device = torch.device(device)
    if not ranks.main:
        log = _quiet
    torch.manual_seed(cfg.seed)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    net = build(cfg.model).to(device)
    opt = torch.optim.Adam(trained_parameters(net, cfg.train_only), lr=cfg.lr)
    step, last, base_steps = 0, ckpt_dir / "last.pt", 0
    if last.exists():
        state = torch.load(last, map_location=device)
        net.load_state_dict(state["model"]), opt.load_state_dict(state["opt"])
        step, base_steps = state["step"], state.get("base_steps", 0)
        log(f"resumed from {last} at step {step}")
    elif init_from is not None:
        weights, base_steps = load_init(init_from)
        missing, unexpected = net.load_state_dict(weights, strict=False)
        if unexpected:
            raise ValueError(f"--init-from {init_from}: weights of another network "
                             f"({', '.join(unexpected[:3])}...); give a stylecam checkpoint")
        new = f"; new layers start fresh: {', '.join(sorted({k.rsplit('.', 1)[0] for k in missing}))}" if missing else ""
        log(f"starting from the weights in {init_from} ({base_steps} steps trained){new}")
    model = net
    if ranks.distributed:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(net, device_ids=[device] if device.type == "cuda" else None)
    predictor = None
    if cfg.live_view and data.live is None:
        raise ValueError("w_paint_live and w_structure need the teacher's centre targets at paint_grow: "
                         "Data(..., live_scale=cfg.paint_grow)")
    if cfg.w_gram > 0 or cfg.w_embed > 0 or cfg.w_paint > 0 or cfg.w_paint_small > 0 or cfg.w_paint_live > 0:
        predictor = StylePredictor().to(device)
    vectors = vectors.to(device)
    rows, pair_rows = ranks.rows(cfg.batch), ranks.rows(cfg.pair_batch)
    rng = np.random.default_rng(cfg.seed + step)
    gen = torch.Generator().manual_seed(cfg.seed + step)
    start = time.monotonic()
    history = ckpt_dir / "history.jsonl"
    bar = progress(range(step, cfg.steps), desc="training", total=cfg.steps - step, quiet=not ranks.main)
    running: dict[str, float] = {}
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        x, target, sidx, live = (None if t is None else t.to(device) for t in data.batch(rng, cfg.batch, rows))
        v = vectors[sidx]
        out = model(x, v)
        l_distill = distill_loss(out, target, cfg.w_grad, cfg.w_scales)
        l_style = l_embed = torch.zeros((), device=device)
        l_paint = torch.zeros((), device=device)
        # the output as published at 1280x720, once for both terms that look at it
        published = as_published(out, cfg.paint_grow, cfg.paint_sharpen) if cfg.live_view else None
        if predictor is not None:
            o = predictor(out)  # one pass over the output (and one over the target) for both terms
            with torch.no_grad():
                t = predictor(target)
            l_style, l_embed = style_terms(o, t, cfg.w_embed, cfg.w_gram)
            if cfg.w_paint > 0 or cfg.w_paint_small > 0:
                l_paint = paint_loss(predictor, out, target, v, cfg, full=(o[0], t[0]))
            if cfg.w_paint_live > 0:
                l_paint = l_paint + cfg.w_paint_live * paint_live_loss(predictor, out, live, v, cfg, published)
        l_struct = torch.zeros((), device=device)
        if cfg.w_structure > 0:
            l_struct = structure_loss(published, live, STRUCTURE_SIGMAS)
        flow = random_flow(cfg.batch, x.shape[2], x.shape[3], generator=gen, rows=rows).to(device)
        x2, valid = warp(x, flow)
        out2 = model(camera_noise(x2, gen, rows, cfg.batch), v)
        out_w, _ = warp(out, flow)
        syn_sum, syn_weight = masked_l1_parts(out2, out_w, valid)
        vid_sum = vid_weight = torch.ones((), device=device)
        pairs = data.pairs(rng, cfg.pair_batch, pair_rows)
        use_video = pairs is not None and cfg.w_video > 0
        if use_video:
            a, b, f_ba, mask = (t.to(device) for t in pairs)
            pv = vectors[torch.from_numpy(rng.integers(0, len(vectors), cfg.pair_batch)[pair_rows]).to(device)]
            oa, ob = model(a, pv), model(b, pv)
            oa_w, valid_b = warp(oa, f_ba)
            vid_sum, vid_weight = masked_l1_parts(ob, oa_w, mask * valid_b)
        done = step + 1
        out_of_time = max_minutes is not None and time.monotonic() - start > max_minutes * 60
        # One collective a step (besides DDP's): the masks' weights over the whole batch, so the
        # masked losses mean what they mean on one process; the losses for the log; and whether
        # any rank is out of time (all must stop at the same step, or the others wait forever).
        shared = ranks.mean(torch.stack([syn_weight, vid_weight, syn_sum.detach(), vid_sum.detach(),
                                         l_distill.detach(), l_style.detach(), l_embed.detach(),
                                         torch.tensor(float(out_of_time), device=device)]))
        l_syn = syn_sum / shared[0]
        l_grid = grid_loss(out, grid_periods(net.scale)) if cfg.w_grid > 0 else torch.zeros((), device=device)
        loss = l_distill + l_style + l_paint + cfg.w_structure * l_struct + cfg.w_synthetic * l_syn + cfg.w_grid * l_grid
        if use_video:
            loss = loss + cfg.w_video * vid_sum / shared[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        shared = shared.tolist()
        losses = {"distill": shared[4], "style": shared[5], "embed": shared[6],
                  "synthetic": shared[2] / shared[0], "video": shared[3] / shared[1] if use_video else 0.0,
                  "grid": float(l_grid.detach()), "paint": float(l_paint.detach()),
                  **({"structure": float(l_struct.detach())} if cfg.w_structure > 0 else {})}  # this rank's batch (log figures only)
        out_of_time = shared[7] > 0
        for k, val in losses.items():
            running[k] = 0.98 * running.get(k, val) + 0.02 * val
        if hasattr(bar, "set_postfix"):
            bar.set_postfix({k: f"{v:.4f}" for k, v in running.items()}, refresh=False)
        if on_step is not None:
            on_step(done, net, losses)
        if ranks.main and (done % cfg.checkpoint_every == 0 or done == cfg.steps or out_of_time):
            save_checkpoint(net, opt, done, cfg, last, base_steps)
            with history.open("a") as fh:
                fh.write(json.dumps({"step": done, **running, "lr": lr_at(step, cfg)}) + "\n")
        if out_of_time:
            log(f"stopping at step {done} (time limit); run again to resume")
            break
    return net


def paint_loss(predictor: StylePredictor, out: torch.Tensor, target: torch.Tensor,
               vectors: torch.Tensor, cfg: TrainConfig, full: tuple | None = None) -> torch.Tensor:
    """How much further the output's style embedding is from the painting's vector than the
    teacher's painting of the same crop is (a hinge: nothing once the output is as close as
    the teacher, so the term never pulls past the teacher's look towards whatever else the
    predictor would call painterly), at the crop's scale and shrunk by cfg.paint_shrink
    (area-averaged, as the judge resizes; with cfg.paint_small_pad reflect-padded back to the
    crop's size). Weighted by cfg.w_paint and cfg.w_paint_small.
    full: the style vectors of out and target at the crop's scale, when already computed."""
    loss = torch.zeros((), device=out.device)
    for weight, shrink in ((cfg.w_paint, 1.0), (cfg.w_paint_small, cfg.paint_shrink)):
        if weight <= 0:
            continue
        if shrink == 1.0 and full is not None:
            o_vec, t_vec = full
        else:
            o, t = out, target
            if shrink != 1.0:
                o, t = (torch.nn.functional.interpolate(img, scale_factor=shrink, mode="bilinear",
                                                        antialias=True, align_corners=False) for img in (out, target))
                if cfg.paint_small_pad:
                    o, t = (reflect_to(img, out.shape[-2:]) for img in (o, t))
            with torch.no_grad():
                t_vec = predictor(t, taps=False)[0]
            o_vec = predictor(o, taps=False)[0]
        loss = loss + weight * _beyond_teacher(o_vec, t_vec, vectors)
    return loss


def reflect_to(img: torch.Tensor, size) -> torch.Tensor:
    """img reflect-padded on all sides to `size` (H, W), centred."""
    ph, pw = size[0] - img.shape[-2], size[1] - img.shape[-1]
    return torch.nn.functional.pad(img, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="reflect")


def _beyond_teacher(o_vec: torch.Tensor, t_vec: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """Mean distance of the output's style vectors from the painting's, beyond the teacher's
    (the hinge of paint_loss and paint_live_loss)."""
    reach = (t_vec - vectors).pow(2).sum(1).sqrt()
    dist = (o_vec - vectors).pow(2).sum(1).sqrt()
    return torch.relu(dist - reach).mean()


def as_published(img: torch.Tensor, grow: float, sharpen: float) -> torch.Tensor:
    """A painting as the daemon publishes it when it upscales (postprocess.Upsampler): sharpened
    (an unsharp mask of 1 pixel, as postprocess.sharpen), then the centre 1/grow of it enlarged
    grow times back to the crop's size (bilinear; the daemon's guided upsampler adds the camera's
    detail on top, which a painting cannot learn from)."""
    if sharpen > 0:
        img = (img + sharpen * (img - gaussian_blur(img, SHARPEN_SIGMA))).clamp(0, 1)
    h, w = img.shape[-2:]
    ch, cw = round(h / grow), round(w / grow)
    y, x = (h - ch) // 2, (w - cw) // 2
    return torch.nn.functional.interpolate(img[..., y:y + ch, x:x + cw], size=(h, w), mode="bilinear",
                                           align_corners=False)


def paint_live_loss(predictor: StylePredictor, out: torch.Tensor, live_target: torch.Tensor,
                    vectors: torch.Tensor, cfg: TrainConfig, published: torch.Tensor | None = None) -> torch.Tensor:
    """paint_loss on the output as the daemon publishes it at 1280x720 (as_published: sharpened,
    its centre enlarged cfg.paint_grow times), beyond the teacher's painting of the same centre at
    the full output size: live_target is the centre of the teacher's painting of the crop enlarged
    paint_grow times (dataset.scaled_teacher, centre=True), its strokes at the teacher's own size,
    as the live look's judge compares them. Unweighted. published: as_published(out), when
    already computed."""
    with torch.no_grad():
        t_vec = predictor(live_target, taps=False)[0]
    if published is None:
        published = as_published(out, cfg.paint_grow, cfg.paint_sharpen)
    o_vec = predictor(published, taps=False)[0]
    return _beyond_teacher(o_vec, t_vec, vectors)


def trained_parameters(net: StyleNet, train_only: str = "") -> list:
    """The parameters a run trains: all, or those whose names start with `train_only` (the
    others are frozen). ValueError when that matches none."""
    if train_only:
        for name, p in net.named_parameters():
            p.requires_grad_(name.startswith(train_only))
    trained = [p for p in net.parameters() if p.requires_grad]
    if not trained:
        prefixes = sorted({n.split(".")[0] for n, _ in net.named_parameters()})
        raise ValueError(f"train_only={train_only!r} matches no parameter of this network; give one "
                         f"of {', '.join(prefixes)}")
    return trained


def load_init(path: Path) -> tuple[dict, int]:
    """(state dict, steps trained) from a checkpoint (last.pt) or shipped weights (.npz with
    the manifest beside it), so a new design can start from the shipped network's body."""
    if path.suffix == ".npz":
        import yaml

        manifest = path.parent / "styles.yaml"
        steps = 0
        if manifest.exists():  # the steps of the manifest entry these weights belong to
            m = yaml.safe_load(manifest.read_text())
            for entry in [m, *(m.get("networks") or {}).values()]:
                if entry.get("weights") == path.name:
                    steps = entry.get("trained_steps", 0)
                    break
        with np.load(path) as data:
            return {k: torch.from_numpy(data[k]) for k in data.files}, int(steps)
    state = torch.load(path, map_location="cpu")
    return state["model"], state["step"] + state.get("base_steps", 0)


def _quiet(*_args) -> None:
    """The log of ranks other than 0."""


def save_checkpoint(net, opt, step, cfg, path: Path, base_steps: int = 0) -> None:
    """base_steps: steps the starting weights had already been trained (init_from)."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "step": step,
                "base_steps": base_steps, "config": asdict(cfg)}, tmp)
    tmp.replace(path)
