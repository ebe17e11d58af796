"""The frozen vision tower: an open_clip ViT returning every token (CLS + patches) after ln_post and the projection.

The official code takes all 257 tokens of CLIP ViT-L/14 after `ln_post` and `@ proj`, so CLS and patches share
the 768-d projected space. We get the same through open_clip's public `forward_intermediates` (last block,
normalised with `ln_post`, class token included) followed by the projection.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from .config import VisionConfig
from .errors import CheckpointError

logger = logging.getLogger(__name__)


class VisionTower(nn.Module):
    """frames (N, 3, H, W), normalised -> tokens (N, 1 + p, d): index 0 is CLS."""

    def __init__(self, visual: nn.Module, config: VisionConfig) -> None:
        super().__init__()
        self.visual = visual
        self.config = config
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_config(cls, config: VisionConfig, base_dir: str | Path | None = None) -> "VisionTower":
        import open_clip

        source = config.pretrained
        if config.arch_config is not None:  # a custom (tiny) architecture: random init, then our own weights if any
            visual = open_clip.CLIP(**config.arch_config).visual
            if source:
                path = _resolve(source, base_dir)
                from safetensors.torch import load_file
                try:
                    missing, unexpected = visual.load_state_dict(load_file(str(path)), strict=False)
                except (OSError, RuntimeError) as e:
                    raise CheckpointError(f"cannot load vision weights {path}: {e}") from e
                if missing or unexpected:
                    raise CheckpointError(f"vision weights {path} do not fit {config.arch}: missing {missing[:5]}, "
                                          f"unexpected {unexpected[:5]}")
        else:
            pretrained = str(_resolve(source, base_dir)) if source and Path(str(source)).suffix else source
            if pretrained and not Path(pretrained).suffix:  # an open_clip tag: fetched from the Hub
                from .hub import clip_repo, resolve_repo
                repo = clip_repo(config.arch, pretrained)
                if repo:
                    resolve_repo(repo)  # fails fast with a clear message when offline and not cached
            try:
                visual = open_clip.create_model(config.arch, pretrained=pretrained, weights_only=True).visual
            except RuntimeError as e:
                raise CheckpointError(f"cannot load open_clip {config.arch} weights {pretrained!r}: {e}") from e
        return cls(visual, config)

    @property
    def width(self) -> int:
        return int(self.visual.proj.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        return self.visual.proj.dtype

    def train(self, mode: bool = True) -> "VisionTower":
        return super().train(False)  # frozen: never in training mode (no dropout, no patch dropout)

    @torch.no_grad()
    def forward(self, frames: torch.Tensor, chunk_size: int = 32) -> torch.Tensor:
        out = []
        for chunk in frames.split(chunk_size):
            inter = self.visual.forward_intermediates(chunk.to(self.dtype), indices=1, normalize_intermediates=True,
                                                      intermediates_only=True, output_fmt="NLC",
                                                      output_extra_tokens=True)
            tokens = torch.cat([inter["image_intermediates_prefix"][0], inter["image_intermediates"][0]], dim=1)
            out.append(tokens @ self.visual.proj)
        return torch.cat(out)


def _resolve(source: str, base_dir: str | Path | None) -> Path:
    path = Path(source)
    if not path.is_absolute() and base_dir is not None and (Path(base_dir) / path).exists():
        path = Path(base_dir) / path
    if not path.exists():
        raise CheckpointError(f"vision weights not found: {path}")
    return path
