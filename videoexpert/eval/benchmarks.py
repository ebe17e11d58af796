"""One entry point per benchmark: read annotations and predictions, match them, score, report.

`evaluate(benchmark, annotations, predictions)` is what `videoexpert eval` calls. It turns each prediction
(our `Prediction` schema or a reference submission format) into the input its metric expects, fills the
`ItemReport` (missing / duplicate / unknown / malformed / empty items, windows outside the video) and
records the policy each metric applies to those problems, following the reference scripts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import annotations as ann
from ..errors import InputError
from ..result import Prediction, Saliency
from .captioning import Event, evaluate_dense_captions
from .grounding import evaluate_grounding
from .language import JavaNotFoundError, LanguageScorer, java_available
from .nextgqa import GQAPrediction, evaluate_nextgqa
from .predictions import Item, PredictionFile, read_predictions
from .qvhighlights import CLIP_SECONDS, MomentPrediction, brief, evaluate_highlights, evaluate_moments
from .report import ItemReport

logger = logging.getLogger(__name__)

BENCHMARKS = ("charades", "qvhighlights", "youcook2", "activitynet", "nextgqa")
TASK_OF = {"charades": "grounding", "qvhighlights": "highlight", "youcook2": "captioning",
           "activitynet": "captioning", "nextgqa": "qa"}
RANGE_EPS = 1e-6


@dataclass
class EvalResult:
    """Headline metrics (flat, what the table shows), full nested details, and the item report."""

    benchmark: str
    metrics: dict[str, Any]
    report: ItemReport
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "metrics": self.metrics, "details": self.details,
                "report": self.report.to_dict()}


def load_annotations(benchmark: str, path: str | Path) -> list:
    """The annotation reader of `benchmark` (companion files are found beside `path`)."""
    readers = {"charades": ann.read_charades, "qvhighlights": ann.read_qvhighlights,
               "youcook2": ann.read_dense_captions, "activitynet": ann.read_dense_captions,
               "nextgqa": ann.read_nextgqa}
    if benchmark not in readers:
        raise InputError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARKS)}")
    try:
        return readers[benchmark](path)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{path} does not look like {benchmark} annotations ({type(e).__name__}: {e})") from e


def clip_saliency(saliency: Saliency, duration: float, clip_seconds: float = CLIP_SECONDS
                  ) -> tuple[float, ...] | None:
    """Per-frame saliency -> one score per 2-s clip: the mean of the frames inside the clip, or the
    nearest frame's score when none falls inside (sparse sampling)."""
    if not saliency.scores:
        return None
    pairs = sorted(zip(saliency.times, saliency.scores))
    clips = []
    for i in range(int(duration / clip_seconds)):
        lo, hi = i * clip_seconds, (i + 1) * clip_seconds
        inside = [s for t, s in pairs if lo <= t < hi]
        if inside:
            clips.append(sum(inside) / len(inside))
        else:
            centre = lo + clip_seconds / 2
            clips.append(min(pairs, key=lambda p: abs(p[0] - centre))[1])
    return tuple(clips)


def _windows(item: Item) -> tuple[tuple[float, float, float], ...]:
    if isinstance(item, Prediction):
        return tuple((s.start, s.end, s.score) for s in item.segments)
    return item.windows


def _convert(benchmark: str, item: Item, target: Any) -> Any:
    """A parsed prediction -> the metric input for one annotation item (None when it holds no answer)."""
    windows = _windows(item)
    if benchmark == "charades":
        return list(windows)        # R1/mIoU read the first window, mAP all of them
    if benchmark == "qvhighlights":
        if isinstance(item, Prediction):
            return MomentPrediction(windows, clip_saliency(item.saliency, target.duration))
        return MomentPrediction(windows, item.saliency)
    if benchmark in ("youcook2", "activitynet"):
        if isinstance(item, Prediction):
            return [(s.start, s.end, s.label) for s in item.segments]
        return [(w[0], w[1], sentence) for w, sentence in zip(item.windows, item.sentences)]
    span = (windows[0][0], windows[0][1]) if windows else None
    if isinstance(item, Prediction):
        return GQAPrediction(span, item.choice, (item.text or item.answer).strip())
    return GQAPrediction(span)


def _is_empty(benchmark: str, value: Any) -> bool:
    if value is None:
        return True
    if benchmark == "qvhighlights":
        return not value.windows
    if benchmark == "nextgqa":
        return value.span is None and value.choice is None and not value.answer
    return len(value) == 0 if isinstance(value, list) else False


def _duration(target: Any) -> float | None:
    return getattr(target, "duration", None)


def _aliases(benchmark: str, targets: Sequence[Any]) -> dict[str, str]:
    """Other ids an item may be submitted under -> its id: the lighthouse qid of a Charades-STA query,
    which keys a QVHighlights-format submission (NExT-GQA's qid is only unique within a video)."""
    if benchmark != "charades":
        return {}
    return {t.qid: t.id for t in targets if t.qid is not None}


def match(benchmark: str, targets: Sequence[Any], parsed: PredictionFile) -> tuple[dict[str, Any], ItemReport]:
    """Pair predictions with annotation items by id (or an alias); fill all but the policies of the report."""
    report = ItemReport(benchmark, num_expected=len(targets), duplicates=list(parsed.duplicates),
                        malformed=list(parsed.malformed))
    by_id = {t.id: t for t in targets}
    aliases = _aliases(benchmark, targets)
    items: dict[str, Item] = {}
    for key, item in parsed.items.items():
        target_id = key if key in by_id else aliases.get(key)
        if target_id is None:
            report.unknown.append(key)
            continue
        if target_id in items and target_id not in report.duplicates:   # under its id and its alias
            report.duplicates.append(target_id)
        items[target_id] = item
    inputs: dict[str, Any] = {}
    for target in targets:
        item = items.get(target.id)
        if item is None:
            report.missing.append(target.id)
            continue
        value = _convert(benchmark, item, target)
        inputs[target.id] = value
        if _is_empty(benchmark, value):
            report.empty.append(target.id)
        duration = _duration(target)
        if any(w[1] < w[0] or w[0] < -RANGE_EPS or (duration and w[1] > duration + RANGE_EPS)
               for w in _windows(item)):
            report.out_of_range.append(target.id)
    report.num_scored = len(inputs) - len(report.empty)
    return inputs, report


