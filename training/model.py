"""The student network: a small conditional style network built for CPU speed.

Encoder: two stride-2 convs (zero padding inside Conv), body of inverted-residual blocks at
1/4 resolution of what the encoder sees, decoder: upsample + depthwise-separable convs (no
transposed convs).

Upsampling in the decoder: "nearest" (the first design) leaves a 2-pixel block grid in the
output: the step between neighbouring pixels is twice as large at one phase of the 2-pixel
period as at the other. "bilinear" (the shipped design) does not (ratio ~1.0-1.05, measured in
docs/quality.md). Bilinear x2 is computed as nearest x2 followed by a fixed [1,2,1]/4 depthwise
blur, which is the same thing away from the borders: ONNX Runtime's linear Resize on CPU took
2.6x the time of the whole network with nearest upsampling (cubic: 18x).

With `scale=2` (an experiment, not shipped) the network takes the frame at the size it publishes,
runs encoder, body and decoder on the frame averaged down 2x, and renders the last step at full
resolution: a detail head sees the decoder's features beside the full-resolution pixels
(space-to-depth, so no convolution runs at full resolution) and predicts 2x2 sub-pixel detail
(pixel shuffle) on top of a bilinear upscale of the half-resolution painting. Its independent
sub-pixels brought the 2-pixel pattern back (phase ratio 1.6-2.4 after 3000 steps).
Every normalisation is InstanceNorm whose scale and shift come from the style vector
(conditional instance norm), so one network holds every style and a cross-fade is an
interpolated vector. A single reflect pad on the 3-channel input (cut off again at the end)
keeps zero padding from lighting up the borders.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..styles import STYLE_DIM

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


UPSAMPLE_MODES = ("nearest", "bilinear")


class UpsampleSeparable(nn.Module):
    """x2 upsample (nearest, or bilinear as nearest + a fixed blur), then depthwise 3x3 +
    pointwise 1x1 (cheap at high resolution)."""

    def __init__(self, cin: int, cout: int, mode: str = "nearest"):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        self.pointwise = ConvNormAct(cin, cout, 1)
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLE_MODES)}, got {mode!r}")
        self.mode = mode
        taps = torch.tensor([0.25, 0.5, 0.25])
        self.register_buffer("blur", torch.outer(taps, taps)[None, None].repeat(cin, 1, 1, 1),
                             persistent=False)

    def forward(self, x, style):
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if self.mode == "bilinear":
            x = F.conv2d(x, self.blur, padding=1, groups=x.shape[1])
        return self.pointwise(self.depthwise(x), style)


class DetailHead(nn.Module):
    """Full-resolution rendering from 1/s-resolution features, without a convolution at full
    resolution: the decoder's features (3x3) and the full-resolution pixels (an s x s stride-s
    conv, i.e. a 1x1 over their space-to-depth) make s*s sub-pixels x RGB per low-resolution
    position, added to the bilinear x s upscale of the low-resolution painting (computed as
    s*s fixed phase filters at low resolution), then sigmoid. The pixel shuffle to [N,3,H,W]
    is left to the caller: the runtime does it while converting to 8-bit (ONNX Runtime's
    DepthToSpace at 1280x720 cost as much as the rest of the head). The learned
    part starts at zero: the output starts as the bilinear upscale."""

    def __init__(self, cin: int, hidden: int, scale: int = 2):
        super().__init__()
        self.mix = nn.Conv2d(cin, hidden, 3, 1, 1)
        self.pixels = nn.Conv2d(3, hidden, scale, scale, bias=False)
        self.out = nn.Conv2d(hidden, 3 * scale * scale, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.register_buffer("phases", bilinear_phases(scale).repeat(3, 1, 1, 1), persistent=False)

    def forward(self, feats: torch.Tensor, logits: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        hidden = F.relu(self.mix(feats) + self.pixels(image))
        base = F.conv2d(F.pad(logits, (1, 1, 1, 1), mode="replicate"), self.phases, groups=3)
        return torch.sigmoid(base + self.out(hidden))  # [N, 3*s*s, H/s, W/s]: RGB x s*s sub-pixels


def bilinear_phases(scale: int) -> torch.Tensor:
    """[s*s, 1, 3, 3]: filter i*s+j gives sub-pixel (i, j) of a bilinear x s upscale
    (half-pixel centres, as F.interpolate(align_corners=False)) from the 3x3 neighbourhood."""
    taps = []
    for i in range(scale):
        d = (i + 0.5) / scale - 0.5  # where the sub-pixel centre falls, in low-resolution pixels
        taps.append(torch.tensor([-d, 1 + d, 0.0] if d < 0 else [0.0, 1 - d, d]))
    return torch.stack([torch.outer(taps[i], taps[j]) for i in range(scale) for j in range(scale)])[:, None]


SCALES = (1, 2, 4)


class StyleNet(nn.Module):
    """image [N,3,H,W] in 0..1 (H, W multiples of `stride`) + style [N,100] -> stylized
    [N,3,H,W]. scale=1: the whole network at the input size (the first design); scale=2 or 4:
    body at 1/scale of the input, full-resolution detail head (see the module docstring)."""

    def __init__(self, width: int = 32, blocks: int = 5, expand: int = 4, stem: int = 16,
                 fine: int = 8, scale: int = 1, upsample: str = "nearest", detail: int = 16):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(map(str, SCALES))}, got {scale}")
        self.config = dict(width=width, blocks=blocks, expand=expand, stem=stem, fine=fine)
        # the first design's checkpoints and manifests carry only the five keys above
        if upsample != "nearest":
            self.config.update(upsample=upsample)
        if scale != 1:
            self.config.update(scale=scale, upsample=upsample, detail=detail)
        self.scale = scale
        self.stem = ConvNormAct(3, stem, 5, stride=2)
        self.down = ConvNormAct(stem, width, 3, stride=2)
        self.body = nn.ModuleList(InvertedResidual(width, expand) for _ in range(blocks))
        self.up1 = UpsampleSeparable(width, stem, upsample)
        self.up2 = UpsampleSeparable(stem, fine, upsample)
        self.head = nn.Conv2d(fine, 3, 3, 1, 1)
        self.detail = DetailHead(fine, detail, scale) if scale > 1 else None

    @property
    def stride(self) -> int:
        return STRIDE * self.scale

    def forward(self, image: torch.Tensor, style: torch.Tensor, packed: bool = False) -> torch.Tensor:
        """packed (scale > 1 only): return [N,3*s*s,H/s,W/s], the sub-pixels before pixel
        shuffle (what the exported ONNX model returns)."""
        x = F.avg_pool2d(image, self.scale) if self.scale > 1 else image
        x = F.pad(x, (BORDER, BORDER, BORDER, BORDER), mode="reflect")
        x = self.down(self.stem(x, style), style)
        for block in self.body:
            x = block(x, style)
        x = self.up2(self.up1(x, style), style)
        logits = self.head(x)[:, :, BORDER:-BORDER, BORDER:-BORDER]
        if self.detail is None:
            return torch.sigmoid(logits)
        out = self.detail(x[:, :, BORDER:-BORDER, BORDER:-BORDER], logits, image)
        return out if packed else F.pixel_shuffle(out, self.scale)


def build(config: dict) -> StyleNet:
    """The network a manifest's or checkpoint's `architecture`/`model` dict describes."""
    return StyleNet(**config)

