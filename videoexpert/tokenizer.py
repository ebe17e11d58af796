"""Tokenizers: one trained here for tiny models, and the loader for a real LLM's folder.

- `train_tokenizer`: a byte-level BPE tokenizer trained locally with `tokenizers`, for tiny models that have no hub
  tokenizer. Byte-level means any text encodes (no unknown characters); the vocabulary is learned from the prompt
  templates plus whatever corpus the caller adds (the demo world's sentences, for example). Training is deterministic.
- `load_tokenizer`: an LLM folder's tokenizer. A folder with only a sentencepiece tokenizer.model (Vicuna-7B v1.5,
  LLaMA-2) is converted here, without the sentencepiece or protobuf packages, into a fast tokenizer that encodes id
  for id like sentencepiece (`parse_sentencepiece_model`, `sentencepiece_bpe_tokenizer`).
"""

from __future__ import annotations

import logging
import struct
from typing import Iterable

from .errors import CheckpointError
from .prompts import SYSTEM, TEMPLATES, chat_prompt

logger = logging.getLogger(__name__)

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


# ---------------------------------------------------------------------------------------------------------------------
# Sentencepiece BPE models (LLaMA-2's and Vicuna-7B v1.5's tokenizer.model), read without sentencepiece or protobuf.
#
# Vicuna's folder ships tokenizer.model but no tokenizer.json. transformers v5 needs the `sentencepiece` and `protobuf`
# packages to read it (this project installs neither) and then ranks the BPE merges by piece id instead of score, so
# runs of spaces encode differently from sentencepiece ("a  b": [263, 259, 29890] instead of [263, 29871, 289]).
# `load_tokenizer` converts the model itself, the way sentencepiece encodes.

# sentencepiece_model.proto: SentencePiece.Type, TrainerSpec.ModelType
SP_NORMAL, SP_UNKNOWN, SP_CONTROL, SP_USER_DEFINED, SP_UNUSED, SP_BYTE = 1, 2, 3, 4, 5, 6
SP_PIECE_TYPES = {SP_NORMAL: "normal", SP_UNKNOWN: "unknown", SP_CONTROL: "control", SP_USER_DEFINED: "user_defined",
                  SP_UNUSED: "unused", SP_BYTE: "byte"}
SP_MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}
SP_BPE = 2
# what a Hugging Face tokenizer folder may hold; `load_tokenizer` fetches only these for a Hub id
TOKENIZER_FILES = ["tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json"]