COMMON_POLICIES = {
    "duplicates": "the last line with an id wins (reference scripts key a dict by id)",
    "malformed": "the line is ignored; its item then counts as missing",
    "unknown": "ignored (not in the annotations)",
    "out-of-range": "windows outside [0, duration] are scored as given, not clipped; a window ending before "
                    "it starts overlaps nothing (IoU 0), as in the references",
}
POLICIES = {
    "charades": {"missing": "IoU 0 (counts as a miss in R1 and mIoU; TimeChat) and AP 0 (moment_detr "
                            "asserts instead)",
                 "empty": "no window: IoU 0, like an unparseable answer in VTimeLLM, and AP 0"},
    "qvhighlights": {"missing": "0 in every MR and HL metric (moment_detr asserts instead)",
                     "empty": "no windows: 0 in MR-R1 and MR-mAP; no saliency: HIT@1 0 and HL-AP 0"},
    "dense": {"missing": "see --missing: 'reference' = densevid_eval scores 0 (P/R/METEOR/CIDEr), "
                         "SODA drops the video; 'zero' = 0 everywhere; 'skip' = dropped everywhere",
              "empty": "an empty caption list scores 0 everywhere (VTimeLLM)"},
    "nextgqa": {"missing": "no span: skipped in the grounding metrics and Acc@GQA (reference); "
                           "no answer: wrong in Acc@QA",
                "empty": "same as missing for the part that is absent"},
}


def evaluate(benchmark: str, annotations: str | Path | Sequence[Any], predictions: str | Path | PredictionFile,
             *, protocol: str = "seconds", missing: str = "reference",
             language: bool | None | LanguageScorer = None) -> EvalResult:
    """Score a prediction file against a benchmark's annotation file.

    `protocol` chooses the Charades-STA IoU protocol ("seconds" or "vtimellm"); `missing` the dense
    captioning policy for unpredicted videos; `language` turns the Java-backed caption metrics on (True:
    required), off (False), or on when Java is found (None, with a logged warning otherwise); an open
    `LanguageScorer` is used as is, so several evaluations share one METEOR process.
    """
    if benchmark not in BENCHMARKS:
        raise InputError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARKS)}")
    targets = load_annotations(benchmark, annotations) if isinstance(annotations, (str, Path)) else list(annotations)
    parsed = read_predictions(predictions) if isinstance(predictions, (str, Path)) else predictions
    inputs, report = match(benchmark, targets, parsed)
    report.policies = {**POLICIES["dense" if TASK_OF[benchmark] == "captioning" else benchmark], **COMMON_POLICIES}
    details: dict[str, Any] = {}
    if benchmark == "charades":
        top1 = {k: (w[0][0], w[0][1]) if w else None for k, w in inputs.items()}
        result = evaluate_grounding(targets, top1, protocol=protocol, windows=inputs)
        metrics = result.to_dict()
    elif benchmark == "qvhighlights":
        moments = evaluate_moments(targets, inputs)
        with_saliency = any(v.saliency for v in inputs.values())
        highlights = evaluate_highlights(targets, inputs) if with_saliency else None
        if not with_saliency:
            report.policies["highlight"] = "no prediction has saliency scores: HL metrics not computed"
        metrics = brief(moments, highlights)
        details = {"moment_retrieval": moments, "highlight": highlights}
    elif benchmark == "nextgqa":
        result = evaluate_nextgqa(targets, inputs)
        metrics = result.to_dict()
    else:
        metrics = _evaluate_captions(targets, inputs, missing, language, report)
    return EvalResult(benchmark, metrics, report, details)


def _evaluate_captions(targets: Sequence[Any], inputs: dict[str, list[Event]], missing: str,
                       language: bool | None | LanguageScorer, report: ItemReport) -> dict[str, Any]:
    if isinstance(language, LanguageScorer):
        return evaluate_dense_captions(targets, inputs, language, missing).to_dict()
    if language is None:
        language = java_available()
        if not language:
            logger.warning("java not found: METEOR, CIDEr and SODA_c are skipped (localisation only)")
            report.policies["language"] = "java not found: METEOR, CIDEr and SODA_c not computed"
    if not language:
        return evaluate_dense_captions(targets, inputs, None, missing).to_dict()
    with LanguageScorer() as scorer:
        return evaluate_dense_captions(targets, inputs, scorer, missing).to_dict()


def format_table(result: EvalResult) -> str:
    """A two-column text table of the headline metrics (2 decimals), as printed by `videoexpert eval`."""
    rows = [(k, f"{v:.2f}" if isinstance(v, float) else ("-" if v is None else str(v)))
            for k, v in result.metrics.items()]
    width = max(len(k) for k, _ in rows)
    lines = [f"{result.benchmark}", f"{'metric':<{width}}  value", f"{'-' * width}  -----"]
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


__all__ = ["BENCHMARKS", "TASK_OF", "EvalResult", "load_annotations", "clip_saliency", "match", "evaluate",
           "format_table", "JavaNotFoundError"]
