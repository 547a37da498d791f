"""`stylecam doctor`: the checklist on this machine (run as the real command), and the checks
whose answer depends on the OS edge (sysfs, a port) driven with real stand-ins."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port
from stylecam import doctor


def run_doctor_cli(timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stylecam.cli", "doctor"], check=False, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def lines(out: str, level: str, topic: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith(level) and ln[6:].startswith(topic)]


def write_config(config_dir: Path, text: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.yaml").write_text(text)


def test_doctor_passes_here_with_warnings_for_camera_and_virtual_camera(config_dir):
    port = free_port()
    write_config(config_dir, f"api:\n  port: {port}\n")
    proc = run_doctor_cli()
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, out
    assert lines(out, "OK", "provider") and "cpu: works" in out
    assert lines(out, "OK", "config") and str(config_dir / "config.yaml") in out
    assert f"port {port}" in "".join(lines(out, "OK", "api"))
    assert str(config_dir / "token") in "".join(lines(out, "OK", "token"))
    assert lines(out, "OK", "ffmpeg") or lines(out, "WARN", "ffmpeg")
    if not list(Path("/dev").glob("video*")):
        assert "no camera found" in "".join(lines(out, "WARN", "camera"))
    if sys.platform == "linux" and not Path("/sys/module/v4l2loopback").exists():
        loopback = "".join(lines(out, "WARN", "v4l2loopback"))
        assert "modprobe v4l2loopback" in loopback and "exclusive_caps=1" in loopback
        assert lines(out, "WARN", "virtualcam")
    assert lines(out, "OK", "on demand") and "0 FAIL" in out


def test_doctor_fails_on_a_bad_config_and_flags_a_readable_token(config_dir):
    write_config(config_dir, f"api:\n  port: {free_port()}\nstyle:\n  smoothing: wobbly\n")
    token = config_dir / "token"
    token.write_text("secret\n")
    token.chmod(0o644)
    proc = run_doctor_cli()
    assert proc.returncode == 1, proc.stdout
    config_fail = "".join(lines(proc.stdout, "FAIL", "config"))
    assert "style.smoothing" in config_fail and "delete the file" in config_fail
    if os.name == "posix":
        assert f"chmod 600 {token}" in "".join(lines(proc.stdout, "WARN", "token"))


def test_port_held_by_another_program_fails_and_suggests_a_free_one(test_config):
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(1)  # accepts connections, never answers HTTP
    try:
        cfg = test_config(api={"port": squatter.getsockname()[1]})
        (check,) = doctor.check_api_port(cfg)
    finally:
        squatter.close()
    assert check.level == doctor.FAIL
    assert "another program" in check.message and "api.port" in check.message and "--port" in check.message


def test_running_daemon_on_the_port_is_recognised(test_config):
    from stylecam.api import ControlApi

    class Daemon:  # what the API asks of a daemon, for GET /status
        def status(self):
            return {"style": "udnie", "provider": "cpu", "fps": 24.0}

    api = ControlApi(Daemon(), port=0).start()
    try:
        (check,) = doctor.check_api_port(test_config(api={"port": api.port}))
    finally:
        api.stop()
    assert check.level == doctor.OK
    assert "stylecam daemon answers" in check.message and "udnie" in check.message


@pytest.mark.parametrize("value, level", [("N", doctor.WARN), ("Y", doctor.OK), ("0,0,0", doctor.WARN),
                                          ("1,0,0", doctor.OK)])
def test_loopback_exclusive_caps_is_checked(tmp_path, value, level):
    params = tmp_path / "module" / "v4l2loopback" / "parameters"
    params.mkdir(parents=True)
    (params / "exclusive_caps").write_text(value + "\n")
    (tmp_path / "devices" / "virtual" / "video4linux" / "video10").mkdir(parents=True)
    (check,) = doctor.check_loopback_module(sysfs=tmp_path)
    assert check.level == level
    if level == doctor.WARN:
        assert "modprobe -r v4l2loopback" in check.message and "exclusive_caps=1" in check.message
        assert "Chrome" in check.message


def test_obs_script_is_found():
    path = doctor.obs_script_path()
    assert path is not None and path.name == "stylecam_obs.py"


def test_on_demand_line_says_where_auto_cannot_idle(test_config, tmp_path):
    cfg = test_config()
    (here,) = doctor.check_on_demand(cfg)  # this machine: Linux with /proc
    assert here.level == doctor.OK and "idles while no app has the v4l2loopback device open" in here.message
    for platform in ("win32", "darwin"):
        (there,) = doctor.check_on_demand(cfg, platform=platform)
        assert there.level == doctor.WARN and "works like always" in there.message
    (no_proc,) = doctor.check_on_demand(cfg, proc=tmp_path)  # Linux without /proc mounted
    assert no_proc.level == doctor.WARN
    (paused,) = doctor.check_on_demand(test_config(processing={"on_demand": "never"}))
    assert paused.level == doctor.OK and "stays paused" in paused.message
