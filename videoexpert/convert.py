"""Import of the authors' release (coffeecolamind/VideoExpert) into our safetensors format.

The release is three PyTorch pickles, read with `torch.load(weights_only=True)` (no pickled code runs):

    mm_projector.bin          model.mm_projector.{weight,bias}                               -> projector.*
    non_lora_trainables.bin   model.text_hidden_fcs_det.0.{0,2}.*                            -> head.loc_mlp.{0,2}.*
                              model.class_embed_head.layers.{0,1,2}.*                        -> head.indicator.layers.*
                              model.span_embed_head.layers.{0,1,2}.*                         -> head.boundary.layers.*
                              model.embed_tokens.weight, lm_head.weight (trained in stage 2) -> embeddings.input/output
    pytorch_model.bin         model.layers.{i}.{self_attn,mlp}.{proj}.{V,L}_Expertlora_{A,B}.weight
                              -> llm.model.layers.{i}...{proj}.lora_{A,B}.{temporal,spatial}.weight

Prefixes such as `base_model.model.` are stripped. Only the LLM's config.json is needed to know the expected shapes,
so converting never loads the 7B weights.

The CLIP file (`checkpoints/clip/ViT-L-14.pt`, OpenAI's TorchScript archive) is read with the restricted reader of
`torchscript.py` (never `torch.jit.load`), checked against the template's vision tower, and named by absolute path
in config.json, with the activation its weights were trained with (QuickGELU). Every error is one line that names
files by their name only: it reaches users through the CLI and UI, and server folders are nobody's business.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file

from .factory import CONFIG_NAME, FORMAT, WEIGHTS_NAME
from .config import ExpertConfig, HeadConfig, LLMConfig, ModelConfig, get_preset
from .errors import CheckpointError
from .model_card import write_model_card
from .torchscript import first_line, load_state_dict_file
from .vision import fit_vision_weights, read_vision_weights, record_activation

logger = logging.getLogger(__name__)

_PREFIXES = ("base_model.model.", "module.")
_EXPERT = re.compile(r"^(?:model\.)?layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)\.([VL])_Expertlora_([AB])\.weight$")
_HEAD = {"text_hidden_fcs_det.0.": "head.loc_mlp.", "class_embed_head.layers.": "head.indicator.layers.",
         "span_embed_head.layers.": "head.boundary.layers."}
_ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass
class ConversionReport:
    matched: dict[str, str] = field(default_factory=dict)      # official key -> our key
    unmatched: list[str] = field(default_factory=list)         # official keys we do not use
    missing: list[str] = field(default_factory=list)           # our required keys not found
    wrong_shape: list[str] = field(default_factory=list)

    def table(self) -> str:
        groups: dict[str, list[int]] = {}
        for ours in self.matched.values():
            group = ours.split(".")[0] if not ours.startswith("llm.") else "experts"
            groups.setdefault(group, [0, 0])[0] += 1
        for ours in self.missing:
            group = ours.split(".")[0] if not ours.startswith("llm.") else "experts"
            groups.setdefault(group, [0, 0])[1] += 1
        rows = ["| part | matched | missing |", "|---|---:|---:|"]
        rows += [f"| {g} | {m} | {x} |" for g, (m, x) in sorted(groups.items())]
        rows.append(f"| (unused official tensors) | {len(self.unmatched)} | |")
        if self.wrong_shape:
            rows.append(f"| (wrong shape) | {len(self.wrong_shape)} | |")
        return "\n".join(rows)


def load_official(path: str | Path) -> dict[str, torch.Tensor]:
    """A release .bin (or a folder of sharded pytorch_model-*.bin) as a state dict, refusing pickled code."""
    path = Path(path)
    files = sorted(path.glob("pytorch_model*.bin")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise CheckpointError(f"no checkpoint file at {path.name}"
                              + (" (no pytorch_model*.bin in it)" if path.is_dir() else ""))
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_state_dict_file(file))
    return state


def _display(source: str | Path) -> str:
    """How a source is named in messages: a local path by its last part, a Hub id as is."""
    return Path(source).name if Path(source).exists() else str(source)


def _strip(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


def expected_shapes(llm_config, vision_width: int, experts: ExpertConfig, head: HeadConfig) -> dict[str, tuple]:
    """Every tensor our model.safetensors needs (except the [LOC] rows), with its shape."""
    d, inter, r = llm_config.hidden_size, llm_config.intermediate_size, experts.rank
    head_dim = getattr(llm_config, "head_dim", None) or d // llm_config.num_attention_heads
    kv = llm_config.num_key_value_heads * head_dim
    io = {"q_proj": (d, d), "k_proj": (d, kv), "v_proj": (d, kv), "o_proj": (d, d),
          "gate_proj": (d, inter), "up_proj": (d, inter), "down_proj": (inter, d)}
    shapes = {"projector.weight": (d, vision_width), "projector.bias": (d,),
              "head.loc_mlp.0.weight": (d, d), "head.loc_mlp.0.bias": (d,),
              "head.loc_mlp.2.weight": (head.hidden_size, d), "head.loc_mlp.2.bias": (head.hidden_size,)}
    w, k = head.hidden_size, head.kernel_size
    for branch, out in (("indicator", 1), ("boundary", 2)):
        for i, (cin, cout) in enumerate([(w, w), (w, w), (w, out)]):
            shapes[f"head.{branch}.layers.{i}.weight"] = (cout, cin, k)
            shapes[f"head.{branch}.layers.{i}.bias"] = (cout,)
    for layer in range(llm_config.num_hidden_layers):
        for proj, (fan_in, fan_out) in io.items():
            block = "self_attn" if proj in _ATTN else "mlp"
            for expert in ("temporal", "spatial"):
                base = f"llm.model.layers.{layer}.{block}.{proj}"
                shapes[f"{base}.lora_A.{expert}.weight"] = (r, fan_in)
                shapes[f"{base}.lora_B.{expert}.weight"] = (fan_out, r)
    return shapes


def official_name(ours: str) -> str:
    """Where a tensor we need lives in the release (file and key), for messages about missing ones."""
    if m := re.match(r"^llm\.model\.layers\.(\d+)\.(\w+)\.(\w+_proj)\.lora_([AB])\.(temporal|spatial)\.weight$", ours):
        layer, block, proj, ab, expert = m.groups()
        which = "V" if expert == "temporal" else "L"
        return f"pytorch_model.bin: model.layers.{layer}.{block}.{proj}.{which}_Expertlora_{ab}.weight"
    if ours.startswith("projector."):
        return "mm_projector.bin: model.mm_projector." + ours.removeprefix("projector.")
    for official, mine in _HEAD.items():
        if ours.startswith(mine):
            return f"non_lora_trainables.bin: model.{official}{ours[len(mine):]}"
    return ours


def map_official(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Rename the official tensors to ours; the report lists what matched and what was left over."""
    out: dict[str, torch.Tensor] = {}
    report = ConversionReport()
    for key, tensor in state.items():
        name = _strip(key)
        ours = None
        if m := _EXPERT.match(name):
            layer, block, proj, which, ab = m.groups()
            expert = "temporal" if which == "V" else "spatial"
            ours = f"llm.model.layers.{layer}.{block}.{proj}.lora_{ab}.{expert}.weight"
        elif name.removeprefix("model.").startswith("mm_projector."):
            ours = "projector." + name.removeprefix("model.").removeprefix("mm_projector.")
        elif name in ("model.embed_tokens.weight", "embed_tokens.weight"):
            ours = "embeddings.input"
        elif name in ("lm_head.weight",):
            ours = "embeddings.output"
        else:
            short = name.removeprefix("model.")
            for official, mine in _HEAD.items():
                if short.startswith(official):
                    ours = mine + short[len(official):]
        if ours is None:
            report.unmatched.append(key)
        else:
            report.matched[key] = ours
            out[ours] = tensor
    return out, report


