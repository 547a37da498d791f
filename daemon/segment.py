"""Segmentation stage: where the person is, so a style can paint only the room or only the person.

`style.region`: `all` paints everything (this stage does not run), `background` keeps the person
as the camera sees them and paints the rest, `person` the reverse.

One frame through the stage (`PersonMatte`):
  1. person probability from MediaPipe Selfie Segmentation (models/selfie_segmentation*.onnx,
     256x144 for wide frames, 256x256 otherwise), ONNX Runtime, one thread: the network input is
     made from the processing-size frame in one OpenCV call;
  2. motion-adaptive smoothing over time at the network's size: where the picture stood still
     the probability is averaged with the previous frames (hair and shoulders stop shimmering),
     where it moved the new one is taken (no trail behind a moving head). The network runs on
     every `every`-th frame; the frames between re-fit its last output to their own edges;
  3. a presence gate: when less than a sliver of the frame reads as person, the matte fades to
     zero over a few frames and back, so an empty room never flickers between person/no person;
  4. refinement with the full-resolution frame: a fast guided filter (He et al. 2013; He & Sun
     2015): its linear coefficients are computed at the processing size (at most 320 wide) and
     applied to the full-size frame's luma, so the matte's edge follows the picture's edges
     (hair, collar) instead of the network's blocky 256x144 outline; a contrast curve narrows
     the soft band.
`Blender` mixes the stylized and the original full-size frames through that matte. A region's
effect is the pair (a, b) of `weights()`: the style's weight is a + b * person; a region change
cross-fades that pair like a style change (framepath.StyleFade), so the matte fades in and out.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .config import REGIONS
from .engine import open_session
from .errors import StylecamError

MODELS = {"landscape": ("selfie_segmentation_landscape.onnx", (256, 144)),
          "square": ("selfie_segmentation.onnx", (256, 256))}

# the stylized frame's weight is a + b * person; one (a, b) per region
REGION_WEIGHTS = {"all": (1.0, 0.0), "background": (1.0, -1.0), "person": (0.0, 1.0)}


class SegmentError(StylecamError, RuntimeError):
    pass


def model_for(aspect: float) -> str:
    """The landscape network for wide frames (16:9 is its own shape), the square one otherwise."""
    return "landscape" if aspect >= 1.5 else "square"


class Segmenter:
    """Person probability [h, w] float32 0..1 at the network's size for a BGR frame."""

    def __init__(self, model_dir: Path | None = None, threads: int = 1):
        from .paths import models_dir

        self.model_dir = Path(model_dir) if model_dir else models_dir()
        self.threads = threads
        self._sessions: dict[str, object] = {}

    def _session(self, kind: str):
        if kind not in self._sessions:
            path = self.model_dir / MODELS[kind][0]
            if not path.exists():
                raise SegmentError(f"{path} is missing: reinstall stylecam, or rebuild it with "
                                   "scripts/convert_selfie_segmentation.py (or set style.region to all)")
            # a tiny network: a second thread only waits
            self._sessions[kind] = open_session(path, "cpu", self.threads, inter_threads=1, spin=True)
        return self._sessions[kind]

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        kind = model_for(w / h)
        size = MODELS[kind][1]
        blob = cv2.dnn.blobFromImage(bgr, 1.0 / 255.0, size, swapRB=True)  # resize, RGB, NCHW 0..1
        return self._session(kind).run(None, {"image": blob})[0][0, 0]


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


@dataclass
class MatteSettings:
    every: int = 2              # run the network on every n-th frame; between, its last output
                                # is re-fitted to the current frame's edges by the guided filter
    keep: float = 0.7           # share of the previous probability kept where nothing moved
    motion_scale: float = 6.0   # gray levels of change (at the network's size) that cut the keep
    presence_area: float = 0.01  # share of the frame that must read as person (p > 0.5)
    presence_step: float = 0.2  # how fast the presence gate opens/closes per network frame
    guide_width: int = 320      # the guided filter's coefficients are computed at most this wide
    radius: int = 2             # guided filter window radius (pixels at guide_width; scaled)
    eps: float = 2e-3           # guided filter regularisation (larger: smoother, less edge-following)
    low: float = 0.2            # contrast curve: the matte is 0 below, 1 above, linear between
    high: float = 0.8


@dataclass
class Matte:
    """A guided-filter matte: person = clip(a * luma + b, 0, 1) (luma 0..1), a and b at the
    processing size: applied to the full-size frame's luma it has that frame's edges."""
    a: np.ndarray
    b: np.ndarray


