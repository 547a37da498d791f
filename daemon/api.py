"""Control API: HTTP + JSON on 127.0.0.1 for the OBS script, Stream Deck tools and scripts.

Every request needs the token (header `Authorization: Bearer TOKEN` or `X-Stylecam-Token`),
written on first start to the user config dir with 0600 permissions (`stylecam token` prints
it). Requests whose Host header is not a loopback name are refused (DNS rebinding); no CORS
headers are ever sent. Bad input gets a 4xx with {"error": "..."}; no request can stop the
daemon.

  GET  /status                      everything the stats object knows
  GET  /styles                      the style catalogue
  POST /style   {name, transition_ms?}
  POST /params  {enabled?, strength?, preserve_color?, mirror?, smoothing?, target_fps?, on_demand?, region?,
                 sharpen?}
  GET  /rtmp    POST /rtmp/start {server, key, preset?, ...}   POST /rtmp/stop
  /panel/...                        the browser control panel (stylecam.panel): a one-time
                                    login code buys a session cookie, which works instead of the
                                    token for the page (state changes need its CSRF token)
"""
from __future__ import annotations

import errno
import hmac
import ipaddress
import json
import logging
import os
import secrets
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from .config import LIMITS, Choices, ConfigError
from .errors import StylecamError
from .outputs import OutputError
from .paths import user_config_dir
from .rtmp_control import START_FIELDS, RtmpSettingsError, RtmpUnavailableError
from .styles import StyleError

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class ApiError(Exception):
    """A bad request (HTTP's own errors: token, host, body, route, field types)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# the one place domain errors become HTTP statuses; the first matching class wins
ERROR_STATUS: tuple[tuple[type[StylecamError], int], ...] = (
    (StyleError, 404), (RtmpSettingsError, 400), (RtmpUnavailableError, 503), (ConfigError, 400),
    (OutputError, 503), (StylecamError, 400))


def status_for(exc: ApiError | StylecamError) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return next(code for kind, code in ERROR_STATUS if isinstance(exc, kind))


# sent with every answer: nothing may frame the daemon's pages or load anything from elsewhere
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' blob:; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class Reply:
    """A handler's answer that is not JSON (the panel's pages and images), with extra headers."""

    def __init__(self, data: bytes | Any, content_type: str = "application/json",
                 headers: dict | None = None):
        self.data = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.content_type, self.headers = content_type, headers or {}


def token_path() -> Path:
    return user_config_dir() / "token"


def load_or_create_token(path: Path | None = None) -> str:
    path = path or token_path()
    if path.exists():
        token = path.read_text().strip()
        if token:
            if path.stat().st_mode & 0o077:  # readable by others: tighten, say so
                os.chmod(path, 0o600)
                log.warning("the token file %s was readable by other users; its permissions are now 0600", path)
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)
    return token


# -- request validation ----------------------------------------------------------------
PARAM_TYPES: dict[str, tuple] = {
    "enabled": (bool,), "strength": (int, float), "preserve_color": (bool,), "mirror": (bool,),
    "smoothing": (str,), "target_fps": (int, float), "on_demand": (str,), "region": (str,),
    "sharpen": (int, float),
}
PARAM_LIMITS = {"strength": "strength", "target_fps": "fps", "smoothing": "smoothing",  # field: config.LIMITS key
                "on_demand": "on_demand", "region": "region", "sharpen": "sharpen"}


def check_fields(body: Any, allowed: dict[str, tuple], required: tuple = ()) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"unknown field(s) {', '.join(map(str, unknown))}; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in body:
            raise ApiError(400, f"missing field {key!r}")
    for key, value in body.items():
        types = allowed[key]
        if isinstance(value, bool) and bool not in types:
            raise ApiError(400, f"{key}: expected {types[0].__name__}, got a boolean")
        if not isinstance(value, types):
            raise ApiError(400, f"{key}: expected {' or '.join(t.__name__ for t in types)}")
    return body


def validate_params(body: Any) -> dict:
    body = check_fields(body, PARAM_TYPES)
    for key, name in PARAM_LIMITS.items():
        if key in body:
            check_limit(key, body[key], name)
    return body


def check_limit(key: str, value: Any, name: str) -> None:
    """ApiError 400 naming `key` when `value` is not one config.LIMITS[name] allows."""
    allowed = LIMITS[name]
    if not allowed.allows(value):
        raise ApiError(400, f"{key}: use one of {allowed}" if isinstance(allowed, Choices)
                       else f"{key}: must be {allowed}")


def _json_body(method: str, raw: bytes):
    """A POST's JSON body ({} when empty); None for other methods."""
    if method != "POST":
        return None
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "the body is not valid JSON") from None


