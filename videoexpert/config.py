"""Configuration dataclasses and named presets.

A `ModelConfig` fully describes a VideoExpert: which vision tower and LLM to load (or build from an
architecture config for tiny random models), the Spatial Compress settings, the experts, the head and the
loss weights. Presets are JSON files in `videoexpert/presets/` (`list_presets()`); a saved model stores its
config as `config.json` beside the weights.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .prompts import LOC, get_templates

PRESET_DIR = Path(__file__).parent / "presets"

# CLIP's normalisation constants (OpenAI), used by every open_clip ViT we load.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

EXPERT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class VisionConfig:
    arch: str = "ViT-L-14"                 # open_clip architecture name
    pretrained: str | None = "openai"      # open_clip tag, a local .pt/.bin/.safetensors file, or None (random init)
    arch_config: dict[str, Any] | None = None  # custom open_clip model config (embed_dim, vision_cfg, text_cfg): tiny models
    image_size: int = 224                  # frames are resized (shorter side) and centre-cropped to this
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD

    def __post_init__(self) -> None:
        self.mean, self.std = tuple(self.mean), tuple(self.std)
        if self.image_size <= 0:
            raise ConfigError(f"vision.image_size must be positive, got {self.image_size}")


@dataclass
class CompressConfig:
    """Spatial Compress (paper §III-C). Defaults reproduce the official "compress_class_pool" rule."""

    num_gops: int = 4            # u: number of groups of pictures (IDR frames)
    gop_length: int = 3          # frames per GOP: the IDR frame and the next gop_length-1 P-frames
    num_centers: int = 64        # w: cluster centres (S-tokens) per GOP
    num_key_tokens: int = 28     # of the w centres, those most similar to the IDR frame's CLS token; the rest are context
    drop_static: bool = True     # remove P-frame patches whose centre equals the IDR patch's centre at the same position

    def __post_init__(self) -> None:
        if self.num_gops < 1 or self.gop_length < 1:
            raise ConfigError(f"compress.num_gops and gop_length must be >= 1, got {self.num_gops}, {self.gop_length}")
        if not 0 <= self.num_key_tokens <= self.num_centers:
            raise ConfigError(f"compress.num_key_tokens ({self.num_key_tokens}) must lie in [0, num_centers={self.num_centers}]")

    @property
    def num_tokens(self) -> int:
        """m: how many S-tokens the compressor emits per video."""
        return self.num_gops * self.num_centers


@dataclass
class ExpertConfig:
    """The temporal and spatial LoRA experts (paper eq. 7-9) on every decoder projection."""

    rank: int = 32
    alpha: float = 64.0          # scaling = alpha / rank
    dropout: float = 0.05
    target_modules: tuple[str, ...] = EXPERT_TARGET_MODULES

    def __post_init__(self) -> None:
        self.target_modules = tuple(self.target_modules)
        if self.rank <= 0:
            raise ConfigError(f"experts.rank must be positive, got {self.rank}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"experts.dropout must lie in [0, 1), got {self.dropout}")

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank


@dataclass
class HeadConfig:
    """The LOC MLP and the temporal expert head (paper eq. 10)."""

    hidden_size: int = 512       # width of h_loc, X_T and the conv branches
    kernel_size: int = 3
    interaction: str = "add"     # how h_loc meets X_T: the paper's default "add"
    nms_threshold: float = 0.5   # temporal NMS IoU threshold for ranked alternatives
    max_segments: int = 5        # ranked alternatives kept per [LOC]

    def __post_init__(self) -> None:
        if self.interaction != "add":
            raise ConfigError(f"head.interaction {self.interaction!r} is not implemented; only 'add' (the paper's default)")
        if self.kernel_size % 2 != 1:
            raise ConfigError(f"head.kernel_size must be odd to keep one output per frame, got {self.kernel_size}")


@dataclass
class WindowConfig:
    """Long videos (videoexpert.windows): overlapping windows of the model's native length, each answered on its own
    `ModelConfig.num_frames` frames and merged in global time. A video no longer than `seconds` is one window: the
    single pass over the whole video that the model was trained on."""

    seconds: float = 150.0       # native length: the paper's training videos are mostly 0.5-3 min (Charades ~30 s,
                                 # ActivityNet ~2 min, QVHighlights 150 s); the demo model sets its world's 60 s
    overlap: float = 0.25        # at least this share of a window is shared with its neighbour, so that an event
                                 # cut by one window's edge lies whole in the next
    min_score: float = 0.5       # a segment counts as found when the head's foreground probability reaches this
    refine: int = 3              # coarse-to-fine: the best candidates re-grounded in a window of half the length
                                 # centred on them (twice the frame rate); 0 turns it off

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ConfigError(f"windows.seconds must be positive, got {self.seconds}")
        if not 0.0 <= self.overlap < 1.0:
            raise ConfigError(f"windows.overlap must lie in [0, 1), got {self.overlap}")
        if self.refine < 0:
            raise ConfigError(f"windows.refine must be >= 0, got {self.refine}")


@dataclass
class LossConfig:
    """Loss weights from the official code: L = 1 CE + 2 BCE + 5 SmoothL1 + 2 (1 - GIoU)."""

    text_weight: float = 1.0
    indicator_weight: float = 2.0
    span_weight: float = 5.0
    giou_weight: float = 2.0
    background_weight: float = 0.1   # BCE weight of background frames


@dataclass
class LLMConfig:
    name_or_path: str | None = "lmsys/vicuna-7b-v1.5"  # HF hub id or local dir; None = random init from arch_config
    arch_config: dict[str, Any] | None = None           # transformers config dict (needs "model_type") for random init
    tokenizer: str | None = None                        # defaults to name_or_path
    template: str = "vicuna_v1"
    # Tokens before `<video>` in the chat prompt, BOS included, when the weights depend on it: the official code
    # routes positions 35..134 to the temporal expert at inference, 35 being Vicuna's prefix. A tokenizer that splits
    # the prefix otherwise is refused at load time. None: not checked (our own tokenizers).
    prompt_prefix_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.name_or_path is None and not self.arch_config:
            raise ConfigError("llm needs either name_or_path or arch_config")


@dataclass
class ModelConfig:
    name: str = "videoexpert"
    num_frames: int = 100        # n: frames sampled uniformly per video (T-tokens)
    vision_width: int = 768      # d of the vision tokens after the CLIP projection (768 for ViT-L/14)
    vision: VisionConfig = field(default_factory=VisionConfig)
    compress: CompressConfig = field(default_factory=CompressConfig)
    experts: ExpertConfig = field(default_factory=ExpertConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    windows: WindowConfig = field(default_factory=WindowConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    loc_token: str = LOC         # "[LOC]", the official spelling (the paper writes <LOC>); the templates write it
    time_format: str = "loc"     # "loc": [LOC] + temporal head (the paper); "text": times written as text, the
                                 # paper's "w/o temporal head" ablation (two-digit percentages, VTimeLLM style)
    templates: str = "official"  # task templates the model was trained with (videoexpert.prompts.TEMPLATES)
    train_embeddings: str = "full"  # stage 2 trains the whole input/output embeddings (official) or only the [LOC] "rows"
    description: str = ""        # what the model is and what it knows (shown by the CLI and the app)

    def __post_init__(self) -> None:
        for name, cls in (("vision", VisionConfig), ("compress", CompressConfig), ("experts", ExpertConfig),
                          ("head", HeadConfig), ("windows", WindowConfig), ("loss", LossConfig), ("llm", LLMConfig)):
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, dataclass_from_dict(cls, value, name))
        if self.num_frames < 1:
            raise ConfigError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.time_format not in ("loc", "text"):
            raise ConfigError(f"time_format must be 'loc' or 'text', got {self.time_format!r}")
        if self.train_embeddings not in ("full", "rows"):
            raise ConfigError(f"train_embeddings must be 'full' or 'rows', got {self.train_embeddings!r}")
        get_templates(self.templates)

    @property
    def num_visual_tokens(self) -> int:
        return self.num_frames + self.compress.num_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return dataclass_from_dict(cls, data, "model")

    @classmethod
    def from_json(cls, path: str | Path) -> "ModelConfig":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read model config {path}: {e}") from e
        return cls.from_dict(data)


def dataclass_from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build a dataclass from a dict, naming unknown keys instead of failing with a TypeError."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown field(s) in {where} config: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**data)


@lru_cache(maxsize=None)
def list_presets() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.json")))


def get_preset(name: str) -> ModelConfig:
    """A fresh `ModelConfig` for a named preset (`paper`, `tiny`, ...)."""
    if name not in list_presets():
        raise ConfigError(f"unknown preset {name!r}; available: {', '.join(list_presets())}")
    return ModelConfig.from_json(PRESET_DIR / f"{name}.json")
