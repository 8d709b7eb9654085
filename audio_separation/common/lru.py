"""A bounded least-recently-used cache (the renderer's RIR spectra and clip-second spectra use it)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LruCache:
    """A bounded mapping that evicts the least recently used entries: at most `capacity` entries, and,
    when max_bytes is given, at most max_bytes in all as measured by size_of(value) (the newest entry is
    always kept, even when it alone is larger)."""

    def __init__(
        self,
        capacity: int | None = None,
        max_bytes: int | None = None,
        size_of: Callable[[Any], int] | None = None,
    ) -> None:
        if capacity is None and max_bytes is None:
            raise ValueError("an LRU cache needs a capacity in entries or in bytes")
        if capacity is not None and capacity < 1:
            raise ValueError(f"cache capacity must be >= 1, got {capacity}")
        if max_bytes is not None and (max_bytes < 1 or size_of is None):
            raise ValueError(f"a byte-bounded cache needs max_bytes >= 1 and size_of, got {max_bytes}")
        self.capacity = None if capacity is None else int(capacity)
        self.max_bytes = None if max_bytes is None else int(max_bytes)
        self.size_of = size_of
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return self._entries[key]
        self.misses += 1
        value = compute()
        self._entries[key] = value
        if self.max_bytes is not None:
            size = int(self.size_of(value))
            self._sizes[key] = size
            self.bytes += size
            while self.bytes > self.max_bytes and len(self._entries) > 1:
                self._evict()
        if self.capacity is not None and len(self._entries) > self.capacity:
            self._evict()
        return value

    def _evict(self) -> None:
        key, _ = self._entries.popitem(last=False)
        self.bytes -= self._sizes.pop(key, 0)

    def set_max_bytes(self, max_bytes: int) -> None:
        """A new byte bound (evicting down to it now)."""
        self.max_bytes = int(max_bytes)
        while self.bytes > self.max_bytes and len(self._entries) > 1:
            self._evict()

    def clear(self) -> None:
        self._entries.clear()
        self._sizes.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)
