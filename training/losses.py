"""Training losses: distillation to the teacher (pixels, gradients, coarse scales) and
temporal consistency under a mask."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def distill_loss(out: torch.Tensor, target: torch.Tensor, w_grad: float = 1.0,
                 w_scales: float = 0.5) -> torch.Tensor:
    """L1 on pixels + L1 on image gradients (keeps brush texture) + L1 at 1/2 and 1/4 scale
    (keeps the large colour areas)."""
    loss = F.l1_loss(out, target)
    (ox, oy), (tx, ty) = gradients(out), gradients(target)
    loss = loss + w_grad * (F.l1_loss(ox, tx) + F.l1_loss(oy, ty))
    for k in (2, 4):
        loss = loss + w_scales * F.l1_loss(F.avg_pool2d(out, k), F.avg_pool2d(target, k))
    return loss


def masked_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    total, weight = masked_l1_parts(a, b, mask)
    return total / weight


def masked_l1_parts(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor):
    """masked_l1 as (sum of masked errors, weight of the mask): ranks that each hold part of a
    batch divide their sum by the weight of the whole batch to get the single-process loss."""
    return ((a - b).abs() * mask).sum(), (mask.sum() * a.shape[1] + 1e-6).detach()


def grid_loss(out: torch.Tensor, periods: tuple[int, ...] = (2, 4)) -> torch.Tensor:
    """The block-grid penalty (stylecam.look.grid_ratio made differentiable): the mean step
    between neighbouring pixels at each phase of a `period`-pixel grid, in x and in y, should
    not depend on the phase. Squared coefficient of variation of the phase means, per image,
    summed over periods and axes. Zero for a photo; ~0.1 for a 2-pixel nearest-neighbour grid."""
    gray = out.mean(1)
    total = out.new_zeros(())
    for steps in ((gray[:, :, 1:] - gray[:, :, :-1]).abs(), (gray[:, 1:] - gray[:, :-1]).abs().transpose(1, 2)):
        for p in periods:
            n = steps.shape[2] // p * p
            phases = steps[:, :, :n].reshape(steps.shape[0], steps.shape[1], -1, p).mean(dim=(1, 2))
            total = total + (phases.var(dim=1, unbiased=False) / (phases.mean(dim=1) ** 2 + 1e-8)).mean()
    return total


def grid_periods(scale: int) -> tuple[int, ...]:
    """The grids a network of this scale can leave: its decoder's 2-pixel one and the 4-pixel
    one of two upsamplings, seen through the detail head's x scale (scale 4: also 8 pixels)."""
    return (2, 4, 8) if scale >= 4 else (2, 4)


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, radius ceil(3 sigma), reflect-padded (as cv2.GaussianBlur)."""
    r = math.ceil(3 * sigma)
    k = torch.exp(-torch.arange(-r, r + 1, dtype=img.dtype, device=img.device).pow(2) / (2 * sigma ** 2))
    k = (k / k.sum()).repeat(img.shape[1], 1, 1, 1)
    out = F.pad(img, (r, r, r, r), mode="reflect")
    out = F.conv2d(out, k.view(-1, 1, 1, 2 * r + 1), groups=img.shape[1])
    return F.conv2d(out, k.view(-1, 1, 2 * r + 1, 1), groups=img.shape[1])


def structure_loss(out: torch.Tensor, target: torch.Tensor, sigmas: tuple[float, float]) -> torch.Tensor:
    """1 - the correlation of the two images' band-pass luminance (difference of Gaussians at
    `sigmas`: eyes, mouths, edges), mean over the batch: the live look's structure measure
    (training/live_look.py: band, correlation) as a loss."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=out.dtype, device=out.device).view(1, 3, 1, 1)
    corr = []
    for img in (out, target):
        y = (img * weights).sum(1, keepdim=True)
        b = gaussian_blur(y, sigmas[0]) - gaussian_blur(y, sigmas[1])
        corr.append((b - b.mean((2, 3), keepdim=True)).flatten(1))
    a, b = corr
    # eps inside the roots: a flat crop has no band-pass at all, and sqrt(0) has no gradient
    r = (a * b).sum(1) / ((a * a).sum(1) + 1e-8).sqrt() / ((b * b).sum(1) + 1e-8).sqrt()
    return (1 - r).mean()
