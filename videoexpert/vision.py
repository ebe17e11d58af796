"""The frozen vision tower: an open_clip ViT returning every token (CLS + patches) after ln_post and the projection.

The official code takes all 257 tokens of CLIP ViT-L/14 after `ln_post` and `@ proj`, so CLS and patches share
the 768-d projected space. We get the same through open_clip's public `forward_intermediates` (last block,
normalised with `ln_post`, class token included) followed by the projection.

Activation. OpenAI's CLIP weights were trained with QuickGELU (x * sigmoid(1.702 x)); open_clip's `ViT-L-14` config
uses nn.GELU, and GELU on QuickGELU weights shifts every feature the official model was trained on. So the tower
is built with QuickGELU whenever the weights say so: an open_clip tag marked `quick_gelu` (`openai`), or a
TorchScript archive whose MLP activation modules are QuickGELU (OpenAI's `ViT-L-14.pt`), whatever the arch name.

Weights from a local file are read without running pickled code (`read_vision_weights`: safetensors,
`torch.load(weights_only=True)`, or `torchscript.read_torchscript` for TorchScript archives), then assigned to a
tower built on the meta device: no 300M-parameter random initialisation that would be overwritten at once.
"""

from __future__ import annotations

import copy
import logging
import zipfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import VisionConfig
from .errors import CheckpointError
from .torchscript import first_line, is_torchscript_archive, load_state_dict_file, read_torchscript

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
        """A local weights file (or any source of a custom `arch_config` tower) is read safely and assigned; an
        open_clip tag is fetched by open_clip; no source gives a random tower."""
        source = config.pretrained
        if source and (config.arch_config is not None or Path(str(source)).suffix):
            visual = load_visual(config, _resolve(source, base_dir))
        elif source:  # an open_clip tag: fetched from the Hub
            import open_clip

            from .hub import clip_repo, resolve_repo
            repo = clip_repo(config.arch, source)
            if repo:
                resolve_repo(repo)  # fails fast with a clear message when offline and not cached
            try:
                visual = open_clip.create_model(config.arch, pretrained=source, weights_only=True,
                                                force_quick_gelu=tag_uses_quick_gelu(config.arch, source)).visual
            except RuntimeError as e:
                raise CheckpointError(f"cannot load open_clip {config.arch} weights {source!r}: "
                                      f"{first_line(e)}") from e
        else:
            visual = build_visual(config)
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


# ---------------------------------------------------------------------------------------------- architecture

def clip_model_config(config: VisionConfig, quick_gelu: bool | None = None) -> dict[str, Any]:
    """Keyword arguments of `open_clip.CLIP` for the tower: `arch_config`, else the built-in arch's JSON (e.g.
    `ViT-L-14-quickgelu`). `quick_gelu` overrides the activation; None keeps the architecture's."""
    import open_clip

    if config.arch_config is not None:
        kwargs = copy.deepcopy(dict(config.arch_config))
    else:
        kwargs = open_clip.get_model_config(config.arch)
        if kwargs is None:
            raise CheckpointError(f"unknown open_clip architecture {config.arch!r}")
    kwargs.pop("custom_text", None)  # the text tower is never used; CLIP builds it plainly
    if quick_gelu is not None:
        kwargs["quick_gelu"] = quick_gelu
    return kwargs


def record_activation(config: VisionConfig, quick_gelu: bool) -> None:
    """Make `config` name the activation its weights need, so a saved config rebuilds the same tower: the
    `quick_gelu` key of a custom arch_config, or open_clip's `-quickgelu` twin of a built-in arch."""
    import open_clip

    if config.arch_config is not None:
        config.arch_config = {**config.arch_config, "quick_gelu": quick_gelu}
        return
    base = config.arch.removesuffix("-quickgelu")
    arch = f"{base}-quickgelu" if quick_gelu else base
    if arch != config.arch and open_clip.get_model_config(arch) is not None:
        config.arch = arch


def tag_uses_quick_gelu(arch: str, tag: str) -> bool:
    """Whether open_clip's (arch, tag) weights were trained with QuickGELU (`openai`: yes), read from its registry,
    so that an older config naming plain `ViT-L-14` still builds the activation the weights need."""
    import open_clip

    return bool(open_clip.get_pretrained_cfg(arch, tag).get("quick_gelu", False))


def build_visual(config: VisionConfig, quick_gelu: bool | None = None, device: str | None = None) -> nn.Module:
    """An untrained open_clip vision tower of `config`'s architecture. `device="meta"` allocates nothing: shape
    checks, and the skeleton that `load_visual` assigns loaded tensors to."""
    import open_clip

    kwargs = clip_model_config(config, quick_gelu)
    with torch.device(device) if device else nullcontext():
        return open_clip.CLIP(**kwargs).visual


# --------------------------------------------------------------------------------------------------- weights

