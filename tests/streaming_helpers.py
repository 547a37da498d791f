"""Real processes for the streaming tests: the stylecam daemon as a subprocess (talked to over
its real HTTP control API), nginx with the RTMP module, ffprobe. Every process is started in
its own session and stopped by its PID; ports are free loopback ports."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ApiClient, need, wait_for

RTMP_MODULE_PATHS = ("/usr/lib/nginx/modules/ngx_rtmp_module.so",
                     "/usr/lib64/nginx/modules/ngx_rtmp_module.so",
                     "/usr/local/nginx/modules/ngx_rtmp_module.so")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 15) -> None:
    """Stop a process (and the session it leads) by its PID."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# -- the daemon ----------------------------------------------------------------------------
class Daemon:
    """`stylecam run` as a real subprocess with its own config dir; `api` talks to it over HTTP."""

    def __init__(self, workdir: Path, args: list[str], env: dict | None = None):
        self.workdir = Path(workdir)
        self.config_dir = self.workdir / "config"
        self.log_path = self.workdir / "daemon.log"
        environment = dict(os.environ, STYLECAM_CONFIG_DIR=str(self.config_dir),
                           STYLECAM_CACHE_DIR=str(self.workdir / "cache"), PYTHONUNBUFFERED="1", **(env or {}))
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        cmd = [sys.executable, "-m", "stylecam.cli", "-v", "run", "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=environment,
                                     cwd=self.workdir, start_new_session=True)
        match = wait_for(lambda: self._port_or_exit(), timeout=90, interval=0.2, what="the daemon's control API")
        self.api = ApiClient(int(match), (self.config_dir / "token").read_text().strip())

    def _port_or_exit(self):
        if self.proc.poll() is not None:
            pytest.fail(f"the daemon exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
        found = re.search(r"control API on http://127\.0\.0\.1:(\d+)", self.log())
        return found and found.group(1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self) -> dict:
        code, _, body = self.api.get("/status")
        assert code == 200, body
        return body

    def rtmp(self) -> dict:
        code, _, body = self.api.get("/rtmp")
        assert code == 200, body
        return body

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()

    def kill(self) -> None:
        """A crash: SIGKILL to the daemon alone (not its process group), then reap it."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def ffmpeg_pids(self) -> list[int]:
        """The PIDs of the daemon's ffmpeg children."""
        import psutil

        try:
            kids = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []
        return [p.pid for p in kids if _name(p) == "ffmpeg"]


def _name(proc) -> str:
    import psutil

    try:
        return proc.name()
    except psutil.Error:
        return ""


def process_gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie nobody reaped yet counts as gone)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- nginx-rtmp ------------------------------------------------------------------------------
def rtmp_module() -> str | None:
    return next((p for p in RTMP_MODULE_PATHS if os.path.exists(p)), None)


def need_nginx_rtmp() -> None:
    need("nginx", shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"))
    need("nginx's RTMP module (libnginx-mod-rtmp)", rtmp_module())


class Nginx:
    """nginx-rtmp on 127.0.0.1:port recording every published stream into record_dir (unless
    record=False: a long soak would fill the disk)."""

    def __init__(self, workdir: Path, port: int, record: bool = True):
        self.dir, self.port = Path(workdir), port
        self.dir.mkdir(parents=True, exist_ok=True)
        # nginx's workers run as nobody, who cannot enter pytest's private (0700) tmp dirs
        self.record_dir = Path(tempfile.mkdtemp(prefix="stylecam-rtmp-rec-"))
        os.chmod(self.record_dir, 0o777)
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(f"""
load_module {rtmp_module()};
daemon off;
master_process on;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log info;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        application live {{
            live on;
            {f"record all; record_path {self.record_dir}; record_unique on;" if record else "record off;"}
        }}
    }}
}}
""")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([binary, "-c", str(self.conf), "-p", str(self.dir), "-e", str(self.dir / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(self._listening, timeout=20, interval=0.1, what=f"nginx on port {self.port}")
        return self

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"nginx exited with {self.proc.returncode}: {self.error_log()[-2000:]}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def kill(self) -> None:
        """A crash: SIGKILL to the master and its worker (one process group)."""
        if self.proc is not None:
            stop_process(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGQUIT)  # graceful: finishes recordings

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.record_dir, ignore_errors=True)

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def recordings(self) -> list[Path]:
        return sorted(self.record_dir.glob("*.flv"), key=lambda p: p.stat().st_mtime)


# -- ffprobe ---------------------------------------------------------------------------------
def probe(path: Path, count_frames: bool = True) -> dict:
    """{'video': {...}, 'audio': {...}} from ffprobe (codec, size, rate, frame/packet counts)."""
    cmd = ["ffprobe", "-v", "error", "-show_streams", "-of", "json"]
    if count_frames:
        cmd += ["-count_frames", "-count_packets"]
    out = subprocess.run(cmd + [str(path)], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    streams = json.loads(out.stdout)["streams"]
    return {s["codec_type"]: s for s in streams}


def frame_rate(stream: dict) -> float:
    num, den = stream["r_frame_rate"].split("/")
    return float(num) / float(den)


def wait_state(daemon: Daemon, states, timeout: float, what: str | None = None) -> dict:
    states = (states,) if isinstance(states, str) else tuple(states)

    def reached():
        status = daemon.rtmp()
        return status if status.get("state") in states else None

    return wait_for(reached, timeout=timeout, interval=0.2, what=what or f"RTMP state {'/'.join(states)}")


def elapsed(t0: float) -> float:
    return time.monotonic() - t0
