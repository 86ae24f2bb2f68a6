"""Bounded session state shared across exchanges (preflight cache, HSTS hosts,
redirect chains, previous responses).

Everything is bounded by entry count and optionally by age, so memory stays
flat over a long session. Time is the traffic's time (the exchange being
analyzed), not the wall clock, so offline analysis of a HAR from last week
expires entries exactly as the live run would have.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, Hashable, Iterator, TypeVar

V = TypeVar("V")


class BoundedStore(Generic[V]):
    """An LRU map with an optional time-to-live, in traffic time."""

    def __init__(self, session: Session, maxsize: int = 1024, ttl: float | None = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._session = session
        self.maxsize = maxsize
        self.ttl = ttl
        self._data: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def _expired(self, stored_at: float) -> bool:
        return self.ttl is not None and self._session.now - stored_at > self.ttl

    def get(self, key: Hashable, default: Any = None) -> V | Any:
        """The live value for *key* (marking it recently used), or *default*. ``store[key] = v``
        sets one; ``in``, ``[key]`` and ``len`` work as for a dict."""
        item = self._data.get(key)
        if item is None:
            return default
        if self._expired(item[0]):
            del self._data[key]
            return default
        self._data.move_to_end(key)
        return item[1]

    def __setitem__(self, key: Hashable, value: V) -> None:
        self._data[key] = (self._session.now, value)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __getitem__(self, key: Hashable) -> V:
        sentinel = object()
        value = self.get(key, sentinel)
        if value is sentinel:
            raise KeyError(key)
        return value

    def __contains__(self, key: Hashable) -> bool:
        sentinel = object()
        return self.get(key, sentinel) is not sentinel

    def pop(self, key: Hashable, default: Any = None) -> V | Any:
        """Remove *key* and return its live value, or *default*."""
        item = self._data.pop(key, None)
        return default if item is None or self._expired(item[0]) else item[1]

    def __len__(self) -> int:
        return len(self._data)

    def items(self) -> Iterator[tuple[Hashable, V]]:
        """The live (key, value) pairs, least recently used first."""
        return ((k, v) for k, (t, v) in list(self._data.items()) if not self._expired(t))


class Session:
    """State of one analysis session; each analyzer keeps its own named stores."""

    def __init__(self) -> None:
        self.now: float = 0.0
        self._stores: dict[str, BoundedStore[Any]] = {}

    def store(self, name: str, maxsize: int = 1024, ttl: float | None = None) -> BoundedStore[Any]:
        """The store called *name*, created with these bounds on first use."""
        existing = self._stores.get(name)
        if existing is None:
            existing = self._stores[name] = BoundedStore(self, maxsize, ttl)
        return existing
