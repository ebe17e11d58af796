"""Training data: examples built from (video features, question, answer with [LOC]s, windows) and their batching."""

from .collate import Example, collate, make_example

__all__ = ["Example", "make_example", "collate"]
