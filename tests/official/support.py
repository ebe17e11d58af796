"""Fixtures recorded from the authors' code (coffeecolamind/VideoExpert) and the helpers that feed them to ours.

Only numbers live here: inputs, weights and the official outputs (see README.md for how they were made). The helpers
build our model in the same tiny configuration, load the same weights through `videoexpert.convert`, and run the
public paths (forward, generate) with hooks that record what the official run recorded.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import torch
from safetensors.torch import load_file

from videoexpert import VideoExpert, create_model, get_preset
from videoexpert.config import CompressConfig, ModelConfig
from videoexpert.convert import load_official, map_official

FIXTURES = Path(__file__).parent / "fixtures"
RELEASE = FIXTURES / "release"
VIDEO = -200          # the official IMAGE_TOKEN_INDEX and our VIDEO_TOKEN_INDEX
NUM_VISUAL = 356      # 100 T-tokens + 4 GOPs x 64 S-tokens
LOC_ID = 512          # [LOC] is added after the 512 tokens of the tiny base vocabulary


@lru_cache(maxsize=None)
def recorded(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURES / f"{name}.safetensors"))


@lru_cache(maxsize=None)
def official_json() -> dict:
    return json.loads((FIXTURES / "official.json").read_text())


@lru_cache(maxsize=None)
def features() -> torch.Tensor:
    """(2, 100, 257, 768) fp32 CLIP-like features, CLS first (cached: callers must not write into it). f = (U @ V) / 64 with U small integers and V multiples
    of 1/256: every product and partial sum is exact in float64 and the result exact in float32, so the features are
    the same bits on any machine and in any summation order."""
    f = recorded("features")
    return ((f["U"].double() @ f["V"].double()) / 64).float()


def llm_arch() -> dict:
    return dict(official_json()["llm_config"], model_type="llama")


def model_config() -> ModelConfig:
    """The `tiny` preset at the official shapes the authors' code hard-codes: 768-d vision tokens, 256 patches,
    4 GOPs x 64 centres (28 key tokens), experts of rank 32 with scale 2; a 2-layer LLaMA (hidden 64) and a
    32-wide head instead of 512, the official head classes having been run at that width."""
    cfg = get_preset("tiny")
    cfg.vision_width = 768
    cfg.vision.arch_config["embed_dim"] = 768          # the (unused) tiny ViT must emit 768-d tokens
    cfg.compress = CompressConfig(num_gops=4, gop_length=3, num_centers=64, num_key_tokens=28)
    cfg.experts.rank, cfg.experts.alpha, cfg.experts.dropout = 32, 64.0, 0.0
    cfg.head.hidden_size = 32
    cfg.llm.arch_config = llm_arch()
    return cfg


def base_llm_state() -> dict[str, torch.Tensor]:
    """The frozen base LLM ("Vicuna") in Hugging Face LLaMA names, 512-token vocabulary."""
    return recorded("llm_base")


def release_state() -> dict[str, torch.Tensor]:
    """The fabricated release (bf16 pickles, as the official training writes them), read the way convert reads it."""
    state = {}
    for path in (RELEASE / "stage2" / "non_lora_trainables.bin", RELEASE / "stage2", RELEASE / "mm_projector.bin"):
        state.update(load_official(path))
    return state


_BASE_PROJ = re.compile(r"\.(q|k|v|o|gate|up|down)_proj\.weight$")


@torch.no_grad()
def load_official_weights(model: VideoExpert) -> None:
    """Base LLM weights (wrapped projections take theirs as `base_layer`) plus the release mapped by
    `videoexpert.convert.map_official`; every tensor must land on a parameter of the same shape."""
    llm_params = dict(model.llm.named_parameters())
    for key, value in base_llm_state().items():
        if key in ("model.embed_tokens.weight", "lm_head.weight"):
            continue                                    # stage 2 trains both: the release holds them
        ours = _BASE_PROJ.sub(r".\1_proj.base_layer.weight", key)
        assert llm_params[ours].shape == value.shape, key
        llm_params[ours].copy_(value)
    tensors, report = map_official(release_state())
    assert not report.unmatched, report.unmatched
    params = dict(model.named_parameters())
    targets = {"embeddings.input": model.llm.get_input_embeddings().weight,
               "embeddings.output": model.llm.get_output_embeddings().weight}
    for key, value in tensors.items():
        target = targets.get(key, params.get(key))
        assert target is not None and target.shape == value.shape, key
        target.copy_(value.to(target.dtype))
    expected = {n for n in params if n.startswith(("projector.", "head.")) or ".lora_" in n}
    assert expected <= set(tensors), sorted(expected - set(tensors))[:5]


def build_model() -> VideoExpert:
    model = create_model(model_config(), seed=0).eval()
    assert model.loc_token_id == LOC_ID, "the tiny tokenizer no longer has 512 tokens: the fixtures assume it"
    load_official_weights(model)
    return model


def expand_video(values: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Official sequences hold one -200 for the video, ours one placeholder per visual token: repeat whatever `values`
    (ids, labels, attention mask) holds at the video's slot NUM_VISUAL times."""
    rows = []
    for vals, row in zip(values.tolist(), ids.tolist()):
        at = row.index(VIDEO)
        rows.append(vals[:at] + [vals[at]] * NUM_VISUAL + vals[at + 1:])
    return torch.tensor(rows)


