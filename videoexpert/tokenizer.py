"""A byte-level BPE tokenizer trained locally with `tokenizers`, for tiny models that have no hub tokenizer.

Byte-level means any text encodes (no unknown characters); the vocabulary is learned from the prompt templates
plus whatever corpus the caller adds (the demo world's sentences, for example). Training is deterministic.
"""

from __future__ import annotations

from typing import Iterable

from .prompts import SYSTEM, TEMPLATES, chat_prompt

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]


def base_corpus() -> list[str]:
    """Text every VideoExpert tokenizer should encode compactly: the questions and answers of every template version."""
    lines = [SYSTEM]
    for t in TEMPLATES.values():
        lines += [chat_prompt(t.question("grounding", "the event", variant=i)) for i in range(len(t.grounding_prompts))]
        lines += [t.question("captioning", variant=i) for i in range(20)]
        lines += [t.question("qa", "what happens", ["a", "b", "c", "d", "e"], variant=i) for i in range(3)]
        lines += [t.question("qa", "what happens"), t.grounding_answer(), t.qa_answer("a thing", 1),
                  t.captioning_answer(["a thing happens", "another thing happens"])]
    return lines * 4


def train_tokenizer(corpus: Iterable[str] = (), vocab_size: int = 512):
    """A `PreTrainedTokenizerFast` (byte-level BPE) trained on `base_corpus()` + `corpus`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(base_corpus()) + list(corpus), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")
