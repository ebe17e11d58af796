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


def write_test_pattern(path: Path, seconds: float, fps: float = 10.0, size: tuple[int, int] = (160, 120),
                       extra: list[str] | None = None) -> Path:
    """ffmpeg's moving test pattern (`testsrc2`) as H.264 with the index before the data (`+faststart`, as web uploads
    usually are): its frames cost similar bytes, so cutting a share of the file cuts about that share of its time."""
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi",
           "-i", f"testsrc2=size={size[0]}x{size[1]}:rate={fps}:duration={seconds}", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", *(extra or []), str(path)]
    subprocess.run(cmd, check=True)
    return path


def mdat_range(data: bytes) -> tuple[int, int]:
    """(start, end) of the payload of an MP4's top-level `mdat` box, found by walking the boxes (the bytes 'mdat'
    may also occur inside the index)."""
    pos = 0
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        header = 8
        if size == 1:      # 64-bit size follows the type
            size, header = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
        elif size == 0:    # the box runs to the end of the file
            size = len(data) - pos
        if kind == b"mdat":
            return pos + header, min(pos + size, len(data))
        pos += size
    raise ValueError("no mdat box")


def truncate_file(src: Path, dst: Path, keep: float = 0.7) -> Path:
    """The first `keep` of `src`'s bytes: an upload or copy cut short (the index still promises the whole video)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[:int(len(data) * keep)])
    return dst


def damage_mdat(src: Path, dst: Path, fraction: float = 0.1, seed: int = 0) -> Path:
    """`src` with `fraction` of its MP4 frame data (centred in it; 1.0: all of it) overwritten by seeded random
    bytes: a damaged stretch that the index, and so the container, does not know about."""
    data = bytearray(Path(src).read_bytes())
    start, end = mdat_range(bytes(data))
    length = int((end - start) * fraction)
    at = start + (end - start - length) // 2
    data[at:at + length] = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(bytes(data))
    return dst