class PersonMatte:
    """The segmentation stage: `matte(small)` -> Matte for that frame (`small` is the frame at
    the processing size). Keeps the previous frames' state for the temporal smoothing and the
    presence gate; `reset()` forgets it (a cut, a placeholder frame)."""

    def __init__(self, segmenter: Segmenter | None = None, settings: MatteSettings | None = None):
        self.segmenter = segmenter or Segmenter()
        self.s = settings or MatteSettings()
        self.reset()

    def reset(self) -> None:
        self.presence = 0.0
        self.prev_prob: np.ndarray | None = None
        self.prev_gray: np.ndarray | None = None
        self.frames = 0
        self.ran_network = False

    def _smooth(self, prob: np.ndarray, small: np.ndarray) -> np.ndarray:
        s = self.s
        gray = cv2.resize(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), prob.shape[::-1],
                          interpolation=cv2.INTER_AREA).astype(np.float32)
        if self.prev_prob is None or self.prev_prob.shape != prob.shape:
            out = prob
            self.presence = 1.0 if np.mean(prob > 0.5) >= s.presence_area else 0.0
        else:
            motion = cv2.GaussianBlur(cv2.absdiff(gray, self.prev_gray), (5, 5), 0)
            keep = s.keep * np.exp(-motion / s.motion_scale)
            out = prob + keep * (self.prev_prob - prob)
            target = 1.0 if np.mean(out > 0.5) >= s.presence_area else 0.0
            self.presence += float(np.clip(target - self.presence, -s.presence_step, s.presence_step))
        self.prev_prob, self.prev_gray = out, gray
        return out

    def _guided(self, prob: np.ndarray, small: np.ndarray) -> Matte:
        """Guided filter coefficients at the processing size (at most guide_width wide: they are
        smooth, the detail comes from the full-size luma they are applied to), with the
        contrast curve and the presence gate folded in (both linear)."""
        s = self.s
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        if gray.shape[1] > s.guide_width:
            gh = max(1, round(gray.shape[0] * s.guide_width / gray.shape[1]))
            gray = cv2.resize(gray, (s.guide_width, gh), interpolation=cv2.INTER_AREA)
        sh, sw = gray.shape
        i = gray.astype(np.float32) * (1 / 255)
        p = cv2.resize(prob, (sw, sh), interpolation=cv2.INTER_LINEAR)
        r = max(1, round(s.radius * sw / s.guide_width))  # the same window on the picture at every size
        mean_i, mean_p = _box(i, r), _box(p, r)
        cov = _box(i * p, r) - mean_i * mean_p
        var = _box(i * i, r) - mean_i * mean_i
        a = cov / (var + s.eps)
        b = mean_p - a * mean_i
        k = self.presence / (s.high - s.low)
        return Matte(a=_box(a, r) * k, b=(_box(b, r) - s.low) * k)

    def __call__(self, small: np.ndarray) -> Matte:
        run = self.prev_prob is None or self.frames % max(1, self.s.every) == 0
        self.frames += 1
        self.ran_network = run
        prob = self._smooth(self.segmenter(small), small) if run else self.prev_prob
        return self._guided(prob, small)


# -- the blend ---------------------------------------------------------------------------------
def weights(region: str) -> tuple[float, float]:
    try:
        return REGION_WEIGHTS[region]
    except KeyError:
        raise ValueError(f"unknown region {region!r}; use one of {', '.join(REGIONS)}") from None


class Blender:
    """Stylized where the weight region_a + region_b * person is 1, the original where it is 0,
    mixed between, at the frames' (full) size: two resizes, a multiply-add (the matte, clipped
    by the uint8 cast), one scale for the region, and a uint8 blend (a float blend costs ~5x
    more), into buffers kept between frames. A new array is returned every frame (outputs
    keep it)."""

    def __init__(self):
        self._bufs: dict[str, np.ndarray] = {}

    def _buf(self, name: str, shape, dtype) -> np.ndarray:
        buf = self._bufs.get(name)
        if buf is None or buf.shape != shape:
            buf = self._bufs[name] = np.empty(shape, dtype)
        return buf

    def weight(self, matte: Matte, original: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
        """The stylized frame's weight, uint8 0..255, at `original`'s size."""
        a, b = matte.a * 255.0, matte.b * 255.0
        h, w = original.shape[:2]
        luma = cv2.cvtColor(original, cv2.COLOR_BGR2GRAY, dst=self._buf("luma", (h, w), np.uint8))
        if a.shape != (h, w):
            a = cv2.resize(a, (w, h), dst=self._buf("a", (h, w), np.float32), interpolation=cv2.INTER_LINEAR)
            b = cv2.resize(b, (w, h), dst=self._buf("b", (h, w), np.float32), interpolation=cv2.INTER_LINEAR)
        q = cv2.multiply(luma, a, dst=self._buf("q", (h, w), np.float32), dtype=cv2.CV_32F, scale=1 / 255)
        person = cv2.add(q, b, dst=self._buf("w", (h, w), np.uint8), dtype=cv2.CV_8U)  # saturates: the clip
        ra, rb = ab
        if (ra, rb) == (0.0, 1.0):
            return person
        # every region and every fade between them keeps ra + rb * p within 0..1 for p in 0..1
        return cv2.convertScaleAbs(person, dst=person, alpha=rb, beta=255.0 * ra)

    def __call__(self, stylized: np.ndarray, original: np.ndarray, matte: Matte | None,
                 ab: tuple[float, float]) -> np.ndarray:
        a, b = ab
        if b == 0.0 or matte is None:
            if a >= 1.0:
                return stylized
            return cv2.addWeighted(stylized, a, original, 1.0 - a, 0)
        w = self.weight(matte, original, ab)
        shape = stylized.shape
        w3 = cv2.merge([w, w, w], dst=self._buf("w3", shape, np.uint8))
        part = cv2.multiply(stylized, w3, dst=self._buf("s", shape, np.uint8), scale=1 / 255)
        rest = cv2.multiply(original, cv2.bitwise_not(w3, dst=w3), dst=self._buf("o", shape, np.uint8),
                            scale=1 / 255)
        return cv2.add(part, rest)
