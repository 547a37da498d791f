"""LatestSlot: a one-frame bounded queue between stages. The newest frame wins; a frame
overwritten before anyone took it counts as dropped. Putting never blocks."""
from __future__ import annotations

import threading
from typing import Any


class LatestSlot:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self.dropped = 0
        self.closed = False

    def put(self, item: Any) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Any:
        """The newest item not yet taken, or None on timeout / close."""
        with self._cond:
            if self._item is None and not self.closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    @property
    def pending(self) -> bool:
        """An item is waiting to be taken."""
        return self._item is not None

    def wake(self) -> None:
        """Return a waiting get() now (with None when nothing new is there)."""
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