# -- the server ------------------------------------------------------------------------
Handler = Callable[[Any], Any]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default 5 resets connections when several clients call at once

    def __init__(self, address, api: "ControlApi"):
        self.api = api  # what RequestHandler reaches the routes, the token and the panel through
        if ":" in address[0]:  # ::1, or :: (every interface) with api.allow_remote
            self.address_family = socket.AF_INET6
        super().__init__(address, RequestHandler)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _url_host(host: str) -> str:
    """How a client on this machine names an API listening on `host` (IPv6 in brackets)."""
    if host in ("0.0.0.0", "::"):  # every interface: loopback reaches it
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"[{host}]" if ":" in host else host


class RequestHandler(BaseHTTPRequestHandler):
    """Thin HTTP: host check, token check, body, route; the API object does the rest."""
    server: _Server
    server_version = "stylecam"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # an error about a malformed request line still has a status line
    timeout = 10  # a client that stops sending mid-request frees its thread

    def setup(self):
        super().setup()
        # answers are one write; without this, Nagle + delayed ACK held keep-alive replies ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # requests are not logged (no secrets in logs)
        pass

    def parse_request(self) -> bool:
        if len(self.raw_requestline.split()) != 3:  # "GET /" (HTTP/0.9) or garbage
            self.command, self.request_version = None, self.default_request_version
            self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
            self.close_connection = True
            self.send_error(400, "malformed request line; expected METHOD PATH HTTP/1.1")
            return False
        return super().parse_request()

    def send_error(self, code, message=None, explain=None):
        # malformed HTTP (bad request line, headers, unknown method) gets JSON too
        self.close_connection = True
        try:
            self._reply(code, {"error": message or HTTPStatus(code).phrase})
        except OSError:
            pass

    def _reply(self, status: int, obj: Any) -> None:
        reply = obj if isinstance(obj, Reply) else Reply(obj)
        self.send_response(status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in {**SECURITY_HEADERS, **reply.headers}.items():
            self.send_header(name, value)
        if self.close_connection:  # the client learns it must not send another request
            self.send_header("Connection", "close")
        self._headers_buffer.append(b"\r\n" + reply.data)  # headers and body in one send
        self.flush_headers()

    def _handle(self, method: str) -> None:
        self._body_read = False
        try:
            status, obj = 200, self._dispatch(method)
        except (ApiError, StylecamError) as exc:
            status, obj = status_for(exc), {"error": str(exc)}
            if not self._body_read:  # the unread body must not be parsed as a request
                self.close_connection = True
        except Exception as exc:  # the daemon never dies from a request
            log.warning("API %s %s failed: %s", method, self.path.split("?")[0], exc)
            status, obj = 500, {"error": f"internal error: {type(exc).__name__}"}
        try:
            self._reply(status, obj)
        except OSError:
            pass

    def _dispatch(self, method: str):
        api = self.server.api
        self._check_host()
        path, _, query = self.path.partition("?")
        access = self._check_token(api, method, path)
        raw = self._read_body()
        if path.startswith("/panel"):
            return api.panel.route(method, path, query, _json_body(method, raw), access)
        return api.route(method, path, _json_body(method, raw))

    def _check_host(self) -> None:
        host = (self.headers.get("Host") or "").strip()
        hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        if not self.server.api.host_allowed(hostname):
            self.close_connection = True
            raise ApiError(403, "Host header must be 127.0.0.1, localhost or [::1]")

    def _check_token(self, api: "ControlApi", method: str, path: str):
        given = self.headers.get("X-Stylecam-Token") or ""
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        # the panel's session cookie (or a public panel page) stands in for the token
        access = api.panel.authorize(method, path, self.headers, token_given=bool(given))
        if access.needs_token and not hmac.compare_digest(given.encode("utf-8", "replace"), api.token.encode()):
            raise ApiError(401, "missing or wrong token; `stylecam token` prints it")
        return access

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):  # a chunked body would be read as the next request
            self.close_connection = True
            raise ApiError(411, "Transfer-Encoding is not supported: send the body with a Content-Length")
        length_text = self.headers.get("Content-Length", "0").strip()
        if not (length_text.isascii() and length_text.isdigit()):  # also "-1", "+5", "" and "\u00b2"
            self.close_connection = True
            raise ApiError(400, "bad Content-Length: give the body's size in bytes")
        length = int(length_text)
        if length > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, f"body too large (max {MAX_BODY} bytes)")
        try:
            raw = self.rfile.read(length) if length else b""
        except TimeoutError:
            raise ApiError(408, f"the body ({length} bytes) did not arrive in time") from None
        self._body_read = True
        return raw

    def do_GET(self):  # noqa: N802
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")

    def do_PUT(self):  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self):  # noqa: N802
        self._handle("DELETE")

    def do_OPTIONS(self):  # noqa: N802  (no CORS: preflights fail)
        self._handle("OPTIONS")


