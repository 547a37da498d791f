"""Temporal smoothing: `flow` lowers frame-to-frame flicker against `off` on a real clip (warping
error, with an independent optical flow as the judge) without blurring a static scene."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import read_frames
from stylecam import preprocess
from stylecam import engine as engine_mod
from stylecam.smoothing import make_smoother

SIZE = (256, 144)  # a processing size


def stylize_all(engine, vec, frames):
    return [engine_mod.from_output(engine.run(engine_mod.to_blob(f), vec)) for f in frames]


def smooth(mode: str, stylized, inputs):
    smoother = make_smoother(mode)
    return [smoother.apply(s, i) for s, i in zip(stylized, inputs)]


def judge_flows(inputs):
    """Per frame t: the sampling map of frame t-1 onto frame t and where that warp is trustworthy
    (the input itself matches after warping; inside the picture). The flow is Farneback's, not the
    DIS flow the smoother uses, so the smoother is not graded by itself."""
    h, w = inputs[0].shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    maps = []
    for t in range(1, len(inputs)):
        cur = cv2.cvtColor(inputs[t], cv2.COLOR_BGR2GRAY)
        prev = cv2.cvtColor(inputs[t - 1], cv2.COLOR_BGR2GRAY)
        flow = cv2.calcOpticalFlowFarneback(cur, prev, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        mx, my = gx + flow[..., 0], gy + flow[..., 1]
        warped_in = cv2.remap(prev, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        valid = (np.abs(cur.astype(np.float32) - warped_in) < 10) & (mx >= 0) & (mx <= w - 1) & \
                (my >= 0) & (my <= h - 1)
        maps.append((mx, my, valid))
    return maps


def warping_error(flows, outputs) -> float:
    """Mean |O_t - warp(O_t-1)| over the trustworthy pixels: the flicker a viewer sees."""
    errors = []
    for t, (mx, my, valid) in enumerate(flows, start=1):
        warped = cv2.remap(outputs[t - 1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        errors.append(np.abs(outputs[t].astype(np.float32) - warped.astype(np.float32))[valid].mean())
    return float(np.mean(errors))


def sharpness(img: np.ndarray) -> float:
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(np.mean(np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))))


@pytest.mark.parametrize("clip", ["bikes_clip", "carphone_clip"])
def test_flow_smoothing_lowers_flicker_on_a_real_clip(request, catalogue, engine, clip):
    inputs = read_frames(request.getfixturevalue(clip), 40, SIZE)
    stylized = stylize_all(engine, catalogue.get("starry_night").vector, inputs)
    flows = judge_flows(inputs)
    flow_out = smooth("flow", stylized, inputs)
    err_off = warping_error(flows, stylized)  # `off` passes the network's output through
    err_flow = warping_error(flows, flow_out)
    err_ema = warping_error(flows, smooth("ema", stylized, inputs))
    assert err_flow < 0.85 * err_off, (err_flow, err_off)
    assert err_ema < err_off, (err_ema, err_off)
    # and it does not smear the moving picture into mush
    assert np.mean([sharpness(o) for o in flow_out]) > 0.6 * np.mean([sharpness(s) for s in stylized])


def test_flow_smoothing_does_not_blur_a_static_scene(catalogue, engine, bikes_clip):
    base = read_frames(bikes_clip, 1, SIZE)[0]
    vec = catalogue.get("starry_night").vector
    # a camera on a tripod: the same frame, exactly
    still = [base] * 12
    stylized = stylize_all(engine, vec, still)
    for out in smooth("flow", stylized, still)[1:]:
        assert np.abs(out.astype(np.int16) - stylized[0]).max() <= 1

    # ... and with sensor noise: as sharp as the plain time average of the network's outputs
    rng = np.random.default_rng(7)
    noisy = [np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8) for _ in range(30)]
    stylized = stylize_all(engine, vec, noisy)
    time_average = np.mean(stylized, axis=0).round().astype(np.uint8)
    clean = stylize_all(engine, vec, [base])[0]
    flow_out = smooth("flow", stylized, noisy)[-10:]
    off_out = stylized[-10:]
    assert np.mean([sharpness(o) for o in flow_out]) > 0.95 * sharpness(time_average)
    dist = lambda outs: np.mean([np.abs(o.astype(np.float32) - clean).mean() for o in outs])
    assert dist(flow_out) < dist(off_out)  # closer to the noise-free stylization than `off`


@pytest.mark.parametrize("mode", ["ema", "flow"])
def test_smoothing_keeps_the_brightness_of_a_static_scene(catalogue, engine, bikes_clip, mode):
    base = read_frames(bikes_clip, 1, SIZE)[0]
    rng = np.random.default_rng(3)
    noisy = [np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8) for _ in range(40)]
    stylized = stylize_all(engine, catalogue.get("udnie").vector, noisy)
    outs = smooth(mode, stylized, noisy)
    drift = np.mean([o.mean() for o in outs[-20:]]) - np.mean([s.mean() for s in stylized[-20:]])
    assert abs(drift) < 0.5  # averaging must round, not creep darker frame after frame


@pytest.mark.parametrize("mode", ["off", "ema", "flow"])
def test_smoother_follows_a_change_of_processing_size(mode, bikes_clip):
    frames = read_frames(bikes_clip, 4)
    smoother = make_smoother(mode)
    for size in [(256, 144), (256, 144), (192, 108), (256, 144)]:
        small = preprocess.fit_to(frames[0], size)
        out = smoother.apply(cv2.bitwise_not(small), small)
        assert out.shape == small.shape


def test_unknown_smoothing_mode_names_the_choices():
    with pytest.raises(ValueError, match="off, ema, flow"):
        make_smoother("blur")


def reference_flow_blend(smoother, stylized, gray, prev_out, prev_in):
    """The flow smoother's blend written out in numpy (what its OpenCV calls compute): the
    previous output warped by the DIS flow (sub-pixel flow snapped to 0), kept with confidence
    keep * exp(-(err / sigma)^2) of the blurred, dilated photometric error, inside the frame."""
    flow = smoother.dis.calc(gray, prev_in, None)
    flow[(flow[..., 0] ** 2 + flow[..., 1] ** 2) < smoother.deadband ** 2] = 0
    h, w = gray.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    warped_out = cv2.remap(prev_out, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warped_in = cv2.remap(prev_in, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = cv2.absdiff(gray, warped_in).astype(np.float32)
    err = cv2.dilate(cv2.GaussianBlur(err, (5, 5), 0), np.ones((3, 3), np.uint8))
    inside = ((mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)).astype(np.float32)
    keep = (smoother.keep * np.exp(-(err / smoother.sigma) ** 2) * inside)[..., None]
    return (stylized * (1 - keep) + warped_out * keep + 0.5).astype(np.uint8)


def test_flow_blend_matches_its_definition_on_a_real_clip(carphone_clip):
    inputs = read_frames(carphone_clip, 30, SIZE)
    rng = np.random.default_rng(0)
    stylized = [cv2.add(cv2.GaussianBlur(f, (0, 0), 2), rng.integers(0, 40, f.shape, dtype=np.uint8))
                for f in inputs]  # painted-like: smooth picture plus texture that changes per frame
    smoother = make_smoother("flow")
    smoother.apply(stylized[0], inputs[0])
    for s, f in zip(stylized[1:], inputs[1:]):
        prev_out, prev_in = smoother.prev_out, smoother.prev_in
        gray = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
        expected = reference_flow_blend(make_smoother("flow"), s, gray, prev_out, prev_in)
        got = smoother.apply(s, f)
        diff = np.abs(got.astype(np.int16) - expected)
        assert diff.mean() < 0.25 and diff.max() <= 4  # rounding of the 8-bit error map only
        assert np.abs(got.astype(np.int16) - s).mean() > 1  # and it did blend in the past
