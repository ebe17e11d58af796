"""The Gradio app over the VideoExpert public API: layout, handlers, timeline figures and the page's JS/CSS."""

from .handlers import Limits, Studio
from .layout import build_demo, launch_options
from .views import ModelInfo

__all__ = ["Studio", "Limits", "ModelInfo", "build_demo", "launch_options"]
