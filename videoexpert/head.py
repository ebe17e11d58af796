"""The LOC MLP and the temporal expert head (paper eq. 10), and decoding of its per-frame proposals.

    h_loc = MLP(final hidden state at the position that predicts [LOC])         (b_loc, 512)
    X_T   = MLP(final hidden states at the n T-token positions)                 (b_loc, n, 512)
    X''_T = X_T + h_loc                                                          the paper's "Add" interaction
    k_i   = sigmoid(indicator(X''_T))       foreground probability of frame i  (the saliency curve)
    d_i   = sigmoid(boundary(X''_T))        (d_l, d_r): frame i proposes [t_i - d_l, t_i + d_r]

Times are normalised to [0, 1]; frame i stands for t_i = (i + 1) / n (official code, `spans.frame_times`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import HeadConfig
from .spans import frame_times, pairwise_iou


class ConvBranch(nn.Module):
    """Three Conv1d(k) layers with ReLU between them (official `Conv`): (b, n, c_in) -> (b, n, c_out)."""

    def __init__(self, width: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.layers = nn.ModuleList([nn.Conv1d(width, width, kernel_size, padding=pad),
                                     nn.Conv1d(width, width, kernel_size, padding=pad),
                                     nn.Conv1d(width, out_channels, kernel_size, padding=pad)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)  # (b, c, n)
        for i, conv in enumerate(self.layers):
            x = conv(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x.transpose(1, 2)


@dataclass
class HeadOutput:
    foreground: torch.Tensor   # (b_loc, n) foreground probability k_i
    offsets: torch.Tensor      # (b_loc, n, 2) (d_l, d_r) in normalised time
    spans: torch.Tensor        # (b_loc, n, 2) proposal [t_i - d_l, t_i + d_r], unclamped (the loss sees these)
    foreground_logits: torch.Tensor | None = None  # (b_loc, n) before the sigmoid: the BCE takes these (autocast-safe)


class TemporalHead(nn.Module):
    """LOC MLP + indicator and boundary branches. Parameter names follow the official checkpoint's layout."""

    def __init__(self, llm_hidden_size: int, config: HeadConfig) -> None:
        super().__init__()
        width = config.hidden_size
        self.loc_mlp = nn.Sequential(nn.Linear(llm_hidden_size, llm_hidden_size), nn.ReLU(),
                                     nn.Linear(llm_hidden_size, width))
        self.indicator = ConvBranch(width, 1, config.kernel_size)
        self.boundary = ConvBranch(width, 2, config.kernel_size)

    def forward(self, t_hidden: torch.Tensor, loc_hidden: torch.Tensor) -> HeadOutput:
        """t_hidden: (b_loc, n, d_llm) final hidden states at the T-tokens, one row per [LOC];
        loc_hidden: (b_loc, d_llm) final hidden state at the position that predicts each [LOC]."""
        dtype = self.loc_mlp[0].weight.dtype
        x_t = self.loc_mlp(t_hidden.to(dtype))                     # (b_loc, n, w)
        h_loc = self.loc_mlp(loc_hidden.to(dtype))                 # (b_loc, w)
        x = x_t + h_loc[:, None]                                   # eq. 10, "Add"
        logits = self.indicator(x).squeeze(-1).float()             # (b_loc, n)
        offsets = torch.sigmoid(self.boundary(x))                  # (b_loc, n, 2)
        times = frame_times(x.shape[1], device=x.device, dtype=offsets.dtype)
        spans = torch.stack([times - offsets[..., 0], times + offsets[..., 1]], dim=-1)
        return HeadOutput(torch.sigmoid(logits), offsets.float(), spans.float(), logits)


def temporal_nms(spans: torch.Tensor, scores: torch.Tensor, threshold: float, max_keep: int) -> torch.Tensor:
    """Greedy NMS on 1-D segments: indices of kept spans, best score first.

    A span is dropped when its IoU with an already kept, better-scored span exceeds `threshold`
    (threshold >= 1 keeps everything, i.e. a plain top-k).
    """
    order = torch.argsort(scores, descending=True, stable=True)
    if threshold >= 1.0:
        return order[:max_keep]
    iou = pairwise_iou(spans[order], spans[order])
    kept: list[int] = []
    suppressed = torch.zeros(len(order), dtype=torch.bool, device=iou.device)
    for i in range(len(order)):  # n is 100: the greedy pass is cheap and exact
        if suppressed[i]:
            continue
        kept.append(i)
        if len(kept) == max_keep:
            break
        suppressed |= iou[i] > threshold
    return order[kept]


@dataclass(frozen=True)
class DecodedSpans:
    """Ranked segments of one [LOC] in normalised time, and its saliency curve."""

    spans: list[tuple[float, float]]   # best first, clamped to [0, 1]
    scores: list[float]
    saliency: list[float]              # k_i for every frame


def decode_spans(foreground: torch.Tensor, spans: torch.Tensor, threshold: float = 0.5,
                 max_segments: int = 5) -> DecodedSpans:
    """Every frame is a proposal scored by its foreground probability; NMS gives ranked alternatives.

    foreground: (n,), spans: (n, 2) for one [LOC], on any device: decoding runs on the CPU (n is 100, and reading
    values one by one off a GPU would synchronise for each).
    """
    clamped = spans.detach().float().cpu().clamp(0.0, 1.0)
    foreground = foreground.detach().float().cpu()
    keep = temporal_nms(clamped, foreground, threshold, max_segments)
    return DecodedSpans(spans=[(float(clamped[i, 0]), float(clamped[i, 1])) for i in keep],
                        scores=[float(foreground[i]) for i in keep],
                        saliency=foreground.tolist())
