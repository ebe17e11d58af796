"""Scores of a model on the demo world, whose ground truth is exact.

    grounding    R1@0.5, R1@0.7 and mIoU of the top segment (`videoexpert.eval.evaluate_grounding`, in seconds)
    highlight    HIT@1: the frame with the highest saliency lies inside the event's window
    captioning   share of ground-truth events matched by a predicted segment at tIoU >= 0.5 (`spans.temporal_iou`)
                 whose sentence is a correct description of that event (any of the world's wordings for it)
    qa           multiple-choice accuracy, and the share of questions whose evidence segment has IoP >= 0.5
                 (NExT-GQA's IoP, `videoexpert.eval.nextgqa`; a question without a segment counts as a miss)

Each metric is also given over the items about a colour-shape pair seen in training and over those about a
held-out pair (an event whose object shows such a pair as it starts, or takes one by changing colour).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from videoexpert import Predictor, VideoFeatures
from videoexpert.data.annotations import GroundingQuery
from videoexpert.eval.grounding import evaluate_grounding
from videoexpert.eval.nextgqa import best_iou_iop
from videoexpert.spans import temporal_iou

from .world import HELD_OUT_PAIRS
from .world_text import caption_sentence

logger = logging.getLogger(__name__)


def world_features(model, video):
    """Vision features of a generated video at the model's sampled frames, rendered without an mp4 round trip."""
    times = video.sample_times(model.config.num_frames)
    frames = torch.from_numpy(video.render(times, model.config.vision.image_size)).permute(0, 3, 1, 2)
    cls_tokens, patch_tokens = model.encode_frames(frames)
    return VideoFeatures(cls_tokens.cpu(), patch_tokens.cpu(), tuple(float(t) for t in times), video.duration,
                         video.name)


def _normalise(sentence: str) -> str:
    return re.sub(r"[^a-z ]", "", sentence.lower()).strip()


def paraphrases(facts, count: int = 64) -> set[str]:
    """Every wording the world uses for one event (the predicate and article are picked by hash)."""
    return {_normalise(caption_sentence(facts, "paraphrase", k)) for k in range(count)}


PAIR_SUBSETS = ("seen pairs", "held-out pairs")


@dataclass
class WorldScores:
    """Metrics over all items, and over the items about a colour-shape pair seen in training vs a held-out one (the
    split's test of generalisation rather than memory)."""

    counts: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    by_pair: dict[str, dict[str, float]] = field(default_factory=dict)       # subset -> metric -> value
    by_pair_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # subset -> task -> items

    def table(self) -> str:
        subsets = [s for s in PAIR_SUBSETS if s in self.by_pair]
        rows = ["| task | metric | value | n |" + "".join(f" {s} (n) |" for s in subsets),
                "|---|---|---:|---:|" + "---:|" * len(subsets)]
        for name, value in self.metrics.items():
            task = name.split("/")[0]
            cells = "".join(f" {self.by_pair[s][name]:.3f} ({self.by_pair_counts[s][task]}) |" if name in self.by_pair[s]
                            else " - |" for s in subsets)   # a subset with no item of this task
            rows.append(f"| {task} | {name.split('/')[1]} | {value:.3f} | {self.counts.get(task, 0)} |{cells}")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        return {"metrics": self.metrics, "counts": self.counts, "by_pair": self.by_pair,
                "by_pair_counts": self.by_pair_counts, "table": self.table()}


