"""Training objectives (paper eq. 11-13) with the official weights and reductions.

    L = 1.0 CE_text + 2 BCE(k, fg) + 5 SmoothL1(span, gt) + 2 (1 - GIoU(span, gt))

For each [LOC] with ground-truth window [s, e] (normalised), frame i is foreground iff s <= t_i <= e and its
target span is [s, e]. BCE weighs background frames 0.1 and is summed then divided by (#[LOC] x n); SmoothL1 is
summed over both boundaries and divided by the number of foreground frames; GIoU is averaged over foreground
frames. All terms pool every [LOC] of the batch together, as the official code does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import LossConfig
from .head import HeadOutput
from .spans import frame_times, generalized_iou

IGNORE_INDEX = -100   # label of the tokens the text loss skips (prompt, video, padding), as in transformers


def foreground_targets(windows: torch.Tensor, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Foreground mask (b_loc, n) and span target (b_loc, n, 2) of every [LOC].

    `windows` is (b_loc, 2), or (b_loc, K, 2) for a [LOC] with several ground-truth windows (QVHighlights, NExT-GQA),
    padded with NaN rows. Frame i is foreground iff s <= t_i <= e for some window, and its target is the first window
    that contains it (official rule). A window shorter than the frame spacing may contain no t_i, and the official
    code then divides by zero; we mark the frame nearest the first window's centre instead, so every [LOC] has a
    positive.
    """
    if windows.dim() == 2:
        windows = windows[:, None]
    t = frame_times(num_frames, device=windows.device, dtype=windows.dtype)
    valid = ~torch.isnan(windows[..., 0])                                                   # (b_loc, K)
    contains = (t >= windows[..., :1]) & (t <= windows[..., 1:]) & valid[..., None]         # (b_loc, K, n)
    fg = contains.any(dim=1)
    first = contains.int().argmax(dim=1)                                                    # (b_loc, n)
    target = windows.gather(1, first[..., None].expand(-1, -1, 2))                          # (b_loc, n, 2)
    empty = ~fg.any(dim=1)
    if empty.any():
        centre = windows[empty, 0].mean(dim=1, keepdim=True)
        nearest = (t[None] - centre).abs().argmin(dim=1)
        fg[empty.nonzero(as_tuple=True)[0], nearest] = True
    return fg, target


def grounding_losses(head: HeadOutput, windows: torch.Tensor, config: LossConfig) -> dict[str, torch.Tensor]:
    """Indicator BCE, span SmoothL1 and GIoU for every [LOC]; `windows` (b_loc, [K,] 2) in normalised time."""
    fg, targets = foreground_targets(windows.to(head.spans.dtype), head.foreground.shape[1])
    weight = torch.where(fg, 1.0, config.background_weight).to(head.foreground.dtype)
    # From the logits where the head gives them: the same loss, but stable and allowed under CUDA autocast (BCE on
    # probabilities is refused there); a HeadOutput built from probabilities alone gets the fp32 BCE.
    if head.foreground_logits is not None:
        bce = F.binary_cross_entropy_with_logits(head.foreground_logits.float(), fg.float(), weight=weight.float(),
                                                 reduction="sum")
    else:
        with torch.autocast(head.foreground.device.type, enabled=False):
            bce = F.binary_cross_entropy(head.foreground.float(), fg.float(), weight=weight.float(), reduction="sum")
    bce = bce / fg.numel()
    pred = head.spans[fg]                                        # (num_fg, 2)
    target = targets[fg]                                         # (num_fg, 2)
    num_fg = fg.sum().clamp(min=1)
    l1 = F.smooth_l1_loss(pred, target, reduction="sum", beta=1.0) / num_fg
    giou = (1.0 - generalized_iou(pred, target)).sum() / num_fg
    return {"indicator_loss": bce, "span_loss": l1, "giou_loss": giou}


def text_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy, mean over the supervised (label != IGNORE_INDEX) tokens of the batch."""
    shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    shift_labels = labels[:, 1:].reshape(-1)
    return F.cross_entropy(shift_logits, shift_labels, ignore_index=IGNORE_INDEX)


def total_loss(losses: dict[str, torch.Tensor], config: LossConfig) -> torch.Tensor:
    weights = {"text_loss": config.text_weight, "indicator_loss": config.indicator_weight,
               "span_loss": config.span_weight, "giou_loss": config.giou_weight}
    return sum(weights[name] * value for name, value in losses.items())
