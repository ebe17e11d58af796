"""One training example = tokenized conversation + cached vision features + one window per [LOC]."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..errors import ConfigError
from ..loss import IGNORE_INDEX
from ..prompts import chat_prompt

if TYPE_CHECKING:
    from ..model import VideoExpert


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    cls_tokens: torch.Tensor       # (n, d_v)
    patch_tokens: torch.Tensor     # (n, p, d_v)
    windows: torch.Tensor          # (num_locs, K, 2) normalised windows per [LOC], in answer order (NaN-padded)


def make_example(model: "VideoExpert", cls_tokens: torch.Tensor, patch_tokens: torch.Tensor, question: str,
                 answer: str, windows: list) -> Example:
    """Tokenize a conversation; `windows` are normalised to [0, 1], one per [LOC] in `answer`: a (start, end) pair,
    or a list of pairs when a [LOC] has several ground-truth windows."""
    num_locs = answer.count(model.config.loc_token)
    if num_locs != len(windows):
        raise ConfigError(f"answer has {num_locs} [LOC] but {len(windows)} windows were given: {answer!r}")
    ids, labels = model.tokenize(chat_prompt(question), answer)
    return Example(ids, labels, cls_tokens, patch_tokens, windows_tensor(windows))


def windows_tensor(windows: list) -> torch.Tensor:
    """[(s, e) or [(s, e), ...] per [LOC]] -> (num_locs, K, 2), NaN-padded."""
    per_loc = [[tuple(w)] if len(w) == 2 and not isinstance(w[0], (list, tuple)) else [tuple(x) for x in w]
               for w in windows]
    k = max((len(w) for w in per_loc), default=1)
    out = torch.full((len(per_loc), k, 2), float("nan"))
    for i, w in enumerate(per_loc):
        out[i, : len(w)] = torch.tensor(w, dtype=torch.float32)
    return out


def collate(examples: list[Example], pad_token_id: int) -> dict:
    """Right-pad a batch; the result's keys are `VideoExpert.forward`'s arguments."""
    length = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), length), pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), length), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), length), dtype=torch.long)
    for i, e in enumerate(examples):
        input_ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[i, : len(e.labels)] = torch.tensor(e.labels)
        attention_mask[i, : len(e.input_ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask,
            "cls_tokens": torch.stack([e.cls_tokens for e in examples]),
            "patch_tokens": torch.stack([e.patch_tokens for e in examples]),
            "loc_windows": [e.windows for e in examples]}
