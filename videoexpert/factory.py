"""Building, loading and saving models: the one place that constructs a `VideoExpert` (the model imports nothing
from here). `create_model` builds from a config or preset, `load_model` from a saved directory or a preset name,
`save_model` writes our checkpoint format.

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

import dataclasses
import logging
import os
from pathlib import Path
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .bundled import demo_model_dir
from .config import ModelConfig, get_preset, list_presets
from .errors import CheckpointError
from .hub import resolve_repo
from .model import VideoExpert
from .model_card import write_model_card
from .runtime import PROFILES, RuntimeProfile, select_profile, warn_if_large_on_cpu
from .tokenizer import load_tokenizer, train_tokenizer
from .vision import VisionTower

logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
LLM_DIR = "llm"
VISION_NAME = "vision.safetensors"
FORMAT = "videoexpert"


def get_config(config: ModelConfig | str) -> ModelConfig:
    return get_preset(config) if isinstance(config, str) else config


def build_backbones(config: ModelConfig, base_dir: str | Path | None = None, profile: RuntimeProfile = PROFILES["cpu"]):
    """(vision tower, LLM, tokenizer) from the config, placed and typed by `profile`: loaded from their sources
    (local path or Hub id), or random from their architecture configs (tiny models)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    vision = VisionTower.from_config(config.vision, base_dir=base_dir).to(profile.device, profile.vision_dtype)
    llm_cfg = config.llm
    if llm_cfg.name_or_path is not None:
        source = resolve_repo(llm_cfg.name_or_path, base_dir)
        tokenizer_source = resolve_repo(llm_cfg.tokenizer, base_dir) if llm_cfg.tokenizer else source
        kwargs: dict = {"dtype": profile.llm_dtype}
        if profile.load_in_4bit:
            kwargs.update(quantization_config=profile.quantization_config(), device_map={"": profile.device})
        try:
            tokenizer = load_tokenizer(tokenizer_source)   # Vicuna's folder has only tokenizer.model: converted
            llm = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        except OSError as e:
            raise CheckpointError(f"cannot load the LLM {source!r}: {e}") from e
        if not profile.load_in_4bit:
            llm.to(profile.device)
    else:
        arch = dict(llm_cfg.arch_config)
        tokenizer = train_tokenizer(vocab_size=int(arch.get("vocab_size", 512)))
        arch.update(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                    eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        if profile.load_in_4bit:
            logger.warning("a randomly initialised LLM is not quantised: running it in %s", profile.llm_dtype)
        llm = AutoModelForCausalLM.from_config(AutoConfig.for_model(**arch), dtype=profile.llm_dtype).to(profile.device)
    if tokenizer.pad_token is None:  # LLaMA tokenizers ship none; the official code pads with unk
        tokenizer.pad_token = tokenizer.unk_token
    llm.eval()
    warn_if_large_on_cpu(profile, sum(p.numel() for p in llm.parameters()))
    return vision, llm, tokenizer


def trainable_state_dict(model: VideoExpert) -> dict[str, torch.Tensor]:
    """What VideoExpert adds to its backbones: everything `model.safetensors` holds."""
    state = {f"projector.{k}": v for k, v in model.projector.state_dict().items()}
    state.update({f"head.{k}": v for k, v in model.head.state_dict().items()})
    state.update({f"llm.{k}": v for k, v in model.llm.state_dict().items() if ".lora_" in k})
    matrices = model.embedding_matrices()
    for key, rows in model.changed_embedding_rows().items():
        state[f"embeddings.{key}.rows"] = rows
        state[f"embeddings.{key}.values"] = matrices[key].detach()[rows.to(matrices[key].device)]
    return {k: v.detach().contiguous().cpu() for k, v in state.items()}


def save_model(model: VideoExpert, path: str | Path, include_backbones: bool | None = None) -> None:
    """Write config.json, model.safetensors (projector, experts, head, changed embedding rows) and, for backbones
    that cannot be re-fetched (random or our own: `include_backbones=None` decides), the LLM, tokenizer and vision
    weights too."""
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
    write_model_card(path, config)
    logger.info("saved %s to %s", config.name, path)


def create_model(config: ModelConfig | str, *, profile: str | RuntimeProfile | None = None,
                 device: str | None = None, seed: int = 0) -> VideoExpert:
    """A model from a config or preset name: backbones loaded from their sources, or randomly initialised from their
    architecture configs (tiny models), new modules initialised with `seed`. `profile` ("auto", "cuda", "cuda-bf16",
    "cpu") sets devices and precisions (DESIGN.md §3)."""
    config, profile = get_config(config), resolve_profile(profile, device)
    torch.manual_seed(seed)
    vision, llm, tokenizer = build_backbones(config, profile=profile)
    return VideoExpert(config, vision, llm, tokenizer, adapter_dtype=profile.adapter_dtype)


def load_pretrained(path: str | Path, *, profile: str | RuntimeProfile | None = None,
                    device: str | None = None) -> VideoExpert:
    """A model saved by `save_model` (our safetensors + JSON format) under a runtime profile."""
    path, profile = Path(path), resolve_profile(profile, device)
    if not (path / CONFIG_NAME).is_file() or not (path / WEIGHTS_NAME).is_file():
        raise CheckpointError(f"{path} is not a VideoExpert checkpoint: it needs {CONFIG_NAME} and {WEIGHTS_NAME}")
    config = ModelConfig.from_json(path / CONFIG_NAME)
    vision, llm, tokenizer = build_backbones(config, base_dir=path, profile=profile)
    model = VideoExpert(config, vision, llm, tokenizer, adapter_dtype=profile.adapter_dtype)
    load_weights(model, path / WEIGHTS_NAME)
    return model


def resolve_profile(profile: str | RuntimeProfile | None = None, device: str | None = None) -> RuntimeProfile:
    """A profile by name (default "auto"), or from a device: "cpu" -> cpu, "cuda[:i]" -> the GPU profile on it."""
    if profile is None and device is not None:
        profile = "cpu" if str(device) == "cpu" else "auto"
    resolved = select_profile(profile or "auto")
    if device is not None and str(device) != "cpu" and resolved.device == "cuda":
        resolved = dataclasses.replace(resolved, device=str(device))
    return resolved


def load_weights(model: VideoExpert, file: str | Path) -> None:
    """Load model.safetensors, naming every missing or unexpected tensor instead of loading half a model."""
    with safe_open(str(file), framework="pt") as f:
        if (f.metadata() or {}).get("format") != FORMAT:
            raise CheckpointError(f"{file} was not written by videoexpert (save_model)")
        state = {k: f.get_tensor(k) for k in f.keys()}
    embeddings = _embedding_rows(state, model, file)
    shapes = {k: v.shape for k, v in trainable_state_dict(model).items() if not k.startswith("embeddings.")}
    expected = set(shapes)
    modules = {k for k in state if not k.startswith(("embeddings.", "loc_embedding."))}
    missing, unexpected = sorted(expected - modules), sorted(modules - expected)
    wrong = [k for k in expected & modules if shapes[k] != state[k].shape]
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
        matrices = model.embedding_matrices()
        for key, (rows, values) in embeddings.items():
            weight = matrices.get(key, matrices["input"])  # an untied checkpoint's output rows on a tied model
            weight[rows.to(weight.device)] = values.to(weight.device, weight.dtype)
            model._loaded_embedding_rows.setdefault(key if key in matrices else "input", set()).update(rows.tolist())


def _embedding_rows(state: dict[str, torch.Tensor], model: VideoExpert, file) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(row ids, values) per embedding matrix ("input", "output"), from any of the three ways a checkpoint stores
    them: changed rows (`embeddings.{key}.rows/.values`, what we write), whole matrices (`embeddings.{key}`, a
    converted official release), or the [LOC] row alone (`loc_embedding.{key}`, checkpoints before the rows)."""
    out = {}
    for key in ("input", "output"):
        if f"embeddings.{key}.rows" in state:
            out[key] = state[f"embeddings.{key}.rows"].long(), state[f"embeddings.{key}.values"]
        elif f"embeddings.{key}" in state:
            values = state[f"embeddings.{key}"]
            out[key] = torch.arange(values.shape[0]), values
        elif f"loc_embedding.{key}" in state:
            out[key] = torch.tensor([model.loc_token_id]), state[f"loc_embedding.{key}"]
        elif key == "input" or "output" in model.embedding_matrices():
            raise CheckpointError(f"{file} holds no {key} embeddings (the [LOC] row at least)")
    vocab = model.llm.get_input_embeddings().weight.shape
    for key, (rows, values) in out.items():
        if values.shape[1:] != vocab[1:] or rows.numel() != values.shape[0] or int(rows.max()) >= vocab[0]:
            raise CheckpointError(f"{file}: {key} embeddings of shape {tuple(values.shape)} do not fit the LLM's "
                                  f"{tuple(vocab)}")
    return out


def default_model_source(model: str | None = None) -> str:
    """`model`, else $VIDEOEXPERT_MODEL, else the shipped demo model (the checkout's checkpoints/videoexpert-demo,
    else the copy inside an installed wheel: `videoexpert.bundled`)."""
    source = model or os.environ.get("VIDEOEXPERT_MODEL")
    if source:
        return str(source)
    demo = demo_model_dir()
    if demo is not None:
        return str(demo)
    raise CheckpointError("no model given and no demo model in checkpoints/videoexpert-demo: pass a saved model "
                          "directory or a preset name (e.g. 'tiny', random weights), or set VIDEOEXPERT_MODEL")


def load_model(source: str | None = None, profile: str | RuntimeProfile | None = None,
               device: str | None = None) -> VideoExpert:
    """A saved model directory, or a preset name (random initialisation, with a warning); None = the default.
    `profile`: "auto" (default), "cuda", "cuda-bf16" or "cpu" (DESIGN.md §3); `device` pins a GPU ("cuda:1")."""
    source = default_model_source(source)
    if Path(source).is_dir():
        return load_pretrained(source, profile=profile, device=device)
    if source in list_presets():
        logger.warning("building preset %r with RANDOM weights: its answers are meaningless until trained", source)
        return create_model(source, profile=profile, device=device)
    raise CheckpointError(f"model {source!r} is neither a saved VideoExpert directory nor a preset "
                          f"({', '.join(list_presets())})")