def _protobuf_fields(buf: bytes):
    """Yield (field number, wire type, value) of one protobuf message; value is an int, or bytes (4/8 raw for fixed)."""
    i, n = 0, len(buf)

    def varint():
        nonlocal i
        shift = result = 0
        while True:
            if i >= n:
                raise ValueError("truncated protobuf varint")
            b = buf[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < n:
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
        elif wire in (1, 2, 5):
            size = {1: 8, 5: 4}.get(wire) or varint()
            if i + size > n:
                raise ValueError(f"truncated protobuf field {field}")
            value, i = buf[i:i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def parse_sentencepiece_model(data: bytes) -> dict:
    """The parts of a sentencepiece ModelProto that tokenisation depends on, read with a few lines of protobuf.

    Returns {"pieces": [{"piece", "score", "type"}, ...], "trainer_spec": {...}, "normalizer_spec": {...}} with
    sentencepiece's defaults for absent fields. Raises ValueError on a file that is not such a message.
    """
    pieces = []
    trainer = {"model_type": 1, "byte_fallback": False, "unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": -1,
               "treat_whitespace_as_suffix": False}
    normalizer = {"name": "", "precompiled_charsmap": b"", "add_dummy_prefix": True,
                  "remove_extra_whitespaces": True, "escape_whitespaces": True, "normalization_rule_tsv": ""}
    trainer_fields = {3: "model_type", 24: "treat_whitespace_as_suffix", 35: "byte_fallback", 40: "unk_id",
                      41: "bos_id", 42: "eos_id", 43: "pad_id"}
    normalizer_flags = {3: "add_dummy_prefix", 4: "remove_extra_whitespaces", 5: "escape_whitespaces"}

    def int32(v: int) -> int:  # negative int32 values are written as 64-bit two's complement varints
        return v - (1 << 64) if v >= 1 << 63 else v

    try:
        for field, wire, value in _protobuf_fields(data):
            if field == 1 and wire == 2:  # repeated SentencePiece pieces
                piece = {"piece": None, "score": 0.0, "type": SP_NORMAL}
                for f, w, v in _protobuf_fields(value):
                    if f == 1:
                        piece["piece"] = v.decode("utf-8")
                    elif f == 2 and w == 5:
                        piece["score"] = struct.unpack("<f", v)[0]
                    elif f == 3:
                        piece["type"] = v
                pieces.append(piece)
            elif field == 2 and wire == 2:  # TrainerSpec
                for f, _, v in _protobuf_fields(value):
                    name = trainer_fields.get(f)
                    if name in ("byte_fallback", "treat_whitespace_as_suffix"):
                        trainer[name] = bool(v)
                    elif name is not None:
                        trainer[name] = int32(v)
            elif field == 3 and wire == 2:  # NormalizerSpec
                for f, _, v in _protobuf_fields(value):
                    if f == 1:
                        normalizer["name"] = v.decode("utf-8")
                    elif f == 2:
                        normalizer["precompiled_charsmap"] = bytes(v)
                    elif f in normalizer_flags:
                        normalizer[normalizer_flags[f]] = bool(v)
                    elif f == 6:
                        normalizer["normalization_rule_tsv"] = v.decode("utf-8")
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError, struct.error) as e:
        raise ValueError(f"not a sentencepiece model ({e})") from e
    if not pieces or any(p["piece"] is None for p in pieces):
        raise ValueError("not a sentencepiece model (no pieces)")
    return {"pieces": pieces, "trainer_spec": trainer, "normalizer_spec": normalizer}


def unsupported_sentencepiece_features(model: dict, legacy: bool = True) -> list[str]:
    """Why `sentencepiece_bpe_tokenizer(model, legacy)` cannot reproduce this model exactly; empty when it can."""
    t, nz, pieces = model["trainer_spec"], model["normalizer_spec"], model["pieces"]
    problems = []
    if t["model_type"] != SP_BPE:
        problems.append(f"a {SP_MODEL_TYPES.get(t['model_type'], t['model_type'])} model, not BPE")
    kinds = {p["type"] for p in pieces} - {SP_NORMAL, SP_UNKNOWN, SP_CONTROL, SP_BYTE}
    if kinds:
        problems.append("pieces of type " + "/".join(SP_PIECE_TYPES.get(k, str(k)) for k in sorted(kinds)))
    if t["treat_whitespace_as_suffix"]:
        problems.append("treat_whitespace_as_suffix")
    if not nz["escape_whitespaces"]:
        problems.append("escape_whitespaces off")
    if not 0 <= t["unk_id"] < len(pieces) or pieces[t["unk_id"]]["type"] != SP_UNKNOWN:
        problems.append(f"unk_id {t['unk_id']} is not the unknown piece")
    if not legacy and nz["add_dummy_prefix"] and (nz["precompiled_charsmap"] or nz["remove_extra_whitespaces"]):
        # "prefix the first chunk only" goes by the chunk's offset, which a normaliser that deletes leading
        # characters moves; LLaMA's identity normaliser deletes nothing
        problems.append("legacy=False with a normaliser that may delete leading characters")
    return problems


def sentencepiece_merges(pieces: list[dict]) -> list[tuple[str, str]]:
    """BPE merges in the order sentencepiece applies them.

    sentencepiece BPE repeatedly merges the adjacent pair whose union is the normal piece of highest score (leftmost
    first among equals); a merge list ranked by (-score, id) of the union reproduces that. Ranking by piece id, as
    transformers v5 does, mis-encodes runs of spaces: LLaMA's pieces of 2-16 spaces come early in the vocabulary but
    carry the lowest score (-1e9), so sentencepiece merges them last. (Among pieces of equal score a merge list
    prefers the lower id where sentencepiece prefers the leftmost pair; on LLaMA's space runs this gives the same
    ids, checked on runs of 1 to 40 spaces in tests/llama2.)
    """
    normal = {p["piece"]: (p["score"], i) for i, p in enumerate(pieces) if p["type"] == SP_NORMAL}
    ranked = []
    for token, (score, idx) in normal.items():
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in normal and right in normal:
                ranked.append((-score, idx, left, right))
    return [(left, right) for _, _, left, right in sorted(ranked)]


def sentencepiece_bpe_tokenizer(model: dict, legacy: bool = True, add_prefix_space: bool = True):
    """A `tokenizers.Tokenizer` that encodes text like `SentencePieceProcessor.encode` with this BPE model.

    `model` is `parse_sentencepiece_model`'s; `unsupported_sentencepiece_features(model, legacy)` must be empty.
    Spaces become U+2581 and, with the model's dummy prefix, each text gets one in front, even one that starts with a
    space, as sentencepiece does (transformers' Metaspace adds none there). Text split by added tokens is encoded chunk by chunk,
    as transformers' LlamaTokenizer does: with `legacy` every chunk gets the dummy prefix (transformers 4.31's default),
    without it only the first chunk of the text (one difference from the slow LlamaTokenizer of transformers >= 4.34:
    text that opens with a non-special added token gets no lone "▁" before it). `add_prefix_space=False` drops the
    dummy prefix altogether. Special tokens, the BOS/EOS template and added tokens are the wrapper's (`load_tokenizer`).
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    problems = unsupported_sentencepiece_features(model, legacy or not add_prefix_space)
    if problems:
        raise ValueError("cannot convert this sentencepiece model: " + "; ".join(problems))
    pieces, t, nz = model["pieces"], model["trainer_spec"], model["normalizer_spec"]
    vocab = {p["piece"]: i for i, p in enumerate(pieces)}
    tok = Tokenizer(BPE(vocab=vocab, merges=sentencepiece_merges(pieces), unk_token=pieces[t["unk_id"]]["piece"],
                        fuse_unk=True, byte_fallback=t["byte_fallback"], dropout=None))

    # sentencepiece's normaliser, in its order: character map, whitespace clean-up, dummy prefix, spaces -> U+2581
    steps = []
    if nz["precompiled_charsmap"]:
        steps.append(normalizers.Precompiled(nz["precompiled_charsmap"]))
    if nz["remove_extra_whitespaces"]:  # only spaces: sentencepiece leaves newlines and tabs alone
        steps += [normalizers.Replace(Regex(r"\A +| +\z"), ""), normalizers.Replace(Regex(" {2,}"), " ")]
    prefix = nz["add_dummy_prefix"] and add_prefix_space
    if prefix and legacy:
        steps.append(normalizers.Prepend("\u2581"))  # every chunk (a normaliser runs once per chunk)
    steps.append(normalizers.Replace(" ", "\u2581"))
    tok.normalizer = normalizers.Sequence(steps)
    if prefix and not legacy:
        # Only the chunk at offset 0 gets the prefix: Metaspace's "first" scheme. Metaspace would skip it where the
        # chunk already starts with U+2581; here it prepends a plain space, which the text no longer holds, and a
        # second Metaspace turns that space into U+2581.
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Metaspace(replacement=" ", prepend_scheme="first", split=False),
            pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never", split=False)])
    else:
        tok.pre_tokenizer = None

    steps = [decoders.Replace("\u2581", " ")]
    if t["byte_fallback"]:
        steps.append(decoders.ByteFallback())
    steps.append(decoders.Fuse())
    if prefix:
        steps.append(decoders.Strip(content=" ", left=1, right=0))
    tok.decoder = decoders.Sequence(steps)
    return tok


# keys of tokenizer_config.json that name files, classes or the backend rather than settings of the tokenizer
_CONFIG_KEYS_NOT_PASSED = {"tokenizer_class", "auto_map", "name_or_path", "tokenizer_file", "vocab_file", "merges_file",
                           "sp_model_kwargs", "init_inputs", "added_tokens_decoder", "backend", "tokenizer_object",
                           "vocab", "merges", "legacy", "add_prefix_space", "use_fast", "trust_remote_code"}


def _read_json(path) -> dict:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {path}: {_one_line(e)}") from e
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a JSON object")
    return data


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


def _added_token(value, special: bool):
    """A token as tokenizer_config.json / special_tokens_map.json write it (a string or an AddedToken dict)."""
    from tokenizers import AddedToken

    if isinstance(value, dict):
        fields = {k: v for k, v in value.items() if k in ("content", "single_word", "lstrip", "rstrip", "normalized",
                                                           "special")}
        fields.setdefault("special", special)
        return AddedToken(**fields)
    return value


def _init_kwargs(folder, config: dict, model: dict, overrides: dict) -> dict:
    """The keyword arguments `from_pretrained` would give the tokenizer class for this folder: tokenizer_config.json
    (`config`), then special_tokens_map.json (it wins where the config has no `added_tokens_decoder`, as in
    transformers), then the caller's overrides; special tokens default to the model's own <unk>/<s>/</s> pieces."""
    kwargs = {k: v for k, v in config.items() if k not in _CONFIG_KEYS_NOT_PASSED}
    added = {int(i): _added_token(t, special=False) for i, t in (config.get("added_tokens_decoder") or {}).items()}
    if "added_tokens_decoder" not in config:
        if (folder / "special_tokens_map.json").is_file():
            kwargs.update({k: v for k, v in _read_json(folder / "special_tokens_map.json").items()
                           if k not in overrides})
        if (folder / "added_tokens.json").is_file():  # the oldest format: {token: id}
            from tokenizers import AddedToken
            special = {str(v.get("content") if isinstance(v, dict) else v) for k, v in kwargs.items()
                       if k.endswith("_token") and v is not None}
            added.update({int(i): AddedToken(t, normalized=False, special=t in special)
                          for t, i in _read_json(folder / "added_tokens.json").items()})
    kwargs.update({k: v for k, v in overrides.items() if k not in ("legacy", "add_prefix_space")})
    pieces, spec = model["pieces"], model["trainer_spec"]
    for key, id_key in (("unk_token", "unk_id"), ("bos_token", "bos_id"), ("eos_token", "eos_id")):
        if key not in kwargs and 0 <= spec[id_key] < len(pieces):
            kwargs[key] = pieces[spec[id_key]]["piece"]
    for key, value in kwargs.items():
        if key.endswith("_token") or key in ("additional_special_tokens", "extra_special_tokens"):
            kwargs[key] = ([_added_token(v, special=True) for v in value] if isinstance(value, list)
                           else _added_token(value, special=True))
    kwargs.setdefault("add_bos_token", True)  # LlamaTokenizer's defaults where the folder says nothing
    kwargs.setdefault("add_eos_token", False)
    kwargs.setdefault("padding_side", "left")
    kwargs.setdefault("clean_up_tokenization_spaces", False)
    kwargs["added_tokens_decoder"] = added
    kwargs["name_or_path"] = str(folder)
    return kwargs


def _auto_tokenizer(source: str, overrides: dict, why: str = ""):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source, **overrides)
    except Exception as e:  # transformers raises OSError, ValueError (tiktoken fallback), ImportError, RuntimeError...
        raise CheckpointError(f"cannot load the tokenizer of {source!r}{why}: {_one_line(e)}") from e


def load_tokenizer(source, **overrides):
    """The tokenizer of an LLM folder (or Hub id), encoding as its checkpoint was trained.

    - With a tokenizer.json: `AutoTokenizer.from_pretrained(source, **overrides)`, as is.
    - With only a sentencepiece tokenizer.model of BPE type (LLaMA-2, Vicuna-7B v1.5): converted here, in memory and
      without the sentencepiece or protobuf packages, into a `PreTrainedTokenizerFast` that encodes like
      sentencepiece (`sentencepiece_bpe_tokenizer`: merges ranked by score, dummy prefix on every text). The folder's
      tokenizer_config.json / special_tokens_map.json / added_tokens.json give the special tokens, `add_bos_token`,
      `add_eos_token`, `model_max_length`, `padding_side` and added tokens; `legacy` (absent: True, the slow
      LlamaTokenizer's default, which the official VideoExpert code ran with) says whether text after an added token
      gets a dummy prefix, and is kept as the `legacy` attribute. The class is `PreTrainedTokenizerFast` rather than
      `LlamaTokenizer`: v5's LlamaTokenizer rebuilds its pre-tokenizer from scratch, which would undo the exact
      encoding when a saved copy is loaded again.
    - Other sentencepiece models (unigram, user-defined pieces...) and folders without either file go to
      `AutoTokenizer`; a failure there is a one-line `CheckpointError` that says why.
    A Hub id that is not a local folder has only its tokenizer files fetched first.

    `overrides` are `from_pretrained` keyword arguments (`legacy=False`, `model_max_length=2048`, ...).
    """
    from pathlib import Path

    folder = Path(source)
    if not folder.is_dir():
        if folder.exists() or str(source).count("/") != 1 or str(source).startswith((".", "/")):
            raise CheckpointError(f"{str(source)!r} is neither a tokenizer folder nor a Hugging Face Hub id")
        try:
            from .hub import download_repo
            folder = Path(download_repo(str(source), patterns=TOKENIZER_FILES))
        except Exception as e:  # no network, unknown repository
            raise CheckpointError(f"cannot fetch the tokenizer files of {str(source)!r}: {_one_line(e)}") from e
    if (folder / "tokenizer.json").is_file() or not (folder / "tokenizer.model").is_file():
        return _auto_tokenizer(str(folder), overrides)

    path = folder / "tokenizer.model"
    try:
        model = parse_sentencepiece_model(path.read_bytes())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {path}: {_one_line(e)}") from e
    config = _read_json(folder / "tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    # None or absent: the slow LlamaTokenizer's defaults (legacy with a warning, and a dummy prefix)
    legacy = overrides.get("legacy", config.get("legacy")) is not False
    add_prefix_space = overrides.get("add_prefix_space", config.get("add_prefix_space")) is not False
    problems = unsupported_sentencepiece_features(model, legacy or not add_prefix_space)
    if problems:
        logger.info("%s: %s; loading it with AutoTokenizer", path, "; ".join(problems))
        return _auto_tokenizer(str(folder), overrides, why=f" (videoexpert converts sentencepiece BPE models like "
                                                         f"LLaMA's; its tokenizer.model: {'; '.join(problems)})")
    from transformers import PreTrainedTokenizerFast

    kwargs = _init_kwargs(folder, config, model, overrides)
    backend = sentencepiece_bpe_tokenizer(model, legacy=legacy, add_prefix_space=add_prefix_space)
    added = kwargs["added_tokens_decoder"]
    try:
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, legacy=legacy, **kwargs)
    except Exception as e:
        raise CheckpointError(f"cannot build the tokenizer of {folder} from its tokenizer.model and "
                              f"tokenizer_config.json: {_one_line(e)}") from e
    wrong = {i: str(t) for i, t in added.items() if tokenizer.convert_tokens_to_ids(str(t)) != i}
    if wrong:
        raise CheckpointError(f"{folder}: added tokens {wrong} do not get their ids in a {len(model['pieces'])}-piece "
                              "vocabulary (the ids must follow on from it without gaps)")
    tokenizer.legacy = legacy
    return tokenizer
