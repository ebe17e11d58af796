"""`videoexpert.tokenizer.load_tokenizer` on a folder shaped like Vicuna-7B v1.5's: tokenizer.model, no tokenizer.json.

The folder holds only the built LLaMA tokenizer.model (byte for byte LLaMA's, README.md) and tokenizer_config.json.
transformers v5 cannot load it without `sentencepiece`/`protobuf`, and with them ranks merges by id; our loader
converts it in memory. The reference is `llama2_sentencepiece` (encodes exactly like sentencepiece), and the official
code's ids for Vicuna's prefix and every task template (official_prompt_ids.json).
"""

from __future__ import annotations

import copy
import json
import shutil
import struct
from pathlib import Path

import pytest
import torch

from videoexpert import ModelConfig, create_model, get_preset
from videoexpert.errors import CheckpointError
from videoexpert.tokenizer import load_tokenizer, parse_sentencepiece_model, sentencepiece_bpe_tokenizer
from tests.llama2.corpus import corpus

OFFICIAL = json.loads((Path(__file__).parent / "official_prompt_ids.json").read_text())
VIDEO, LOC, IMAGE_TOKEN_INDEX = "<video>", "[LOC]", OFFICIAL["image_token_index"]


def _vicuna_like_dir(out: Path, built: Path, **config) -> Path:
    """tokenizer.model + tokenizer_config.json (with `config` merged in), nothing else."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(built / "tokenizer.model", out / "tokenizer.model")
    cfg = {**json.loads((built / "tokenizer_config.json").read_text()), **config}
    (out / "tokenizer_config.json").write_text(json.dumps(cfg))
    return out


@pytest.fixture(scope="module", params=[True, False], ids=["legacy", "not_legacy"])
def converted(request, tmp_path_factory, llama2_tokenizer_dir):
    """(legacy, tokenizer) loaded from a folder whose tokenizer_config.json says `legacy`."""
    folder = _vicuna_like_dir(tmp_path_factory.mktemp("vicuna-tok"), llama2_tokenizer_dir, legacy=request.param)
    assert sorted(p.name for p in folder.iterdir()) == ["tokenizer.model", "tokenizer_config.json"]
    return request.param, load_tokenizer(folder)


@pytest.fixture(scope="module")
def reference_ids(llama2_sentencepiece) -> list[list[int]]:
    return [e.ids for e in llama2_sentencepiece.encode_batch(corpus(), add_special_tokens=False)]


def test_settings_come_from_tokenizer_config(converted):
    legacy, tok = converted
    from transformers import PreTrainedTokenizerFast

    assert isinstance(tok, PreTrainedTokenizerFast) and tok.legacy is legacy
    assert len(tok) == 32000 and (tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)
    assert (tok.unk_token, tok.bos_token, tok.eos_token, tok.pad_token) == ("<unk>", "<s>", "</s>", None)
    assert tok.model_max_length == 4096 and tok.padding_side == "right" and tok.add_bos_token and not tok.add_eos_token
    assert tok("Hello, my dog is cute").input_ids == [1, 15043, 29892, 590, 11203, 338, 274, 1082]
    assert tok.decode(tok("  Hello,  world\n").input_ids, skip_special_tokens=True) == "  Hello,  world\n"


def test_ids_equal_sentencepiece_on_every_corpus_string(converted, reference_ids):
    """All 365 strings (5543 tokens: runs of 1-40 spaces, leading spaces, "▁" in the text, CJK, emoji...)."""
    _, tok = converted
    strings = corpus()
    ours = tok(strings, add_special_tokens=False).input_ids
    bad = [s for s, a, b in zip(strings, ours, reference_ids) if a != b]
    assert not bad, f"{len(bad)} of {len(strings)} strings differ from sentencepiece, e.g. {bad[:3]}"
    assert len(strings) == 365 and sum(map(len, ours)) == 5543
    with_bos = tok(strings).input_ids
    assert all(a == [1] + b for a, b in zip(with_bos, reference_ids))
    # v5's own conversion (merges by id) gives [263, 259, 29890]
    assert tok(["a  b"], add_special_tokens=False).input_ids == [[263, 29871, 289]]


def test_backend_is_the_built_tokenizer_json(converted, llama2_tokenizer_dir):
    """With legacy, the conversion is the built tokenizer.json itself: same vocabulary, merges, normaliser, decoder."""
    legacy, tok = converted
    built = json.loads((llama2_tokenizer_dir / "tokenizer.json").read_text())
    ours = json.loads(tok.backend_tokenizer.to_str())
    assert ours["model"] == built["model"] and ours["decoder"] == built["decoder"]
    if legacy:
        assert ours["normalizer"] == built["normalizer"] and ours["pre_tokenizer"] is built["pre_tokenizer"] is None


def test_equals_v5_with_the_built_tokenizer_json_except_leading_spaces(converted, llama2_tokenizer_dir):
    """What `AutoTokenizer` gives on the built folder (it has a tokenizer.json), but for v5's known difference: text
    that starts with a space or "▁" gets no dummy prefix there (test_tokenizer.py's strict xfail)."""
    from transformers import AutoTokenizer

    legacy, tok = converted
    v5 = AutoTokenizer.from_pretrained(str(llama2_tokenizer_dir), legacy=legacy)
    strings = corpus()
    differ = {s for s, a, b in zip(strings, tok(strings).input_ids, v5(strings).input_ids) if a != b}
    assert differ == {s for s in strings if s.startswith((" ", "\u2581"))} and len(differ) == 46


def test_vicuna_prompt_prefix_is_35_tokens(converted):
    _, tok = converted
    prefix = OFFICIAL["prefix_before_video"]
    ids = tok(prefix["text"]).input_ids
    assert ids == prefix["ids"] and len(ids) == 35 and tok.convert_ids_to_tokens(ids[-1]) == "\u2581"


def test_official_ids_for_every_template(converted):
    """With [LOC] added as `_add_loc_token` adds it, both halves around <video> give the official ids: the main arrays
    with legacy, the `legacy_false` ones without ("▁." / "." after [LOC])."""
    from tokenizers import AddedToken

    legacy, tok = converted
    tok = copy.deepcopy(tok)  # the fixture's tokenizer is shared
    tok.add_tokens([AddedToken(LOC, lstrip=True, rstrip=True, normalized=False, special=False)])
    assert tok.convert_tokens_to_ids(LOC) == OFFICIAL["loc_token_id"]
    for ex in OFFICIAL["examples"]:
        want = ex["input_ids"] if legacy else ex["legacy_false"]["input_ids"]
        before, after = ex["conversation"].split(VIDEO)
        assert tok(before).input_ids + [IMAGE_TOKEN_INDEX] + tok(after).input_ids[1:] == want, ex["name"]


def test_overrides_win_over_the_config(llama2_tokenizer_dir, tmp_path, reference_ids):
    folder = _vicuna_like_dir(tmp_path / "tok", llama2_tokenizer_dir, legacy=None, padding_side=None,
                              model_max_length=None)
    for key in ("legacy", "padding_side", "model_max_length"):  # a folder that says nothing: LlamaTokenizer defaults
        cfg = json.loads((folder / "tokenizer_config.json").read_text())
        cfg.pop(key)
        (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    tok = load_tokenizer(folder)
    assert tok.legacy is True and tok.padding_side == "left"
    tok = load_tokenizer(folder, legacy=False, padding_side="right", model_max_length=2048)
    assert tok.legacy is False and tok.padding_side == "right" and tok.model_max_length == 2048
    assert tok(corpus()[:20], add_special_tokens=False).input_ids == reference_ids[:20]


def test_special_tokens_map_and_added_tokens(llama2_tokenizer_dir, tmp_path):
    """Vicuna-style special_tokens_map.json (pad = <unk>) and a config whose added_tokens_decoder holds [LOC]."""
    folder = _vicuna_like_dir(tmp_path / "tok", llama2_tokenizer_dir)
    (folder / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": {"content": "<s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"}))
    tok = load_tokenizer(folder)
    assert tok.pad_token == "<unk>" and tok.pad_token_id == 0 and tok.bos_token_id == 1
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    cfg["added_tokens_decoder"] = {"32000": {"content": LOC, "lstrip": True, "rstrip": True, "normalized": False,
                                             "single_word": False, "special": False}}
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    tok = load_tokenizer(folder)
    assert len(tok) == 32001 and tok("From [LOC].", add_special_tokens=False).input_ids == [3645, 32000, 29889]
    cfg["added_tokens_decoder"] = {"32005": cfg["added_tokens_decoder"]["32000"]}
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"added tokens \{32005: '\[LOC\]'\} do not get their ids"):
        load_tokenizer(folder)


def test_saved_copy_loads_back_identically(converted, tmp_path, reference_ids):
    """save_pretrained writes a tokenizer.json; loading it back (AutoTokenizer) keeps the exact encoding."""
    legacy, tok = converted
    tok.save_pretrained(tmp_path)
    again = load_tokenizer(tmp_path)
    strings = corpus()
    assert again(strings, add_special_tokens=False).input_ids == reference_ids
    assert again("From [LOC]. x").input_ids == tok("From [LOC]. x").input_ids
    assert (again.bos_token_id, again.padding_side, again.model_max_length) == (1, "right", 4096)


def test_build_backbones_loads_a_vicuna_folder_without_tokenizer_json(llama2_tokenizer_dir, tmp_path):
    """The whole model path: a tiny LLaMA with Vicuna's vocabulary whose folder has only tokenizer.model and
    tokenizer_config.json; VideoExpert.tokenize then gives the official ids (legacy False, as that config says)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    llm_dir = tmp_path / "tiny-vicuna"
    config = LlamaConfig(vocab_size=32000, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(llm_dir)
    _vicuna_like_dir(llm_dir, llama2_tokenizer_dir)
    assert not (llm_dir / "tokenizer.json").exists()
    cfg = get_preset("tiny").to_dict()
    cfg["llm"] = {**get_preset("paper").llm.__dict__, "name_or_path": str(llm_dir)}
    model = create_model(ModelConfig.from_dict(cfg))   # also checks the 35-token prefix (paper preset)
    assert model.tokenizer.legacy is False and model.loc_token_id == OFFICIAL["loc_token_id"]
    n = model.config.num_visual_tokens
    for ex in OFFICIAL["examples"]:
        ids, _ = model.tokenize(ex["inference_prompt"], ex["gpt"])
        first = ids.index(-200)
        assert ids[:first + 1] + ids[first + n:] == ex["legacy_false"]["input_ids"], ex["name"]


# --- models the loader does not convert, and broken files (no LLaMA build needed) -----------------------------------

def _varint(n: int) -> bytes:
    out = b""
    while True:
        out += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            return out


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _sentencepiece_model(model_type: int, pieces: list[tuple[str, float, int]]) -> bytes:
    """A ModelProto written by hand: pieces (piece, score, type), a trainer spec, LLaMA's normaliser flags."""
    out = b""
    for piece, score, kind in pieces:
        body = _field(1, piece.encode()) + _varint(2 << 3 | 5) + struct.pack("<f", score) + _field(3, kind)
        out += _field(1, body)
    out += _field(2, _field(3, model_type) + _field(35, 1))
    out += _field(3, _field(1, b"identity") + _field(3, 1) + _field(4, 0))
    return out


PIECES = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3), ("\u2581a", -1.0, 1), ("\u2581", -2.0, 1),
          ("a", -3.0, 1), ("b", -4.0, 1), ("ab", -0.5, 1)]


