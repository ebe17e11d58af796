"""The result schema shared by the API, the CLI, the UI and every export (DESIGN.md §5).

A `Prediction` is what `Predictor.predict` returns. `to_dict()` gives the JSON form; `from_dict()`
reads it back (prediction files, cached results), validating as it goes so a malformed file fails
loudly at the boundary instead of deep inside a metric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ResultSchemaError

TASKS = ("grounding", "highlight", "captioning", "qa")


@dataclass(frozen=True)
class Segment:
    """One time window in seconds, with the model's confidence and an optional label (query or sentence)."""

    start: float
    end: float
    score: float = 1.0
    label: str = ""

    def __post_init__(self) -> None:
        for name in ("start", "end", "score"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ResultSchemaError(f"segment {name} must be a finite number, got {value!r}")
        if self.end < self.start:
            raise ResultSchemaError(f"segment end {self.end} is before its start {self.start}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"start": round(float(self.start), 3), "end": round(float(self.end), 3),
                "score": round(float(self.score), 4), "label": self.label}


@dataclass(frozen=True)
class Saliency:
    """Per-frame highlight score: `scores[i]` is the foreground probability of the frame shown at `times[i]` s."""

    times: tuple[float, ...] = ()
    scores: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.times) != len(self.scores):
            raise ResultSchemaError(f"saliency has {len(self.times)} times but {len(self.scores)} scores")

    def to_dict(self) -> dict[str, list[float]]:
        return {"times": [round(float(t), 3) for t in self.times],
                "scores": [round(float(s), 4) for s in self.scores]}


@dataclass(frozen=True)
class Prediction:
    """The answer to one (video, task, query).

    `answer` is the raw generated text with `[LOC]` kept; `text` is the same text with every `[LOC]`
    rendered as a time range. `segments` are ranked best first for grounding/highlight/QA evidence and in
    temporal order for dense captions. `choice` is the index of the chosen option for multiple-choice QA.
    """

    task: str
    query: str
    duration: float
    num_frames: int
    answer: str
    text: str
    segments: tuple[Segment, ...] = ()
    saliency: Saliency = field(default_factory=Saliency)
    model: str = ""
    timings_s: dict[str, float] = field(default_factory=dict)
    choice: int | None = None
    found: bool | None = None      # long videos: whether any moment reached `windows.min_score` (None: one pass)
    windows: int | None = None     # long videos: how many windows answered (None: one pass over the whole video)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ResultSchemaError(f"unknown task {self.task!r}; expected one of {', '.join(TASKS)}")
        if not (isinstance(self.duration, (int, float)) and math.isfinite(self.duration) and self.duration >= 0):
            raise ResultSchemaError(f"duration must be a non-negative number, got {self.duration!r}")

    @property
    def top(self) -> Segment | None:
        """The best segment (grounding answer, QA evidence), or None when nothing was localized."""
        return self.segments[0] if self.segments else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task": self.task, "query": self.query, "duration": round(float(self.duration), 3),
            "num_frames": self.num_frames, "answer": self.answer, "text": self.text,
            "segments": [s.to_dict() for s in self.segments], "saliency": self.saliency.to_dict(),
            "model": self.model, "timings_s": {k: round(float(v), 4) for k, v in self.timings_s.items()},
        }
        for key in ("choice", "found", "windows"):   # absent for a single pass: its JSON is what it always was
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Prediction":
        if not isinstance(data, dict):
            raise ResultSchemaError(f"a prediction must be a JSON object, got {type(data).__name__}")
        missing = [k for k in ("task", "duration", "segments") if k not in data]
        if missing:
            raise ResultSchemaError(f"prediction is missing required field(s): {', '.join(missing)}")
        try:
            segments = tuple(Segment(float(s["start"]), float(s["end"]), float(s.get("score", 1.0)),
                                     str(s.get("label", ""))) for s in data["segments"])
            sal = data.get("saliency") or {}
            saliency = Saliency(tuple(map(float, sal.get("times", ()))), tuple(map(float, sal.get("scores", ()))))
        except (KeyError, TypeError, ValueError) as e:
            raise ResultSchemaError(f"malformed segments or saliency: {e}") from e
        return cls(task=data["task"], query=str(data.get("query", "")), duration=float(data["duration"]),
                   num_frames=int(data.get("num_frames", 0)), answer=str(data.get("answer", "")),
                   text=str(data.get("text", "")), segments=segments, saliency=saliency,
                   model=str(data.get("model", "")), timings_s=dict(data.get("timings_s", {})),
                   choice=data.get("choice"), found=data.get("found"), windows=data.get("windows"))


__all__ = ["TASKS", "Segment", "Saliency", "Prediction"]
