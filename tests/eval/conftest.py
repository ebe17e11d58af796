"""Shared fixtures for the evaluation tests: where the real benchmark annotations live, and Java."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

def benchmarks_root() -> Path:
    """$VIDEOEXPERT_BENCHMARKS, else shared/data/benchmarks beside the repository checkout."""
    env = os.environ.get("VIDEOEXPERT_BENCHMARKS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "benchmarks"


@pytest.fixture(scope="session")
def bench() -> Path:
    root = benchmarks_root()
    if not root.is_dir():
        pytest.skip(f"benchmark annotations not found at {root} (set VIDEOEXPERT_BENCHMARKS)")
    return root


@pytest.fixture(scope="session")
def scorer():
    """One METEOR process for the whole session (each start costs seconds of JVM and paraphrase loading)."""
    if shutil.which("java") is None:
        pytest.skip("METEOR / PTB tokenizer need Java")
    from videoexpert.eval.language import LanguageScorer

    with LanguageScorer() as shared:
        yield shared
