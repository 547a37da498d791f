"""The browser control panel, served by the control API under /panel.

Plain HTML, CSS and JavaScript from this package (static/): no build step, nothing loaded
from anywhere but the daemon. The page logs in with a one-time code from its URL fragment
(`stylecam panel` prints the link; `stylecam run` logs one), gets a session cookie and a CSRF
token, and then uses the control API's own endpoints (/status, /styles, /style, /params,
/rtmp/...) plus the few below.

  GET  /panel, /panel/panel.js, /panel/panel.css    the page (no login needed: no secrets in it)
  POST /panel/login    {code}           -> session cookie + {csrf}      (same-origin only)
  POST /panel/code                      -> {url, expires_in_s}: a login link (token only)
  GET  /panel/session                   -> {csrf, controls, rtmp_presets, rtmp_preset}
  POST /panel/logout
  GET  /panel/preview.jpg?view=stylized|original      the latest frame, scaled down
  GET  /panel/thumb.jpg?style=NAME      a style's thumbnail    POST /panel/thumbs/refresh

Who may do what (authorize()): a cross-site Origin is refused on every request; a request with
the session cookie needs no token, and if it changes state (any non-GET) it must come from the
page's own origin and carry the session's CSRF token in X-Stylecam-CSRF.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from urllib.parse import parse_qs

from ..api import PARAM_TYPES, ApiError, Reply, check_fields
from ..styles import StyleError
from .controls import describe_controls
from .preview import VIEWS, Preview, Thumbnails
from .sessions import CODE_TTL_S, SESSION_TTL_S, LoginCodes, Session, Sessions

log = logging.getLogger(__name__)

STATIC = {"/panel": ("index.html", "text/html; charset=utf-8"),
          "/panel/": ("index.html", "text/html; charset=utf-8"),
          "/panel/panel.js": ("panel.js", "text/javascript; charset=utf-8"),
          "/panel/panel.css": ("panel.css", "text/css; charset=utf-8")}
PUBLIC = {("GET", p) for p in STATIC} | {("POST", "/panel/login")}
SAFE_METHODS = ("GET", "HEAD")
CSRF_HEADER = "X-Stylecam-CSRF"
LOGIN_AGAIN = "run `stylecam panel` for a new login link"


def panel_url(host: str, code: str) -> str:
    """The login link: the code rides in the fragment, which browsers never send to a server."""
    return f"http://{host}/panel/#code={code}"


@dataclass
class Access:
    """How a request got in: the panel's public pages, a panel session, or (neither) the token."""
    host: str
    public: bool = False
    session: Session | None = None

    @property
    def needs_token(self) -> bool:
        return not self.public and self.session is None


