"""Engine: the real network on ONNX Runtime; a provider counts only after its warm-up run works."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import build_tiny_model, cuda_works, make_config, read_frames
from stylecam import preprocess
from stylecam import engine as engine_mod
from stylecam.engine import Engine, EngineError
from stylecam.pipeline import Pipeline


def cpu_only_build(monkeypatch):
    """Make this onnxruntime look like the plain CPU build (CI installs onnxruntime-gpu)."""
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])


def test_unavailable_provider_is_skipped_with_a_reason_and_cpu_is_chosen(catalogue, monkeypatch):
    cpu_only_build(monkeypatch)
    eng = Engine(catalogue.model_path, ["cuda", "tensorrt", "cpu"])
    assert eng.provider == "cpu"
    assert set(eng.choice.skipped) == {"cuda", "tensorrt"}
    assert "not in this onnxruntime build" in eng.choice.skipped["cuda"]
    assert "CUDA" in eng.choice.skipped["cuda"]  # the reason carries the fix
    assert "cpu" not in eng.choice.skipped


def test_pipeline_status_exposes_provider_and_skipped_reasons(catalogue):
    cfg = make_config(processing={"providers": ["cuda", "cpu"]})
    status = Pipeline(cfg, catalogue).status()  # built, not started
    assert status["provider"] == "cpu"
    assert "onnxruntime" in status["providers_skipped"]["cuda"]


def test_provider_listed_but_not_working_is_skipped_and_the_next_one_chosen(catalogue, monkeypatch):
    # onnxruntime-gpu on a machine without a usable GPU lists CUDA as available, then quietly
    # runs on the CPU: CUDA must not be reported as the provider
    import onnxruntime as ort

    real = [p for p in ort.get_available_providers() if p != "CUDAExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *real])
    eng = Engine(catalogue.model_path, ["cuda", "cpu"])
    assert eng.provider == "cpu"
    assert eng.choice.skipped["cuda"].startswith("warm-up failed")
    assert "fell back to CPUExecutionProvider" in eng.choice.skipped["cuda"]


@pytest.mark.parametrize("kind, why", [("nan", "non-finite"), ("half", "expected [1, 3, 48, 64]")])
def test_provider_counts_only_after_a_successful_warm_up(tmp_path, monkeypatch, kind, why):
    cpu_only_build(monkeypatch)
    model = build_tiny_model(tmp_path / f"{kind}.onnx", kind)  # loads fine, computes garbage
    with pytest.raises(EngineError) as err:
        Engine(model, ["cuda", "cpu"])
    message = str(err.value)
    assert f"no ONNX Runtime provider could run {kind}.onnx" in message
    assert "cuda: not in this onnxruntime build" in message
    assert "cpu: warm-up failed" in message and why in message


def test_real_model_stylizes_at_every_processing_size(catalogue, engine, bikes_clip):
    frame = read_frames(bikes_clip, 1, (640, 360))[0]
    vec = catalogue.get("starry_night").vector
    for w, h in [(128, 72), (256, 144), (320, 180)]:
        small = preprocess.shrink(frame, (w, h))
        out = engine.run(engine_mod.to_blob(small), vec)
        assert out.shape == (1, 3, h, w) and out.dtype == np.float32
        assert np.isfinite(out).all()
        result = engine_mod.from_output(out)
        assert result.shape == small.shape and result.dtype == np.uint8
        assert np.abs(result.astype(np.int16) - small).mean() > 10  # the picture changed


def test_styles_give_different_pictures(catalogue, engine, bikes_clip):
    small = read_frames(bikes_clip, 1, (256, 144))[0]
    blob = engine_mod.to_blob(small)
    a = engine.run(blob, catalogue.get(catalogue.names[0]).vector)
    b = engine.run(blob, catalogue.get(catalogue.names[1]).vector)
    assert not np.array_equal(a, b)


def test_blob_round_trip_keeps_the_picture(bikes_clip):
    small = read_frames(bikes_clip, 1, (256, 144))[0]
    blob = engine_mod.to_blob(small)
    assert blob.shape == (1, 3, 144, 256) and blob.dtype == np.float32
    assert np.allclose(blob[0, 0], small[..., 2] / 255.0)  # RGB order for the network
    assert np.array_equal(engine_mod.from_output(blob), small)


def test_fit_to_crops_instead_of_stretching():
    frame = np.zeros((272, 640, 3), np.uint8)  # the bikes clip's 2.35:1 shape
    frame[86:186, 270:370] = 255  # a 100x100 square in the centre
    for size in [(320, 180), (176, 144), (640, 272), (1280, 720)]:
        out = preprocess.fit_to(frame, size)
        assert out.shape == (size[1], size[0], 3)
        ys, xs = np.nonzero(out[..., 0] > 127)
        w, h = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        assert abs(w - h) <= 2, f"square became {w}x{h} at {size}"


def test_session_threads_do_not_spin_between_runs(engine):
    # spinning pool threads burn most of a core between frames (docs/benchmarks.md#on-demand)
    opts = engine.session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_cpu_sessions_give_back_a_larger_frames_buffers(engine):
    # ORT's CPU arena would keep the largest processing size's buffers for good (peak RSS,
    # docs/benchmarks.md)
    assert engine.session.get_session_options().enable_cpu_mem_arena is False


def test_the_session_factory_refuses_a_silent_fallback_to_cpu(catalogue):
    # the factory every session goes through (engine, bench, segmentation, training): onnxruntime
    # that quietly put a CUDA session on the CPU is an error naming where it went
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers() or cuda_works():
        pytest.skip("needs onnxruntime-gpu on a machine where CUDA does not run (what CI has)")
    with pytest.raises(EngineError, match="fell back to CPUExecutionProvider"):
        engine_mod.open_session(catalogue.model_path, "cuda")
    assert engine_mod.open_session(catalogue.model_path, "cpu").get_providers()[0] == "CPUExecutionProvider"
