"""Upsampling: the edge-aware upsampler keeps edges sharper than plain bilinear, measured against
a stylization run at full resolution."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import build_tiny_model, read_frames
from stylecam import preprocess
from stylecam import engine as engine_mod
from stylecam.engine import Engine
from stylecam.postprocess import Upsampler, finish
from stylecam.styles import STYLE_DIM

FULL = (640, 352)  # multiples of the network stride at full, half and quarter size


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-9)))


def edge_gradient(img: np.ndarray, edges: np.ndarray) -> float:
    """Mean gradient magnitude on the given edge pixels (how sharp those edges are)."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    mag = np.sqrt(cv2.Sobel(g, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(g, cv2.CV_32F, 0, 1) ** 2)
    return float(mag[edges].mean())


@pytest.fixture(scope="module")
def frames(bikes_clip):
    return [read_frames(bikes_clip, 111, FULL)[i] for i in (10, 60, 110)]


def stylize(engine, vec, img):
    return engine_mod.from_output(engine.run(engine_mod.to_blob(img), vec))


def upsample_both(stylize_fn, full: np.ndarray, factor: int):
    small = preprocess.shrink(full, (FULL[0] // factor, FULL[1] // factor))
    styl_small = stylize_fn(small)
    bilinear = cv2.resize(styl_small, FULL, interpolation=cv2.INTER_LINEAR)
    edge_aware = Upsampler()(styl_small, small, full)
    return bilinear, edge_aware


def test_upsampler_restores_full_resolution_edges_of_an_edge_following_style(tmp_path, frames):
    # a real ONNX model whose "style" is a per-pixel colour transform: its full-resolution output
    # is exactly what a perfect upsampler would produce
    eng = Engine(build_tiny_model(tmp_path / "tone.onnx", "tone"), ["cpu"])
    vec = np.zeros(STYLE_DIM, np.float32)
    for full in frames:
        reference = stylize(eng, vec, full)
        edges = cv2.Canny(cv2.cvtColor(full, cv2.COLOR_BGR2GRAY), 100, 200) > 0
        for factor in (2, 4):
            bilinear, edge_aware = upsample_both(lambda im: stylize(eng, vec, im), full, factor)
            assert psnr(edge_aware, reference) > psnr(bilinear, reference) + 3.0
            assert edge_gradient(edge_aware, edges) > 1.2 * edge_gradient(bilinear, edges)


def test_upsampler_keeps_edges_sharper_than_bilinear_with_the_shipped_model(catalogue, engine, frames):
    vec = catalogue.get("starry_night").vector
    sharp_bilinear = sharp_edge_aware = 0.0
    for full in frames:
        reference = stylize(engine, vec, full)
        edges = cv2.Canny(cv2.cvtColor(full, cv2.COLOR_BGR2GRAY), 100, 200) > 0
        bilinear, edge_aware = upsample_both(lambda im: stylize(engine, vec, im), full, 4)
        sharp_bilinear += edge_gradient(bilinear, edges)
        sharp_edge_aware += edge_gradient(edge_aware, edges)
        # never worse than bilinear against the full-resolution stylization
        assert psnr(edge_aware, reference) > psnr(bilinear, reference) - 0.25
    assert sharp_edge_aware > 1.05 * sharp_bilinear


def test_upsampler_passes_full_size_frames_through(frames):
    full = frames[0]
    assert Upsampler()(full, full, full) is full


def test_finish_strength_zero_is_the_original_and_mirror_flips(frames):
    original = frames[0]
    styl = cv2.bitwise_not(original)
    assert np.array_equal(finish(styl, original, strength=0.0), original)
    assert np.array_equal(finish(styl, original, strength=1.0), styl)
    assert np.array_equal(finish(styl, original, mirror=True), styl[:, ::-1])


def test_preserve_color_keeps_the_camera_colours(frames):
    original = frames[1]
    styl = cv2.addWeighted(original, 0.5, np.full_like(original, (40, 60, 220)), 0.5, 0)  # red cast
    kept = finish(styl, original, keep_color=True)
    chroma = lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2YCrCb)[..., 1:].astype(np.int16)
    assert np.abs(chroma(kept) - chroma(original)).mean() < 3
    assert np.abs(chroma(styl) - chroma(original)).mean() > 20


def fine_detail(img: np.ndarray) -> float:
    """Mean absolute Laplacian of the gray image: how much 1-2 pixel texture there is."""
    return float(np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32), cv2.CV_32F)).mean())


def test_sharpen_gives_a_1_5x_upscale_back_fine_strokes_it_lost_without_overshooting(catalogue, engine, frames):
    # the default path at 1280x720 upscales 1.5x; the network's painting at full size is the
    # texture a perfect upscale would have
    small_size = (424, 232)
    for name in ("starry_night", "udnie"):
        vec = catalogue.get(name).vector
        for full in frames:
            reference = stylize(engine, vec, full)
            small = preprocess.shrink(full, small_size)
            painted = stylize(engine, vec, small)
            plain, sharp = (fine_detail(Upsampler(sharpen=s)(painted, small, full)) for s in (0.0, 0.6))
            target = fine_detail(reference)
            assert plain < sharp < target * 1.1, (name, plain, sharp, target)
            assert abs(sharp - target) < abs(plain - target)
    assert Upsampler(sharpen=0.6)(frames[0], frames[0], frames[0]) is frames[0]  # no upscale: untouched