def convert_official(stage2_dir: str | Path, projector: str | Path, llm: str, out: str | Path,
                     vision: str | None = "openai", template: str | ModelConfig = "paper",
                     name: str = "videoexpert-7b-official") -> ConversionReport:
    """Write our format from the authors' files. The architecture (vision tower, compress, experts, head) comes
    from `template` (the `paper` preset; tests use `tiny`), the LLM from `llm`, the CLIP weights from `vision`
    (None keeps the template's). Raises `CheckpointError` (naming the tensors) when required weights are missing or
    mis-shaped; nothing is written then."""
    from transformers import AutoConfig

    stage2_dir = Path(stage2_dir)
    state = {}
    for file in (stage2_dir / "non_lora_trainables.bin", stage2_dir, Path(projector)):
        state.update(load_official(file))
    tensors, report = map_official(state)
    try:
        llm_config = AutoConfig.from_pretrained(llm)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read the LLM config from {_display(llm)}: {first_line(e)}") from e
    config = get_preset(template) if isinstance(template, str) else ModelConfig.from_dict(template.to_dict())
    config.name, config.llm = name, LLMConfig(name_or_path=str(llm))
    config.description = "VideoExpert weights released by the paper's authors (CC BY-NC-ND 4.0), converted."
    shapes = expected_shapes(llm_config, config.vision_width, config.experts, config.head)
    report.missing = sorted(k for k in shapes if k not in tensors)
    report.wrong_shape = sorted(k for k, s in shapes.items() if k in tensors and tuple(tensors[k].shape) != s)
    for key in ("embeddings.input", "embeddings.output"):
        if key in tensors and tensors[key].shape[1] != llm_config.hidden_size:
            report.wrong_shape.append(key)
    if report.missing or report.wrong_shape:
        logger.debug("conversion report:\n%s", report.table())
        parts = [f"{len(keys)} {what}: " + "; ".join(official_name(k) for k in keys[:3])
                 + ("; ..." if len(keys) > 3 else "")
                 for what, keys in (("missing", report.missing), ("mis-shaped", report.wrong_shape)) if keys]
        raise CheckpointError(f"the official release is incomplete or does not fit {_display(llm)}, nothing written: "
                              + ", ".join(parts))
    if "embeddings.input" not in tensors:
        raise CheckpointError("non_lora_trainables.bin has no model.embed_tokens.weight: "
                              "the [LOC] embedding is missing")
    if vision is not None:  # after the release's own tensors: those errors are the likelier ones
        config.vision.pretrained = _check_vision(config, vision)
    loc = tensors["embeddings.input"].shape[0] - 1   # the release adds [LOC] last (id 32000 for Vicuna's 32000)
    tensors["loc_embedding.input"] = tensors["embeddings.input"][loc:loc + 1].clone()
    tensors["loc_embedding.output"] = tensors.get("embeddings.output", tensors["embeddings.input"])[loc:loc + 1].clone()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(out / WEIGHTS_NAME),
              metadata={"format": FORMAT, "converted_from": "coffeecolamind/VideoExpert"})
    config.to_json(out / CONFIG_NAME)
    write_model_card(out, config, license="cc-by-nc-nd-4.0")
    return report


