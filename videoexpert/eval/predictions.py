"""Reading and writing prediction files.

Accepted formats (detected per line, so one file may mix the first two):

* our schema as JSONL: ``{"id": ..., **Prediction.to_dict()}`` per line (what ``videoexpert infer`` writes);
* the QVHighlights submission JSONL: ``{"qid", "pred_relevant_windows": [[s, e, score], ...],
  "pred_saliency_scores": [one per 2-s clip]}``;
* a densevid_eval submission JSON ``{"results": {video_id: [{"timestamp": [s, e], "sentence"}]}}``.

Lines that are not JSON, lack an id, or break the schema are *malformed*: listed with their line number
and reason, then ignored (their item counts as missing). An id seen twice is a *duplicate*: the last line
wins, as in the reference scripts that build a dict keyed by id (and as a resumed run would want).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..data.annotations import normalize_id
from ..errors import InputError, ResultSchemaError
from ..result import Prediction


@dataclass(frozen=True)
class Submission:
    """One item in a reference submission format (QVHighlights or densevid_eval)."""

    windows: tuple[tuple[float, float, float], ...] = ()     # (start, end, score), in file order
    saliency: tuple[float, ...] | None = None                # QVHighlights, one score per 2-s clip
    sentences: tuple[str, ...] = ()                          # densevid_eval, one per window


Item = Prediction | Submission


@dataclass
class PredictionFile:
    """Parsed predictions keyed by id, plus what could not be read."""

    items: dict[str, Item] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def _qvh_item(row: dict) -> Submission:
    windows = []
    for w in row.get("pred_relevant_windows") or []:
        if not isinstance(w, (list, tuple)) or len(w) < 2:
            raise ValueError(f"window {w!r} is not [start, end, score]")
        start, end = _number(w[0]), _number(w[1])    # end < start is kept: it scores IoU 0, as in the reference
        windows.append((start, end, _number(w[2]) if len(w) > 2 else 1.0))
    saliency = row.get("pred_saliency_scores")
    return Submission(tuple(windows), tuple(_number(s) for s in saliency) if saliency is not None else None)


def _densevid_items(data: dict, out: PredictionFile) -> None:
    for vid, events in data["results"].items():
        try:
            windows, sentences = [], []
            for ev in events:
                start, end = _number(ev["timestamp"][0]), _number(ev["timestamp"][1])
                windows.append((start, end, 1.0))
                sentences.append(str(ev["sentence"]))
            out.items[normalize_id(vid)] = Submission(tuple(windows), sentences=tuple(sentences))
        except (KeyError, TypeError, IndexError, ValueError) as e:
            out.malformed.append(f"video {vid}: {e!r}")


def parse_line(row: Any) -> tuple[str, Item]:
    """One JSON object -> (id, item); raises ValueError / ResultSchemaError with a reason."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    if "pred_relevant_windows" in row or "pred_saliency_scores" in row:
        if "qid" not in row:
            raise ValueError("QVHighlights submission line without 'qid'")
        return normalize_id(row["qid"]), _qvh_item(row)
    if "id" not in row:
        raise ValueError("no 'id' field")
    fields = {k: v for k, v in row.items() if k != "id"}
    return normalize_id(row["id"]), Prediction.from_dict(fields)


def read_predictions(path: str | Path) -> PredictionFile:
    """Read a prediction file in any accepted format (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"prediction file {path} does not exist")
    out = PredictionFile()
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{") and '"results"' in text[:4096]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("results"), dict):
            _densevid_items(data, out)
            return out
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            key, item = parse_line(json.loads(line))
        except (json.JSONDecodeError, ValueError, TypeError, KeyError, ResultSchemaError) as e:
            out.malformed.append(f"line {number}: {type(e).__name__}: {e}")
            continue
        if key in out.items and key not in out.duplicates:
            out.duplicates.append(key)
        out.items[key] = item
    return out


def write_prediction(stream: IO[str], item_id: str, prediction: Prediction) -> None:
    """Append one line of our JSONL schema and flush, so an interrupted run loses at most one item."""
    stream.write(json.dumps({"id": item_id, **prediction.to_dict()}, ensure_ascii=False) + "\n")
    stream.flush()


__all__ = ["Submission", "Item", "PredictionFile", "read_predictions", "parse_line", "write_prediction"]
