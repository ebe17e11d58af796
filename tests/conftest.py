"""Shared fixtures: real videos written with ffmpeg (imageio-ffmpeg), a tiny VideoExpert built from the preset."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def write_video(path: Path, frames: np.ndarray, fps: float = 10.0, codec: str = "libx264",
                extra: list[str] | None = None) -> Path:
    """Encode (t, h, w, 3) uint8 frames into a real video file with ffmpeg."""
    t, h, w, _ = frames.shape
    cmd = [FFMPEG, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-c:v", codec, "-pix_fmt", "yuv420p", *(extra or []), str(path)]
    subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), check=True)
    return path


def event_frames(num_frames: int, window: tuple[int, int], colour=(230, 40, 40), size: int = 64,
                 background=(30, 30, 30)) -> np.ndarray:
    """A plain background with a coloured square visible during frames [window[0], window[1])."""
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    frames[:] = background
    a, b = size // 4, 3 * size // 4
    frames[window[0]:window[1], a:b, a:b] = colour
    return frames


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def event_video(video_dir) -> Path:
    """6 s at 10 fps, a red square from 2.0 s to 4.0 s."""
    return write_video(video_dir / "event.mp4", event_frames(60, (20, 40)))


@pytest.fixture(scope="session")
def tiny_model():
    from videoexpert import VideoExpert
    torch.manual_seed(0)
    return VideoExpert.from_config("tiny", seed=0).eval()
