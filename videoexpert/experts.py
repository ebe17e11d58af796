"""The temporal and spatial experts: two LoRA adapters per projection, routed per token (paper eq. 7-9).

    y = W_o x + scaling * (B_T A_T x   at T-token positions,
                           B_S A_S x   everywhere else: S-tokens, text, generated tokens)

peft has no per-token routing between adapters, so this is a small module of our own in peft's shape: it
wraps the frozen base layer (`nn.Linear`, or bitsandbytes `Linear4bit` for the 4-bit runtime) instead of
replacing it, keeps `lora_A`/`lora_B` in `nn.ModuleDict`s keyed by expert, starts with B = 0 so the wrapped
LLM is unchanged at initialisation, and casts around the adapter dtype like peft does. Adapters save with the
rest of the model (`...q_proj.lora_A.temporal.weight`); the official release's `V_Expertlora_*` (temporal) and
`L_Expertlora_*` (spatial) names map onto these one to one.

Routing reaches every layer through one shared `ExpertRouter`; `route_tokens` sets its T-token mask for the
duration of a forward pass, the way peft scopes adapter names with forward hooks.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from .config import ExpertConfig

EXPERTS = ("temporal", "spatial")


class ExpertRouter:
    """Holds the current (b, s) boolean mask of T-token positions; None means every token is spatial."""

    def __init__(self) -> None:
        self.temporal_mask: torch.Tensor | None = None


@contextmanager
def route_tokens(router: ExpertRouter, temporal_mask: torch.Tensor | None) -> Iterator[None]:
    """Route the T-token positions of `temporal_mask` (b, s) to the temporal expert inside the block."""
    previous = router.temporal_mask
    router.temporal_mask = temporal_mask
    try:
        yield
    finally:
        router.temporal_mask = previous


def _is_supported_base(module: nn.Module) -> bool:
    if isinstance(module, nn.Linear):
        return True
    try:  # the 4-bit runtime; bitsandbytes is optional
        import bitsandbytes as bnb
    except ImportError:
        return False
    return isinstance(module, bnb.nn.Linear4bit)


class ExpertLinear(nn.Module):
    """A frozen base projection plus a temporal and a spatial LoRA adapter, chosen per token."""

    def __init__(self, base_layer: nn.Module, config: ExpertConfig, router: ExpertRouter,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.router = router  # a plain object, not a submodule: shared by every ExpertLinear of the model
        in_features, out_features = base_layer.in_features, base_layer.out_features
        device = next(base_layer.parameters()).device
        dtype = dtype or (torch.float32 if not base_layer.weight.dtype.is_floating_point else base_layer.weight.dtype)
        self.rank, self.scaling = config.rank, config.scaling
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.lora_A = nn.ModuleDict({e: nn.Linear(in_features, config.rank, bias=False, device=device, dtype=dtype)
                                     for e in EXPERTS})
        self.lora_B = nn.ModuleDict({e: nn.Linear(config.rank, out_features, bias=False, device=device, dtype=dtype)
                                     for e in EXPERTS})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for e in EXPERTS:
            nn.init.kaiming_uniform_(self.lora_A[e].weight, a=math.sqrt(5))
            nn.init.zeros_(self.lora_B[e].weight)

    def adapter(self, expert: str, x: torch.Tensor) -> torch.Tensor:
        return self.lora_B[expert](self.lora_A[expert](x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        h = self.dropout(x.to(self.lora_A["spatial"].weight.dtype))
        delta = self.adapter("spatial", h)
        mask = self.router.temporal_mask
        if mask is not None:
            if mask.shape != x.shape[:-1]:
                raise RuntimeError(f"expert routing mask {tuple(mask.shape)} does not match tokens {tuple(x.shape[:-1])}")
            if mask.any():  # both adapters on every token, then select: rank-r matmuls cost ~1% of the base's
                delta = torch.where(mask[..., None], self.adapter("temporal", h), delta)
        return result + (delta * self.scaling).to(result.dtype)

    def extra_repr(self) -> str:
        return f"rank={self.rank}, scaling={self.scaling}, experts={EXPERTS}"


def add_experts(llm: nn.Module, config: ExpertConfig, router: ExpertRouter,
                dtype: torch.dtype | None = None) -> list[str]:
    """Wrap every target projection of `llm` in an `ExpertLinear`; returns the wrapped module names."""
    wrapped = []
    for name, module in list(llm.named_modules()):
        for child_name, child in list(module.named_children()):
            if child_name in config.target_modules and _is_supported_base(child):
                setattr(module, child_name, ExpertLinear(child, config, router, dtype=dtype))
                wrapped.append(f"{name}.{child_name}" if name else child_name)
    if not wrapped:
        raise ValueError(f"no module named {config.target_modules} found to carry the experts")
    return wrapped


def expert_layers(model: nn.Module) -> Iterator[tuple[str, ExpertLinear]]:
    for name, module in model.named_modules():
        if isinstance(module, ExpertLinear):
            yield name, module
