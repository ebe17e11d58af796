"""Long videos: overlapping windows of the model's native length, and their answers merged in global time.

VideoExpert samples `num_frames` (100) frames over whatever it is given. Over a two-hour video that is one frame
every 72 s, and a 10-s event falls between them. A long video is therefore cut into windows of the length the
model was trained on (`ModelConfig.windows.seconds`), each answered on its own 100 frames; this module plans
those windows and merges what they answered:

    plan_windows        [(0, 60), (45, 105), ...]: equal windows, evenly spread, the last one ending at the end
    owned_ranges        which part of the video each window speaks for: its overlaps split at their middle
    merge_saliency      one curve over the whole video, each time taken from the window that owns it
    merge_ranked        candidate segments of every window, re-ranked by score with temporal NMS in global time
    merge_captions      each window's captions where it owns their middle, one of each repeated sentence

Segments here are `result.Segment`s in seconds of the whole video. Nothing here runs a model.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import torch

from .head import temporal_nms
from .result import Segment
from .spans import Span


def plan_windows(duration: float, seconds: float, overlap: float) -> list[Span]:
    """Windows of `seconds` over [0, duration], neighbours sharing at least `overlap` of a window, spread evenly so
    that the first starts at 0 and the last ends at `duration`. A video no longer than one window is one window,
    the whole video."""
    if duration <= seconds:
        return [(0.0, float(duration))]
    stride = seconds * (1.0 - overlap)
    count = math.ceil((duration - seconds) / stride - 1e-9) + 1
    step = (duration - seconds) / (count - 1)
    return [(k * step, k * step + seconds) for k in range(count - 1)] + [(duration - seconds, float(duration))]


def owned_ranges(windows: Sequence[Span]) -> list[Span]:
    """The part of the video each window answers for: where two windows overlap, the earlier one owns the overlap's
    first half and the later one its second. The ranges tile the video without gaps or overlaps."""
    cuts = [(windows[k][1] + windows[k + 1][0]) / 2 for k in range(len(windows) - 1)]
    starts = [windows[0][0], *cuts]
    ends = [*cuts, windows[-1][1]]
    return list(zip(starts, ends))


def merge_saliency(windows: Sequence[Span], curves: Sequence[tuple[Sequence[float], Sequence[float]]]
                   ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """One saliency curve over the whole video from each window's (global times, scores): every point comes from
    the window that owns its time, so the times stay increasing and no moment is counted twice."""
    times: list[float] = []
    scores: list[float] = []
    ranges = owned_ranges(windows)
    for k, ((start, end), (window_times, window_scores)) in enumerate(zip(ranges, curves)):
        last = k == len(ranges) - 1
        for t, s in zip(window_times, window_scores):
            if start <= t < end or (last and t == end):
                times.append(float(t))
                scores.append(float(s))
    return tuple(times), tuple(scores)


def merge_ranked(candidates: Sequence[Segment], nms_threshold: float, max_segments: int,
                 min_score: float = 0.0) -> list[Segment]:
    """Candidates from every window ranked by score; a candidate overlapping a better one with IoU above
    `nms_threshold` is the same moment seen from a neighbouring window and is dropped. Only candidates scoring at
    least `min_score` are kept, at most `max_segments`."""
    above = [s for s in candidates if s.score >= min_score]
    if not above or max_segments < 1:
        return []
    keep = temporal_nms(torch.tensor([[s.start, s.end] for s in above], dtype=torch.float64),
                        torch.tensor([s.score for s in above], dtype=torch.float64), nms_threshold, max_segments)
    return [above[i] for i in keep.tolist()]


def _sentence_key(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def merge_captions(windows: Sequence[Span], captions: Sequence[Sequence[Segment]]) -> list[Segment]:
    """Dense captions over the whole video in temporal order: each window's captions whose middle it owns (an event
    in an overlap is told by one window, not both), and of the same sentence on overlapping spans only the better
    scored one."""
    owned: list[Segment] = []
    ranges = owned_ranges(windows)
    for k, ((start, end), segments) in enumerate(zip(ranges, captions)):
        last = k == len(ranges) - 1
        owned += [s for s in segments if start <= (s.start + s.end) / 2 < end or (last and (s.start + s.end) / 2 == end)]
    kept: list[Segment] = []
    for seg in sorted(owned, key=lambda s: -s.score):
        if not any(_sentence_key(seg.label) == _sentence_key(k.label) and min(seg.end, k.end) > max(seg.start, k.start)
                   for k in kept):
            kept.append(seg)
    return sorted(kept, key=lambda s: (s.start, s.end))


def shift(segment: Segment, offset: float) -> Segment:
    """A window's segment (seconds from the window's start) in seconds of the whole video."""
    return Segment(segment.start + offset, segment.end + offset, segment.score, segment.label)


__all__ = ["plan_windows", "owned_ranges", "merge_saliency", "merge_ranked", "merge_captions", "shift"]
