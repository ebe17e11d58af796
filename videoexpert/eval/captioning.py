"""Dense video captioning metrics (YouCook2, ActivityNet Captions): densevid_eval and SODA_c.

Localisation (densevid_eval, PDVC ``evaluate2018.py``): tIoU = inter / (min(max(ends) - min(starts),
len1 + len2) + 1e-8); per video, precision = predictions overlapping some GT with tIoU **>** t / number of
predictions, recall = GT events covered / number of GT events; both averaged over videos, at
t in {0.3, 0.5, 0.7, 0.9}. F1@t = 2PR / (P + R) from the averaged P and R, and "F1" is its mean over t
(VTimeLLM). At most 1000 predictions per video are read.

Captions (densevid_eval): per video and t, every (prediction, GT) pair with tIoU **>=** t is a pair; a
prediction overlapping nothing is paired with a garbage reference: the references draw 10-20 random
lower-case letters, i.e. one word that matches nothing, and `GARBAGE` is such a word. Its word count
matters: METEOR's aggregate sums every pair's statistics, reference lengths included, so a garbage
reference that METEOR splits into several words (as "abc123!@#" was, into 4) lowers the recall of every
video with an unmatched prediction. Sentences are made ASCII, PTB-tokenised and lower-cased; METEOR is
the jar's aggregate over the video's pairs and CIDEr is computed with the video's pairs alone (its own
IDF). Both are averaged over videos, then over t.

SODA_c (fujiso/SODA): predictions and GT sorted by start time; S[i, j] = METEOR with GT sentence i as
the hypothesis and prediction j as the reference (SODA passes them to ``compute_score`` swapped), times
tIoU; the best order-preserving matching is found by dynamic programming; P = S / #pred, R = S / #GT,
the video scores F = 2PR / (P + R) and SODA_c is the mean over videos. The DP here is iterative, so long
prediction lists never hit the RecursionError that VTimeLLM's copy maps to 0. An empty prediction list
scores 0 (VTimeLLM).

Missing videos (``missing=``): ``"reference"`` follows each reference: densevid_eval scores a missing
video 0 in P/R/METEOR/CIDEr and SODA drops it; ``"zero"`` scores it 0 everywhere (TimeChat);
``"skip"`` drops it everywhere (VTimeLLM, PDVC's SODA). All reported values are x 100.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.annotations import CaptionedVideo
from ..errors import InputError
from ..spans import Span, hull, intersection
from .language import LanguageScorer

logger = logging.getLogger(__name__)

TIOUS = (0.3, 0.5, 0.7, 0.9)
# One lower-case word, like the references' random_string(randint(10, 20)): METEOR counts it as a
# reference of length 1 with no match (digits or punctuation would be split into more words).
GARBAGE = "qzxjvkwqpfhgmbt"
MAX_PROPOSALS = 1000
MISSING_POLICIES = ("reference", "zero", "skip")

Event = tuple[float, float, str]   # (start s, end s, sentence)


def caption_iou(a: Span, b: Span) -> float:
    """densevid_eval / SODA tIoU: the union is capped by the summed lengths, plus 1e-8 against 0/0.

    Not `spans.temporal_iou`: the reference's 1e-8 keeps an exact 0.5 below 0.5 and lets a point span score 0
    without a test, and matching (``>`` t, ``>=`` t) depends on it.
    """
    union = min(hull(a, b), (a[1] - a[0]) + (b[1] - b[0]))
    return intersection(a, b) / (union + 1e-8)


def detection_scores(video: CaptionedVideo, events: Sequence[Event], tiou: float) -> tuple[float, float]:
    """(precision, recall) of one video at `tiou`, with the strict ``>`` of densevid_eval."""
    covered_gt, covered_pred = set(), set()
    for j, (s, e, _) in enumerate(events):
        for i, gt in enumerate(video.events):
            if caption_iou((s, e), gt) > tiou:
                covered_gt.add(i)
                covered_pred.add(j)
    return len(covered_pred) / max(len(events), 1), len(covered_gt) / len(video.events)


def caption_pairs(video: CaptionedVideo, events: Sequence[Event], tiou: float) -> list[tuple[str, str]]:
    """(prediction sentence, reference sentence) pairs scored at `tiou` (``>=``), garbage when unmatched."""
    pairs = []
    for s, e, sentence in events:
        matched = [video.sentences[i] for i, gt in enumerate(video.events) if caption_iou((s, e), gt) >= tiou]
        pairs.extend((sentence, ref) for ref in matched or [GARBAGE])
    return pairs


def order_preserving_max(scores: np.ndarray) -> float:
    """max over monotone matchings of sum(scores[i, j]) (SODA's DP), for a non-negative (M, N) matrix.

    dp[i][j] = max(dp[i-1][j], dp[i][j-1], dp[i-1][j-1] + s[i][j]); a row is a running maximum of
    max(dp[i-1][j], dp[i-1][j-1] + s[i][j]) over j, so each row is one vectorised step.
    """
    m, n = scores.shape
    if m == 0 or n == 0:
        return 0.0
    prev = np.zeros(n + 1)
    for i in range(m):
        cand = np.maximum(prev[1:], prev[:-1] + scores[i])
        prev = np.r_[0.0, np.maximum.accumulate(cand)]
    return float(prev[-1])


def soda_c_video(video: CaptionedVideo, events: Sequence[Event], scorer: LanguageScorer) -> float:
    """SODA_c F-measure of one video (0 for an empty prediction list)."""
    if not events:
        return 0.0
    preds = sorted(events, key=lambda ev: ev[0])
    gts = sorted(zip(video.events, video.sentences), key=lambda g: g[0][0])
    iou = np.array([[caption_iou((p[0], p[1]), g) for p in preds] for g, _ in gts])     # (n_gt, n_pred)
    meteor = np.array(scorer.meteor_segments([(sent, p[2]) for _, sent in gts for p in preds]))
    best = order_preserving_max(iou * meteor.reshape(len(gts), len(preds)))
    precision, recall = best / len(preds), best / len(gts)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


@dataclass
class DenseCaptionMetrics:
    """Per-threshold and averaged scores, all in percent; language fields are None when not computed."""

    precision: dict[float, float]
    recall: dict[float, float]
    f1: dict[float, float]
    meteor: dict[float, float] | None = None
    cider: dict[float, float] | None = None
    soda_c: float | None = None
    num_videos: int = 0
    num_predicted: int = 0
    missing: str = "reference"

    def to_dict(self) -> dict[str, float | int | str]:
        out: dict[str, float | int | str] = {}
        if self.soda_c is not None:
            out["SODA_c"] = self.soda_c
        for name, values in (("METEOR", self.meteor), ("CIDEr", self.cider)):
            if values is not None:
                out[name] = float(np.mean(list(values.values())))
                out.update({f"{name}@{t}": v for t, v in values.items()})
        for name, values in (("Precision", self.precision), ("Recall", self.recall), ("F1", self.f1)):
            out[name] = float(np.mean(list(values.values())))
            out.update({f"{name}@{t}": v for t, v in values.items()})
        out.update(num_videos=self.num_videos, num_predicted=self.num_predicted, missing=self.missing)
        return out


def evaluate_dense_captions(videos: Sequence[CaptionedVideo], predictions: Mapping[str, Sequence[Event]],
                            scorer: LanguageScorer | None = None, missing: str = "reference",
                            tious: Sequence[float] = TIOUS) -> DenseCaptionMetrics:
    """Score dense captions; with `scorer=None` only precision/recall/F1 are computed (no Java needed)."""
    if missing not in MISSING_POLICIES:
        raise InputError(f"unknown missing-video policy {missing!r}; expected one of {MISSING_POLICIES}")
    if not videos:
        raise InputError("no dense-captioning videos to evaluate")
    preds = {v.id: list(predictions[v.id])[:MAX_PROPOSALS] for v in videos if v.id in predictions}
    dense_videos = [v for v in videos if v.id in preds or missing != "skip"]
    soda_videos = [v for v in videos if v.id in preds or missing == "zero"]
    if not dense_videos:
        raise InputError("no video has a prediction, so the 'skip' policy leaves nothing to score")

    precision, recall, f1 = {}, {}, {}
    for t in tious:
        pr = [detection_scores(v, preds.get(v.id, []), t) for v in dense_videos]
        p, r = float(np.mean([x[0] for x in pr])), float(np.mean([x[1] for x in pr]))
        precision[t], recall[t] = 100 * p, 100 * r
        f1[t] = 100 * (2 * p * r / (p + r) if p + r > 0 else 0.0)
    result = DenseCaptionMetrics(precision, recall, f1, num_videos=len(videos), num_predicted=len(preds),
                                 missing=missing)
    if scorer is None:
        return result

    sentences = [s for v in dense_videos for s in v.sentences]
    sentences += [ev[2] for evs in preds.values() for ev in evs] + [GARBAGE]
    scorer.tokenize(sentences)
    result.meteor, result.cider = {}, {}
    for t in tious:
        meteor, cider = [], []
        for v in dense_videos:
            pairs = caption_pairs(v, preds.get(v.id, []), t)
            meteor.append(scorer.meteor(pairs))
            cider.append(scorer.cider(pairs))
        result.meteor[t], result.cider[t] = 100 * float(np.mean(meteor)), 100 * float(np.mean(cider))
    result.soda_c = 100 * float(np.mean([soda_c_video(v, preds.get(v.id, []), scorer)
                                         for v in soda_videos])) if soda_videos else 0.0
    return result


__all__ = ["TIOUS", "GARBAGE", "MAX_PROPOSALS", "MISSING_POLICIES", "Event", "caption_iou",
           "detection_scores", "caption_pairs", "order_preserving_max", "soda_c_video",
           "DenseCaptionMetrics", "evaluate_dense_captions"]
