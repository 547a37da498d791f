"""style.region through the real frame path (framepath.FramePath, the shipped style network and
segmentation models) on real pictures of people: `stylecam stylize --region`, the daemon's
/params and /status, and the cross-fade of a region change."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from conftest import need_module, read_frames, wait_for
from stylecam import preprocess
from stylecam.cli import main
from stylecam.framepath import FramePath, FrameSettings
from stylecam.pipeline import Pipeline
from stylecam.segment import Blender, PersonMatte, weights
from stylecam.styles import STYLE_DIM
from stylecam.stylize import processing_size

skimage_data = need_module("skimage.data", "scikit-image")

# rows, columns in the 512x512 pictures
FACES = {"astronaut": (slice(70, 160), slice(190, 250)), "camera": (slice(95, 185), slice(185, 245))}
SKY = (slice(0, 40), slice(-60, None))   # top-right corner: the wall / the sky


def picture(name: str) -> np.ndarray:
    img = getattr(skimage_data, name)()
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR if img.ndim == 2 else cv2.COLOR_RGB2BGR)


def stylize(tmp_path, name: str, *flags: str) -> np.ndarray:
    src, dst = tmp_path / f"{name}.png", tmp_path / f"{name}_out_{'_'.join(flags) or 'default'}.png"
    if not src.exists():
        cv2.imwrite(str(src), picture(name))
    assert main(["stylize", str(src), str(dst), *flags]) == 0
    return cv2.imread(str(dst)).astype(int)


def rings(name: str, width: int = 3):
    """Bands 3..6 px inside and outside the person's outline (the matte at 0.5), computed by
    the segmentation stage at the processing size `stylecam stylize` uses for a 512x512 picture."""
    img = picture(name)
    small = preprocess.shrink(img, processing_size((512, 512), (640, 360), 8, 20))
    person = (Blender().weight(PersonMatte()(small), img, weights("person")) > 127).astype(np.uint8)
    k = np.ones((3, 3), np.uint8)
    grow = lambda n: cv2.dilate(person, k, iterations=n) > 0  # noqa: E731
    shrink = lambda n: cv2.erode(person, k, iterations=n) > 0  # noqa: E731
    return shrink(width) & ~shrink(2 * width), grow(2 * width) & ~grow(width)


def mean_diff(a: np.ndarray, b: np.ndarray, where) -> float:
    return float(np.abs(a.astype(int) - b.astype(int))[where].mean())


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_background_keeps_the_person_and_person_paints_only_them(tmp_path, name):
    original = picture(name).astype(int)
    everything = stylize(tmp_path, name)
    assert np.array_equal(stylize(tmp_path, name, "--region", "all"), everything)  # `all` is today's output
    background = stylize(tmp_path, name, "--region", "background")
    person = stylize(tmp_path, name, "--region", "person")
    face = FACES[name]
    assert mean_diff(everything, original, face) > 20 and mean_diff(everything, original, SKY) > 20
    # background: the face as the camera saw it, the room as `all` painted it
    assert mean_diff(background, original, face) < 1.0
    assert mean_diff(background, everything, SKY) < 1.0
    # person: the reverse
    assert mean_diff(person, everything, face) < 1.0
    assert mean_diff(person, original, SKY) < 1.0
    # clean edges: 3-6 px inside the outline the person is untouched (no painted halo on the
    # head), 3-6 px outside it the room is painted (no unpainted seam)
    inner, outer = rings(name)
    assert mean_diff(background, original, inner) < 4.0
    assert mean_diff(background, everything, outer) < 5.0
    assert mean_diff(person, everything, inner) < 4.0
    assert mean_diff(person, original, outer) < 5.0


def test_region_all_never_runs_the_segmentation(engine):
    path = FramePath(engine, (320, 240))
    frame = picture("astronaut")
    path(frame, FrameSettings(vector=np.zeros(STYLE_DIM, np.float32), proc_size=(160, 120)))
    assert path.matte is None
    assert not path.stats.stage_ms["segmentation"]


def test_a_region_fade_blends_the_matte_weight(engine, catalogue):
    """Halfway through a fade from `all` to `background` the person is half painted."""
    frame = picture("astronaut")
    vector = catalogue.get("starry_night").vector
    face = FACES["astronaut"]
    results = {}
    for label, ab in [("all", weights("all")), ("half", (1.0, -0.5)), ("background", weights("background"))]:
        path = FramePath(engine, (512, 512))
        results[label] = path(frame, FrameSettings(vector=vector, proc_size=(256, 256), region=ab))
    full = mean_diff(results["all"], frame, face)
    half = mean_diff(results["half"], frame, face)
    assert mean_diff(results["background"], frame, face) < 1.0
    assert 0.35 * full < half < 0.65 * full
    assert mean_diff(results["half"], results["all"], SKY) < 1.0   # the room is painted all along


def test_pipeline_fades_a_region_change_over_transition_ms(test_config, catalogue, engine):
    cfg = test_config(style={"transition_ms": 400, "region": "all"})
    pipe = Pipeline(cfg, catalogue, engine=engine)
    t0 = time.monotonic()
    pipe.set_params(region="person")
    a, b = pipe.region_fade.vector(t0 + 0.2)
    assert a == pytest.approx(0.5, abs=0.05) and b == pytest.approx(0.5, abs=0.05)
    assert tuple(pipe.region_fade.vector(t0 + 1.0)) == weights("person")
    assert pipe.status()["region"] == "person"


def test_daemon_reports_the_segmentation_stage_after_a_region_change(run_service, test_config, api_client,
                                                                     carphone_clip, virtualcam):
    cfg = test_config(input={"source": carphone_clip, "loop": True},
                      output={"size": "352x288", "targets": [], "virtualcam_backend": virtualcam.backend},
                      processing={"max_size": "176x144", "min_size": "176x144", "adaptive": False})
    svc = run_service(cfg, outputs=["virtualcam"])
    client = api_client(svc)
    wait_for(lambda: virtualcam.count >= 3, what="frames")
    assert client.get("/status")[2]["region"] == "all"
    status, _, body = client.post("/params", {"region": "background"})
    assert status == 200 and body == {"applied": {"region": "background"}}
    wait_for(lambda: (client.get("/status")[2]["stage_ms"].get("segmentation") or 0) > 0,
             what="the segmentation stage in /status")
    now = client.get("/status")[2]
    assert now["region"] == "background"
    # the published face is the camera's own: compare with the clip's frames (which one was
    # published is not known: the closest of them)
    clip = read_frames(carphone_clip, size=(352, 288))
    count = virtualcam.count
    wait_for(lambda: virtualcam.count >= count + 3, what="frames in background mode")
    published = virtualcam.last_frames(1)[0]
    face = (slice(60, 160), slice(120, 220))
    assert min(mean_diff(published, f, face) for f in clip) < 3.0
