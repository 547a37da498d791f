"""A quality preset's own network (models/styles.yaml `networks`): `best` runs the shipped scale-2
network, which paints near the output size; the others run the main network. The manifest
entry is checked when loaded, `python -m stylecam.training.networks` installs one, and the
variants command makes its fp16/int8 files."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import make_config, need_module
from stylecam.framepath import FramePath, FrameSettings
from stylecam.paths import models_dir
from stylecam.pipeline import Pipeline
from stylecam.styles import StyleError, load_catalogue


def picture(name: str) -> np.ndarray:
    import cv2

    skimage_data = need_module("skimage.data", "scikit-image")
    return cv2.cvtColor(getattr(skimage_data, name)(), cv2.COLOR_RGB2BGR)


def test_the_shipped_best_and_balanced_presets_run_the_scale_2_network(catalogue):
    best = catalogue.for_quality("best")
    assert best.network == "best" and best.scale == 2 and best.model_path.exists()
    assert best.model_path != catalogue.model_path and best.stride == 8
    assert best.styles is catalogue.styles  # the same styles, vectors and custom ones
    balanced = catalogue.for_quality("balanced")  # the default paints with it too (at most a 1.5x upscale)
    assert balanced.network == "balanced" and balanced.model_path == best.model_path and balanced.scale == 2
    assert catalogue.for_quality("fast") is catalogue  # fast: the main network, the cheapest at small sizes
    # the pipeline runs it, with the CPU cap of a scale-2 network and best's 1.33x floor
    cfg = make_config(processing={"max_size": "auto", "quality": "best"}, output={"size": "1280x720"})
    pipe = Pipeline(cfg, catalogue)  # built, not started
    assert pipe.engine.model_path == best.model_path
    assert (pipe.controller.ladder[0], pipe.controller.ladder[-1]) == ((1280, 720), (968, 544))  # not 4/3
    default = Pipeline(make_config(processing={"max_size": "auto"}, output={"size": "1280x720"}), catalogue)
    assert default.engine.model_path == best.model_path
    assert (default.controller.ladder[0], default.controller.ladder[-1]) == ((1280, 720), (856, 488))  # not 1.5x
    fast = Pipeline(make_config(processing={"max_size": "auto", "quality": "fast"}, output={"size": "1280x720"}),
                    catalogue)
    assert fast.engine.model_path == catalogue.model_path


def test_the_best_network_paints_a_frame_through_the_frame_path(catalogue):
    from stylecam.engine import Engine

    best = catalogue.for_quality("best")
    frame = picture("astronaut")
    vec = catalogue.get("starry_night").vector
    outs = {}
    for cat in (catalogue, best):
        path = FramePath(Engine(cat.model_path, ["cpu"]), (640, 360))
        outs[cat.network] = path(frame, FrameSettings(vector=vec, proc_size=(480, 272)))
    assert outs["best"].shape == outs[""].shape == (360, 640, 3)
    # a painting, not the photo, and not the main network's painting
    from stylecam import preprocess

    photo = preprocess.fit_to(frame, (640, 360)).astype(np.float32)
    assert np.abs(outs["best"] - photo).mean() > 20
    assert np.abs(outs["best"].astype(np.float32) - outs[""]).mean() > 5


def manifest_copy(tmp_path: Path, edit) -> Path:
    folder = shutil.copytree(models_dir(), tmp_path / "models", ignore=shutil.ignore_patterns("__*"))
    manifest = yaml.safe_load((folder / "styles.yaml").read_text())
    edit(manifest)
    (folder / "styles.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return folder


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(networks={"ultra": m["networks"]["best"]}), "names ultra, not a quality preset; use one of fast"),
    (lambda m: m.update(networks={"best": {"stride": 8}}), "'networks' must map a quality preset to a network"),
    (lambda m: m["networks"]["best"].update(model="gone.onnx"), "names gone.onnx, which is missing"),
])
def test_a_bad_networks_entry_is_refused_when_loaded(tmp_path, edit, message):
    folder = manifest_copy(tmp_path, edit)
    with pytest.raises(StyleError, match=message):
        load_catalogue(folder, user_dir=tmp_path / "none")


def test_a_missing_variant_of_the_best_network_names_the_command_for_it(tmp_path):
    folder = manifest_copy(tmp_path, lambda m: m["networks"]["best"].pop("variants", None))
    best = load_catalogue(folder, user_dir=tmp_path / "none").for_quality("best")
    with pytest.raises(StyleError, match=r"stylecam.training.variants --models .* --network best"):
        best.model_for("int8")


def run_folder(tmp_path: Path, edit=lambda m: None) -> Path:
    """What `stylecam train --out` leaves: stylenet.onnx, its weights and styles.yaml."""
    run = tmp_path / "run"
    run.mkdir()
    manifest = yaml.safe_load((models_dir() / "styles.yaml").read_text())
    best = manifest.pop("networks")["best"]
    shutil.copy(models_dir() / best["model"], run / "stylenet.onnx")
    manifest.update({k: v for k, v in best.items() if k not in ("model", "weights", "variants")})
    manifest.pop("variants", None)
    edit(manifest)
    (run / "styles.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return run


def test_networks_installs_a_run_as_a_presets_network(tmp_path):
    from stylecam.training.networks import main

    folder = manifest_copy(tmp_path, lambda m: m.pop("networks"))
    assert load_catalogue(folder, user_dir=tmp_path / "none").networks == {}
    main(["--models", str(folder), "--from", str(run_folder(tmp_path)), "--preset", "best", "--name", "mine"])
    best = load_catalogue(folder, user_dir=tmp_path / "none").for_quality("best")
    assert best.model_path == folder / "mine.onnx" and best.scale == 2 and best.stride == 8
    assert (folder / "mine.onnx").read_bytes() == (tmp_path / "run" / "stylenet.onnx").read_bytes()


def test_networks_refuses_a_run_trained_on_other_styles(tmp_path):
    from stylecam.training.networks import main

    folder = manifest_copy(tmp_path, lambda m: m.pop("networks"))
    run = run_folder(tmp_path, lambda m: m["styles"][0].update(vector=[0.0] * 100))
    with pytest.raises(SystemExit, match="other styles than"):
        main(["--models", str(folder), "--from", str(run), "--preset", "best"])
    assert "networks" not in yaml.safe_load((folder / "styles.yaml").read_text())  # nothing written


def test_networks_takes_a_run_whose_vectors_are_a_step_off(tmp_path):
    """The same paintings through another onnxruntime build: a vector one 8-bit step off in a few
    entries (1.5 %) is the same style; the catalogue keeps its own vectors."""
    from stylecam.training.networks import main

    folder = manifest_copy(tmp_path, lambda m: m.pop("networks"))
    shipped = yaml.safe_load((folder / "styles.yaml").read_text())["styles"][0]["vector"]
    nudged = [v + 0.019879 if i % 10 == 0 else v for i, v in enumerate(shipped)]
    run = run_folder(tmp_path, lambda m: m["styles"][0].update(vector=nudged))
    main(["--models", str(folder), "--from", str(run), "--preset", "best"])
    manifest = yaml.safe_load((folder / "styles.yaml").read_text())
    assert "best" in manifest["networks"] and manifest["styles"][0]["vector"] == shipped


def test_variants_of_a_presets_network(tmp_path):
    need_module("onnxruntime.quantization")
    from stylecam.training.variants import main

    folder = manifest_copy(tmp_path, lambda m: m["networks"]["best"].pop("variants", None))
    content = tmp_path / "content"
    content.mkdir()
    import cv2

    cv2.imwrite(str(content / "a.png"), picture("astronaut"))
    main(["--models", str(folder), "--content", str(content), "--network", "best"])
    best = load_catalogue(folder, user_dir=tmp_path / "none").for_quality("best")
    assert best.precisions == ["fp32", "fp16", "int8"]
    for precision in ("fp16", "int8"):
        assert best.model_for(precision).exists()
        assert best.model_for(precision).name.startswith(best.model_path.stem)
