"""Synthetic motion with known flow (ReReVST-style) and flow warping in PyTorch."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_flow(n: int, h: int, w: int, max_local: float = 4.0, max_shift: float = 6.0,
                generator: torch.Generator | None = None, rows: slice = slice(None)) -> torch.Tensor:
    """Smooth random flow [N,2,H,W] in pixels: a coarse random field, upsampled and blurred,
    plus a global shift. rows: draw for all n, build only these (one rank's share of a batch)."""
    g = generator
    grid = int(torch.randint(2, 6, (1,), generator=g))
    coarse = (torch.rand(n, 2, grid, grid, generator=g)[rows] * 2 - 1) * max_local
    flow = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
    flow = F.avg_pool2d(F.pad(flow, (4, 4, 4, 4), mode="replicate"), 9, stride=1)
    shift = (torch.rand(n, 2, 1, 1, generator=g)[rows] * 2 - 1) * max_shift
    return flow + shift


def warp(img: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """out(p) = img(p + flow(p)); returns (warped, valid mask [N,1,H,W])."""
    n, _, h, w = img.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=img.dtype, device=img.device),
                            torch.arange(w, dtype=img.dtype, device=img.device), indexing="ij")
    x = xs[None] + flow[:, 0]
    y = ys[None] + flow[:, 1]
    gx = 2 * x / max(w - 1, 1) - 1
    gy = 2 * y / max(h - 1, 1) - 1
    grid = torch.stack([gx, gy], dim=-1)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)
    valid = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).to(img.dtype)[:, None]
    return out, valid


def camera_noise(img: torch.Tensor, generator: torch.Generator | None = None,
                 rows: slice = slice(None), total: int | None = None) -> torch.Tensor:
    """Webcam-like changes between frames: exposure gain/offset and sensor noise.

    img holds `rows` of a batch of `total` (default: all of it). The draws are made for the
    whole batch and each image's noise comes from its own seed, so a rank that holds a share
    of the batch gets exactly the noise a single process gives those images; on img's device.
    """
    n = total or img.shape[0]
    g = generator
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=g)[rows] * 2 - 1) * 0.08
    bias = (torch.rand(n, 1, 1, 1, generator=g)[rows] * 2 - 1) * 0.03
    sigma = torch.rand(n, 1, 1, 1, generator=g)[rows] * 0.02
    seeds = torch.randint(0, 2**62, (n,), generator=g)[rows].tolist()
    noise = torch.stack([torch.randn(img.shape[1:], device=img.device,
                                     generator=torch.Generator(img.device).manual_seed(s))
                         for s in seeds])
    gain, bias, sigma = (t.to(img.device) for t in (gain, bias, sigma))
    return (img * gain + bias + noise * sigma).clamp(0, 1)
