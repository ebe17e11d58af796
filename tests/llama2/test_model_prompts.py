"""Our model's own prompt building, on the real LLaMA-2 tokenizer, against the official code's ids and labels.

A VideoExpert is built around the built Vicuna tokenizer and a tiny LLaMA with Vicuna's vocabulary (32000 + [LOC]),
so every step is ours: `_add_loc_token`, the official templates (`videoexpert.prompts`), `VideoExpert.tokenize` and
the `llm.prompt_prefix_tokens` check of the paper preset. The expected ids come from `official_prompt_ids.json`
(the authors' code, transformers 4.31; README.md here).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from videoexpert import ConfigError, ModelConfig, create_model, get_preset
from videoexpert.prompts import chat_prompt, get_templates

OFFICIAL = json.loads((Path(__file__).parent / "official_prompt_ids.json").read_text())
PLACEHOLDER = -200


def _tiny_vicuna_dir(tmp_path: Path, tokenizer_dir: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    out = tmp_path / "tiny-vicuna"
    config = LlamaConfig(vocab_size=32000, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    for f in tokenizer_dir.iterdir():
        if f.name.startswith("tokenizer") or f.name == "special_tokens_map.json":
            shutil.copy(f, out / f.name)
    return out


@pytest.fixture(scope="module")
def vicuna_model(tmp_path_factory, llama2_tokenizer_dir):
    llm_dir = _tiny_vicuna_dir(tmp_path_factory.mktemp("llm"), llama2_tokenizer_dir)
    config = get_preset("tiny").to_dict()
    config["llm"] = {**get_preset("paper").llm.__dict__, "name_or_path": str(llm_dir)}
    return create_model(ModelConfig.from_dict(config))


def _as_official(ids: list[int]) -> list[int]:
    """Our ids with the n + u*w visual placeholders folded into the one `<video>` id the official code uses."""
    first = ids.index(PLACEHOLDER)
    return ids[:first + 1] + [i for i in ids[first:] if i != PLACEHOLDER]


def _official(ex: dict, legacy: bool) -> dict:
    return ex if legacy else {**ex, **ex["legacy_false"]}


@pytest.mark.parametrize("name", [ex["name"] for ex in OFFICIAL["examples"]])
def test_tokenize_gives_the_official_ids_and_labels(vicuna_model, name):
    ex = next(e for e in OFFICIAL["examples"] if e["name"] == name)
    want = _official(ex, legacy=getattr(vicuna_model.tokenizer, "legacy", True))
    assert vicuna_model.loc_token_id == OFFICIAL["loc_token_id"]
    prompt, answer = ex["inference_prompt"], ex["gpt"]
    ids, labels = vicuna_model.tokenize(prompt, answer)
    n = vicuna_model.config.num_visual_tokens
    assert _as_official(ids) == want["input_ids"]
    first = ids.index(PLACEHOLDER)
    assert labels[:first] + [-100] + labels[first + n:] == want["labels"]
    assert _as_official(vicuna_model.tokenize(prompt)[0]) == ex["inference_input_ids"]


@pytest.mark.parametrize("name", [ex["name"] for ex in OFFICIAL["examples"] if ex["task"] != "qa"])  # qa: no evidence
def test_our_templates_write_the_official_conversation(vicuna_model, name):
    """The canonical (first) prompt of each list, rendered by our templates from the example's inputs, is the
    official text; other prompts of the lists are checked by their own strings in tests/test_prompts.py."""
    ex = next(e for e in OFFICIAL["examples"] if e["name"] == name)
    t, inputs = get_templates("official"), ex["input"]
    if ex["task"] == "grounding":
        question = t.question("grounding", inputs["query"],
                              variant=t.grounding_prompts.index(ex["template"]))
        answer = t.grounding_answer()
    elif ex["task"] == "dense_captioning":
        desc = next(d for d in t.description_prompts if ex["template"].startswith(d))
        variant = (t.description_prompts.index(desc) + len(t.description_prompts)
                   * t.timestamp_prompts.index(ex["template"][len(desc) + 1:]))
        question, answer = t.question("captioning", variant=variant), t.captioning_answer(inputs["sentences"])
    else:                                   # grounded QA: ours always asks for the evidence
        options = [inputs[f"a{j}"] for j in range(inputs["num_option"])]
        evidence = ex["template"].split(": ", 1)[1]
        question = t.question("qa", inputs["question"], options, variant=t.evidence_prompts.index(evidence))
        answer = t.qa_answer(options[int(inputs["answer"])], int(inputs["answer"]))
    assert chat_prompt(question) == ex["inference_prompt"]
    assert answer == ex["gpt"]


def test_the_paper_prefix_is_35_and_another_tokenizer_is_refused(vicuna_model, tmp_path, llama2_tokenizer_dir):
    assert vicuna_model.prompt_prefix_length() == 35 == len(OFFICIAL["prefix_before_video"]["ids"])
    config = vicuna_model.config.to_dict()
    config["llm"]["prompt_prefix_tokens"] = 36
    with pytest.raises(ConfigError, match="into 35 tokens, the weights expect 36"):
        create_model(ModelConfig.from_dict(config))
