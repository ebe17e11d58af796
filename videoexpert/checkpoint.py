"""Building backbones and our own checkpoint format.

A saved VideoExpert is a directory:

    config.json         the ModelConfig
    model.safetensors   projector, both experts of every projection, the temporal head, and the [LOC] rows of
                        the input/output embeddings (what VideoExpert trains)
    llm/                only for backbones that cannot be fetched again (random init or our own training):
                        the frozen base LLM in HF format (safetensors) and its tokenizer, [LOC] included
    vision.safetensors  likewise for a custom (tiny/demo) vision tower
    README.md           model card

Backbones referenced by hub id or path (CLIP ViT-L/14, Vicuna-7B) are not copied; config.json names them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .config import ModelConfig, get_preset, list_presets
from .errors import CheckpointError
from .vision import VisionTower

if TYPE_CHECKING:
    from .model import VideoExpert

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
LLM_DIR = "llm"
VISION_NAME = "vision.safetensors"
FORMAT = "videoexpert"


def get_config(config: ModelConfig | str) -> ModelConfig:
    return get_preset(config) if isinstance(config, str) else config


def build_backbones(config: ModelConfig, base_dir: str | Path | None = None, dtype: torch.dtype | None = None):
    """(vision tower, LLM, tokenizer) from the config: loaded from their sources, or random from arch configs."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    vision = VisionTower.from_config(config.vision, base_dir=base_dir)
    llm_cfg = config.llm
    if llm_cfg.name_or_path is not None:
        source = _local_or_hub(llm_cfg.name_or_path, base_dir)
        try:
            tokenizer = AutoTokenizer.from_pretrained(_local_or_hub(llm_cfg.tokenizer or llm_cfg.name_or_path, base_dir))
            llm = AutoModelForCausalLM.from_pretrained(source, dtype=dtype or torch.float32)
        except OSError as e:
            raise CheckpointError(f"cannot load the LLM {source!r}: {e}") from e
    else:
        from .tokenizer import train_tokenizer
        arch = dict(llm_cfg.arch_config)
        tokenizer = train_tokenizer(vocab_size=int(arch.get("vocab_size", 512)))
        arch.update(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                    eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        llm = AutoModelForCausalLM.from_config(AutoConfig.for_model(**arch), dtype=dtype or torch.float32)
    if tokenizer.pad_token is None:  # LLaMA tokenizers ship none; the official code pads with unk
        tokenizer.pad_token = tokenizer.unk_token
    llm.eval()
    return vision, llm, tokenizer


def _local_or_hub(source: str, base_dir: str | Path | None) -> str:
    if base_dir is not None and (Path(base_dir) / source).exists():
        return str(Path(base_dir) / source)
    return source


def trainable_state_dict(model: "VideoExpert") -> dict[str, torch.Tensor]:
    """What VideoExpert adds to its backbones: everything `model.safetensors` holds."""
    state = {f"projector.{k}": v for k, v in model.projector.state_dict().items()}
    state.update({f"head.{k}": v for k, v in model.head.state_dict().items()})
    state.update({f"llm.{k}": v for k, v in model.llm.state_dict().items() if ".lora_" in k})
    loc = model.loc_token_id
    state["loc_embedding.input"] = model.llm.get_input_embeddings().weight[loc:loc + 1]
    state["loc_embedding.output"] = model.llm.get_output_embeddings().weight[loc:loc + 1]
    return {k: v.detach().contiguous().cpu() for k, v in state.items()}


def save_pretrained(model: "VideoExpert", path: str | Path, include_backbones: bool | None = None) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = ModelConfig.from_dict(model.config.to_dict())
    if include_backbones is None:
        include_backbones = config.llm.name_or_path is None or config.vision.arch_config is not None
    if include_backbones:
        base_state = {k.replace(".base_layer.", "."): v for k, v in model.llm.state_dict().items() if ".lora_" not in k}
        model.llm.save_pretrained(path / LLM_DIR, state_dict=base_state)
        model.tokenizer.save_pretrained(path / LLM_DIR)
        config.llm.name_or_path, config.llm.tokenizer = LLM_DIR, None
        if config.vision.arch_config is not None:
            save_file({k: v.contiguous() for k, v in model.vision.visual.state_dict().items()}, str(path / VISION_NAME))
            config.vision.pretrained = VISION_NAME
    save_file(trainable_state_dict(model), str(path / WEIGHTS_NAME), metadata={"format": FORMAT})
    config.to_json(path / CONFIG_NAME)
    from .model_card import write_model_card
    write_model_card(path, config)
    logger.info("saved %s to %s", config.name, path)


def load_pretrained(cls, path: str | Path, device=None, dtype: torch.dtype | None = None) -> "VideoExpert":
    path = Path(path)
    if not (path / CONFIG_NAME).is_file() or not (path / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{path} is not a VideoExpert checkpoint: it needs {CONFIG_NAME} and {WEIGHTS_NAME}")
    config = ModelConfig.from_json(path / CONFIG_NAME)
    vision, llm, tokenizer = build_backbones(config, base_dir=path, dtype=dtype)
    model = cls(config, vision, llm, tokenizer)
    load_weights(model, path / WEIGHTS_NAME)
    return model.to(device) if device is not None else model


def load_weights(model: "VideoExpert", file: str | Path) -> None:
    """Load model.safetensors, naming every missing or unexpected tensor instead of loading half a model."""
    expected = trainable_state_dict(model)
    with safe_open(str(file), framework="pt") as f:
        if (f.metadata() or {}).get("format") != FORMAT:
            raise CheckpointError(f"{file} was not written by VideoExpert.save_pretrained")
        state = {k: f.get_tensor(k) for k in f.keys()}
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [k for k in set(expected) & set(state) if expected[k].shape != state[k].shape]
    if missing or unexpected or wrong:
        raise CheckpointError(f"{file} does not fit this architecture: {len(missing)} missing {missing[:5]}, "
                              f"{len(unexpected)} unexpected {unexpected[:5]}, wrong shape {sorted(wrong)[:5]}")
    with torch.no_grad():
        model.projector.load_state_dict({k[len("projector."):]: v for k, v in state.items() if k.startswith("projector.")})
        model.head.load_state_dict({k[len("head."):]: v for k, v in state.items() if k.startswith("head.")})
        llm_state = {k[len("llm."):]: v for k, v in state.items() if k.startswith("llm.")}
        result = model.llm.load_state_dict(llm_state, strict=False)
        if result.unexpected_keys:
            raise CheckpointError(f"unexpected expert weights: {result.unexpected_keys[:5]}")
        loc = model.loc_token_id
        model.llm.get_input_embeddings().weight[loc] = state["loc_embedding.input"][0]
        model.llm.get_output_embeddings().weight[loc] = state["loc_embedding.output"][0]


DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "checkpoints" / "videoexpert-demo"


def default_model_source(model: str | None = None) -> str:
    """`model`, else $VIDEOEXPERT_MODEL, else the shipped demo model (checkpoints/videoexpert-demo)."""
    source = model or os.environ.get("VIDEOEXPERT_MODEL")
    if source:
        return source
    if (DEFAULT_MODEL_DIR / CONFIG_NAME).is_file():
        return str(DEFAULT_MODEL_DIR)
    raise CheckpointError("no model given and no demo model in checkpoints/videoexpert-demo: pass a saved model "
                          "directory or a preset name (e.g. 'tiny', random weights), or set VIDEOEXPERT_MODEL")


def load_model(source: str | None = None, device=None, dtype: torch.dtype | None = None) -> "VideoExpert":
    """A saved model directory, or a preset name (random initialisation, with a warning); None = the default."""
    from .model import VideoExpert

    source = default_model_source(source)
    if Path(source).is_dir():
        return VideoExpert.from_pretrained(source, device=device, dtype=dtype)
    if source in list_presets():
        logger.warning("building preset %r with RANDOM weights: its answers are meaningless until trained", source)
        return VideoExpert.from_config(source, device=device, dtype=dtype)
    raise CheckpointError(f"model {source!r} is neither a saved VideoExpert directory nor a preset "
                          f"({', '.join(list_presets())})")
