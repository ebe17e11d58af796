"""Scores of a model on the demo world, whose ground truth is exact.

    grounding    R1@0.5 and mIoU of the top segment
    highlight    HIT@1: the frame with the highest saliency lies inside the event's window
    captioning   share of ground-truth events matched by a predicted segment at tIoU >= 0.5 whose sentence is a
                 correct description of that event (any of the world's wordings for it)
    qa           multiple-choice accuracy, and the share of questions whose evidence segment has IoP >= 0.5
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.synthetic_text import caption_sentence

logger = logging.getLogger(__name__)


def world_features(model, video):
    """Vision features of a generated video at the model's sampled frames, rendered without an mp4 round trip."""
    from ..model import VideoFeatures

    times = video.sample_times(model.config.num_frames)
    frames = torch.from_numpy(video.render(times, model.config.vision.image_size)).permute(0, 3, 1, 2)
    cls_tokens, patch_tokens = model.encode_frames(frames)
    return VideoFeatures(cls_tokens.cpu(), patch_tokens.cpu(), tuple(float(t) for t in times), video.duration,
                         video.name)


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def iop(pred: tuple[float, float], gt: tuple[float, float]) -> float:
    """Intersection over the prediction's length (NExT-GQA); a point prediction counts 1 if inside."""
    length = pred[1] - pred[0]
    if length <= 0:
        return float(gt[0] <= pred[0] <= gt[1])
    return max(0.0, min(pred[1], gt[1]) - max(pred[0], gt[0])) / length


def _normalise(sentence: str) -> str:
    return re.sub(r"[^a-z ]", "", sentence.lower()).strip()


def paraphrases(facts, count: int = 64) -> set[str]:
    """Every wording the world uses for one event (the predicate and article are picked by hash)."""
    return {_normalise(caption_sentence(facts, "paraphrase", k)) for k in range(count)}


@dataclass
class WorldScores:
    counts: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def table(self) -> str:
        rows = ["| task | metric | value | n |", "|---|---|---:|---:|"]
        for name, value in self.metrics.items():
            task = name.split("/")[0]
            rows.append(f"| {task} | {name.split('/')[1]} | {value:.3f} | {self.counts.get(task, 0)} |")
        return "\n".join(rows)


def evaluate_world(model, videos, tasks=("grounding", "highlight", "captioning", "qa"),
                   max_new_tokens: int = 160) -> WorldScores:
    ious, hits, matched_events, total_events, correct, grounded_qa = [], [], 0, 0, [], []
    for video in tqdm(videos, desc="evaluating on the demo world", unit="video"):
        features = world_features(model, video)
        if "grounding" in tasks or "highlight" in tasks:
            for item in video.grounding_queries():
                pred = model.predict(features, "grounding", item.query)
                top = pred.top
                ious.append(iou((top.start, top.end), (item.start, item.end)) if top else 0.0)
                if pred.saliency.scores:
                    peak = pred.saliency.times[int(np.argmax(pred.saliency.scores))]
                else:  # no saliency curve (times written as text): the middle of the answer
                    peak = (top.start + top.end) / 2 if top else -1.0
                hits.append(item.start <= peak <= item.end)
        if "captioning" in tasks:
            pred = model.predict(features, "captioning", max_new_tokens=max_new_tokens)
            facts = video.event_facts()
            used = set()
            for f in facts:
                total_events += 1
                wordings = paraphrases(f)
                for j, seg in enumerate(pred.segments):
                    if j not in used and iou((seg.start, seg.end), (f.start, f.end)) >= 0.5 \
                            and _normalise(seg.label + ".") in wordings:
                        used.add(j)
                        matched_events += 1
                        break
        if "qa" in tasks:
            for item in video.qa_items():
                pred = model.predict(features, "qa", item.question, item.options, max_new_tokens=24)
                correct.append(pred.choice == item.answer_index)
                top = pred.top
                grounded_qa.append(top is not None and iop((top.start, top.end), (item.start, item.end)) >= 0.5)
    scores = WorldScores()
    if ious:
        scores.metrics.update({"grounding/R1@0.5": float(np.mean([v >= 0.5 for v in ious])),
                               "grounding/R1@0.7": float(np.mean([v >= 0.7 for v in ious])),
                               "grounding/mIoU": float(np.mean(ious)), "highlight/HIT@1": float(np.mean(hits))})
        scores.counts.update(grounding=len(ious), highlight=len(hits))
    if total_events:
        scores.metrics["captioning/events matched (tIoU>=0.5, right sentence)"] = matched_events / total_events
        scores.counts["captioning"] = total_events
    if correct:
        scores.metrics.update({"qa/accuracy": float(np.mean(correct)),
                               "qa/evidence IoP>=0.5": float(np.mean(grounded_qa))})
        scores.counts["qa"] = len(correct)
    return scores
