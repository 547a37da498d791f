#!/usr/bin/env python3
"""Soak test: the daemon as a real process pushing RTMP to a local nginx-rtmp for a long time,
with a style switch every few seconds over the control API and one nginx restart halfway.
Measures the daemon's resident memory (RSS) over the run and how long the stream took to be
live again after the restart.

    .venv/bin/python scripts/soak.py --minutes 30 --json soak.json     # the full run (docs/benchmarks.md)
    .venv/bin/python scripts/soak.py --minutes 1                        # the short one the tests run

RSS growth is the median of the last tenth of the run against the median of the tenth after a
warm-up (the first fifth: caches, ONNX Runtime arenas and the flow smoother fill up there).
Exit code 1 when the growth is at or above --max-growth (5 %) or the stream never came back.
Needs ffmpeg, nginx with the RTMP module, psutil and pytest (it reuses tests/streaming_helpers.py).
"""
from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import psutil
from conftest import free_port
from streaming_helpers import Daemon, Nginx, stop_process


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def window_median(samples: list[tuple[float, float]], start: float, end: float) -> float:
    values = [rss for t, rss in samples if start <= t <= end]
    return statistics.median(values) if values else float("nan")


def soak(minutes: float, switch_s: float, workdir: Path, log=print) -> dict:
    duration = minutes * 60
    nginx = Nginx(workdir / "nginx", free_port(), record=False).start()
    (workdir / "daemon").mkdir(parents=True, exist_ok=True)
    daemon = Daemon(workdir / "daemon", ["--input", "demo", "--output", "null", "--output-size", "640x360",
                                         "--fps", "15", "--size", "256x144"])
    samples: list[tuple[float, float]] = []
    result: dict = {"minutes": minutes, "switch_every_s": switch_s}
    try:
        styles = [s["name"] for s in daemon.api.get("/styles")[2]["styles"]]
        code, _, reply = daemon.api.post("/rtmp/start", {"url": f"rtmp://127.0.0.1:{nginx.port}/live/soak"})
        assert code == 200, reply
        t0 = time.monotonic()
        switches, restart_at, restarted, back_after, states = 0, duration / 2, None, None, set()
        next_switch = t0
        while (now := time.monotonic()) - t0 < duration:
            elapsed = now - t0
            if now >= next_switch:
                code, _, reply = daemon.api.post("/style", {"name": styles[switches % len(styles)],
                                                            "transition_ms": 400})
                assert code == 200, reply
                switches += 1
                next_switch += switch_s
            samples.append((elapsed, rss_mb(daemon.proc.pid)))
            state = daemon.rtmp()["state"]
            states.add(state)
            if restarted is None and elapsed >= restart_at:
                log(f"{elapsed:6.0f} s: restarting nginx")
                restarted = time.monotonic()
                stop_process(nginx.proc, signal.SIGTERM)  # nginx's fast shutdown, as a service restart does
                nginx.start()
            elif restarted is not None and back_after is None and state == "live" and "reconnecting" in states:
                back_after = time.monotonic() - restarted
                log(f"{time.monotonic() - t0:6.0f} s: live again {back_after:.1f} s after the restart began")
            if daemon.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {daemon.proc.returncode}")
            time.sleep(1.0)
        status, rtmp = daemon.status(), daemon.rtmp()
        warm = duration / 5
        base = window_median(samples, warm, warm + duration / 10)
        end = window_median(samples, duration * 0.9, duration)
        result.update(
            style_switches=switches, frames=status["frames"], rtmp_frames=rtmp["frames"],
            rtmp_restarts=rtmp["restarts"], rtmp_state=rtmp["state"], states_seen=sorted(states),
            live_again_after_restart_s=None if back_after is None else round(back_after, 1),
            rss_mb_first=round(samples[0][1], 1), rss_mb_base=round(base, 1), rss_mb_end=round(end, 1),
            rss_mb_max=round(max(r for _, r in samples), 1),
            rss_growth_pct=round((end - base) / base * 100, 2), samples=len(samples),
            load_avg=[round(v, 2) for v in psutil.getloadavg()], cpus=psutil.cpu_count())
    finally:
        daemon.stop()
        nginx.cleanup()
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--switch-every", type=float, default=3.0, help="seconds between style switches")
    ap.add_argument("--max-growth", type=float, default=5.0, help="RSS growth limit in percent")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stylecam-soak-") as tmp:
        result = soak(args.minutes, args.switch_every, Path(tmp))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    ok = result["rss_growth_pct"] < args.max_growth and result["live_again_after_restart_s"] is not None
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
