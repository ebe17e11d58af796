"""The shipped demo model: a small VideoExpert trained from scratch on the generated demo world."""

from .build import DemoRecipe, build
from .evaluate import WorldScores, evaluate_world

__all__ = ["DemoRecipe", "build", "evaluate_world", "WorldScores"]
