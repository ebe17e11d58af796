"""VideoExpert: CLIP ViT + Spatial Compress + projector + LLaMA-family LLM with temporal/spatial experts + [LOC] head.

    frames --ViT--> CLS (n, d_v) + patches (n, p, d_v)
    Z = [CLS ; SpatialCompress(patches)]             (n + u*w, d_v)    eq. 2-4
    X_visual = projector(Z)                          (n + u*w, d_llm)  eq. 5
    LLM([... USER: X_visual \n question ASSISTANT: answer]) with per-token experts (eq. 7-9)
    each [LOC] -> TemporalHead(T-token states, state that predicted [LOC])  eq. 10

The visual tokens are spliced in llava's way: the prompt holds n + u*w placeholder ids, whose embeddings are
replaced by `masked_scatter`; the first n of them are the T-tokens routed to the temporal expert.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from dataclasses import dataclass, field

import torch
from torch import nn

from .compress import spatial_compress
from .config import ModelConfig
from .errors import ConfigError
from .experts import ExpertRouter, add_experts, route_tokens
from .head import HeadOutput, TemporalHead
from .loss import IGNORE_INDEX, grounding_losses, text_loss, total_loss
from .prompts import VIDEO_PLACEHOLDER, chat_prompt, get_templates
from .spans import pad_windows
from .video import normalize_frames
from .vision import VisionTower

logger = logging.getLogger(__name__)

VIDEO_TOKEN_INDEX = -200  # placeholder id of a visual token in input_ids (never looked up in the embedding)


@dataclass
class VideoExpertOutput:
    logits: torch.Tensor                              # (b, s, vocab)
    loss: torch.Tensor | None = None                  # weighted sum of `losses`
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    head: HeadOutput | None = None                    # one row per [LOC] in the batch


@dataclass
class GenerationOutput:
    token_ids: list[int]            # the assistant's reply: forced prefix + generated tokens
    text: str                       # decoded reply, [LOC] kept
    loc_hidden: torch.Tensor        # (num_locs, d_llm) state that predicted each [LOC], in order
    t_hidden: torch.Tensor          # (n, d_llm) final states at the T-tokens


class VideoExpert(nn.Module):
    def __init__(self, config: ModelConfig, vision: VisionTower, llm: nn.Module, tokenizer,
                 adapter_dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.config = config
        self.vision = vision
        self.llm = llm
        self.tokenizer = tokenizer
        if vision.width != config.vision_width:
            raise ConfigError(f"vision tower width {vision.width} != config.vision_width {config.vision_width}")
        llm.requires_grad_(False)
        self.templates = get_templates(config.templates)
        self.loc_token_id = _add_loc_token(tokenizer, llm, config.loc_token)
        self._check_prompt_prefix()
        self.router = ExpertRouter()
        add_experts(llm, config.experts, self.router, dtype=adapter_dtype)
        hidden = llm.config.hidden_size
        device = llm.get_input_embeddings().weight.device
        dtype = adapter_dtype or torch.float32
        self.projector = nn.Linear(config.vision_width, hidden, device=device, dtype=dtype)
        self.head = TemporalHead(hidden, config.head).to(device, dtype)
        self._embedding_base: dict[str, torch.Tensor] = {}          # embeddings when training started (CPU copy)
        self._loaded_embedding_rows: dict[str, set[int]] = {}       # rows a checkpoint set on top of the base LLM
        # Inference is the default: the experts' LoRA dropout must be off unless a trainer asks for training mode
        # (`train.py` calls `.train()`); every load path (`factory.create_model`, `load_model`) builds here.
        self.eval()

    @property
    def device(self) -> torch.device:
        return self.projector.weight.device

    @property
    def name(self) -> str:
        return self.config.name

    # ------------------------------------------------------------------ vision
    @torch.no_grad()
    def encode_frames(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (n, 3, h, w) frames -> CLS (n, d_v) and patches (n, p, d_v)."""
        pixels = normalize_frames(frames, self.config.vision.mean, self.config.vision.std).to(self.device)
        tokens = self.vision(pixels)
        return tokens[:, 0], tokens[:, 1:]

    def visual_tokens(self, cls_tokens: torch.Tensor, patch_tokens: torch.Tensor) -> torch.Tensor:
        """(b, n, d_v), (b, n, p, d_v) -> X_visual (b, n + u*w, d_llm): T-tokens then S-tokens, projected."""
        s_tokens = spatial_compress(cls_tokens, patch_tokens, self.config.compress)
        z = torch.cat([cls_tokens, s_tokens], dim=1)
        return self.projector(z.to(self.projector.weight.dtype))

    # ------------------------------------------------------------------ text
    def encode_text(self, text: str) -> list[int]:
        """Token ids of `text` (no BOS/EOS). [LOC] splits the text there and, as the official tokenizer added it,
        takes the whitespace on both sides with it (see `_add_loc_token`)."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode_text(self, ids: list[int]) -> str:
        """The inverse of `encode_text`: the pieces between [LOC]s decoded on their own and joined back with the
        spacing the templates write ("From [LOC], a dog runs.")."""
        pieces: list[list[int]] = [[]]
        for i in ids:
            pieces.append([]) if i == self.loc_token_id else pieces[-1].append(i)
        texts = [self.tokenizer.decode(p, skip_special_tokens=False).strip() for p in pieces]
        out = texts[0]
        for text in texts[1:]:
            out = f"{out} {self.config.loc_token}" if out else self.config.loc_token
            out += text if not text or text[0] in ".,;:!?" else f" {text}"
        return out

    def tokenize(self, prompt: str, answer: str | None = None, add_eos: bool = True) -> tuple[list[int], list[int]]:
        """input_ids and labels for one conversation, as the official code builds them: the prompt's `<video>` becomes
        n + u*w placeholder ids; the text after it and the answer are tokenised together (Vicuna v1 joins them with a
        space), and labels supervise only the answer's tokens and its end-of-sequence token (unless `add_eos` is off:
        a teacher-forced answer prefix at inference)."""
        if prompt.count(VIDEO_PLACEHOLDER) != 1:
            raise ConfigError(f"the prompt must contain exactly one {VIDEO_PLACEHOLDER}")
        before, after = prompt.split(VIDEO_PLACEHOLDER)
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        ids = bos + self.encode_text(before) + [VIDEO_TOKEN_INDEX] * self.config.num_visual_tokens
        question = self.encode_text(after)
        if not answer:
            return ids + question, [IGNORE_INDEX] * (len(ids) + len(question))
        turn = self.encode_text(f"{after} {answer}")
        if turn[:len(question)] != question:  # a merge across "ASSISTANT:" and the answer: labels would be ambiguous
            raise ConfigError("the tokenizer merges the prompt's end with the answer; cannot tell where the answer starts")
        answer_ids = turn[len(question):] + ([self.tokenizer.eos_token_id] if add_eos else [])
        return ids + question + answer_ids, [IGNORE_INDEX] * (len(ids) + len(question)) + answer_ids

    def prompt_prefix_length(self) -> int:
        """Tokens before `<video>` in the chat prompt, BOS included (35 for Vicuna v1.5)."""
        return self.tokenize(chat_prompt(""))[0].index(VIDEO_TOKEN_INDEX)

    def _check_prompt_prefix(self) -> None:
        expected = self.config.llm.prompt_prefix_tokens
        found = self.prompt_prefix_length() if expected is not None else None
        if found != expected:
            raise ConfigError(f"the tokenizer splits the prompt before <video> into {found} tokens, "
                              f"the weights expect {expected} (the official code routes positions {expected}.."
                              f"{expected + self.config.num_frames - 1} to the temporal expert): wrong tokenizer?")

    def _embed(self, input_ids: torch.Tensor, visual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Input embeddings with the visual tokens scattered in, and the (b, s) T-token mask."""
        video_mask = input_ids == VIDEO_TOKEN_INDEX
        expected = visual.shape[0] * visual.shape[1]
        if int(video_mask.sum()) != expected:
            raise ConfigError(f"visual placeholders and visual tokens do not match: {int(video_mask.sum())} "
                              f"placeholders, {expected} tokens")
        embeds = self.llm.get_input_embeddings()(input_ids.clamp(min=0))
        embeds = embeds.masked_scatter(video_mask[..., None], visual.to(embeds.dtype))
        t_mask = video_mask & (video_mask.cumsum(dim=1) <= self.config.num_frames)
        return embeds, t_mask

    def enable_gradient_checkpointing(self) -> None:
        """Recompute the LLM's layer activations in backward instead of keeping them. The recomputation runs after
        `forward` has returned, outside its `route_tokens` block: each layer's recomputation is given the routing its
        forward ran with (torch.utils.checkpoint's `context_fn`), else the T-tokens would be recomputed through the
        spatial expert and the temporal expert would get wrong gradients."""
        router = self.router

        def context_fn():
            return contextlib.nullcontext(), route_tokens(router, router.temporal_mask)

        kwargs = {"use_reentrant": False, "context_fn": context_fn}
        if hasattr(self.llm, "activation_checkpointing_enable"):  # transformers >= 5.2x; the old name warns there
            self.llm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            self.llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)

    def _decode(self, **kwargs):
        """The decoder stack (post final norm) with the experts routed by the caller."""
        return self.llm.get_decoder()(**kwargs)

    # ------------------------------------------------------------------ training forward
    def forward(self, input_ids: torch.Tensor, cls_tokens: torch.Tensor, patch_tokens: torch.Tensor,
                attention_mask: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                loc_windows: list[torch.Tensor] | None = None) -> VideoExpertOutput:
        """input_ids (b, s) from `tokenize` (right-padded), features (b, n, d_v) and (b, n, p, d_v), labels
        (b, s), and per sample a (num_locs, 2) tensor of normalised windows, one per [LOC] in its answer (or
        (num_locs, K, 2) with NaN padding for [LOC]s that have several ground-truth windows)."""
        visual = self.visual_tokens(cls_tokens, patch_tokens)
        embeds, t_mask = self._embed(input_ids, visual)
        with route_tokens(self.router, t_mask):
            hidden = self._decode(inputs_embeds=embeds, attention_mask=attention_mask, use_cache=False).last_hidden_state
        logits = self.llm.get_output_embeddings()(hidden)
        losses: dict[str, torch.Tensor] = {}
        if labels is not None:
            losses["text_loss"] = text_loss(logits, labels)
        head_out = None
        predicts_loc = torch.zeros_like(input_ids, dtype=torch.bool)
        predicts_loc[:, :-1] = input_ids[:, 1:] == self.loc_token_id      # the state that predicts each [LOC]
        if predicts_loc.any():
            sample = predicts_loc.nonzero(as_tuple=True)[0]                # owner sample of each [LOC], in order
            t_hidden = hidden[t_mask].view(hidden.shape[0], self.config.num_frames, -1)[sample]
            head_out = self.head(t_hidden, hidden[predicts_loc])
            if loc_windows is not None:
                windows = pad_windows(loc_windows).to(hidden.device)
                if windows.shape[0] != sample.shape[0]:
                    raise ConfigError(f"{sample.shape[0]} [LOC] tokens in the batch but {windows.shape[0]} windows")
                losses.update(grounding_losses(head_out, windows, self.config.loss))
        loss = total_loss(losses, self.config.loss) if losses else None
        return VideoExpertOutput(logits, loss, losses, head_out)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def generate(self, visual: torch.Tensor, prompt: str, answer_prefix: str = "", max_new_tokens: int = 128,
                 temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None,
                 min_new_tokens: int = 0) -> GenerationOutput:
        """Generate the assistant's reply after `answer_prefix` (teacher-forced), recording the final hidden state
        of every position that predicts a [LOC]: inside the forced prefix and at each step that emits one.
        `visual` (1, n + u*w, d_llm) are one video's visual tokens from `visual_tokens` (computed once, asked many
        times). `min_new_tokens` forbids ending earlier (benchmarks time a fixed number of tokens)."""
        ids, _ = self.tokenize(prompt)
        forced, _ = self.tokenize(prompt, answer_prefix, add_eos=False)
        prefix_ids = forced[len(ids):]
        input_ids = torch.tensor([forced], device=self.device)
        embeds, t_mask = self._embed(input_ids, visual)
        cache = self._new_cache()
        with route_tokens(self.router, t_mask):
            out = self._decode(inputs_embeds=embeds, use_cache=True, **{self._cache_kwarg: cache})
        hidden = out.last_hidden_state[0]                                     # (s, d)
        t_hidden = hidden[t_mask[0]]
        loc_states = [hidden[i] for i in range(len(ids) - 1, input_ids.shape[1] - 1)
                      if input_ids[0, i + 1] == self.loc_token_id]
        reply = list(prefix_ids)
        last = hidden[-1]
        generator = torch.Generator(device="cpu").manual_seed(seed) if seed is not None else None
        stop = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id} - {None}
        for step in range(max_new_tokens):
            logits = self.llm.get_output_embeddings()(last).float()
            if step < min_new_tokens:
                logits[list(stop)] = float("-inf")
            token = _sample(logits, temperature, top_p, generator)
            if token in stop:
                break
            if token == self.loc_token_id:
                loc_states.append(last)
            reply.append(token)
            out = self._decode(input_ids=torch.tensor([[token]], device=self.device), use_cache=True,
                               **{self._cache_kwarg: cache})                  # new tokens: spatial expert
            last = out.last_hidden_state[0, -1]
        text = self.decode_text(reply)
        loc_hidden = torch.stack(loc_states) if loc_states else hidden.new_zeros(0, hidden.shape[-1])
        return GenerationOutput(reply, text.strip(), loc_hidden, t_hidden)

    def _new_cache(self):
        """An empty KV cache the decoder fills in place (prefill, then one step per token)."""
        from transformers import DynamicCache
        try:
            return DynamicCache(config=self.llm.config)
        except TypeError:  # transformers before 4.56 builds it without the config
            return DynamicCache()

    @functools.cached_property
    def _cache_kwarg(self) -> str:
        """The decoder's name for the KV cache: `cache` from transformers 5.2x (`past_key_values` warns there and
        is removed in 5.40), `past_key_values` before."""
        params = inspect.signature(self.llm.get_decoder().forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    @torch.no_grad()
    def ground(self, t_hidden: torch.Tensor, loc_hidden: torch.Tensor) -> HeadOutput:
        """Run the temporal head for each [LOC]: t_hidden (n, d), loc_hidden (num_locs, d)."""
        return self.head(t_hidden[None].expand(loc_hidden.shape[0], -1, -1), loc_hidden)

    # ------------------------------------------------------------------ training helpers
    def trainable_parameters(self, stage: int) -> list[nn.Parameter]:
        """Stage 1 trains the projector; stage 2 the experts, the head and the embeddings: the whole input and output
        matrices as the official code does (`config.train_embeddings="full"`; `resize_token_embeddings` leaves them
        trainable there), or only their [LOC] rows ("rows")."""
        self.requires_grad_(False)
        if stage == 1:
            params = list(self.projector.parameters())
        elif stage == 2:
            params = [p for n, p in self.llm.named_parameters() if ".lora_" in n] + list(self.head.parameters())
            params += self._embeddings_trainable(rows_only=self.config.train_embeddings == "rows")
        else:
            raise ConfigError(f"unknown training stage {stage}; expected 1 or 2")
        for p in params:
            p.requires_grad_(True)
        return params

    def embedding_matrices(self) -> dict[str, nn.Parameter]:
        """The input and output embedding matrices by name ("input", "output"), one entry when they are tied."""
        matrices = {"input": self.llm.get_input_embeddings().weight}
        output = self.llm.get_output_embeddings().weight
        if output is not matrices["input"]:
            matrices["output"] = output
        return matrices

    def changed_embedding_rows(self) -> dict[str, torch.Tensor]:
        """Per embedding matrix, the sorted ids of the rows that differ from the base LLM's: the [LOC] row, rows
        loaded from a checkpoint, and rows that training moved since `trainable_parameters` (AdamW without weight
        decay leaves a row that never had a gradient bit-identical). What a checkpoint must store, and no more."""
        rows = {}
        for key, weight in self.embedding_matrices().items():
            changed = torch.zeros(weight.shape[0], dtype=torch.bool)
            changed[self.loc_token_id] = True
            changed[sorted(self._loaded_embedding_rows.get(key, ()))] = True
            base = self._embedding_base.get(key)
            if base is not None:
                changed |= (weight.detach().cpu().to(base.dtype) != base).any(dim=1)
            rows[key] = changed.nonzero().flatten()
        return rows

    def _embeddings_trainable(self, rows_only: bool) -> list[nn.Parameter]:
        """Make the embedding matrices trainable; with `rows_only`, gradients are masked to the [LOC] row."""
        params = []
        for key, weight in self.embedding_matrices().items():
            weight.requires_grad_(True)
            self._embedding_base[key] = weight.detach().cpu().clone()
            if rows_only and not getattr(weight, "_videoexpert_row_hook", False):
                mask = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
                mask[self.loc_token_id] = 1
                weight.register_hook(lambda grad, mask=mask: grad * mask)
                weight._videoexpert_row_hook = True
            params.append(weight)
        return params


def _sample(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None) -> int:
    if temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / temperature, dim=-1).cpu()
    if top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        keep = sorted_probs.cumsum(0) - sorted_probs < top_p
        probs = torch.zeros_like(probs).scatter_(0, order[keep], sorted_probs[keep])
    return int(torch.multinomial(probs / probs.sum(), 1, generator=generator))


def _add_loc_token(tokenizer, llm: nn.Module, loc_token: str) -> int:
    """Add [LOC] to the tokenizer and grow the embeddings if needed; returns its id."""
    if loc_token not in tokenizer.get_vocab():
        # The official `tokenizer.add_tokens("[LOC]")` on transformers 4.31's slow LLaMA tokenizer: a plain (not
        # special) token that splits the text and strips the whitespace on both of its sides, so the state that
        # predicts [LOC] is the one at "▁From", not at a lone "▁". Today's tokenizers need the stripping spelled out.
        from tokenizers import AddedToken
        tokenizer.add_tokens([AddedToken(loc_token, lstrip=True, rstrip=True, normalized=False, special=False)])
    loc_id = tokenizer.convert_tokens_to_ids(loc_token)
    if llm.get_input_embeddings().weight.shape[0] < len(tokenizer):
        llm.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    return int(loc_id)
