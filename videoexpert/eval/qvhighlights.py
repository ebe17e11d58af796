"""QVHighlights moment retrieval (MR) and highlight detection (HL), as moment_detr's standalone_eval computes.

Behaviours that change numbers, reproduced on purpose:

* MR-R1@t uses the *first* submitted window (no sort), against the GT window of maximal true IoU
  (first index wins ties); the comparison IoU is inter / (max(ends) - min(starts)) (`spans.temporal_iou`),
  ``>=`` t.
* MR-mAP keeps the first 10 windows, stable-sorts them by -score (ties keep submission order), greedily
  matches each to the unlocked GT window of highest IoU (ties: the later GT index first, which is what
  ``argsort()[::-1]`` gives for the few windows a query has), and uses VOC-2011 interpolated AP.
  "average" is the mean over t = 0.5:0.05:0.95 taken before rounding; every reported value is
  ``float(f"{100 * v:.2f}")``.
* Length buckets short (0, 10], middle (10, 30], long (30, 150] keep only the GT windows in range (and
  the queries that have one); "full" keeps everything.
* HL uses 2-s clips, ``int(duration / 2)`` of them; unlabelled clips score 0; predictions are truncated or
  zero-padded to that length; Fair/Good/VeryGood mean label >= 2/3/4; HIT@1 is the max over the 3
  annotators at ``argmax`` of the untruncated scores (first index wins, 0 past the last clip); HL-mAP is
  the mean over (query, annotator) of the video2gif AP, where tied scores form one threshold and each
  recall step counts once whatever its size.

Policies where the reference has none: a missing query, or one with no windows (or no saliency), scores 0
in every MR (or HL) metric. moment_detr asserts that the qid sets match and crashes on an empty window
list, so a complete submission gets exactly its numbers. Windows are not clipped to the video. A window
that ends before it starts overlaps nothing (IoU 0); the reference agrees except when its negative length
cancels a GT window's length, where its 0/0 IoU is NaN and its matcher counts that as a hit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.annotations import HighlightQuery
from ..spans import Span, intersection, temporal_iou

MR_THRESHOLDS = tuple(float(f"{t:.2f}") for t in np.linspace(0.5, 0.95, 10))
MAX_PRED_WINDOWS = 10
LENGTH_RANGES = {"short": (0.0, 10.0), "middle": (10.0, 30.0), "long": (30.0, 150.0), "full": (0.0, 150.0)}
HL_LEVELS = {"Fair": 2, "Good": 3, "VeryGood": 4}
CLIP_SECONDS = 2.0


@dataclass(frozen=True)
class MomentPrediction:
    """One query's submission: windows (start, end, score) in submitted order and per-2s-clip saliency."""

    windows: tuple[tuple[float, float, float], ...] = ()
    saliency: tuple[float, ...] | None = None


def _pct(value: float) -> float:
    return float(f"{100 * value:.2f}")


def true_iou(pred: Span, gt: Span) -> float:
    """inter / (len1 + len2 - inter), the IoU moment_detr uses for GT selection and mAP matching.

    Kept apart from `spans.temporal_iou` (its paired IoU, which R1 uses): the reference computes the union from
    the lengths here, which equals the hull of overlapping windows but can round differently in the last bit, and
    a match at exactly t would then flip; a reversed window's negative length enters the union too.
    """
    inter = intersection(pred, gt)
    union = (pred[1] - pred[0]) + (gt[1] - gt[0]) - inter
    return inter / union if union > 0 else 0.0


def r1_iou(pred: Span, gts: Sequence[Span]) -> float:
    """IoU of the first window against the GT window of highest true IoU (first index on ties).

    The reference's paired IoU is `spans.temporal_iou` (it tests the hull with != 0 rather than > 0, but a negative
    hull means an empty intersection, so both give zero)."""
    if not gts:
        return 0.0
    cross = [true_iou(pred, g) for g in gts]
    return temporal_iou(pred, gts[int(np.argmax(cross))])


