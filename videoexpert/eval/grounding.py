"""Temporal grounding metrics (Charades-STA): R1@{0.3, 0.5, 0.7} and mIoU of the top-1 window.

Two protocols, because published tables use both and they differ by up to a point:

* ``"seconds"`` (default): IoU of the first predicted window against the GT window, in seconds, compared
  with ``>=`` t unrounded. This is what moment_detr/UniVTG (``IoU >= t``) and TimeChat's ``eval_tvg.py``
  (first window, missing prediction = miss) compute.
* ``"vtimellm"``: VTimeLLM's ``eval.py``: both windows divided by the video duration, the IoU rounded with
  ``round(iou, 2)`` and then compared with ``>=`` m. Rounding lifts e.g. 0.695 to 0.7, so R1@0.7 is higher.
  Predictions are not quantised to whole percentages (VTimeLLM's two-digit output format); our model
  emits seconds.

Both use IoU = inter / (max(ends) - min(starts)) (`spans.temporal_iou`), i.e. 0 when the windows do not
overlap; a point prediction (start == end) has IoU 0. mIoU is the mean IoU x 100. Missing predictions score
IoU 0 in both (TimeChat; VTimeLLM gives 0 to an unparseable answer). 2D-TAN's strict ``>`` after NMS is not offered.

When every scored window of a query is given (a QVHighlights-format submission, as lighthouse scores
Charades-STA), mAP is moment_detr's MR-mAP over them (`qvhighlights.moment_ap`: the first 10 windows,
stable-sorted by score, VOC AP at t = 0.5:0.05:0.95, "average" over t) against the single GT window, in
seconds whatever the protocol. With the "seconds" protocol, R1@t and mIoU are what lighthouse's and
UniVTG's ``standalone_eval`` print for that submission (UniVTG adds R1@0.3 and MR-mIoU); they round to 2
decimals, we do not. A missing query scores AP 0, where moment_detr asserts that every qid is submitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data.annotations import GroundingQuery
from ..errors import InputError
from ..spans import Span, temporal_iou
from .qvhighlights import MR_THRESHOLDS, moment_ap

THRESHOLDS = (0.3, 0.5, 0.7)
PROTOCOLS = ("seconds", "vtimellm")

Window = tuple[float, float, float]   # (start s, end s, score)


@dataclass
class GroundingMetrics:
    """R1@t and mIoU in percent (unrounded), plus how many queries were scored."""

    protocol: str
    recall: dict[float, float]           # threshold -> R1@t in %
    miou: float                          # mean IoU in %
    num_queries: int
    num_predicted: int
    ious: list[float] = field(default_factory=list, repr=False)   # per query, annotation order
    mean_ap: dict[str, float] | None = None   # MR-mAP in %: {"0.5": .., ..., "0.95": .., "average": ..}

    def to_dict(self) -> dict[str, float | int | str]:
        out: dict[str, float | int | str] = {f"R1@{t}": v for t, v in self.recall.items()}
        out["mIoU"] = self.miou
        if self.mean_ap is not None:
            out.update({"mAP": self.mean_ap["average"], "mAP@0.5": self.mean_ap["0.5"],
                        "mAP@0.75": self.mean_ap["0.75"]})
        out.update(protocol=self.protocol, num_queries=self.num_queries, num_predicted=self.num_predicted)
        return out


def vtimellm_iou(pred: Span, gt: Span, duration: float) -> float:
    """VTimeLLM's eval.py: the IoU of both windows as fractions of the video, rounded to 2 decimals (which lifts
    e.g. 0.695 to 0.7 before the >= comparison)."""
    d = duration
    return round(temporal_iou((pred[0] / d, pred[1] / d), (gt[0] / d, gt[1] / d)), 2)


def query_iou(query: GroundingQuery, pred: Span | None, protocol: str = "seconds") -> float:
    """The IoU one query contributes under `protocol` (0 for a missing prediction)."""
    if pred is None:
        return 0.0
    gt = (query.start, query.end)
    if protocol == "seconds":
        return temporal_iou(pred, gt)
    if protocol == "vtimellm":
        if not query.duration:
            raise InputError(f"query {query.id} has no video duration; the vtimellm protocol needs one "
                             "(pass the Charades_v1_*.csv or use the jsonl annotations)")
        return vtimellm_iou(pred, gt, query.duration)
    raise InputError(f"unknown grounding protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")


def mean_average_precision(queries: Sequence[GroundingQuery], windows: Mapping[str, Sequence[Window]]
                           ) -> dict[str, float]:
    """moment_detr's MR-mAP in % of every query's scored windows: {str(t): AP@t, "average": mean over t}."""
    aps = np.array([moment_ap(tuple(windows.get(q.id, ())), ((q.start, q.end),)) for q in queries])  # (n, T)
    per_threshold = aps.mean(0)
    out = {str(t): 100.0 * float(v) for t, v in zip(MR_THRESHOLDS, per_threshold)}
    out["average"] = 100.0 * float(per_threshold.mean())     # the reference averages before rounding
    return out


def evaluate_grounding(queries: Sequence[GroundingQuery], predictions: Mapping[str, Span | None],
                       protocol: str = "seconds", thresholds: Sequence[float] = THRESHOLDS,
                       windows: Mapping[str, Sequence[Window]] | None = None) -> GroundingMetrics:
    """Score the top-1 window of each query; `predictions` maps query id -> (start, end) or None.

    `windows` (query id -> every scored window, in submitted order) adds mAP.
    """
    if not queries:
        raise InputError("no grounding queries to evaluate")
    ious = [query_iou(q, predictions.get(q.id), protocol) for q in queries]
    n = len(ious)
    recall = {t: 100.0 * sum(iou >= t for iou in ious) / n for t in thresholds}
    return GroundingMetrics(protocol, recall, 100.0 * sum(ious) / n, n,
                            sum(predictions.get(q.id) is not None for q in queries), ious,
                            mean_average_precision(queries, windows) if windows is not None else None)


__all__ = ["THRESHOLDS", "PROTOCOLS", "Window", "vtimellm_iou", "query_iou", "GroundingMetrics",
           "mean_average_precision", "evaluate_grounding"]
