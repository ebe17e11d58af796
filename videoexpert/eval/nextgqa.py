"""Grounded VideoQA metrics (NExT-GQA), as doc-doc/NExT-GQA's ``eval_ground.py`` and ``eval_next.py``.

Grounding, per question with a predicted span: against each GT span, intersection = min(ends) -
max(starts) (may be negative), IoU = intersection / (max(ends) - min(starts)) and IoP = intersection /
(predicted length); a point prediction (start == end) has IoU 0 and IoP 1 if it lies inside the span,
else 0. The question keeps the max IoU and the max IoP over its spans separately (both start at 0, so
negative values vanish). IoU@t / IoP@t count ``>=`` t; mIoU / mIoP are means x 100.

The grounding denominator is the questions that *have* a grounding prediction: a missing span is
skipped, as in the reference (``continue``), and the report lists those ids. Acc@GQA = QA correct and
IoP >= 0.5, over the same denominator. Acc@QA is over all questions (a missing answer is wrong; the
reference would raise a KeyError), with per-type accuracy: CW (why), CH (how), TN (before/after, TP
folded in as the reference does), TC (when), and the C / T groups.

A QA answer is correct when the chosen option's text equals the csv's answer text exactly (the
reference compares the two strings). Predictions give a `choice` index (preferred) or an answer text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..data.annotations import GroundedQuestion
from ..errors import InputError
from ..spans import Span, hull, overlap

THRESHOLDS = (0.3, 0.5)
QTYPE_GROUP = {"TP": "TN"}   # the reference folds "previous" into "next"


def iou_iop(gt: Span, pred: Span) -> tuple[float, float]:
    """(IoU, IoP) of one predicted span against one GT span, with the reference's point rule.

    As ``eval_ground.py`` computes it: `spans.temporal_iou` but with the intersection not clamped at 0
    (`spans.overlap`), so a gap gives negative values, which `best_iou_iop` then drops; a reversed prediction
    has IoP 0.
    """
    if pred[0] == pred[1]:
        return (0.0, 1.0) if gt[0] <= pred[0] <= gt[1] else (0.0, 0.0)
    inter = overlap(gt, pred)
    union = hull(gt, pred)
    iou = inter / union if union > 0 else 0.0
    iop = inter / (pred[1] - pred[0]) if pred[1] > pred[0] else 0.0
    return iou, iop


def best_iou_iop(spans: Sequence[Span], pred: Span) -> tuple[float, float]:
    """Max IoU and max IoP over the GT spans, each from 0 (they may come from different spans)."""
    best_iou = best_iop = 0.0
    for gt in spans:
        iou, iop = iou_iop(gt, pred)
        best_iou, best_iop = max(best_iou, iou), max(best_iop, iop)
    return best_iou, best_iop


@dataclass(frozen=True)
class GQAPrediction:
    """A grounded answer: the evidence span in seconds (or None) and the chosen option / answer text."""

    span: Span | None = None
    choice: int | None = None
    answer: str | None = None


def is_correct(question: GroundedQuestion, pred: GQAPrediction | None) -> bool:
    if pred is None:
        return False
    if pred.choice is not None and 0 <= pred.choice < len(question.options):
        return question.options[pred.choice] == question.answer
    return pred.answer is not None and pred.answer == question.answer


@dataclass
class GQAMetrics:
    """All values in percent; `None` where the inputs do not allow the metric (no QA annotations)."""

    acc_qa: float | None
    acc_gqa: float | None
    miop: float
    iop: dict[float, float]
    miou: float
    iou: dict[float, float]
    num_questions: int
    num_grounded: int
    acc_by_type: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = {"Acc@QA": self.acc_qa, "Acc@GQA": self.acc_gqa, "mIoP": self.miop}
        out.update({f"IoP@{t}": v for t, v in self.iop.items()})
        out["mIoU"] = self.miou
        out.update({f"IoU@{t}": v for t, v in self.iou.items()})
        out.update({f"Acc@QA-{k}": v for k, v in self.acc_by_type.items()})
        out.update(num_questions=self.num_questions, num_grounded=self.num_grounded)
        return out


def evaluate_nextgqa(questions: Sequence[GroundedQuestion], predictions: Mapping[str, GQAPrediction],
                     thresholds: Sequence[float] = THRESHOLDS) -> GQAMetrics:
    """Score grounded QA; `predictions` maps "video_id/qid" -> GQAPrediction."""
    if not questions:
        raise InputError("no NExT-GQA questions to evaluate")
    has_qa = all(q.answer for q in questions)
    grounded = [(q, predictions[q.id]) for q in questions
                if q.id in predictions and predictions[q.id].span is not None]
    n = len(grounded)
    scores = [best_iou_iop(q.spans, p.span) for q, p in grounded]   # type: ignore[arg-type]
    pct = (lambda k: 100.0 * k / n) if n else (lambda k: 0.0)
    acc_gqa = None
    if has_qa:
        acc_gqa = pct(sum(1 for (q, p), (_, iop) in zip(grounded, scores) if iop >= 0.5 and is_correct(q, p)))

    acc_qa, by_type = None, {}
    if has_qa:
        correct = [is_correct(q, predictions.get(q.id)) for q in questions]
        acc_qa = 100.0 * sum(correct) / len(questions)
        groups: dict[str, list[bool]] = {}
        for q, ok in zip(questions, correct):
            qtype = QTYPE_GROUP.get(q.qtype, q.qtype)
            for key in (qtype, qtype[:1]) if qtype else ():
                groups.setdefault(key, []).append(ok)
        by_type = {k: 100.0 * sum(v) / len(v) for k, v in sorted(groups.items())}
    return GQAMetrics(
        acc_qa=acc_qa, acc_gqa=acc_gqa,
        miop=pct(sum(s[1] for s in scores)), iop={t: pct(sum(s[1] >= t for s in scores)) for t in thresholds},
        miou=pct(sum(s[0] for s in scores)), iou={t: pct(sum(s[0] >= t for s in scores)) for t in thresholds},
        num_questions=len(questions), num_grounded=n, acc_by_type=by_type)


__all__ = ["THRESHOLDS", "iou_iop", "best_iou_iop", "GQAPrediction", "is_correct", "GQAMetrics",
           "evaluate_nextgqa"]
