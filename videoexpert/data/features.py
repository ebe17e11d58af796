"""Pre-extracted vision features: one safetensors file per video (`<video_id>.safetensors`).

Training reads the frozen CLIP features many times per video, so they are extracted once: CLS tokens (n, d) and
patch tokens (n, p, d) in fp16, with the duration and the sampled frame times in the file's metadata.
`python -m videoexpert extract-features --videos DIR --out DIR --model M` writes them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterable

from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from ..errors import CheckpointError, VideoDecodeError, VideoExpertError
from ..model import VideoExpert
from ..predictor import Predictor, VideoFeatures
from ..video import VIDEO_SUFFIXES

logger = logging.getLogger(__name__)


def save_features(features: VideoFeatures, path: str | Path, vision: str = "") -> None:
    meta = {"duration": json.dumps(features.duration), "times": json.dumps(list(features.times)),
            "source": features.source, "vision": vision}
    save_file({"cls": features.cls_tokens.half().contiguous().cpu(),
               "patches": features.patch_tokens.half().contiguous().cpu()}, str(path), metadata=meta)


def load_features(path: str | Path) -> VideoFeatures:

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            cls_tokens, patches = f.get_tensor("cls").float(), f.get_tensor("patches").float()
    except Exception as e:  # safetensors raises its own error types for truncated or foreign files
        raise CheckpointError(f"cannot read features {path}: {e}") from e
    return VideoFeatures(cls_tokens, patches, tuple(json.loads(meta.get("times", "[]"))),
                         float(json.loads(meta.get("duration", "0"))), meta.get("source", str(path)))


def find_videos(video_dir: str | Path) -> dict[str, Path]:
    """Video id (file stem, and path relative to the folder without suffix) -> file, for every video below."""
    video_dir = Path(video_dir)
    found: dict[str, Path] = {}
    for path in sorted(video_dir.rglob("*")):
        if path.suffix.lower() in VIDEO_SUFFIXES and path.is_file():
            found.setdefault(path.stem, path)
            found.setdefault(str(path.relative_to(video_dir).with_suffix("")), path)
    return found


class FeatureSource:
    """Features of a video by id: from a folder of extracted features, else decoded and encoded on the fly."""

    def __init__(self, model: VideoExpert, features_dir: str | Path | None = None,
                 video_dir: str | Path | None = None) -> None:
        if features_dir is None and video_dir is None:
            raise VideoExpertError("a data source needs a features folder or a videos folder")
        self.model = model
        self.features_dir = Path(features_dir) if features_dir else None
        self.videos = find_videos(video_dir) if video_dir else {}

    def __call__(self, video_id: str) -> VideoFeatures:
        if self.features_dir is not None:
            path = self.features_dir / f"{video_id}.safetensors"
            if path.is_file():
                return load_features(path)
        if video_id in self.videos:
            return Predictor(self.model).encode(self.videos[video_id])
        raise VideoDecodeError(f"no features or video for {video_id!r}")


def extract_features(model: VideoExpert, videos: Iterable[Path], out_dir: str | Path,
                     overwrite: bool = False) -> dict[str, int]:
    """Encode every video once; unreadable videos are logged and counted, not fatal. Resumable (skips done files)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {"written": 0, "skipped": 0, "failed": 0}
    for path in tqdm(list(videos), desc="extracting features", unit="video"):
        target = out_dir / f"{Path(path).stem}.safetensors"
        if target.exists() and not overwrite:
            counts["skipped"] += 1
            continue
        try:
            features = Predictor(model).encode(path)
        except VideoDecodeError as e:
            logger.warning("skipping %s: %s", path, e)
            counts["failed"] += 1
            continue
        save_features(features, target, vision=model.config.vision.arch)
        counts["written"] += 1
    return counts
