"""Temporal spans: the one place that says what a frame's time is and how two spans overlap.

A span is `(start, end)`, in seconds or as a fraction of the video. Frame i of n stands for the time
t_i = (i + 1) / n of the video (official code): the last frame stands for the end, none for the start.

    overlap(a, b)       min(ends) - max(starts)          the intersection's length; negative: the gap between them
    intersection(a, b)  max(0, overlap)
    hull(a, b)          max(ends) - min(starts)          the smallest span holding both
    temporal_iou(a, b)  intersection / hull, 0 when the hull is empty

For spans that overlap, the hull is their union, so `temporal_iou` is the IoU; for disjoint ones the intersection
is 0. This is how moment_detr (its paired IoU), TimeChat and VTimeLLM write it. A point span (start == end) has
IoU 0. Benchmark protocols that round or divide differently keep that difference in a named wrapper beside their
metric, written with these pieces: `eval.qvhighlights.true_iou`, `eval.captioning.caption_iou`,
`eval.nextgqa.iou_iop` and `eval.grounding.vtimellm_iou`.

The tensor functions (`frame_times`, `pairwise_iou`, `generalized_iou`, `pad_windows`) serve the temporal head and
its loss. They import torch when called, so that the metrics in `videoexpert.eval` import without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

Span = tuple[float, float]   # (start, end)


def overlap(a: Span, b: Span) -> float:
    """min(ends) - max(starts): the length of the intersection, or minus the gap between disjoint spans."""
    return min(a[1], b[1]) - max(a[0], b[0])


def intersection(a: Span, b: Span) -> float:
    """Length of the intersection, 0 for disjoint spans."""
    return max(0.0, overlap(a, b))


def hull(a: Span, b: Span) -> float:
    """max(ends) - min(starts): the length of the smallest span that holds both."""
    return max(a[1], b[1]) - min(a[0], b[0])


def temporal_iou(a: Span, b: Span) -> float:
    """IoU of two spans: intersection / hull (the union when they overlap), 0 when the hull is empty."""
    enclosing = hull(a, b)
    return intersection(a, b) / enclosing if enclosing > 0 else 0.0


def frame_seconds(num_frames: int, duration: float) -> tuple[float, ...]:
    """The time in seconds each of `num_frames` frames stands for: t_i x duration, t_i = (i + 1) / n."""
    return tuple((i + 1) / num_frames * duration for i in range(num_frames))


def frame_times(num_frames: int, device=None, dtype=None) -> "torch.Tensor":
    """(n,) tensor of t_i = (i + 1) / n, float32 unless `dtype` says otherwise."""
    import torch

    dtype = torch.float32 if dtype is None else dtype
    return torch.arange(1, num_frames + 1, device=device, dtype=dtype) / num_frames


def pairwise_iou(a: "torch.Tensor", b: "torch.Tensor") -> "torch.Tensor":
    """IoU of every span of a (N, 2) with every span of b (M, 2) -> (N, M).

    The union is len_a + len_b - intersection (clamped at 1e-8), as the official head's NMS computes it. It equals
    `temporal_iou` for overlapping spans up to rounding, and both give 0 for disjoint ones.
    """
    import torch

    inter = (torch.minimum(a[:, None, 1], b[None, :, 1]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    union = (a[:, None, 1] - a[:, None, 0]) + (b[None, :, 1] - b[None, :, 0]) - inter
    return inter / union.clamp(min=1e-8)


def generalized_iou(pred: "torch.Tensor", target: "torch.Tensor") -> "torch.Tensor":
    """Element-wise GIoU of spans (N, 2) x (N, 2) -> (N,): IoU - (hull - union) / hull, in [-1, 1]."""
    import torch

    inter = (torch.minimum(pred[:, 1], target[:, 1]) - torch.maximum(pred[:, 0], target[:, 0])).clamp(min=0)
    union = (pred[:, 1] - pred[:, 0]) + (target[:, 1] - target[:, 0]) - inter
    enclosing = torch.maximum(pred[:, 1], target[:, 1]) - torch.minimum(pred[:, 0], target[:, 0])
    iou = inter / union.clamp(min=1e-8)
    return iou - (enclosing - union) / enclosing.clamp(min=1e-8)


def pad_windows(loc_windows: list["torch.Tensor"]) -> "torch.Tensor":
    """Concatenate per-sample (num_locs, [K,] 2) windows into (total_locs, K_max, 2), padding with NaN rows."""
    import torch

    rows = [w.reshape(w.shape[0], -1, 2) if w.numel() else w.reshape(0, 1, 2) for w in loc_windows]
    k = max(r.shape[1] for r in rows)
    padded = [torch.cat([r, r.new_full((r.shape[0], k - r.shape[1], 2), float("nan"))], dim=1) for r in rows]
    return torch.cat(padded)


__all__ = ["Span", "overlap", "intersection", "hull", "temporal_iou", "frame_seconds", "frame_times",
           "pairwise_iou", "generalized_iou", "pad_windows"]
