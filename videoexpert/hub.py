"""Hugging Face Hub access that fails fast and clearly when the Hub cannot be reached.

transformers and open_clip retry a failing download for about a minute with back-off; with no network a user
would wait, then read a stack trace. `resolve_repo` answers at once: a local folder or a fully cached snapshot is
used as is; otherwise one quick metadata request decides between "download it" and a single clear error that
names the repository and how to fetch it elsewhere (`python -m videoexpert download`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import CheckpointError

logger = logging.getLogger(__name__)

LLM_PATTERNS = ["*.json", "*.safetensors", "*.model", "tokenizer*", "*.txt"]


def resolve_repo(source: str, base_dir: str | Path | None = None) -> str:
    """A local folder for `source` (path, path relative to `base_dir`, or cached Hub snapshot), or the Hub id itself
    when the Hub is reachable and has it. Raises `CheckpointError` otherwise, without retries."""
    import huggingface_hub as hub

    for candidate in ([Path(base_dir) / source] if base_dir else []) + [Path(source)]:
        if candidate.exists():
            return str(candidate)
    if source.count("/") != 1 or source.startswith((".", "/")):
        raise CheckpointError(f"{source!r} is neither a local folder nor a Hugging Face Hub id (owner/name)")
    try:
        return hub.snapshot_download(source, local_files_only=True)
    except Exception:  # LocalEntryNotFoundError and friends: not (fully) cached
        pass
    try:
        hub.model_info(source, timeout=10)
    except hub.errors.RepositoryNotFoundError as e:
        raise CheckpointError(f"{source!r} does not exist on the Hugging Face Hub (or is private): {e}") from e
    except Exception as e:  # httpx connection errors, offline mode, timeouts
        raise CheckpointError(f"{source!r} is not a local folder, is not in the Hugging Face cache, and the Hub cannot "
                              f"be reached ({type(e).__name__}: {e}). Where the Hub is reachable run "
                              f"`python -m videoexpert download {source}` (or `huggingface-cli download {source}`) "
                              f"and copy the cache, or pass a local folder.") from e
    return source


def download_repo(repo_id: str, patterns: list[str] | None = None, cache_dir: str | None = None) -> str:
    """Download (or reuse) a snapshot with progress bars; returns its local folder."""
    import huggingface_hub as hub

    logger.info("downloading %s", repo_id)
    return hub.snapshot_download(repo_id, allow_patterns=patterns, cache_dir=cache_dir)


def clip_repo(arch: str, tag: str) -> str | None:
    """The Hub repository open_clip fetches (arch, tag) from, e.g. timm/vit_large_patch14_clip_224.openai."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(arch, tag)
    return cfg.get("hf_hub", "").rstrip("/") or None
