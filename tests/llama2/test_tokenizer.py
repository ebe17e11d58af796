"""The real LLaMA-2 tokenizer (Vicuna-7B v1.5's) under the project's transformers, against the official code's ids.

official_prompt_ids.json holds what the official VideoExpert code produced with transformers 4.31's slow
LlamaTokenizer for every task template (README.md says how). These tests check that the project-side tokenizer
gives the same ids for the plain text, that Vicuna's prefix before `<video>` is 35 tokens, and how the official
`[LOC]` and `<video>` handling can be reproduced.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
OFFICIAL = json.loads((HERE / "official_prompt_ids.json").read_text())
EXAMPLES = {ex["name"]: ex for ex in OFFICIAL["examples"]}
VIDEO, LOC = "<video>", "[LOC]"
IMAGE_TOKEN_INDEX, IGNORE_INDEX = OFFICIAL["image_token_index"], OFFICIAL["ignore_index"]


def test_built_tokenizer_is_llamas(llama2_build_info):
    info = llama2_build_info
    model = info["tokenizer_model"]
    assert model["sha256"] == OFFICIAL["tokenizer_model_sha256"]
    assert model["pieces"] == 32000
    assert model["types"] == {"normal": 31741, "unknown": 1, "control": 2, "byte": 256}
    assert model["trainer_spec"]["model_type"] == 2 and model["trainer_spec"]["byte_fallback"]
    assert model["normalizer_spec"]["name"] == "identity" and model["normalizer_spec"]["add_dummy_prefix"]
    v = info["verification"]
    assert v["strings"] >= 300
    assert v["mismatches_vs_sentencepiece_wasm"] == 0 and v["mismatches_vs_llama_tokenizer_js"] == 0


def test_vocabulary_and_special_tokens(llama2_tokenizer):
    tok = llama2_tokenizer
    assert len(tok) == 32000
    assert (tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    assert tok.convert_ids_to_tokens([3, 258, 259, 29871, 31999]) == ["<0x00>", "<0xFF>", "▁▁", "▁", "给"]
    # the classic LLaMA example
    assert tok("Hello, my dog is cute").input_ids == [1, 15043, 29892, 590, 11203, 338, 274, 1082]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_plain_text_pieces_match_official(name, llama2_tokenizer, llama2_sentencepiece):
    """Each text piece the official code hands to sentencepiece (the prompt cut at <video>, [LOC] and </s>)."""
    for piece in EXAMPLES[name]["text_pieces"]:
        assert llama2_tokenizer(piece["text"]).input_ids == piece["ids"], piece["text"]
        assert [1] + llama2_sentencepiece.encode(piece["text"], add_special_tokens=False).ids == piece["ids"]


def test_vicuna_prefix_before_video_is_35_tokens(llama2_tokenizer):
    prefix = OFFICIAL["prefix_before_video"]
    assert prefix["text"] == OFFICIAL["system_prompt"] + " USER: "
    ids = llama2_tokenizer(prefix["text"]).input_ids
    assert ids == prefix["ids"] and len(ids) == 35
    assert ids[0] == 1 and llama2_tokenizer.convert_ids_to_tokens(ids[-1]) == "▁"  # the space before <video>
    for ex in OFFICIAL["examples"]:
        assert ex["tokens_before_video"] == 35 and ex["input_ids"][35] == IMAGE_TOKEN_INDEX
        assert ex["input_ids"][:35] == ids


def _reference_ids(sp, conversation: str, legacy: bool) -> list[int]:
    """The official input ids rebuilt from the spec, not from their code, with the sentencepiece-exact encoder.

    The text is cut at <video> (-200 there); every chunk starts with BOS, kept only on the first. Inside a chunk,
    [LOC] (id 32000) is cut out with the whitespace on both its sides, </s> is id 2, and each remaining piece is
    sentencepiece-encoded with its dummy prefix; with legacy=False a piece that follows [LOC] loses that prefix.
    """
    loc_id = OFFICIAL["loc_token_id"]
    out = []
    for c, chunk in enumerate(conversation.split(VIDEO)):
        if c:
            out.append(IMAGE_TOKEN_INDEX)
        else:
            out.append(1)
        after_loc = False
        for j, part in enumerate(chunk.split("</s>")):
            if j:
                out.append(2)
                after_loc = False
            pieces = part.split(LOC)
            for k, text in enumerate(pieces):
                if k:
                    out.append(loc_id)
                    after_loc = True
                    text = text.lstrip()
                if k + 1 < len(pieces):
                    text = text.rstrip()
                if not text:
                    continue
                tokens = sp.encode(text, add_special_tokens=False).tokens
                if after_loc and not legacy and tokens[0].startswith("▁"):
                    tokens = ([tokens[0][1:]] if len(tokens[0]) > 1 else []) + tokens[1:]
                out += [sp.token_to_id(t) for t in tokens]
                after_loc = False
    return out


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_reference_reproduces_official_ids_and_labels(name, llama2_sentencepiece):
    ex = EXAMPLES[name]
    assert _reference_ids(llama2_sentencepiece, ex["conversation"], legacy=True) == ex["input_ids"]
    assert _reference_ids(llama2_sentencepiece, ex["conversation"], legacy=False) == ex["legacy_false"]["input_ids"]
    assert _reference_ids(llama2_sentencepiece, ex["inference_prompt"], legacy=True) == ex["inference_input_ids"]
    # preprocess_v1 supervises exactly what follows the inference prompt "... ASSISTANT:" (answer and </s>)
    for ids, labels in ((ex["input_ids"], ex["labels"]), (ex["legacy_false"]["input_ids"], ex["legacy_false"]["labels"])):
        k = len(ex["inference_input_ids"])
        assert ids[:k] == ex["inference_input_ids"]
        assert labels[:k] == [IGNORE_INDEX] * k and labels[k:] == ids[k:] and ids[-1] == 2
    # the token that predicts each [LOC] is "▁From"; what follows is "▁." / "▁," (legacy) or "." / "," (not)
    for pos in ex["loc_positions"]:
        assert ex["tokens"][pos - 1] == "▁From"
        assert ex["tokens"][pos + 1] in ("▁.", "▁,") and ex["legacy_false"]["tokens"][pos + 1] in (".", ",")


@pytest.mark.parametrize("legacy", [True, False])
def test_v5_reproduces_official_ids_with_a_stripping_loc_token(legacy, llama2_tokenizer_dir):
    """v5 matches the official ids when [LOC] is added as an AddedToken that strips whitespace on both sides.

    A plain `add_tokens("[LOC]")` in v5 keeps the space before [LOC] as its own "▁" token (the official 4.31 slow
    tokenizer strips it), so "From [LOC]." becomes "▁From ▁ [LOC] ..." instead of "▁From [LOC] ...".
    """
    from transformers import AddedToken, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(llama2_tokenizer_dir), legacy=legacy)
    tok.add_tokens(AddedToken(LOC, lstrip=True, rstrip=True, normalized=False, special=False))
    assert tok.convert_tokens_to_ids(LOC) == OFFICIAL["loc_token_id"]
    for ex in OFFICIAL["examples"]:
        want = ex["input_ids"] if legacy else ex["legacy_false"]["input_ids"]
        before, after = ex["conversation"].split(VIDEO)
        assert tok(before).input_ids + [IMAGE_TOKEN_INDEX] + tok(after).input_ids[1:] == want, ex["name"]


def test_v5_plain_add_tokens_keeps_a_space_token_before_loc(llama2_tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(llama2_tokenizer_dir), legacy=True)
    tok.add_tokens(LOC)
    ids = tok("ASSISTANT: From [LOC].", add_special_tokens=False).input_ids
    assert tok.convert_ids_to_tokens(ids)[-4:] == ["▁From", "▁", LOC, "▁."]


@pytest.mark.xfail(strict=True, reason="transformers v5's LlamaTokenizer (Metaspace pre-tokenizer) adds no dummy "
                   "prefix to text that already starts with a space; sentencepiece and the 4.31 slow tokenizer do")
@pytest.mark.parametrize("text", [" ASSISTANT:", " leading space", "  two spaces"])
def test_v5_text_with_a_leading_space(text, llama2_tokenizer, llama2_sentencepiece):
    assert (llama2_tokenizer(text, add_special_tokens=False).input_ids
            == llama2_sentencepiece.encode(text, add_special_tokens=False).ids)


def test_npm_encoders_agree_with_the_built_tokenizer(llama2_sentencepiece):
    """Re-run the build's check: sentencepiece (wasm) and llama-tokenizer-js on the corpus, id for id."""
    from tests.llama2.build import js_encode
    from tests.llama2.corpus import corpus

    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "@sctg" / "sentencepiece-js").is_dir():
        pytest.skip("node or tests/llama2/node_modules missing (scripts/install-llama2-tokenizer.sh installs them)")
    strings = corpus()
    try:
        js = js_encode(strings, node)
    except subprocess.CalledProcessError as e:
        pytest.fail(f"node failed: {e.stderr}")
    ours = [e.ids for e in llama2_sentencepiece.encode_batch(strings, add_special_tokens=False)]
    for name, theirs in js.items():
        bad = [s for s, a, b in zip(strings, ours, theirs) if a != b]
        assert not bad, f"{name} differs on {len(bad)} strings, e.g. {bad[:3]}"
