"""The training library's error: bad input it explains (the message names the fix). Only the
command-line entry points (training/cli.py, `python -m` mains) turn it into an exit."""
from __future__ import annotations

from ..errors import StylecamError


class TrainingError(StylecamError):
    pass


def exits_on_error(main):
    """For a `python -m stylecam.training.X` main: a TrainingError ends it with its message."""
    import functools

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except TrainingError as exc:
            raise SystemExit(str(exc)) from None

    return wrapper
