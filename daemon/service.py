"""The running daemon: one pipeline, the control API, and the RTMP controller, with the
methods the API calls."""
from __future__ import annotations

import logging
import threading

from .api import ControlApi
from .config import Config
from .pipeline import Pipeline, open_outputs
from .styles import Catalogue

log = logging.getLogger(__name__)


class Service:
    def __init__(self, cfg: Config, catalogue: Catalogue, *, outputs: list[str] | None = None,
                 max_frames: int | None = None, opener=None, api: bool | None = None,
                 token: str | None = None):
        kwargs = {"opener": opener} if opener else {}
        self.cfg, self.catalogue = cfg, catalogue
        self.pipeline = Pipeline(cfg, catalogue, max_frames=max_frames, **kwargs)
        self.output_specs = outputs or cfg.output.targets
        self.api = None
        self.rtmp = None
        self.notes: list[str] = []
        self._lock = threading.Lock()
        use_api = cfg.api.enabled if api is None else api
        if use_api:
            self.api = ControlApi(self, cfg.api.host, cfg.api.port, token=token)

    def start(self) -> "Service":
        try:
            self.notes = open_outputs(self.pipeline, [s for s in self.output_specs if not _is_rtmp(s)])
            for spec in self.output_specs:
                if _is_rtmp(spec):
                    self.rtmp_start({"url": spec})
        except Exception:
            self.pipeline.stop()
            if self.api:
                self.api.stop()  # never started: closes the socket
            raise
        self.pipeline.start()
        if self.api:
            self.api.start()
        return self

    def stop(self) -> None:
        if self.api:
            self.api.stop()
        self.pipeline.stop()
        if self.rtmp is not None:
            self.rtmp.stop()

    def wait(self, timeout=None) -> bool:
        return self.pipeline.wait(timeout)

    # -- API surface -------------------------------------------------------------------
    def status(self) -> dict:
        st = self.pipeline.status()
        st["rtmp"] = self.rtmp_status()
        if self.api:
            st["api_port"] = self.api.port
        return st

    def styles(self) -> dict:
        return {"current": self.pipeline.style.name,
                "styles": [s.describe() for s in self.catalogue.styles.values()]}

    def set_style(self, name: str, transition_ms: int | None = None) -> None:
        self.pipeline.set_style(name, transition_ms)

    def set_params(self, **params) -> None:
        self.pipeline.set_params(**params)

    def _rtmp_controller(self):
        with self._lock:
            if self.rtmp is None:
                from .rtmp_control import RtmpController

                self.rtmp = RtmpController(self.pipeline, self.cfg.rtmp)
            return self.rtmp

    def rtmp_start(self, body) -> dict:
        return self._rtmp_controller().start(body)

    def rtmp_stop(self) -> dict:
        return self._rtmp_controller().stop_stream()

    def rtmp_status(self) -> dict:
        if self.rtmp is None:
            return {"state": "off"}
        return self.rtmp.status()


def _is_rtmp(spec: str) -> bool:
    return spec.startswith(("rtmp://", "rtmps://"))
