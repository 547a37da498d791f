"""Measure what processing.on_demand and the output-rate cap save (docs/benchmarks.md#on-demand).

Runs the real `stylecam run` in a child process with a pyvirtualcam backend whose device is a
plain file (no v4l2loopback here), so that this script can be the app that opens the virtual
camera: it is not the daemon's descendant, so the daemon sees it as a reader.

  1. idle:  CPU of the daemon over --idle-seconds while nobody reads the virtual camera,
            then for comparison over --run-seconds with on_demand always
  2. wake:  --wakes times: open the device, time until a stylized frame is in it (the idle
            card is read from the device first), close it, wait for idle again
  3. rate:  CPU and stylized frames/s at --fps 15 and --fps 30 with a fixed processing size
            (processing.adaptive: false) on a faster source (the demo scene at --source-fps)

Usage: python scripts/bench_on_demand.py [--json docs/data/on_demand.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


# -- the daemon side (child process) ---------------------------------------------------------
def daemon_main(device: str, argv: list[str]) -> int:
    """`stylecam run` with a pyvirtualcam backend named "file" that writes frames to `device`."""
    import pyvirtualcam

    class FileDevice:
        def __init__(self, *, width, height, fps, fourcc, device=None, **kw):
            self._device = device or DEVICE
            self._fd = os.open(self._device, os.O_RDWR | os.O_CREAT, 0o600)

        def send(self, frame):
            os.pwrite(self._fd, frame, 0)

        def close(self):
            os.close(self._fd)

        def device(self):
            return self._device

        def native_fourcc(self):
            return None

    DEVICE = device
    pyvirtualcam.register_backend("file", FileDevice)
    from stylecam.cli import main

    return main(["run", *argv])


# -- the measuring side ------------------------------------------------------------------------
class Daemon:
    def __init__(self, work: Path, config: dict, args: list[str]):
        import yaml

        self.work, self.device = work, str(work / "video10")
        Path(self.device).touch()
        cfg_path = work / f"config-{time.monotonic_ns()}.yaml"
        cfg_path.write_text(yaml.safe_dump(config))
        env = dict(os.environ, STYLECAM_CONFIG_DIR=str(work / "config"))
        self.port = _free_port()
        self.log = open(work / "daemon.log", "a")
        self.proc = subprocess.Popen([sys.executable, __file__, "--daemon", self.device, "--config", str(cfg_path),
                                      "--port", str(self.port), "--output", "virtualcam", *args],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.token_file = work / "config" / "token"
        self.wait(lambda s: s.get("state") in ("idle", "running"), 120, "the daemon to start")

    def status(self) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/status",
                                     headers={"Authorization": f"Bearer {self.token_file.read_text().strip()}"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def wait(self, cond, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the daemon exited ({self.proc.returncode}); see {self.work / 'daemon.log'}")
            try:
                st = self.status()
                if cond(st):
                    return st
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"timed out waiting for {what}")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the daemon process (all its threads) so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def cpu_percent(self, seconds: float) -> tuple[float, float]:
        """(CPU % of one core over `seconds`, the wall seconds measured)."""
        c0, t0 = self.cpu_s(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = self.cpu_s(), time.monotonic()
        return 100 * (c1 - c0) / (t1 - t0), t1 - t0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_config(args, **processing) -> dict:
    return {"input": {"source": "demo", "fps": args.source_fps, "width": 640, "height": 360},
            "processing": {"providers": ["cpu"], "max_size": args.size, "min_size": args.size,
                           "adaptive": False, "threads": args.threads, **processing},
            "style": {"smoothing": args.smoothing},
            "output": {"size": args.output_size, "virtualcam_backend": "file"}}


def middle(device: str, n: int = 65536) -> bytes:
    size = os.path.getsize(device)
    with open(device, "rb") as fh:
        fh.seek(max(0, size // 2 - n // 2))
        return fh.read(n)


def measure_idle(args, work: Path) -> dict:
    d = Daemon(work, base_config(args, on_demand="auto"), ["--fps", "30"])
    try:
        st = d.wait(lambda s: s["state"] == "idle" and s["input"]["state"] == "paused", 60, "idle")
        time.sleep(2.0)  # start-up work (model load, warm-up) is over
        idle, idle_wall = d.cpu_percent(args.idle_seconds)
        frames_while_idle = d.status()["frames"] - st["frames"]
        load_idle = os.getloadavg()
    finally:
        d.stop()
    d = Daemon(work, base_config(args, on_demand="always"), ["--fps", "30"])
    try:
        d.wait(lambda s: s["frames"] > 30, 120, "stylized frames")
        running, run_wall = d.cpu_percent(args.run_seconds)
        fps = d.status()["fps"]
    finally:
        d.stop()
    return {"idle_cpu_percent": round(idle, 2), "idle_seconds": round(idle_wall, 1),
            "frames_stylized_while_idle": frames_while_idle, "loadavg_during_idle": load_idle,
            "always_cpu_percent": round(running, 1), "always_seconds": round(run_wall, 1), "always_fps": fps}


def measure_wake(args, work: Path) -> dict:
    d = Daemon(work, base_config(args, on_demand="auto", idle_after_s=1.0), ["--fps", "30"])
    latencies, daemon_ms = [], []
    try:
        for _ in range(args.wakes):
            d.wait(lambda s: s["state"] == "idle", 60, "idle")
            time.sleep(1.0)  # the idle card is in the device
            card = middle(d.device)
            t0 = time.monotonic()
            fd = os.open(d.device, os.O_RDONLY)  # an app opens the camera
            try:
                while middle(d.device) == card:
                    if time.monotonic() - t0 > 30:
                        raise SystemExit("no stylized frame within 30 s of opening the device")
                    time.sleep(0.005)
                latencies.append(time.monotonic() - t0)
                daemon_ms.append(d.status().get("wake_ms"))
            finally:
                os.close(fd)
    finally:
        d.stop()
    return {"wakes": len(latencies), "open_to_stylized_s": [round(v, 3) for v in latencies],
            "median_s": round(statistics.median(latencies), 3), "max_s": round(max(latencies), 3),
            "daemon_wake_ms": daemon_ms}


def measure_rate(args, work: Path) -> dict:
    rows = {}
    for fps in (15, 30):
        d = Daemon(work, base_config(args, on_demand="always"), ["--fps", str(fps)])
        try:
            d.wait(lambda s: s["frames"] > 30, 120, "stylized frames")
            time.sleep(3.0)
            s0, c0, t0 = d.status(), d.cpu_s(), time.monotonic()
            time.sleep(args.run_seconds)
            s1, c1, t1 = d.status(), d.cpu_s(), time.monotonic()
        finally:
            d.stop()
        rows[str(fps)] = {"cpu_percent": round(100 * (c1 - c0) / (t1 - t0), 1),
                          "stylized_fps": round((s1["frames"] - s0["frames"]) / (t1 - t0), 2),
                          "capped_per_s": round((s1["capped_frames"] - s0["capped_frames"]) / (t1 - t0), 2),
                          "processing_size": s1["processing_size"], "loadavg": os.getloadavg()}
    rows["cpu_ratio_15_to_30"] = round(rows["15"]["cpu_percent"] / rows["30"]["cpu_percent"], 3)
    return rows


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--daemon":
        return daemon_main(sys.argv[2], sys.argv[3:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    ap.add_argument("--run-seconds", type=float, default=20.0)
    ap.add_argument("--wakes", type=int, default=5)
    ap.add_argument("--source-fps", type=float, default=60.0)
    ap.add_argument("--size", default="320x180", help="the fixed processing size")
    ap.add_argument("--output-size", default="640x360")
    ap.add_argument("--smoothing", default="flow", choices=["off", "ema", "flow"])
    ap.add_argument("--threads", type=int, default=0, help="processing.threads (0: ONNX Runtime decides)")
    ap.add_argument("--only", choices=["idle", "wake", "rate"], action="append")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    result = {"machine": {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()},
              "settings": {k: v for k, v in vars(args).items() if k not in ("json", "only")}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("idle", measure_idle), ("wake", measure_wake), ("rate", measure_rate)):
            if args.only and name not in args.only:
                continue
            result[name] = fn(args, Path(tmp))
            print(name, json.dumps(result[name]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