def evaluate_world(model, videos, tasks=("grounding", "highlight", "captioning", "qa"),
                   max_new_tokens: int = 160) -> WorldScores:
    # per metric, one (is the item about a held-out colour-shape pair, value) per query, event or question
    records: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    # grounding: (held-out pair?, query) and each query's top segment, scored by videoexpert.eval at the end
    queries: list[tuple[bool, GroundingQuery]] = []
    tops: dict[str, tuple[float, float] | None] = {}
    held_out_pairs = set(HELD_OUT_PAIRS)
    predictor = Predictor(model)
    for video in tqdm(videos, desc="evaluating on the demo world", unit="video"):
        features = world_features(model, video)
        facts = video.event_facts()
        held_out = {f.index for f in facts if f.pairs & held_out_pairs}
        if "grounding" in tasks or "highlight" in tasks:
            for i, item in enumerate(video.grounding_queries()):
                pred = predictor.predict(features, "grounding", item.query)
                top = pred.top
                if pred.saliency.scores:
                    peak = pred.saliency.times[int(np.argmax(pred.saliency.scores))]
                else:  # no saliency curve (times written as text): the middle of the answer
                    peak = (top.start + top.end) / 2 if top else -1.0
                held = item.event in held_out
                if "grounding" in tasks:
                    query = GroundingQuery(f"{video.name}#{i}", video.name, item.query, item.start, item.end,
                                           video.duration)
                    queries.append((held, query))
                    tops[query.id] = (top.start, top.end) if top else None
                if "highlight" in tasks:
                    records["highlight/HIT@1"].append((held, float(item.start <= peak <= item.end)))
        if "captioning" in tasks:
            pred = predictor.predict(features, "captioning", max_new_tokens=max_new_tokens)
            used = set()
            for f in facts:
                wordings = paraphrases(f)
                matched = False
                for j, seg in enumerate(pred.segments):
                    if j not in used and temporal_iou((seg.start, seg.end), (f.start, f.end)) >= 0.5 \
                            and _normalise(seg.label + ".") in wordings:
                        used.add(j)
                        matched = True
                        break
                records["captioning/events matched (tIoU>=0.5, right sentence)"].append((f.index in held_out,
                                                                                          float(matched)))
        if "qa" in tasks:
            for item in video.qa_items():
                pred = predictor.predict(features, "qa", item.question, item.options, max_new_tokens=24)
                top = pred.top
                held = item.event in held_out
                records["qa/accuracy"].append((held, float(pred.choice == item.answer_index)))
                iop = best_iou_iop(((item.start, item.end),), (top.start, top.end))[1] if top else 0.0
                records["qa/evidence IoP>=0.5"].append((held, float(iop >= 0.5)))
    scores = WorldScores()
    _summarise_grounding(queries, tops, scores)
    _summarise(records, scores)
    return scores


def _summarise_grounding(queries: list[tuple[bool, GroundingQuery]], tops: dict[str, tuple[float, float] | None],
                         scores: WorldScores) -> None:
    """R1@t and mIoU of the top segment by `evaluate_grounding`, over all queries and over each pair subset."""
    subsets = {None: [q for _, q in queries]}
    subsets.update({subset: [q for held, q in queries if held == is_held]
                    for subset, is_held in zip(PAIR_SUBSETS, (False, True))})
    for subset, items in subsets.items():
        if not items:
            continue
        m = evaluate_grounding(items, tops, thresholds=(0.5, 0.7))    # in percent
        values = {"grounding/R1@0.5": m.recall[0.5] / 100, "grounding/R1@0.7": m.recall[0.7] / 100,
                  "grounding/mIoU": m.miou / 100}
        if subset is None:
            scores.metrics.update(values)
            scores.counts["grounding"] = len(items)
        else:
            scores.by_pair.setdefault(subset, {}).update(values)
            scores.by_pair_counts.setdefault(subset, {})["grounding"] = len(items)


def _summarise(records: dict[str, list[tuple[bool, float]]], scores: WorldScores) -> None:
    """Every other metric: the mean of its per-item values, over all items and over each pair subset."""
    for name, items in records.items():
        task = name.split("/")[0]
        held = np.array([h for h, _ in items], dtype=bool)
        values = np.array([v for _, v in items], dtype=np.float64)
        scores.metrics[name] = float(values.mean())
        scores.counts[task] = len(values)
        for subset, mask in zip(PAIR_SUBSETS, (~held, held)):
            if mask.any():
                scores.by_pair.setdefault(subset, {})[name] = float(values[mask].mean())
                scores.by_pair_counts.setdefault(subset, {})[task] = int(mask.sum())
