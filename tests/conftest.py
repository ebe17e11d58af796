"""Shared fixtures: real videos written with ffmpeg (imageio-ffmpeg), a tiny VideoExpert built from the preset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.media import event_frames, write_video
from videoexpert import Predictor, create_model


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def event_video(video_dir) -> Path:
    """6 s at 10 fps, a red square from 2.0 s to 4.0 s."""
    return write_video(video_dir / "event.mp4", event_frames(60, (20, 40)))


@pytest.fixture(scope="session")
def tiny_model():
    torch.manual_seed(0)
    return create_model("tiny", seed=0).eval()


@pytest.fixture(scope="session")
def tiny_predictor(tiny_model):
    return Predictor(tiny_model)
