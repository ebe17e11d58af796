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
    "VideoExpert": ".model", "VideoExpertOutput": ".model", "VideoFeatures": ".model", "GenerationOutput": ".model",
    "load_model": ".checkpoint", "default_model_source": ".checkpoint",
    "VideoClip": ".video", "VideoInfo": ".video", "read_video": ".video", "probe_video": ".video",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "VideoExpert", "load_model", "default_model_source", "VideoExpertOutput", "VideoFeatures", "GenerationOutput",
    "ModelConfig", "VisionConfig", "CompressConfig", "ExpertConfig", "HeadConfig", "LossConfig", "LLMConfig",
    "get_preset", "list_presets",
    "Prediction", "Segment", "Saliency", "TASKS",
    "VideoClip", "VideoInfo", "read_video", "probe_video",
    "VideoExpertError", "ConfigError", "VideoDecodeError", "CheckpointError", "InputError", "ResultSchemaError",
    "__version__",
]