def _check_vision(config: ModelConfig, vision: str) -> str:
    """The value config.json gets for `vision`: an open_clip tag as is; a local file (OpenAI's TorchScript
    ViT-L-14.pt, or a state dict) read safely now, checked against the template's tower, its activation recorded
    in the config, and named by absolute path, since config.json lives in another folder."""
    path = Path(vision)
    if not path.suffix and not path.exists():  # an open_clip tag such as 'openai'
        return vision
    if not path.is_file():
        raise CheckpointError(f"CLIP weights not found: {path.name}")
    weights = read_vision_weights(path)
    if weights.quick_gelu is not None:
        record_activation(config.vision, weights.quick_gelu)
    fit_vision_weights(config.vision, weights)
    logger.info("%s: %d vision tensors fit %s", path.name, len(weights.state), config.vision.arch)
    return str(path.resolve())


def resolve_release_layout(checkpoints: str | Path) -> dict[str, str]:
    """Defaults from the authors' instructions: checkpoints/clip/ViT-L-14.pt and checkpoints/vicuna-7b-v1.5."""
    root = Path(checkpoints)
    found = {}
    if (root / "clip" / "ViT-L-14.pt").is_file():
        found["vision"] = str(root / "clip" / "ViT-L-14.pt")
    if (root / "vicuna-7b-v1.5" / "config.json").is_file():
        found["llm"] = str(root / "vicuna-7b-v1.5")
    return found
