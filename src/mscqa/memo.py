"""Results of the previous call, reused by the next: in-process rebuilds redo only what changed.

>>> last = LastCall()
>>> last.results(["a", "b"], str.upper)
['A', 'B']
>>> last.results(["b", "c"], str.upper)   # "B" is reused; "a" is forgotten
['B', 'C']

Only the latest call's results are kept, so memory is bounded by one call's size. ``Lru`` keeps
the last ``size`` values used instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LastCall(Generic[K, V]):
    """``compute`` for every key, reusing the previous call's value for a key seen there."""

    def __init__(self) -> None:
        self._last: dict[K, V] = {}
        self._lock = threading.Lock()

    @property
    def kept(self) -> dict[K, V]:
        """The latest call's values by key (for tests)."""
        with self._lock:
            return dict(self._last)

    def clear(self) -> None:
        with self._lock:
            self._last = {}

    def results(self, keys: Sequence[K], compute: Callable[[K], V]) -> list[V]:
        with self._lock:
            previous = self._last
        now: dict[K, V] = {}
        for key in keys:
            if key not in now:
                now[key] = previous[key] if key in previous else compute(key)
        with self._lock:
            self._last = now  # concurrent callers: the last one wins; values stay correct
        return [now[key] for key in keys]


class Lru(Generic[K, V]):
    """A small thread-safe LRU map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
