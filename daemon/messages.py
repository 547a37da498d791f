"""Short text for people: the first line of an error, for status fields, checks and reports."""
from __future__ import annotations


def first_line(exc: BaseException | str, limit: int = 200) -> str:
    """The error's first line, at most `limit` characters; its type's name when it says nothing."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:limit]
