"""Keep stream keys out of logs, /status and error messages.

Two layers, both applied by `redact()`:
- URL shape: in an rtmp(s) URL everything after the application (`rtmp://host/app/KEY?x=y`)
  is the key, so it becomes `rtmp://host/app/****`; a password in `user:pass@` and secret-looking
  query values (passphrase, key, token, ...) of other URLs are masked too.
- Known secrets: every key handed to `register_secret()` is replaced wherever it appears, so
  ffmpeg's own messages and file names cannot leak it either.

`install_log_filter()` puts the same filter on the root logger's handlers, a last line of
defence for any log message that embeds a URL.
"""
from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, unquote, urlsplit, urlunsplit

MASK = "****"
RTMP_SCHEMES = ("rtmp", "rtmps", "rtmpt", "rtmpts", "rtmpe")
SECRET_PARAMS = re.compile(r"(pass|key|token|secret|auth|streamid|sign)", re.IGNORECASE)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(secret: str) -> None:
    """Mask `secret` (and its URL-quoted and unquoted forms) in everything redact() sees."""
    forms = {secret, quote(secret, safe=""), quote(secret, safe="/?&="), unquote(secret)}
    # a key with a query string (bilibili: KEY?streamname=...&key=...) may leak piecewise
    base, _, query = secret.partition("?")
    forms.add(base)
    forms.update(value for _, _, value in (p.partition("=") for p in query.split("&")))
    with _lock:
        _secrets.update(f for f in forms if len(f) >= 6)


def register_url_secret(url: str) -> None:
    """Register the secret parts of a URL: an rtmp key (after the app), a password, secret query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        register_secret(parts.password)
    if parts.scheme.lower() in RTMP_SCHEMES:
        key = "/".join(parts.path.split("/")[2:])
        if key:
            register_secret(key + ("?" + parts.query if parts.query else ""))
        elif parts.query:
            register_secret(parts.query)
    for param in parts.query.split("&"):
        name, _, value = param.partition("=")
        if value and SECRET_PARAMS.search(name):
            register_secret(value)


def redact_url(url: str) -> str:
    """The URL with its secret parts replaced by ****. Text that is not a URL comes back as is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _mask_known(url)
    if not parts.scheme or not parts.netloc:
        return _mask_known(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    path, query = parts.path, parts.query
    if parts.scheme.lower() in RTMP_SCHEMES:
        segments = path.split("/")  # ['', 'app', 'KEY', ...]
        if len(segments) > 2 and any(segments[2:]):
            path = "/".join(segments[:2] + [MASK])
        query = MASK if query else ""
    elif query:
        query = "&".join(_mask_param(p) for p in query.split("&"))
    return _mask_known(urlunsplit((parts.scheme, netloc, path, query, "")))


def redact(text: object) -> str:
    """Any text (an error message, an ffmpeg log line) with URLs and known secrets masked."""
    text = str(text)

    def one(match: re.Match) -> str:
        url = match.group(0)
        tail = ""
        while url and url[-1] in ":,.;)]":  # punctuation that ends a sentence, not the URL
            url, tail = url[:-1], url[-1] + tail
        return redact_url(url) + tail

    return _mask_known(_URL.sub(one, text))


def _mask_param(param: str) -> str:
    name, eq, value = param.partition("=")
    return f"{name}={MASK}" if eq and value and SECRET_PARAMS.search(name) else param


def _mask_known(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets or "://" in str(record.msg):
            message = record.getMessage()
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[1] is not None:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(record.exc_text)
        return True


_filter = RedactingFilter()


def install_log_filter() -> None:
    """Add the redacting filter to every handler of the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)
