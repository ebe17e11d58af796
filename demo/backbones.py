"""The demo's frozen backbones, trained from scratch on the demo world like CLIP and Vicuna were on theirs:

* a small open_clip ViT trained contrastively (open_clip's `CLIP` and `ClipLoss`) on generated frames and their
  descriptions ("a red circle at the top left and a blue square ... on a striped background");
* a small LLaMA trained as a causal language model on the world's text, with a byte-level BPE tokenizer trained
  locally (`videoexpert.tokenizer`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


@dataclass
class VisionRecipe:
    image_size: int = 64
    patch_size: int = 8          # 8x8 = 64 patches per frame
    width: int = 128
    layers: int = 3
    embed_dim: int = 96          # d of the T- and S-tokens
    text_width: int = 128
    text_layers: int = 2
    context_length: int = 40
    frames_per_video: int = 8
    steps: int = 600
    batch_size: int = 96
    lr: float = 1e-3

    def arch_config(self) -> dict:
        return {"embed_dim": self.embed_dim,
                "vision_cfg": {"image_size": self.image_size, "layers": self.layers, "width": self.width,
                               "head_width": 32, "patch_size": self.patch_size},
                "text_cfg": {"context_length": self.context_length, "vocab_size": 49408, "width": self.text_width,
                             "heads": 4, "layers": self.text_layers}}


@dataclass
class LanguageRecipe:
    vocab_size: int = 1024
    hidden_size: int = 128
    intermediate_size: int = 384
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    seq_len: int = 64
    steps: int = 600
    batch_size: int = 32
    lr: float = 2e-3

    def arch_config(self, vocab_size: int, tokenizer) -> dict:
        return {"model_type": "llama", "vocab_size": vocab_size, "hidden_size": self.hidden_size,
                "intermediate_size": self.intermediate_size, "num_hidden_layers": self.layers,
                "num_attention_heads": self.heads, "num_key_value_heads": self.kv_heads,
                "max_position_embeddings": 1024, "bos_token_id": tokenizer.bos_token_id,
                "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
                "tie_word_embeddings": False}


def cosine_lr(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 10 % of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_vision(videos, recipe: VisionRecipe, seed: int = 0) -> torch.nn.Module:
    """A CLIP trained contrastively on frames of `videos`; returns its visual tower (frozen afterwards)."""
    import open_clip

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    images, texts = [], []
    for video in tqdm(videos, desc="rendering CLIP frames", unit="video"):
        times = np.sort(rng.uniform(0, video.duration, recipe.frames_per_video))
        images.append(video.render(times, recipe.image_size))
        texts += [video.frame_description(float(t)) for t in times]
    images = torch.from_numpy(np.concatenate(images)).permute(0, 3, 1, 2).contiguous()   # (N, 3, s, s) uint8
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    tokens = tokenizer(texts, context_length=recipe.context_length)
    from videoexpert.config import CLIP_MEAN, CLIP_STD
    from videoexpert.video import normalize_frames

    model = open_clip.CLIP(**recipe.arch_config())
    loss_fn = open_clip.ClipLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.1)
    model.train()
    for step in tqdm(range(recipe.steps), desc="training the demo CLIP", unit="step"):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, recipe.steps, recipe.lr, warmup=recipe.steps // 20)
        idx = torch.from_numpy(rng.choice(len(images), recipe.batch_size, replace=False))
        pixels = normalize_frames(images[idx], CLIP_MEAN, CLIP_STD)
        loss = loss_fn(model.encode_image(pixels, normalize=True), model.encode_text(tokens[idx], normalize=True),
                       model.logit_scale.exp())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == recipe.steps - 1:
            logger.info("CLIP step %d loss %.3f", step, loss.item())
    return model.visual.eval()


def train_language(corpus: list[str], tokenizer, recipe: LanguageRecipe, seed: int = 0) -> torch.nn.Module:
    """A LLaMA trained from scratch as a causal LM on `corpus` (packed into fixed-length sequences)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    ids: list[int] = []
    for text in corpus:
        ids += [tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    stream = torch.tensor(ids)
    config = AutoConfig.for_model(**recipe.arch_config(len(tokenizer), tokenizer))
    model = AutoModelForCausalLM.from_config(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.1)
    model.train()
    for step in tqdm(range(recipe.steps), desc="training the demo LLM", unit="step"):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, recipe.steps, recipe.lr, warmup=recipe.steps // 20)
        starts = rng.integers(0, len(stream) - recipe.seq_len - 1, recipe.batch_size)
        batch = torch.stack([stream[s:s + recipe.seq_len] for s in starts])
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 100 == 0 or step == recipe.steps - 1:
            logger.info("LM step %d loss %.3f", step, loss.item())
    return model.eval()
