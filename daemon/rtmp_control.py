"""The RTMP stream behind the control API (POST /rtmp/start, POST /rtmp/stop, GET /rtmp) and
`--output rtmp://...`: at most one stream, added to the running pipeline as an output, so the
virtual camera and every other output carry on whatever the network does.

The stream key is a secret: it is registered with redact() before anything can print it,
never written to the config file, and kept on disk only when the request says save_key
(user config dir, file mode 0600).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from .outputs.base import OutputError
from .outputs.rtmp import PRESETS, RtmpOutput, join_url, resolve
from .paths import user_config_dir, write_private
from .redact import (
    install_log_filter,
    redact,
    redact_url,
    register_secret,
    register_url_secret,
)

log = logging.getLogger(__name__)

START_FIELDS: dict[str, tuple] = {
    "server": (str,), "key": (str,), "preset": (str,), "url": (str,),
    "width": (int,), "height": (int,), "fps": (int, float), "bitrate_kbps": (int,),
    "fit": (str,), "audio": (str,), "save_key": (bool,),
}


class RtmpStartError(OutputError):
    """The stream cannot start (api.ERROR_STATUS turns it into an HTTP status)."""


class RtmpSettingsError(RtmpStartError):
    """The settings are wrong (server, key, preset...): the caller must change them."""


class RtmpUnavailableError(RtmpStartError):
    """The settings are fine but the stream could not start now (ffmpeg, the server)."""


def key_path() -> Path:
    return user_config_dir() / "rtmp_key"


def save_key(key: str, path: Path | None = None) -> Path:
    return write_private(path or key_path(), key + "\n")


def load_saved_key(path: Path | None = None) -> str:
    path = path or key_path()
    try:
        return path.read_text().strip()
    except OSError:
        return ""


class RtmpController:
    def __init__(self, pipeline, rtmp_cfg):
        self.pipeline, self.cfg = pipeline, rtmp_cfg
        self.output: RtmpOutput | None = None
        self._lock = threading.Lock()
        # what status() says when no stream runs
        self._idle = {"state": "off", "last_error": "", "url": "", "preset": rtmp_cfg.preset, "frames": 0}
        install_log_filter()
        if rtmp_cfg.key:
            register_secret(rtmp_cfg.key)
        saved = load_saved_key()
        if saved:
            register_secret(saved)

    # -- API ---------------------------------------------------------------------------------
    def start(self, body) -> dict:
        """Start (or restart with new settings) the stream. Body: {server, key, preset} or {url},
        optional width, height, fps, bitrate_kbps, fit (crop|pad), audio, save_key (the field
        types, START_FIELDS, are the API's to check: this module knows no HTTP)."""
        body = {} if body is None else body
        try:
            settings, key = self._settings(body)
        except OutputError as exc:
            message = redact(exc)
            with self._lock:
                if self.output is None:
                    self._idle.update(state="error", last_error=message)
            raise RtmpSettingsError(message) from None
        if body.get("save_key") and key:
            log.info("stream key saved to %s (mode 0600)", save_key(key))
        with self._lock:
            self._remove()
            out = RtmpOutput(settings, self.pipeline.out_size)
            try:
                self.pipeline.add_output(out)
            except OutputError as exc:
                self._idle.update(state="error", last_error=redact(exc), url=redact_url(settings.url))
                raise RtmpUnavailableError(redact(exc)) from None
            self.output = out
        log.info("RTMP stream to %s: preset %s, %dx%d at %g fps, %d kb/s", redact_url(settings.url),
                 settings.preset, settings.width, settings.height, settings.fps, settings.bitrate_kbps)
        return self.status()

    def stop_stream(self) -> dict:
        with self._lock:
            self._remove()
        return self.status()

    def status(self) -> dict:
        out = self.output
        if out is None:
            return dict(self._idle)
        d = out.describe()
        return {"state": d["state"], "last_error": d["last_error"], "previous_error": d["previous_error"],
                "url": d["url"], "preset": d["preset"],
                "frames": d["frames"], "size": d["stream_size"], "fps": d["fps"], "bitrate_kbps": d["bitrate_kbps"],
                "encoder": d["encoder"], "restarts": d["restarts"], "dropped": d["dropped"], "fit": d["fit"],
                "audio": d["audio"]}

    def stop(self) -> None:
        try:
            self.stop_stream()
        except Exception as exc:  # noqa: BLE001  (shutting down: never raise)
            log.warning("stopping the RTMP stream: %s", redact(exc))

    # -- helpers -------------------------------------------------------------------------------
    def _remove(self) -> None:
        """Stop the current stream (caller holds the lock) and remember its last status."""
        out, self.output = self.output, None
        if out is None:
            return
        self.pipeline.remove_output(out.name)
        out.stop()  # no-op when the pipeline already stopped it
        d = out.describe()
        self._idle = {"state": "stopped", "last_error": d["last_error"], "url": d["url"],
                      "preset": d["preset"], "frames": d["frames"]}
        log.info("RTMP stream to %s stopped after %d frames", d["url"], d["frames"])

    def _settings(self, body: dict):
        cfg = self.cfg
        preset = body.get("preset") or cfg.preset or "custom"
        if preset not in PRESETS:
            raise OutputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        if body.get("url"):
            if body.get("key") or body.get("server"):
                raise OutputError("give either url, or server and key, not both")
            url = body["url"].strip()
            register_url_secret(url)
            key = "/".join(url.split("://", 1)[-1].split("/")[2:])
        else:
            key = (body.get("key") or cfg.key or load_saved_key()).strip()
            if key:
                register_secret(key)
            server = (body.get("server") or cfg.server or PRESETS[preset].server).strip()
            if not server:
                raise OutputError(f"no server: give server (rtmp://HOST/APP from your platform's stream "
                                  f"settings){'; the douyin preset has no fixed ingest server' if preset == 'douyin' else ''}")
            if not key:
                raise OutputError("no stream key: give key (from your platform's stream settings), "
                                  "or start once with save_key to keep it")
            url = join_url(server, key)
        o = self.pipeline.cfg.output
        settings = resolve(url, preset, pipeline_size=self.pipeline.out_size, pipeline_fps=o.fps,
                           width=body.get("width") or cfg.width, height=body.get("height") or cfg.height,
                           fps=body.get("fps") or cfg.fps, bitrate_kbps=body.get("bitrate_kbps") or cfg.bitrate_kbps,
                           fit=body.get("fit", ""), audio=body.get("audio", "silent"))
        return settings, key
