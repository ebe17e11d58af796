"""VideoExpert: a video LLM for temporal-sensitive tasks (grounding, highlights, dense captions, grounded QA)."""

from .checkpoint import default_model_source, load_model
from .config import (CompressConfig, ExpertConfig, HeadConfig, LLMConfig, LossConfig, ModelConfig, VisionConfig,
                     get_preset, list_presets)
from .errors import CheckpointError, ConfigError, InputError, ResultSchemaError, VideoDecodeError, VideoExpertError
from .model import GenerationOutput, VideoExpert, VideoExpertOutput, VideoFeatures
from .result import TASKS, Prediction, Saliency, Segment
from .video import VideoClip, VideoInfo, probe_video, read_video

__version__ = "0.1.0"

__all__ = [
    "VideoExpert", "load_model", "default_model_source", "VideoExpertOutput", "VideoFeatures", "GenerationOutput",
    "ModelConfig", "VisionConfig", "CompressConfig", "ExpertConfig", "HeadConfig", "LossConfig", "LLMConfig",
    "get_preset", "list_presets",
    "Prediction", "Segment", "Saliency", "TASKS",
    "VideoClip", "VideoInfo", "read_video", "probe_video",
    "VideoExpertError", "ConfigError", "VideoDecodeError", "CheckpointError", "InputError", "ResultSchemaError",
    "__version__",
]
