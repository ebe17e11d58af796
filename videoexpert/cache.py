"""A bounded LRU of encoded videos, keyed by the file's content hash.

Encoding (decode 100 frames + run the vision tower) is the expensive part of answering a question about a
video; the LLM pass that follows is cheap by comparison. An app that lets a person ask several questions
about the same video keeps the `VideoFeatures` here so the second question skips decoding and encoding.
The key is the SHA-256 of the file's bytes, so the same video uploaded twice (under two temporary names)
is still a hit, and an edited file with the same name is not.

One cache belongs to one model: features depend on the vision tower that produced them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .predictor import VideoFeatures

_CHUNK = 1 << 20  # 1 MiB reads: hashing a 500 MB upload takes about a second and little memory


def content_hash(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    size: int
    max_entries: int


class FeatureCache:
    """Least-recently-used map content hash -> `VideoFeatures`, holding at most `max_entries` videos.

    Thread-safe: an app serves several sessions from one cache. `get` counts a hit or a miss.
    """

    def __init__(self, max_entries: int = 8) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._items: OrderedDict[str, VideoFeatures] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: str) -> "VideoFeatures | None":
        with self._lock:
            features = self._items.get(key)
            if features is None:
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return features

    def put(self, key: str, features: "VideoFeatures") -> None:
        with self._lock:
            self._items[key] = features
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._items), self.max_entries)


__all__ = ["content_hash", "CacheStats", "FeatureCache"]
