"""VideoExpert: a video LLM for temporal-sensitive tasks (grounding, highlights, dense captions, grounded QA).

Configs, errors and the result schema import without torch; the model and video I/O load on first use, so that
`videoexpert.eval` (metrics) and `--help` stay light.
"""

import importlib

from .config import (CompressConfig, ExpertConfig, HeadConfig, LLMConfig, LossConfig, ModelConfig, VisionConfig,
                     get_preset, list_presets)
from .errors import CheckpointError, ConfigError, InputError, ResultSchemaError, VideoDecodeError, VideoExpertError
from .result import TASKS, Prediction, Saliency, Segment

__version__ = "0.1.0"

_LAZY = {
    "Predictor": ".predictor", "VideoFeatures": ".predictor",
    "VideoExpert": ".model", "VideoExpertOutput": ".model", "GenerationOutput": ".model",
    "create_model": ".factory", "load_model": ".factory", "save_model": ".factory",
    "default_model_source": ".factory",
    "VideoClip": ".video", "VideoInfo": ".video", "read_video": ".video", "probe_video": ".video",
    "FeatureCache": ".cache", "content_hash": ".cache",
    "PROFILES": ".runtime", "PROFILE_NAMES": ".runtime", "RuntimeProfile": ".runtime", "select_profile": ".runtime",
    "setup_logging": ".cli", "VIDEO_SUFFIXES": ".video", "demo_model_dir": ".bundled", "examples_dir": ".bundled",
    "write_json": ".export", "write_subtitles": ".export", "write_clip": ".export",
    "write_highlight_reel": ".export",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Predictor", "VideoFeatures",
    "VideoExpert", "create_model", "load_model", "save_model", "default_model_source", "VideoExpertOutput",
    "GenerationOutput",
    "ModelConfig", "VisionConfig", "CompressConfig", "ExpertConfig", "HeadConfig", "LossConfig", "LLMConfig",
    "get_preset", "list_presets",
    "Prediction", "Segment", "Saliency", "TASKS",
    "VideoClip", "VideoInfo", "read_video", "probe_video",
    "FeatureCache", "content_hash", "PROFILES", "PROFILE_NAMES", "RuntimeProfile", "select_profile", "setup_logging",
    "VIDEO_SUFFIXES", "demo_model_dir", "examples_dir",
    "write_json", "write_subtitles", "write_clip", "write_highlight_reel",
    "VideoExpertError", "ConfigError", "VideoDecodeError", "CheckpointError", "InputError", "ResultSchemaError",
    "__version__",
]
