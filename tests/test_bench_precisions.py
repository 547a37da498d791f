"""The network alone at every precision (fp32, fp16, int8), timed side by side in one run by
`stylecam bench --profile`, and the table scripts/fill_benchmarks.py makes of it.

The variants are real: made from a copy of the shipped models folder by test_precision's fixture
(the functions `python -m stylecam.training.variants` uses). No timing thresholds: only that every
precision is timed, the numbers are coherent, and a precision that cannot run is reported.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cuda_works, need_module
import test_precision
from stylecam.bench import run as bench_run
from stylecam.bench.network import time_precisions
from stylecam.styles import load_catalogue

# test_precision's fixtures: a copy of the shipped models folder with real fp16 and int8 variants
variant_dir, variant_catalogue = test_precision.variant_dir, test_precision.variant_catalogue
ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "docs" / "data" / "bench.json"  # a real `stylecam bench --json` result


def fill_script():
    spec = importlib.util.spec_from_file_location("fill_benchmarks", ROOT / "scripts" / "fill_benchmarks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def style_vector(catalogue):
    return next(iter(catalogue.styles.values())).vector


# -- timing -------------------------------------------------------------------------------------------
def test_every_precision_is_timed_in_one_run_relative_to_fp32(variant_catalogue):
    result = time_precisions(variant_catalogue, "cpu", 1, (128, 72), style_vector(variant_catalogue), runs=3)
    assert list(result) == ["fp32", "fp16", "int8"]
    for precision, row in result.items():
        assert "error" not in row, row
        assert row["model"] == variant_catalogue.model_for(precision).name
        assert row["runs"] == 3 and row["size"] == "128x72"
        assert 0 < row["median_ms"] <= row["p90_ms"]
        assert row["ratio_to_fp32"] == pytest.approx(row["median_ms"] / result["fp32"]["median_ms"], rel=0.01)
    assert result["fp32"]["ratio_to_fp32"] == 1


def test_a_precision_that_cannot_run_is_reported_and_the_others_still_timed(variant_dir, tmp_path):
    folder = shutil.copytree(variant_dir, tmp_path / "models")
    (folder / "stylenet_int8.onnx").unlink()
    cat = load_catalogue(folder, user_dir=tmp_path / "none")
    result = time_precisions(cat, "cpu", 1, (64, 36), style_vector(cat), runs=2)
    assert result["fp32"]["median_ms"] > 0 and result["fp16"]["median_ms"] > 0
    assert result["int8"]["model"] == "stylenet_int8.onnx"
    assert "missing" in result["int8"]["error"] and "stylecam.training.variants" in result["int8"]["error"]
    assert "median_ms" not in result["int8"]


def test_a_provider_onnxruntime_would_silently_replace_is_an_error_per_precision(variant_catalogue):
    if cuda_works():
        pytest.skip("CUDA really runs on this machine")
    result = time_precisions(variant_catalogue, "cuda", 1, (64, 36), style_vector(variant_catalogue), runs=2)
    assert list(result) == ["fp32", "fp16", "int8"]
    for row in result.values():
        assert row["error"].startswith("cannot run on cuda") and "median_ms" not in row


def test_bench_profile_stores_and_prints_every_precision_at_640x360(variant_catalogue, bikes_clip, capsys):
    need_module("psutil")
    ap = argparse.ArgumentParser()
    bench_run.add_arguments(ap)
    args = ap.parse_args(["--input", bikes_clip, "--sizes", "160x96", "--max-size", "128x72", "--min-size",
                          "64x36", "--frames", "4", "--warmup", "2", "--threads", "1", "--target-fps", "15",
                          "--source-fps", "40", "--clip-frames", "4", "--profile", "--precision-runs", "2"])
    result = bench_run.run_bench(args, catalogue=variant_catalogue)
    precisions = result["precisions"]
    assert list(precisions) == ["fp32", "fp16", "int8"]
    assert {row["size"] for row in precisions.values()} == {"640x360"}  # the size the speed goal is stated for
    assert all(row["runs"] == 2 and row["median_ms"] > 0 for row in precisions.values())
    assert precisions["fp32"]["ratio_to_fp32"] == 1
    bench_run.print_report(result)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("network alone")]
    assert len(lines) == 3 and all("640x360" in ln and "goal <= 25 ms" in ln for ln in lines)
    assert "int8" in lines[2] and "x fp32" in lines[2]


# -- the doc table --------------------------------------------------------------------------------------
def measured_with(precisions) -> dict:
    r = json.loads(MEASURED.read_text())
    r.pop("precisions", None)
    if precisions is not None:
        r["precisions"] = precisions
    return r


PRECISIONS = {  # the shape time_precisions returns; numbers made up for the renderer only
    "fp32": {"model": "stylenet.onnx", "median_ms": 30.5, "p90_ms": 33.0, "runs": 30, "size": "640x360",
             "ratio_to_fp32": 1.0},
    "fp16": {"model": "stylenet_fp16.onnx", "median_ms": 28.3, "p90_ms": 30.0, "runs": 30, "size": "640x360",
             "ratio_to_fp32": 0.926},
    "int8": {"model": "stylenet_int8.onnx", "error": "cannot run on cuda: no int8 kernels"},
}


def table_rows(text: str) -> list[str]:
    start, end = text.index("<!-- bench:precisions:start -->"), text.index("<!-- bench:precisions:end -->")
    return [ln for ln in text[start:end].splitlines() if ln.startswith("| ")]


def test_doc_table_lists_each_precision_with_its_ratio_and_the_25_ms_goal():
    fill = fill_script()
    text = fill.render(measured_with({**PRECISIONS, "fp32": {**PRECISIONS["fp32"], "median_ms": 22.0,
                                                            "p90_ms": 24.0}}))
    assert "### Network alone at 640x360, per precision" in text
    assert text.index("### Network profile") < text.index("### Network alone") < text.index("### Targets")
    rows = table_rows(text)
    assert rows[0].startswith("| precision | model | median (ms) | p90 (ms) | vs fp32 | median ≤ 25 ms |")
    assert rows[1] == "| fp32 | `stylenet.onnx` | **22.0** | 24.0 | 1.00x | yes |"
    assert rows[2] == "| fp16 | `stylenet_fp16.onnx` | **28.3** | 30.0 | 0.93x | **no** |"
    assert rows[3].startswith("| int8 | `stylenet_int8.onnx` | – | – | – | not run: cannot run on cuda")
    assert "30 timed runs each" in text and "[docs/quality.md](quality.md)" in text


def test_doc_table_says_not_measured_when_the_json_has_no_precisions():
    text = fill_script().render(measured_with(None))
    section = text[text.index("### Network alone"):text.index("### Targets")]
    assert "Not measured in this run" in section and "--profile" in section
    assert table_rows(text) == [] and not re.search(r"\d\.\d", section)  # no numbers made up
    assert "[docs/quality.md](quality.md)" in section


def test_precisions_only_fill_replaces_that_table_and_nothing_else(tmp_path):
    fill = fill_script()
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n<!-- bench:results:start -->\nold\n<!-- bench:results:end -->\nkept\n")
    doc.write_text(fill.fill(doc.read_text(), measured_with(None)))
    before = doc.read_text()
    data = tmp_path / "p.json"
    data.write_text(json.dumps(measured_with(PRECISIONS)))
    for _ in range(2):  # filling twice gives the same document
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "fill_benchmarks.py"), str(data), str(doc),
                               "--precisions-only"], capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
    after = doc.read_text()
    assert "Not measured" in before and "Not measured" not in after
    head = before.split("<!-- bench:precisions:start -->")[0]
    tail = before.split("<!-- bench:precisions:end -->")[1]
    assert after.startswith(head) and after.endswith(tail)
    assert len(table_rows(after)) == 4  # the header and three precisions
    # the same table as a full fill from that JSON makes
    assert after == fill.fill(before, measured_with(PRECISIONS))
