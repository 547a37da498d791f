"""The student network: a small conditional style network built for CPU speed.

Encoder: two stride-2 convs (zero padding inside Conv), body of inverted-residual blocks at
1/4 resolution, decoder: nearest upsample + depthwise-separable convs (no transposed convs).
Every normalisation is InstanceNorm whose scale and shift come from the style vector
(conditional instance norm), so one network holds every style and a cross-fade is an
interpolated vector. A single reflect pad on the 3-channel input (cut off again at the end)
keeps zero padding from lighting up the borders.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STYLE_DIM = 100
STRIDE = 4
BORDER = 8


class CondInstanceNorm(nn.Module):
    """InstanceNorm whose per-channel scale and shift are predicted from the style vector."""

    def __init__(self, channels: int, style_dim: int = STYLE_DIM):
        super().__init__()
        self.affine = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)
        self.channels = channels

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(style).chunk(2, dim=1)
        x = F.instance_norm(x, eps=1e-5)
        return x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class ConvNormAct(nn.Module):
    """Conv (zero padding inside the op) -> conditional InstanceNorm -> ReLU."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
                 act: bool = True, norm: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=not norm)
        self.norm = CondInstanceNorm(cout) if norm else None
        self.act = act

    def forward(self, x, style):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x, style)
        return F.relu(x) if self.act else x


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 project (normalised), skip.

    Only the projection is normalised: the wide hidden tensor goes Conv+ReLU, which ONNX
    Runtime fuses, instead of three memory passes for norm, scale and shift.
    """

    def __init__(self, channels: int, expand: int):
        super().__init__()
        hidden = channels * expand
        self.expand = ConvNormAct(channels, hidden, 1, norm=False)
        self.depthwise = ConvNormAct(hidden, hidden, 3, groups=hidden, norm=False)
        self.project = ConvNormAct(hidden, channels, 1, act=False)

    def forward(self, x, style):
        y = self.expand(x, style)
        y = self.depthwise(y, style)
        return x + self.project(y, style)


class UpsampleSeparable(nn.Module):
    """Nearest x2 upsample, then depthwise 3x3 + pointwise 1x1 (cheap at high resolution)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        self.pointwise = ConvNormAct(cin, cout, 1)

    def forward(self, x, style):
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.pointwise(self.depthwise(x), style)


class StyleNet(nn.Module):
    """image [N,3,H,W] in 0..1 (H, W multiples of 4) + style [N,100] -> stylized [N,3,H,W]."""

    def __init__(self, width: int = 32, blocks: int = 5, expand: int = 4, stem: int = 16,
                 fine: int = 8):
        super().__init__()
        self.config = dict(width=width, blocks=blocks, expand=expand, stem=stem, fine=fine)
        self.stem = ConvNormAct(3, stem, 5, stride=2)
        self.down = ConvNormAct(stem, width, 3, stride=2)
        self.body = nn.ModuleList(InvertedResidual(width, expand) for _ in range(blocks))
        self.up1 = UpsampleSeparable(width, stem)
        self.up2 = UpsampleSeparable(stem, fine)
        self.head = nn.Conv2d(fine, 3, 3, 1, 1)

    def forward(self, image: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        x = F.pad(image, (BORDER, BORDER, BORDER, BORDER), mode="reflect")
        x = self.down(self.stem(x, style), style)
        for block in self.body:
            x = block(x, style)
        x = self.up2(self.up1(x, style), style)
        x = torch.sigmoid(self.head(x))
        return x[:, :, BORDER:-BORDER, BORDER:-BORDER]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
