"""Output stage: a small registry of output kinds. Each output runs on its own thread behind a
LatestSlot, so a slow output drops frames instead of slowing the pipeline.

Specs: virtualcam | window | file:PATH | null | stream:URL | rtmp://... | rtmps://...
"""
from __future__ import annotations

from typing import Callable

from .base import Output, OutputError

_REGISTRY: dict[str, Callable[..., Output]] = {}


def register_output(kind: str, factory: Callable[..., Output]) -> None:
    """factory(arg: str, size: (w, h), fps: float, **options) -> Output"""
    _REGISTRY[kind] = factory


def split_spec(spec: str) -> tuple[str, str]:
    spec = spec.strip()
    if spec.startswith(("rtmp://", "rtmps://")):
        return "rtmp", spec
    kind, _, arg = spec.partition(":")
    return kind, arg


def create_output(spec: str, size: tuple[int, int], fps: float, **options) -> Output:
    _load_builtins()
    kind, arg = split_spec(spec)
    if kind not in _REGISTRY:
        raise OutputError(f"unknown output {spec!r}; use one of: virtualcam, window, file:PATH, null, "
                          "stream:udp://127.0.0.1:PORT, rtmp://SERVER/APP/KEY")
    return _REGISTRY[kind](arg, size, fps, **options)


_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from . import file, null, rtmp, stream, virtualcam, window  # noqa: F401  (they register themselves)


__all__ = ["Output", "OutputError", "register_output", "create_output", "split_spec"]
