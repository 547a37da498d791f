"""Who may use the panel: one-time login codes, and the browser sessions they are exchanged for.

A login code is good once, for a few minutes. A session is a random id in an HttpOnly,
SameSite=Strict cookie plus a CSRF token the page sends with every state change. Sessions are
kept (as SHA-256 hashes of their ids, file mode 0600) in the user config dir, so a panel left
open, or an OBS dock, survives a daemon restart.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..paths import user_config_dir, write_private

log = logging.getLogger(__name__)

CODE_TTL_S = 600.0             # a login link works once, within ten minutes
SESSION_TTL_S = 30 * 86400.0   # then the browser logs in again
MAX_SESSIONS = 32              # the oldest goes first
MAX_CODES = 16


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def sessions_path() -> Path:
    return user_config_dir() / "panel_sessions.json"


@dataclass
class Session:
    key: str          # the hash of the cookie's id (the id itself is never stored)
    csrf: str
    expires: float    # wall-clock time (it outlives the process)

    def csrf_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.csrf.encode())


class LoginCodes:
    """One-time codes: issue() returns a fresh one, redeem() accepts each once, before it expires."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._codes: dict[str, float] = {}  # digest -> expiry
        self._lock = threading.Lock()

    def issue(self, ttl_s: float = CODE_TTL_S) -> str:
        code = secrets.token_urlsafe(18)
        with self._lock:
            now = self.clock()
            self._codes = {k: t for k, t in self._codes.items() if t > now}
            while len(self._codes) >= MAX_CODES:
                self._codes.pop(min(self._codes, key=self._codes.get))
            self._codes[_digest(code)] = now + ttl_s
        return code

    def redeem(self, code: str) -> bool:
        with self._lock:
            expiry = self._codes.pop(_digest(code), None)  # used or not: gone
        return expiry is not None and self.clock() < expiry


class Sessions:
    def __init__(self, path: Path | None = None, clock=time.time):
        self.path, self.clock = path, clock
        self._lock = threading.Lock()
        self._by_key: dict[str, Session] | None = None  # loaded on first use

    def create(self) -> tuple[str, Session]:
        """A new session: (the cookie's id, the session)."""
        sid = secrets.token_urlsafe(32)
        session = Session(_digest(sid), secrets.token_urlsafe(24), self.clock() + SESSION_TTL_S)
        with self._lock:
            table = self._table()
            table[session.key] = session
            while len(table) > MAX_SESSIONS:
                table.pop(min(table, key=lambda k: table[k].expires))
            self._save(table)
        return sid, session

    def get(self, sid: str) -> Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._table().get(_digest(sid))
        if session is None or session.expires <= self.clock():
            return None
        return session

    def end(self, session: Session) -> None:
        with self._lock:
            table = self._table()
            if table.pop(session.key, None) is not None:
                self._save(table)

    # -- the file --------------------------------------------------------------------------
    def _file(self) -> Path:
        return self.path or sessions_path()

    def _table(self) -> dict[str, Session]:
        if self._by_key is None:
            self._by_key = {}
            try:
                data = json.loads(self._file().read_text())
                now = self.clock()
                self._by_key = {k: Session(k, str(v["csrf"]), float(v["expires"]))
                                for k, v in data.items() if float(v["expires"]) > now}
            except FileNotFoundError:
                pass
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                log.warning("panel sessions in %s unreadable (%s): everyone logs in again", self._file(), exc)
        return self._by_key

    def _save(self, table: dict[str, Session]) -> None:
        path = self._file()
        try:
            tmp = write_private(path.with_suffix(".tmp"),
                                json.dumps({k: {"csrf": s.csrf, "expires": s.expires} for k, s in table.items()}))
            os.replace(tmp, path)
        except OSError as exc:  # the session still works until the daemon stops
            log.warning("cannot save panel sessions to %s: %s", path, exc)
