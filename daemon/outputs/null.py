"""`null`: discards frames (benchmarks, tests)."""
from . import register_output
from .base import Output


class NullOutput(Output):
    kind = "null"


register_output("null", lambda arg, size, fps, **_: NullOutput(size, fps))