def voc_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC-2011 interpolated AP: envelope the precision, sum it over the recall steps."""
    mprec = np.hstack([[0.0], precision, [0.0]])
    mrec = np.hstack([[0.0], recall, [1.0]])
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def moment_ap(windows: Sequence[tuple[float, float, float]], gts: Sequence[Span],
              thresholds: Sequence[float] = MR_THRESHOLDS) -> np.ndarray:
    """AP of one query at each threshold (MMAction2/ActivityNet detection matching)."""
    ap = np.zeros(len(thresholds))
    preds = sorted(windows[:MAX_PRED_WINDOWS], key=lambda w: -w[2])   # stable: ties keep order
    if not preds or not gts:
        return ap
    tp = np.zeros((len(thresholds), len(preds)))
    locked = np.zeros((len(thresholds), len(gts)), dtype=bool)
    for j, (s, e, _) in enumerate(preds):
        ious = [true_iou((s, e), g) for g in gts]
        order = sorted(range(len(gts)), key=lambda i: (-ious[i], -i))
        for t, thr in enumerate(thresholds):
            for i in order:
                if ious[i] < thr:
                    break
                if not locked[t, i]:
                    locked[t, i] = True
                    tp[t, j] = 1
                    break
    tp_cum = np.cumsum(tp, axis=1)
    fp_cum = np.cumsum(1 - tp, axis=1)
    for t in range(len(thresholds)):
        ap[t] = voc_ap(tp_cum[t] / (tp_cum[t] + fp_cum[t]), tp_cum[t] / len(gts))
    return ap


def _in_range(queries: Sequence[HighlightQuery], name: str) -> list[HighlightQuery]:
    lo, hi = LENGTH_RANGES[name]
    if name == "full":
        return list(queries)
    kept = []
    for q in queries:
        windows = tuple(w for w in q.windows if lo < w[1] - w[0] <= hi)
        if windows:
            kept.append(HighlightQuery(q.id, q.video_id, q.query, q.duration, windows))
    return kept


def evaluate_moments(queries: Sequence[HighlightQuery], predictions: Mapping[str, MomentPrediction]
                     ) -> dict[str, dict]:
    """{bucket: {"MR-mAP": {t: ..., "average": ...}, "MR-R1": {t: ...}, "num_queries": n}}."""
    out: dict[str, dict] = {}
    for name in LENGTH_RANGES:
        subset = _in_range(queries, name)
        if not subset:
            out[name] = {"MR-mAP": {}, "MR-R1": {}, "num_queries": 0}
            continue
        aps, r1 = [], []
        for q in subset:
            windows = predictions[q.id].windows if q.id in predictions else ()
            aps.append(moment_ap(windows, q.windows))
            r1.append(r1_iou(windows[0][:2], q.windows) if windows else 0.0)
        ap_thds = np.array(aps).mean(0)
        mean_ap = {str(t): _pct(v) for t, v in zip(MR_THRESHOLDS, ap_thds)}
        mean_ap["average"] = _pct(float(np.mean(ap_thds)))
        r1_arr = np.array(r1)
        recall = {str(t): _pct(float(np.mean(r1_arr >= t))) for t in MR_THRESHOLDS}
        out[name] = {"MR-mAP": mean_ap, "MR-R1": recall, "num_queries": len(subset)}
    return out


def clip_labels(query: HighlightQuery) -> np.ndarray:
    """(num_clips, 3) annotator labels 0-4 over the whole video; unlabelled clips are 0."""
    labels = np.zeros((int(query.duration / CLIP_SECONDS), 3))
    if query.clip_ids:
        labels[np.array(query.clip_ids)] = np.array(query.saliency)
    return labels


def highlight_ap(y_true: np.ndarray, scores: np.ndarray) -> float:
    """video2gif `get_ap` (interpolated), with sklearn's precision-recall curve written out.

    Scores are grouped into distinct thresholds (descending); precision and recall at each; the
    precision is enveloped from high recall to low, and averaged at the points where recall changes.
    """
    if len(y_true) == 0 or np.all(y_true == y_true[0]):
        return 0.0 if len(y_true) == 0 or y_true[0] == 0 else 1.0
    order = np.argsort(scores, kind="mergesort")[::-1]
    s, y = scores[order], y_true[order]
    last = np.r_[np.where(np.diff(s))[0], len(y) - 1]    # last index of each tie group
    tps = np.cumsum(y)[last]
    fps = 1 + last - tps
    precision = np.r_[(tps / (tps + fps))[::-1], 1.0]     # lowest threshold first, as sklearn returns
    recall = np.r_[(tps / tps[-1])[::-1], 0.0].astype(np.float32)
    precision = np.maximum.accumulate(precision)
    return float(np.mean(precision[np.where(np.diff(recall))]))


def evaluate_highlights(queries: Sequence[HighlightQuery], predictions: Mapping[str, MomentPrediction]
                        ) -> dict[str, dict[str, float]]:
    """{"HL-min-Fair": {"HL-mAP": .., "HL-Hit1": ..}, "HL-min-Good": .., "HL-min-VeryGood": ..}."""
    labels = {q.id: clip_labels(q) for q in queries}
    out = {}
    for level, min_label in HL_LEVELS.items():
        hits, aps = [], []
        for q in queries:
            binary = (labels[q.id] >= min_label).astype(float)   # (num_clips, 3)
            pred = predictions.get(q.id)
            if pred is None or not pred.saliency:
                hits.append(0.0)
                aps.extend([0.0] * 3)
                continue
            scores = np.asarray(pred.saliency, dtype=float)
            top = int(np.argmax(scores))
            hits.append(float(binary[top].max()) if top < len(binary) else 0.0)
            fitted = np.zeros(len(binary))
            fitted[:min(len(scores), len(binary))] = scores[:len(binary)]
            aps.extend(highlight_ap(binary[:, a], fitted) for a in range(3))
        out[f"HL-min-{level}"] = {"HL-mAP": _pct(float(np.mean(aps))), "HL-Hit1": _pct(float(np.mean(hits)))}
    return out


def brief(moments: dict[str, dict] | None, highlights: dict[str, dict] | None) -> dict[str, float]:
    """The reference's "brief" block: the numbers papers quote, under the reference's key names."""
    out: dict[str, float] = {}
    if moments:
        full = moments["full"]
        out.update({"MR-full-R1@0.5": full["MR-R1"]["0.5"], "MR-full-R1@0.7": full["MR-R1"]["0.7"],
                    "MR-full-mAP": full["MR-mAP"]["average"], "MR-full-mAP@0.5": full["MR-mAP"]["0.5"],
                    "MR-full-mAP@0.75": full["MR-mAP"]["0.75"]})
        for name in ("short", "middle", "long"):
            out[f"MR-{name}-mAP"] = moments[name]["MR-mAP"].get("average", 0.0)
    if highlights:
        for level, values in highlights.items():
            out[f"{level}-mAP"] = values["HL-mAP"]
            out[f"{level}-Hit1"] = values["HL-Hit1"]
    return out


__all__ = ["MR_THRESHOLDS", "LENGTH_RANGES", "HL_LEVELS", "CLIP_SECONDS", "MomentPrediction", "true_iou", "r1_iou",
           "voc_ap", "moment_ap", "evaluate_moments", "clip_labels", "highlight_ap", "evaluate_highlights", "brief"]