def test_a_small_bpe_model_written_by_hand(tmp_path):
    (tmp_path / "tokenizer.model").write_bytes(_sentencepiece_model(2, PIECES))
    model = parse_sentencepiece_model((tmp_path / "tokenizer.model").read_bytes())
    assert [p["piece"] for p in model["pieces"]] == [p for p, _, _ in PIECES]
    assert model["trainer_spec"]["model_type"] == 2 and not model["normalizer_spec"]["remove_extra_whitespaces"]
    # "ab" outranks "▁a" by score though its id is larger: "▁ab" is "▁" + "ab", not "▁a" + "b"
    assert sentencepiece_bpe_tokenizer(model).encode("ab", add_special_tokens=False).tokens == ["\u2581", "ab"]
    tok = load_tokenizer(tmp_path)
    assert tok("ab a").input_ids == [1, 4, 7, 3] and tok.legacy is True


def test_unigram_falls_back_to_auto_tokenizer_with_a_one_line_error(tmp_path, monkeypatch):
    from transformers import AutoTokenizer

    (tmp_path / "tokenizer.model").write_bytes(_sentencepiece_model(1, PIECES))
    calls = []

    def fail(source, **kwargs):
        calls.append(source)
        raise ValueError("`tiktoken` is required to read a `tiktoken` file.\nInstall it with `pip install tiktoken`.")

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", fail)
    with pytest.raises(CheckpointError) as err:
        load_tokenizer(tmp_path)
    assert calls == [str(tmp_path)]
    message = str(err.value)
    assert "\n" not in message and "a unigram model, not BPE" in message and "tiktoken" in message


def test_broken_files_are_checkpoint_errors(tmp_path):
    (tmp_path / "tokenizer.model").write_bytes(b"\x0a\xff\xff\xff")  # a length running past the end
    with pytest.raises(CheckpointError, match="tokenizer.model: ValueError: not a sentencepiece model"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.model").write_bytes(_sentencepiece_model(2, PIECES))
    (tmp_path / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read .*tokenizer_config.json"):
        load_tokenizer(tmp_path)
    with pytest.raises(CheckpointError, match="neither a tokenizer folder nor a Hugging Face Hub id"):
        load_tokenizer(tmp_path / "missing" / "deeper")
