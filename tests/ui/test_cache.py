"""The feature cache: content-hash keys and bounded LRU eviction."""

from __future__ import annotations

import shutil

import pytest
import torch

from videoexpert import VideoFeatures
from videoexpert.cache import FeatureCache, content_hash


def features(tag: float) -> VideoFeatures:
    return VideoFeatures(torch.full((2, 4), tag), torch.zeros(2, 3, 4), (0.0, 1.0), 2.0, f"v{tag}")


def test_content_hash_follows_bytes_not_names(tmp_path):
    a = tmp_path / "a.mp4"
    a.write_bytes(b"\x00video" * 300_000)          # over one read chunk
    b = tmp_path / "copy-with-another-name.mp4"
    shutil.copy(a, b)
    c = tmp_path / "c.mp4"
    c.write_bytes(b"\x00video" * 300_000 + b"!")
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(c)
    assert len(content_hash(a)) == 64


def test_lru_evicts_least_recently_used():
    cache = FeatureCache(max_entries=2)
    cache.put("a", features(1))
    cache.put("b", features(2))
    assert cache.get("a") is not None               # a is now the most recent
    cache.put("c", features(3))                     # evicts b
    assert "b" not in cache and "a" in cache and "c" in cache
    assert len(cache) == 2
    assert cache.get("b") is None
    stats = cache.stats
    assert (stats.hits, stats.misses, stats.size, stats.max_entries) == (1, 1, 2, 2)


def test_put_replaces_and_refreshes():
    cache = FeatureCache(max_entries=2)
    cache.put("a", features(1))
    cache.put("b", features(2))
    cache.put("a", features(9))
    cache.put("c", features(3))                     # b is the oldest now
    assert cache.get("a").cls_tokens[0, 0].item() == 9
    assert "b" not in cache
    cache.clear()
    assert len(cache) == 0


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        FeatureCache(0)
