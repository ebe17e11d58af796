"""Real test media: frames encoded into video files with the ffmpeg binary that imageio-ffmpeg ships."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def ffmpeg_exe() -> str:
    """The ffmpeg binary that imageio-ffmpeg ships (imported here, not at import: the GPU machine lacks it)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def write_video(path: Path, frames: np.ndarray, fps: float = 10.0, codec: str = "libx264",
                extra: list[str] | None = None) -> Path:
    """Encode (t, h, w, 3) uint8 frames into a real video file with ffmpeg; where imageio-ffmpeg is missing (the
    GPU machine), plain H.264 through PyAV's own libx264."""
    try:
        import imageio_ffmpeg
    except ImportError:
        if codec != "libx264" or extra:
            raise
        return _write_video_pyav(path, frames, fps)
    t, h, w, _ = frames.shape
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", codec, "-pix_fmt", "yuv420p", *(extra or []), str(path)]
    subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), check=True)
    return path


def _write_video_pyav(path: Path, frames: np.ndarray, fps: float) -> Path:
    import av
    from fractions import Fraction

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())
    return path


def event_frames(num_frames: int, window: tuple[int, int], colour=(230, 40, 40), size: int = 64,
                 background=(30, 30, 30)) -> np.ndarray:
    """A plain background with a coloured square visible during frames [window[0], window[1])."""
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    frames[:] = background
    a, b = size // 4, 3 * size // 4
    frames[window[0]:window[1], a:b, a:b] = colour
    return frames
