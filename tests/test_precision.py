"""processing.precision: the daemon runs the manifest's fp16 or int8 variant of the style network.

The variants are made here, from a copy of the shipped models folder, with the same functions
`python -m stylecam.training.variants` uses (int8 calibrated on two small real pictures); the real
Engine, Pipeline, `stylize` and `bench` then run on them.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import make_config, need_module, probe, read_frames, write_clip
from stylecam import cli
from stylecam import engine as engine_mod
from stylecam.engine import Engine
from stylecam.paths import models_dir
from stylecam.pipeline import Pipeline
from stylecam.styles import StyleError, load_catalogue

need_module("onnx")
VARIANTS_COMMAND = "python -m stylecam.training.variants"
# mean absolute difference to the fp32 output (0..1 RGB); measured on the shipped model:
# fp16 ~0.0001, int8 ~0.007, while two different styles differ by > 0.1
BOUNDS = {"fp16": 0.01, "int8": 0.05}  # int8 measured up to 0.035 (calibrated on 2 tiny pictures)


def copy_models(dst: Path) -> Path:
    """The shipped manifest and network, without any variants."""
    dst.mkdir(parents=True, exist_ok=True)
    manifest = yaml.safe_load((models_dir() / "styles.yaml").read_text())
    manifest.pop("variants", None)
    manifest.pop("networks", None)  # the main network only (tests/test_networks.py: the others)
    shutil.copy(models_dir() / manifest["model"], dst / manifest["model"])
    (dst / "styles.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return dst


def calibration(vectors: list[np.ndarray]) -> list[dict]:
    """Two small real pictures (64x64 RGB 0..1), each through a different style."""
    import cv2

    skimage_data = need_module("skimage.data", "scikit-image")
    pictures = [skimage_data.astronaut(), skimage_data.chelsea()]
    return [{"image": cv2.resize(p, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
             .transpose(2, 0, 1)[None] / 255.0, "style": vectors[i % len(vectors)][None]}
            for i, p in enumerate(pictures)]


@pytest.fixture(scope="module")
def variant_dir(tmp_path_factory) -> Path:
    """A models folder with stylenet_fp16.onnx and stylenet_int8.onnx listed under `variants`."""
    need_module("onnxruntime.quantization")
    from stylecam.training.variants import make_fp16, make_int8

    folder = copy_models(tmp_path_factory.mktemp("models"))
    manifest = yaml.safe_load((folder / "styles.yaml").read_text())
    src = folder / manifest["model"]
    vectors = [np.asarray(s["vector"], np.float32) for s in manifest["styles"]]
    make_fp16(src, folder / "stylenet_fp16.onnx")
    make_int8(src, folder / "stylenet_int8.onnx", calibration(vectors))
    manifest["variants"] = {"fp16": "stylenet_fp16.onnx", "int8": "stylenet_int8.onnx"}
    (folder / "styles.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def variant_catalogue(variant_dir, tmp_path_factory):
    return load_catalogue(variant_dir, user_dir=tmp_path_factory.mktemp("no-custom-styles"))


@pytest.fixture(scope="module")
def frame_blob(bikes_clip) -> np.ndarray:
    """One real frame of bikes.mp4 at a processing size, as the engine takes it."""
    return engine_mod.to_blob(read_frames(bikes_clip, 1, (128, 72))[0])


# -- the catalogue ------------------------------------------------------------------------------------
def test_manifest_variants_load_and_model_for_returns_each_file(variant_catalogue, variant_dir):
    cat = variant_catalogue
    assert cat.precisions == ["fp32", "fp16", "int8"]
    assert cat.model_for("fp32") == cat.model_path == variant_dir / "stylenet.onnx"
    assert cat.model_for("fp16") == variant_dir / "stylenet_fp16.onnx"
    assert cat.model_for("int8") == variant_dir / "stylenet_int8.onnx"
    for precision in cat.precisions:
        assert cat.model_for(precision).exists()


def test_manifest_without_variants_names_the_variants_command(tmp_path):
    cat = load_catalogue(copy_models(tmp_path / "models"), user_dir=tmp_path / "none")
    assert cat.variants == {} and cat.precisions == ["fp32"]
    assert cat.model_for("fp32") == cat.model_path
    with pytest.raises(StyleError) as err:
        cat.model_for("int8")
    message = str(err.value)
    assert "no int8 variant" in message and "lists precisions fp32" in message
    assert f"{VARIANTS_COMMAND} --models {tmp_path / 'models'}" in message
    assert "precision fp32" in message
    # the daemon refuses to start with the same message, before anything runs
    with pytest.raises(StyleError, match=VARIANTS_COMMAND):
        Pipeline(make_config(processing={"precision": "int8"}), cat)


def test_variant_listed_but_missing_fails_when_chosen_and_fp32_still_works(variant_dir, tmp_path):
    folder = shutil.copytree(variant_dir, tmp_path / "models")
    (folder / "stylenet_int8.onnx").unlink()
    cat = load_catalogue(folder, user_dir=tmp_path / "none")  # loading does not need every variant
    assert cat.model_for("fp16").exists() and cat.model_for("fp32").exists()
    with pytest.raises(StyleError) as err:
        cat.model_for("int8")
    message = str(err.value)
    assert "stylenet_int8.onnx as the int8 variant" in message and "missing" in message
    assert VARIANTS_COMMAND in message and "precision fp32" in message


def test_bad_variants_entry_in_the_manifest_says_what_to_write(variant_dir, tmp_path):
    folder = shutil.copytree(variant_dir, tmp_path / "models")
    manifest = yaml.safe_load((folder / "styles.yaml").read_text())
    manifest["variants"] = ["stylenet_int8.onnx"]
    (folder / "styles.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(StyleError, match="'variants' must map a precision to a file name"):
        load_catalogue(folder, user_dir=tmp_path / "none")


# -- the network ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_each_variant_stylizes_close_to_fp32(variant_catalogue, frame_blob, precision):
    cat = variant_catalogue
    full = Engine(cat.model_for("fp32"), ["cpu"], threads=1)
    reduced = Engine(cat.model_for(precision), ["cpu"], threads=1)
    bound = BOUNDS[precision]
    styles = list(cat.styles.values())
    for style in styles[:3]:
        want = full.run(frame_blob, style.vector)
        got = reduced.run(frame_blob, style.vector)
        assert got.shape == want.shape and got.dtype == np.float32 and np.isfinite(got).all()
        diff = float(np.abs(got - want).mean())
        assert diff < bound, f"{precision} differs from fp32 by {diff:.4f} on {style.name} (bound {bound})"
    # the bound catches a broken variant: another style is much further away than that
    other = full.run(frame_blob, styles[1].vector)
    assert float(np.abs(other - full.run(frame_blob, styles[0].vector)).mean()) > 3 * bound


# -- config and command line ------------------------------------------------------------------------------
def test_precision_flag_reaches_the_config():
    args = cli._parser().parse_args(["run", "--input", "demo", "--precision", "int8"])
    assert cli.build_config(args).processing.precision == "int8"
    args = cli._parser().parse_args(["run", "--input", "demo"])
    assert cli.build_config(args).processing.precision == "fp32"
    with pytest.raises(SystemExit):  # argparse lists the choices
        cli._parser().parse_args(["stylize", "a.png", "b.png", "--precision", "fp8"])


def test_stylecam_styles_lists_the_precisions(capsys):
    assert cli.main(["styles"]) == 0
    out = capsys.readouterr()
    assert "precisions: fp32" in out.err
    assert "precisions" not in out.out  # stdout stays one style per line


# -- end to end on int8 -------------------------------------------------------------------------------------
def test_daemon_runs_end_to_end_on_the_int8_variant(variant_catalogue, frame_blob, carphone_clip, tmp_path):
    clip = write_clip(tmp_path / "short.mp4", read_frames(carphone_clip, 20), 30.0)
    out_file = tmp_path / "out.mp4"
    cfg = make_config(input={"source": str(clip), "loop": False}, processing={"precision": "int8"},
                      output={"size": "320x180", "fps": 15.0})
    pipe = Pipeline(cfg, variant_catalogue, max_frames=12)
    pipe.add_output("null")
    pipe.add_output(f"file:{out_file}")
    pipe.start()
    try:
        assert pipe.wait(120), "the daemon did not stop"
    finally:
        pipe.stop()
    status = pipe.status()
    assert status["precision"] == "int8" and status["provider"] == "cpu"
    assert status["frames"] >= 1
    assert int(probe(out_file)["nb_read_frames"]) >= 1
    # the engine really is the int8 network: its output is that file's, not the fp32 one's
    vec = variant_catalogue.get(cfg.style.name).vector
    used = pipe.engine.run(frame_blob, vec)
    int8 = Engine(variant_catalogue.model_for("int8"), ["cpu"], threads=1).run(frame_blob, vec)
    fp32 = Engine(variant_catalogue.model_path, ["cpu"], threads=1).run(frame_blob, vec)
    assert np.abs(used - int8).mean() < 1e-4 < np.abs(used - fp32).mean()


def test_stylize_runs_on_the_chosen_variant(variant_catalogue, tmp_path):
    import cv2
    from stylecam.stylize import settings_from, stylize_file

    skimage_data = need_module("skimage.data", "scikit-image")
    src = tmp_path / "chelsea.png"
    cv2.imwrite(str(src), cv2.cvtColor(skimage_data.chelsea(), cv2.COLOR_RGB2BGR))
    args = cli._parser().parse_args(["stylize", str(src), str(tmp_path / "out.png"), "--precision", "int8",
                                     "--size", "160x120"])
    info = stylize_file(src, tmp_path / "out.png", settings_from(args), catalogue=variant_catalogue)
    assert info["precision"] == "int8"
    assert cv2.imread(str(tmp_path / "out.png")).shape == cv2.imread(str(src)).shape


def test_bench_records_the_precision_next_to_the_provider(variant_catalogue, bikes_clip):
    need_module("psutil")
    from stylecam.bench import run as bench_run

    ap = argparse.ArgumentParser()
    bench_run.add_arguments(ap)
    args = ap.parse_args(["--input", bikes_clip, "--sizes", "160x96", "--max-size", "128x72", "--min-size",
                          "64x36", "--frames", "4", "--warmup", "2", "--threads", "1", "--target-fps", "15",
                          "--source-fps", "40", "--clip-frames", "4", "--precision", "int8"])
    result = bench_run.run_bench(args, catalogue=variant_catalogue)
    assert result["provider"] == "cpu" and result["precision"] == "int8"
    assert result["settings"]["precision"] == "int8"
    assert [row["precision"] for row in result["sizes"]] == ["int8"]
