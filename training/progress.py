"""A progress bar: tqdm when installed, a plain counter on stderr otherwise."""
from __future__ import annotations

import sys
import time


def progress(iterable, desc: str = "", total: int | None = None, quiet: bool = False):
    """quiet: no bar, the iterable as it is (ranks other than 0 under torchrun)."""
    if quiet:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return _plain(iterable, desc, total)
    return tqdm(iterable, desc=desc, total=total, dynamic_ncols=True, mininterval=1.0)


def _plain(iterable, desc, total):
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    last = 0.0
    for i, item in enumerate(iterable):
        now = time.monotonic()
        if now - last > 1.0:
            print(f"\r{desc}: {i}/{total or '?'}", end="", file=sys.stderr, flush=True)
            last = now
        yield item
    print(f"\r{desc}: done", file=sys.stderr)