@dataclass
class VisionWeights:
    """A vision tower's tensors read from a file, named as in open_clip's `CLIP.visual` (no `visual.` prefix)."""

    state: dict[str, torch.Tensor]
    quick_gelu: bool | None   # the activation the file's own modules use (TorchScript archives); None: not stated
    file_name: str


def read_vision_weights(path: str | Path) -> VisionWeights:
    """Read CLIP vision weights from a file without running pickled code: `.safetensors`; a TorchScript archive
    (OpenAI's `ViT-L-14.pt`) through the restricted reader; else `torch.load(weights_only=True)`. Full CLIP state
    dicts are cut to their `visual.` part; a dict without that prefix is taken as a tower alone (our
    vision.safetensors). Raises `CheckpointError` in one line naming the file when it is none of these."""
    path = Path(path)
    name = path.name
    quick_gelu = None
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError) as e:
            raise CheckpointError(f"cannot read {name} as safetensors: {first_line(e)}") from e
    elif is_torchscript_archive(path):
        contents = read_torchscript(path, prefix="visual.")
        state = contents.tensors
        activations = {cls.rsplit(".", 1)[-1] for mod, cls in contents.modules.items() if mod.startswith("visual.")}
        quick_gelu = True if "QuickGELU" in activations else False if "GELU" in activations else True
        # no activation module named (a scripted forward may inline it): OpenAI's archives are all QuickGELU
    else:
        state = _torch_load(path)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith("visual.") for k in state):
        state = {k.removeprefix("visual."): v for k, v in state.items() if k.startswith("visual.")}
    if not state:
        raise CheckpointError(f"{name} holds no CLIP vision weights (no visual.* tensors)")
    return VisionWeights(state, quick_gelu, name)


def _torch_load(path: Path) -> dict[str, torch.Tensor]:
    """A plain PyTorch checkpoint as a state dict of tensors, with `weights_only=True`; anything else is refused."""
    name = path.name
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if not any(n.endswith("/data.pkl") and n.count("/") == 1 for n in zf.namelist()):
                raise CheckpointError(f"{name} is a zip file but neither a TorchScript archive nor a PyTorch "
                                      f"checkpoint (no data.pkl inside)")
    return load_state_dict_file(path, "neither a TorchScript archive nor a PyTorch state dict")


def fit_vision_weights(config: VisionConfig, weights: VisionWeights) -> nn.Module:
    """The meta-device tower `weights` must fill, with the activation they were trained with; raises
    `CheckpointError` naming the missing, unexpected and mis-shaped tensors when they do not fit the architecture."""
    arch_quick_gelu = bool(clip_model_config(config).get("quick_gelu", False))
    if weights.quick_gelu is not None and weights.quick_gelu != arch_quick_gelu:
        logger.warning("%s uses %s but %s says %s: building the tower with %s, as its weights were trained",
                       weights.file_name, _act(weights.quick_gelu), config.arch, _act(arch_quick_gelu),
                       _act(weights.quick_gelu))
    visual = build_visual(config, quick_gelu=weights.quick_gelu, device="meta")
    expected = visual.state_dict()
    missing = sorted(set(expected) - set(weights.state))
    unexpected = sorted(set(weights.state) - set(expected))
    wrong = sorted(f"{k} {tuple(weights.state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
                   if k in weights.state and weights.state[k].shape != v.shape)
    if missing or unexpected or wrong:
        parts = [f"{len(v)} {what} (e.g. {', '.join(v[:3])})" for what, v in
                 (("missing", missing), ("unexpected", unexpected), ("mis-shaped", wrong)) if v]
        raise CheckpointError(f"{weights.file_name} does not fit the vision architecture {config.arch}: "
                              f"{'; '.join(parts)}")
    return visual


def load_visual(config: VisionConfig, path: str | Path) -> nn.Module:
    """The tower of `config` with the weights of `path` (float32, like a freshly built tower; the runtime profile
    casts it later)."""
    weights = read_vision_weights(path)
    visual = fit_vision_weights(config, weights)
    state = {k: (v.to(torch.float32) if v.is_floating_point() else v).contiguous() for k, v in weights.state.items()}
    visual.load_state_dict(state, strict=True, assign=True)
    if any(t.is_meta for t in (*visual.parameters(), *visual.buffers())):  # a non-persistent buffer: build for real
        visual = build_visual(config, quick_gelu=weights.quick_gelu)
        visual.load_state_dict(state, strict=True)
    return visual


def _act(quick_gelu: bool) -> str:
    return "QuickGELU" if quick_gelu else "GELU"


def _resolve(source: str, base_dir: str | Path | None) -> Path:
    path = Path(source)
    if not path.is_absolute() and base_dir is not None and (Path(base_dir) / path).exists():
        path = Path(base_dir) / path
    if not path.is_file():
        raise CheckpointError(f"vision weights not found: {path.name}")
    return path