class Panel:
    """`daemon` is the Service (status(), styles(), pipeline, catalogue); it is read only
    when a panel request comes, so the control API also runs in front of stand-ins."""

    def __init__(self, daemon, sessions: Sessions | None = None):
        self.daemon = daemon
        self.codes = LoginCodes()
        self.sessions = sessions or Sessions()
        self._preview: Preview | None = None
        self._thumbs: Thumbnails | None = None
        self._static: dict[str, bytes] = {}
        self.routes = {
            ("POST", "/panel/login"): self._login,
            ("POST", "/panel/code"): self._code,
            ("GET", "/panel/session"): self._session,
            ("POST", "/panel/logout"): self._logout,
            ("GET", "/panel/preview.jpg"): self._preview_jpg,
            ("GET", "/panel/thumb.jpg"): self._thumb_jpg,
            ("POST", "/panel/thumbs/refresh"): self._refresh_thumbs,
        }

    @property
    def preview(self) -> Preview:
        if self._preview is None:
            self._preview = Preview(self.daemon.pipeline)
        return self._preview

    @property
    def thumbnails(self) -> Thumbnails:
        if self._thumbs is None:
            self._thumbs = Thumbnails(self.daemon.pipeline, self.daemon.catalogue)
        return self._thumbs

    def cookie_name(self, host: str) -> str:
        # cookies are per host, not per port: two daemons on one machine must not share one
        port = host.rsplit(":", 1)[1] if host.rsplit(":", 1)[-1].isdigit() and ":" in host else "80"
        return f"stylecam_{port}"

    def login_link(self, host: str, ttl_s: float = CODE_TTL_S) -> str:
        return panel_url(host, self.codes.issue(ttl_s))

    # -- access ------------------------------------------------------------------------------
    def authorize(self, method: str, path: str, headers, token_given: bool = False) -> Access:
        """Whether the request may go ahead without the token (Access.needs_token). ApiError 403 for a cross-site request or a missing CSRF token, 401 for
        a cookie that names no live session (when no token came either)."""
        host = (headers.get("Host") or "").strip()
        origin = headers.get("Origin")
        if origin is not None and origin != f"http://{host}":
            raise ApiError(403, f"cross-site request refused: Origin {origin[:100]!r} is not this daemon")
        if (method, path) in PUBLIC:
            if method not in SAFE_METHODS and origin is None:
                raise ApiError(403, "log in from the panel page itself (the request had no Origin)")
            return Access(host, public=True)
        sid = _cookie(headers, self.cookie_name(host))
        if sid is None:
            return Access(host)
        session = self.sessions.get(sid)
        if session is None:
            if token_given:
                return Access(host)
            raise ApiError(401, f"this panel session is unknown or expired: {LOGIN_AGAIN}")
        if method not in SAFE_METHODS:
            if origin is None:
                raise ApiError(403, "a change from the panel must come from its own page (no Origin header)")
            if not session.csrf_ok(headers.get(CSRF_HEADER) or ""):
                raise ApiError(403, f"missing or wrong {CSRF_HEADER} token: reload the panel")
        return Access(host, session=session)

    def route(self, method: str, path: str, query: str, body, access):
        if (method, path) in PUBLIC and method == "GET":
            return self._page(path)
        handler = self.routes.get((method, path))
        if handler is None:
            if any(p == path for (_, p) in [*self.routes, *PUBLIC]):
                raise ApiError(405, f"{method} not allowed on {path}")
            raise ApiError(404, f"no endpoint {path}; the panel is at /panel/")
        return handler(body, parse_qs(query), access)

    # -- handlers -----------------------------------------------------------------------------
    def _page(self, path: str) -> Reply:
        name, content_type = STATIC[path]
        if name not in self._static:
            self._static[name] = resources.files(__package__).joinpath("static", name).read_bytes()
        return Reply(self._static[name], content_type)

    def _login(self, body, _query, access: Access) -> Reply:
        body = check_fields(body, {"code": (str,)}, required=("code",))
        if not self.codes.redeem(body["code"]):
            raise ApiError(401, f"this login link was used already or has expired: {LOGIN_AGAIN}")
        sid, session = self.sessions.create()
        cookie = (f"{self.cookie_name(access.host)}={sid}; Path=/; HttpOnly; SameSite=Strict; "
                  f"Max-Age={int(SESSION_TTL_S)}")
        log.info("panel: a browser logged in")
        return Reply({"csrf": session.csrf}, headers={"Set-Cookie": cookie})

    def _code(self, body, _query, access: Access) -> dict:
        """A login link for another browser (`stylecam panel`, or the panel's OBS dock link)."""
        check_fields(body, {})
        return {"url": self.login_link(access.host), "expires_in_s": int(CODE_TTL_S)}

    def _session(self, _body, _query, access: Access) -> dict:
        if access.session is None:
            raise ApiError(401, f"no panel session: {LOGIN_AGAIN}")
        from ..outputs.rtmp import PRESETS

        return {"csrf": access.session.csrf, "controls": describe_controls(PARAM_TYPES, self.daemon.status()),
                "rtmp_presets": list(PRESETS), "rtmp_preset": self.daemon.cfg.rtmp.preset}

    def _logout(self, _body, _query, access: Access) -> Reply:
        if access.session is not None:
            self.sessions.end(access.session)
        expired = f"{self.cookie_name(access.host)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        return Reply({"logged_out": True}, headers={"Set-Cookie": expired})

    def _preview_jpg(self, _body, query, _access) -> Reply:
        view = query.get("view", ["stylized"])[0]
        if view not in VIEWS:
            raise ApiError(400, f"view: use one of {', '.join(VIEWS)}")
        data = self.preview.jpeg(view)
        if data is None:
            raise ApiError(503, "no frame yet: the camera is starting")
        return Reply(data, "image/jpeg")

    def _thumb_jpg(self, _body, query, _access) -> Reply:
        name = query.get("style", [""])[0]
        try:
            return Reply(self.thumbnails.jpeg(name), "image/jpeg")
        except StyleError as exc:
            raise ApiError(404, str(exc)) from None

    def _refresh_thumbs(self, _body, _query, _access) -> dict:
        self.thumbnails.refresh()
        return {"refreshed": True}


def _cookie(headers, name: str) -> str | None:
    raw = headers.get("Cookie")
    if not raw:
        return None
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return ""
    morsel = jar.get(name)
    return None if morsel is None else morsel.value
