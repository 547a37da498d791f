"""The look figures (block grid at 100 %) and the quality presets' processing sizes."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import make_config, need_module
from stylecam import config as config_mod
from stylecam.adaptive import size_ladder
from stylecam.look import grid_ratio, look_figures, upscale_period
from stylecam.pipeline import Pipeline


def photo() -> np.ndarray:
    skimage_data = need_module("skimage.data", "scikit-image")
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


def test_a_photo_has_no_grid_and_a_nearest_upscale_has_one_at_its_period():
    img = photo()
    assert grid_ratio(img, 2) < 1.05
    small = cv2.resize(img, (128, 128), interpolation=cv2.INTER_AREA)
    blocks2 = cv2.resize(small, (256, 256), interpolation=cv2.INTER_NEAREST)
    blocks4 = cv2.resize(small, (512, 512), interpolation=cv2.INTER_NEAREST)
    assert grid_ratio(blocks2, 2) > 1.8  # every other step is zero inside a block
    assert grid_ratio(blocks4, 4) > 1.8 and grid_ratio(blocks4, 2) > 1.8
    assert grid_ratio(cv2.resize(small, (512, 512), interpolation=cv2.INTER_LANCZOS4), 4) < 1.3


def test_look_figures_check_the_processing_grid_and_the_networks_grid_through_the_upscale():
    img = photo()[:288]
    figures = look_figures(cv2.resize(img, (1280, 720)), (256, 144))
    assert figures["upscale"] == 5.0
    short = {f"grid_ratio_{p}px" for p in range(2, 9)}
    assert set(figures) == {"upscale", "grid_ratio", "grid_ratio_10px"} | short
    assert figures["grid_ratio"] == max(v for k, v in figures.items() if k.startswith("grid_ratio_"))
    assert set(look_figures(img, (300, 144))) == {"upscale", "grid_ratio"} | short  # 1.7x: no whole period


def test_an_upscale_by_a_short_fraction_leaves_a_grid_at_its_period_and_the_ladder_avoids_it():
    img = photo()
    texture = cv2.resize(img, (384, 384), interpolation=cv2.INTER_AREA)  # fine detail at the small size
    assert upscale_period(512, 256) == 2 and upscale_period(720, 480) == 3 and upscale_period(1280, 960) == 4
    assert upscale_period(1280, 856) is None and upscale_period(512, 512) is None
    up = cv2.resize(cv2.resize(texture, (384, 288)), (512, 384), interpolation=cv2.INTER_LINEAR)  # 4/3
    assert grid_ratio(up, 4) > 1.15 and grid_ratio(up, 2) < 1.15  # only at its own period: look_figures checks 2-8
    assert look_figures(up, (384, 288))["grid_ratio"] > 1.15
    ladder = size_ladder((1280, 720), (640, 360), 16 / 9, 8, out_size=(1280, 720))
    assert ladder[0] == (1280, 720)  # no upscale, nothing to avoid
    for w, h in ladder[1:]:
        assert upscale_period(1280, w) is None and upscale_period(720, h) is None, (w, h)


@pytest.mark.parametrize("quality, out, provider, expected", [
    ("fast", (1280, 720), "cpu", ((640, 360), (256, 144))),
    ("balanced", (1280, 720), "cpu", ((640, 360), (640, 360))),  # at most a 1.5x upscale: capped
    ("balanced", (640, 360), "cpu", ((640, 360), (427, 240))),
    ("balanced", (1920, 1080), "cpu", ((640, 360), (640, 360))),  # 1280x720 is above the CPU cap
    ("best", (1280, 720), "cpu", ((640, 360), (640, 360))),  # 1280x720 / 1.33 is above the CPU cap
    ("balanced", (1280, 720), "cuda", ((1280, 720), (853, 480))),  # a GPU paints up to the output size
    ("best", (1920, 1080), "tensorrt", ((1920, 1080), (1440, 810))),  # at most a 1.33x upscale
])
def test_quality_presets_set_the_smallest_size_and_auto_the_largest(quality, out, provider, expected):
    p = config_mod.ProcessingConfig(quality=quality)
    assert config_mod.processing_bounds(p, out, provider) == expected


def test_a_scale_2_network_may_take_twice_the_cpu_size_never_above_the_output():
    p = config_mod.ProcessingConfig(quality="balanced")
    assert config_mod.processing_bounds(p, (1280, 720), "cpu", scale=2) == ((1280, 720), (853, 480))
    assert config_mod.processing_bounds(p, (1920, 1080), "cpu", scale=2) == ((1280, 720), (1280, 720))
    assert config_mod.processing_bounds(p, (640, 360), "cpu", scale=2) == ((640, 360), (427, 240))


def test_an_explicit_max_size_wins_over_auto_and_the_preset_stays_under_it():
    p = config_mod.ProcessingConfig(max_size="320x180", quality="balanced")
    assert config_mod.processing_bounds(p, (1280, 720), "cuda") == ((320, 180), (320, 180))


def test_the_pipeline_ladder_follows_the_preset(catalogue):
    # the smallest sizes step off 5x (128x72), 1.5x (240 high) and 4/3 (480 wide): no short-period grid
    for quality, floor in (("fast", (136, 80)), ("balanced", (424, 248)), ("best", (488, 272))):
        cfg = make_config(processing={"max_size": "auto", "min_size": "128x72", "quality": quality},
                          output={"size": "640x360"})
        ladder = Pipeline(cfg, catalogue).controller.ladder  # built, not started
        assert (ladder[0], ladder[-1]) == ((640, 360), floor), quality


def test_an_unknown_preset_is_a_config_error_naming_the_choices():
    with pytest.raises(config_mod.ConfigError, match="processing.quality.*fast, balanced, best"):
        make_config(processing={"quality": "ultra"})


def test_processing_device_is_validated_and_reaches_the_engine(catalogue):
    with pytest.raises(config_mod.ConfigError, match="processing.device"):
        make_config(processing={"device": -1})
    # no GPU here: the device index goes to the GPU providers only; the CPU still runs
    pipe = Pipeline(make_config(processing={"device": 1, "providers": ["cuda", "cpu"]}), catalogue)
    assert pipe.engine.provider == "cpu" and "cuda" in pipe.engine.choice.skipped


def test_doctor_lists_the_gpus_processing_device_can_pick():
    import shutil

    from stylecam import doctor

    sample = "0, NVIDIA H200, 143771 MiB\n1, NVIDIA RTX 4060 Laptop GPU, 8188 MiB\n"
    assert doctor.parse_nvidia_gpus(sample) == ["0: NVIDIA H200 (143771 MiB)",
                                               "1: NVIDIA RTX 4060 Laptop GPU (8188 MiB)"]
    (line,) = doctor.check_devices(config_mod.Config())
    assert line.topic == "devices" and "processing.device 0" in line.message
    if shutil.which("nvidia-smi") is None:
        assert "no NVIDIA driver" in line.message or "DirectML" in line.message