class ControlApi:
    """Routes requests to the daemon. `daemon` must offer status(), styles(), set_style(),
    set_params() and, for RTMP, rtmp_start(), rtmp_stop(), rtmp_status()."""

    def __init__(self, daemon, host: str = "127.0.0.1", port: int = 8765, token: str | None = None):
        from .panel import Panel

        self.daemon = daemon
        self.token = token or load_or_create_token()
        self.panel = Panel(daemon)
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/status"): lambda _: daemon.status(),
            ("GET", "/styles"): lambda _: daemon.styles(),
            ("POST", "/style"): self._style,
            ("POST", "/params"): self._params,
            ("GET", "/rtmp"): lambda _: daemon.rtmp_status(),
            ("POST", "/rtmp/start"): lambda body: daemon.rtmp_start(check_fields(body, START_FIELDS)),
            ("POST", "/rtmp/stop"): lambda _: daemon.rtmp_stop(),
        }
        self.host = host = host.strip("[]")  # [::1] as in a URL: the address ::1
        # a remote client sends the address it dialled: with api.allow_remote, that one counts too
        self.allowed_hosts = LOOPBACK_HOSTS | {host.lower(), _url_host(host).lower()}
        try:
            self.server = _Server((host, port), self)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
                raise OSError(f"api.host {host!r} is not an address of this machine ({exc.strerror}); "
                              "use 127.0.0.1, or one of this machine's addresses") from None
            raise OSError(f"cannot listen on {host}:{port} ({exc.strerror}): is another stylecam "
                          f"running? Stop it, or choose another port with api.port / --port") from None
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="api", daemon=True)

    @property
    def netloc(self) -> str:
        """HOST:PORT that reaches the API from this machine (for links, e.g. the panel's)."""
        return f"{_url_host(self.server.server_address[0])}:{self.port}"

    def host_allowed(self, hostname: str) -> bool:
        """The Host header's name is one this daemon answers to. Listening on every interface
        (0.0.0.0 or :: with api.allow_remote), any IP address counts: remote clients dial one of
        this machine's; a DNS rebinding attack needs a host name, and names stay refused."""
        name = hostname.lower()
        return name in self.allowed_hosts or (self.host in ("0.0.0.0", "::") and _is_ip(name))

    def start(self) -> "ControlApi":
        self._thread.start()
        address = self.server.server_address[0]
        shown = f"[{address}]" if ":" in address else address
        if address in LOOPBACK_HOSTS or address.startswith("127."):
            log.info("control API on http://%s:%d", shown, self.port)
        else:
            log.warning("control API on http://%s:%d%s: reachable from other machines (api.allow_remote); "
                        "anyone with the token can control stylecam", shown, self.port,
                        " (every interface)" if address in ("0.0.0.0", "::") else "")
        return self

    def stop(self) -> None:
        if self._thread.ident is not None:  # shutdown() waits for serve_forever: only if it ran
            self.server.shutdown()
        self.server.server_close()

    def route(self, method: str, path: str, body):
        handler = self.routes.get((method, path))
        if handler is None:
            if any(p == path for (_, p) in self.routes):
                raise ApiError(405, f"{method} not allowed on {path}")
            raise ApiError(404, f"no endpoint {path}; see GET /status, /styles, POST /style, /params")
        return handler(body)

    def _style(self, body):
        body = check_fields(body, {"name": (str,), "transition_ms": (int,)}, required=("name",))
        ms = body.get("transition_ms")
        if ms is not None:
            check_limit("transition_ms", ms, "transition_ms")
        self.daemon.set_style(body["name"], ms)  # an unknown name: StyleError, a 404
        return {"style": body["name"]}

    def _params(self, body):
        params = validate_params(body)
        self.daemon.set_params(**params)
        return {"applied": params}
