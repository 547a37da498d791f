"""Child processes (ffmpeg, ffprobe) that never outlive stylecam, however it ends.

A clean stop ends them through the outputs' own close(). For a crash or a `kill -9` the OS
does it:
  Linux    prctl(PR_SET_PDEATHSIG, SIGKILL) in the child, between fork and exec: the kernel
           kills the child when the thread that started it dies (so start children from a
           thread that lives as long as they should: the outputs' supervisor threads do).
  Windows  every child joins one job object created with KILL_ON_JOB_CLOSE: when the last
           handle to the job (ours) closes, which the kernel does when this process dies, every
           process in the job is killed. (Not testable on the Linux CI; see docs/streaming.md.)
  macOS    neither exists; ffmpeg's own end of input (stdin EOF, `-shortest` on the generated
           audio) is what ends it there.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _libc_prctl():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl() if sys.platform.startswith("linux") else None


def _die_with_parent(parent_pid: int):
    """The preexec_fn: runs in the child after fork, before exec (async-signal-safe calls only)."""
    def preexec() -> None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


# -- Windows: one kill-on-close job object for the whole process ---------------------------
_job_lock = threading.Lock()
_job = None


def _windows_job():
    """A job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, created once (None if unavailable)."""
    global _job
    with _job_lock:
        if _job is not None:
            return _job or None
        _job = 0
        try:
            from ctypes import wintypes

            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)

            class IoCounters(ctypes.Structure):
                _fields_ = [(n, ctypes.c_ulonglong) for n in ("ReadOperationCount", "WriteOperationCount",
                                                                "OtherOperationCount", "ReadTransferCount",
                                                                "WriteTransferCount", "OtherTransferCount")]

            class BasicLimits(ctypes.Structure):
                _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                            ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                            ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                            ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                            ("SchedulingClass", wintypes.DWORD)]

            class ExtendedLimits(ctypes.Structure):
                _fields_ = [("BasicLimitInformation", BasicLimits), ("IoInfo", IoCounters),
                            ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                            ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t)]

            kernel32.CreateJobObjectW.restype = wintypes.HANDLE
            handle = kernel32.CreateJobObjectW(None, None)
            if not handle:
                raise OSError(ctypes.get_last_error(), "CreateJobObjectW failed")
            info = ExtendedLimits()
            info.BasicLimitInformation.LimitFlags = 0x2000  # JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
            if not kernel32.SetInformationJobObject(handle, 9, ctypes.byref(info), ctypes.sizeof(info)):
                raise OSError(ctypes.get_last_error(), "SetInformationJobObject failed")  # 9: ExtendedLimitInformation
            _job = (kernel32, handle)
        except (OSError, AttributeError, ValueError) as exc:
            log.debug("no job object for child processes: %s", exc)
        return _job or None


def _join_job(proc: subprocess.Popen) -> None:
    job = _windows_job()
    if job is not None:
        kernel32, handle = job
        if not kernel32.AssignProcessToJobObject(handle, int(proc._handle)):
            log.debug("could not add pid %d to the job object", proc.pid)


# -- the one way stylecam starts a child -----------------------------------------------------
def platform_kwargs() -> dict:
    """Popen keyword arguments that tie a child's life to this process (and hide its console
    window on Windows)."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NO_WINDOW}
    # its own session: Ctrl+C in the terminal reaches stylecam only, which then closes its
    # children in order (an ffmpeg that got the SIGINT itself died with code 255 first, and a
    # recording's last fragment was cut)
    if _PRCTL is not None:
        return {"preexec_fn": _die_with_parent(os.getpid()), "start_new_session": True}
    return {"start_new_session": True}


def popen(cmd: list[str], **kwargs) -> subprocess.Popen:
    """subprocess.Popen for a child that dies with stylecam."""
    proc = subprocess.Popen(cmd, **platform_kwargs(), **kwargs)
    if sys.platform == "win32":
        _join_job(proc)
    return proc


def run(cmd: list[str], *, timeout: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run for a child that dies with stylecam (kills it on timeout, like run())."""
    capture = kwargs.pop("capture_output", False)
    if capture:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.pop("check", None)
    with popen(cmd, **kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:  # a timeout, Ctrl+C, SIGTERM: the child goes too
            proc.kill()
            proc.wait()
            raise
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