def loc_windows(windows: torch.Tensor, counts: list[int]) -> list[torch.Tensor]:
    """(num_locs, K, 2) NaN-padded windows, split per sample."""
    return list(torch.split(windows, counts))


class Recorder:
    """Hooks on the decoder (input embeddings, T-token mask, final states of every call) and on the head."""

    def __init__(self, model: VideoExpert) -> None:
        self.embeds, self.masks, self.hidden, self.head_inputs = [], [], [], []
        decoder = model.llm.get_decoder()
        self.handles = [
            decoder.register_forward_pre_hook(self._pre, with_kwargs=True),
            decoder.register_forward_hook(lambda m, a, out: self.hidden.append(out.last_hidden_state.detach())),
            model.head.register_forward_hook(lambda m, args, out: self.head_inputs.append([a.detach() for a in args])),
        ]
        self.router = model.router

    def _pre(self, module, args, kwargs):
        self.embeds.append(kwargs.get("inputs_embeds"))
        mask = self.router.temporal_mask
        self.masks.append(None if mask is None else mask.clone())

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        for h in self.handles:
            h.remove()


def train_forward(model: VideoExpert):
    """Our forward on the recorded training batch; returns (output, recorder)."""
    rec = recorded("train_forward")
    ids, labels, attention = (expand_video(rec[k], rec["input_ids"]) for k in ("input_ids", "labels", "attention_mask"))
    counts = (rec["input_ids"] == LOC_ID).sum(1).tolist()
    f = features()
    with Recorder(model) as r, torch.no_grad():
        out = model(ids, f[:, :, 0], f[:, :, 1:], attention_mask=attention, labels=labels,
                    loc_windows=loc_windows(rec["windows"], counts))
    return out, r, ids, attention


def generate(model: VideoExpert, monkeypatch, max_new_tokens: int = 6):
    """Our `generate` on the recorded prompt (its ids given directly: the tiny tokenizer is not the official one)."""
    rec = recorded("generation")
    ids = expand_video(rec["prompt_ids"], rec["prompt_ids"])[0].tolist()
    monkeypatch.setattr(model, "tokenize", lambda *a, **k: (list(ids), [-100] * len(ids)))
    f = features()[:1]
    with Recorder(model) as r, torch.no_grad():
        visual = model.visual_tokens(f[:, :, 0], f[:, :, 1:])
        out = model.generate(visual, "<video>", max_new_tokens=max_new_tokens)
    return out, r
