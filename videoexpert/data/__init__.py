"""Training data: examples built from (video features, question, answer with [LOC]s, windows) and their batching.

`annotations` (the benchmark file readers, shared with `videoexpert.eval`) imports without torch; the examples and
their batching load on first use.
"""

import importlib

_LAZY = {"Example": ".collate", "make_example": ".collate", "collate": ".collate"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Example", "make_example", "collate"]
