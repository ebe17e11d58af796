"""Video input: probe a file, sample n frames uniformly, decode and preprocess them for the vision tower.

Frame indices follow the official code: `linspace(0, N-1, n)` truncated to int. Decoding uses decord when
it can (fast random access) and PyAV otherwise (decord fails on AV1 and some containers). Frames are
rotated by the container's display matrix. Two ways to bring them to `size` x `size` (`read_video(resize=)`):

- "official" (default): what the authors' weights were trained on. Each sampled frame is decoded at its
  native size, taken to float in [0, 1] (x / 255), resized in torch so that the shorter side is `size`
  (bicubic, `antialias=True`, the long side truncated to int) and centre-cropped: torchvision's
  `Compose([Resize(size, BICUBIC), CenterCrop(size)])` on float frames, as the official `load_video` applies
  it. The result is kept unrounded as float32 in 0..255 units (x 255), so that every `VideoClip` holds pixels
  on one scale; `normalize_frames` divides by 255 again (within one float32 ulp) and applies `Normalize`.
  torchvision's tensor `Resize` defaults to `antialias=True` from 0.17 (January 2024), which is what the
  official, unpinned `requirements.txt` installs; `antialias=False` gives what 0.15/0.16 did. Frames go
  through in chunks sized by their pixel count, so memory stays bounded at any resolution.
- "fast": the decoder scales each frame to the model resolution itself (swscale bicubic, on the YUV
  planes) and rounds to uint8: about a third less time for 100 frames of a 720p video and no native-size
  frames in memory, but 3-4 % (relative L2) away from the official normalised pixels on natural frames,
  2-3 % on ViT-L/14 patch tokens (random weights; see `bench/bench_preprocess.py`).

Both use the same output geometry as torchvision (long side `int(size * long / short)`, crop offset
`round((side - size) / 2)`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import VideoDecodeError

logger = logging.getLogger(__name__)

RESIZE_MODES = ("official", "fast")
# File suffixes taken for videos wherever a folder is searched (feature extraction, benchmark inference, the UI's
# examples), lower case; the order is the order in which `eval.infer` tries them for a path without one.
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg")
_CHUNK_BYTES = 64 * 2**20    # float32 native-size frames resized at once (official mode): 5 at 720p, 1 at 4K


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration: float      # seconds, from the container (falls back to frames / fps)
    fps: float
    total_frames: int    # frames in the video stream (counted or, for some containers, estimated)
    width: int           # as displayed, i.e. after rotation
    height: int
    rotation: int        # degrees counter-clockwise applied for display (0, 90, 180, 270)
    codec: str


@dataclass(frozen=True)
class VideoClip:
    """n frames sampled from a video, ready for the vision tower after `normalize_frames`."""

    frames: torch.Tensor         # (n, 3, size, size) in 0..255: float32 unrounded ("official"; bicubic may
                                 # overshoot a little) or uint8 ("fast")
    indices: tuple[int, ...]     # index of each sampled frame in the stream
    times: tuple[float, ...]     # real time in seconds of each sampled frame
    info: VideoInfo
    backend: str
    resize: str = "official"     # how the frames were brought to size: "official" or "fast"

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]


def sample_frame_indices(total_frames: int, num_frames: int) -> np.ndarray:
    """Uniform frame indices as in the official code: linspace(0, N-1, n) truncated to int."""
    if total_frames < 1:
        raise VideoDecodeError("the video has no frames")
    return np.linspace(0, total_frames - 1, num_frames).astype(np.int64)


def frame_size_for(width: int, height: int, size: int) -> tuple[int, int]:
    """(w, h) with the shorter side equal to `size` and the longer one `int(size * long / short)`, as
    torchvision's `Resize(size)` computes it (truncated, not rounded: 640x480 -> 298x224)."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def resize_frames(frames: torch.Tensor, size: int, antialias: bool = True) -> torch.Tensor:
    """float (n, 3, h, w) -> float (n, 3, size, size): shorter side to `size` (bicubic), then the centre crop.

    The same arithmetic as torchvision's `Resize(size, BICUBIC, antialias)` then `CenterCrop(size)` on float
    tensors: `F.interpolate(bicubic, align_corners=False)`, no clamping, crop offset `int(round((h - size) / 2))`.
    """
    h, w = frames.shape[-2:]
    out_w, out_h = frame_size_for(w, h, size)
    if (out_h, out_w) != (h, w):
        frames = F.interpolate(frames, size=(out_h, out_w), mode="bicubic", align_corners=False, antialias=antialias)
    top, left = int(round((out_h - size) / 2.0)), int(round((out_w - size) / 2.0))
    return frames[..., top:top + size, left:left + size]


def probe_video(path: str | Path, max_bytes: int | None = None) -> VideoInfo:
    """Read duration, fps, frame count, size and rotation; raise `VideoDecodeError` on anything unusable."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(f"video file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise VideoDecodeError(f"video file is empty (0 bytes): {path}")
    if max_bytes is not None and size > max_bytes:
        raise VideoDecodeError(f"video file is {size / 2**20:.0f} MiB, over the limit of {max_bytes / 2**20:.0f} MiB: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
                raise VideoDecodeError(f"no video stream in {path.name} (streams: {kinds})")
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None:
                raise VideoDecodeError(f"no decodable video frame in {path.name}")
            fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            else:
                duration = 0.0
            total = int(stream.frames or 0) or int(round(duration * fps))
            rotation = int(round(getattr(first, "rotation", 0) or 0)) % 360
            width, height = first.width, first.height
            codec = stream.codec_context.name
    except VideoDecodeError:
        raise
    except (av.error.FFmpegError, OSError, StopIteration) as e:
        raise VideoDecodeError(f"cannot read {path.name} as a video: {e}") from e
    if rotation in (90, 270):
        width, height = height, width
    if total < 1:
        raise VideoDecodeError(f"{path.name} has zero length")
    if duration <= 0:
        duration = total / fps
    return VideoInfo(str(path), duration, fps, total, width, height, rotation, codec)


def read_video(path: str | Path, num_frames: int = 100, size: int = 224, *, backend: str = "auto",
               resize: str = "official", antialias: bool = True, max_bytes: int | None = None,
               max_duration: float | None = None) -> VideoClip:
    """Sample `num_frames` frames uniformly and bring them to `size` x `size` (shorter side, centre crop).

    backend: "auto" (decord, then PyAV on failure), "decord" or "pyav".
    resize: "official" (the preprocessing the released weights were trained on; float32 frames) or "fast"
    (uint8 frames scaled by the decoder); see the module docstring. `antialias` applies to "official" only.
    """
    if resize not in RESIZE_MODES:
        raise VideoDecodeError(f"unknown resize mode {resize!r}; use {' or '.join(RESIZE_MODES)}")
    if backend not in ("auto", "decord", "pyav"):
        raise VideoDecodeError(f"unknown video backend {backend!r}; use auto, decord or pyav")
    info = probe_video(path, max_bytes=max_bytes)
    if max_duration is not None and info.duration > max_duration:
        raise VideoDecodeError(f"video is {info.duration:.0f} s long, over the limit of {max_duration:.0f} s")
    official = resize == "official"
    frames = indices = times = None
    used = backend
    if backend in ("auto", "decord"):
        try:
            if official:
                frames, indices, times = _decode_decord_native(info, num_frames, size, antialias)
            else:
                frames, indices, times = _decode_decord(info, num_frames, size)
            used = "decord"
        except Exception as e:  # decord raises its own DECORDError and RuntimeError for unsupported streams
            if backend == "decord":
                raise VideoDecodeError(f"decord cannot decode {Path(info.path).name}: {e}") from e
            logger.info("decord failed on %s (%s); falling back to PyAV", info.path, e)
    if frames is None:
        frames, indices, times = _decode_pyav(info, num_frames, size, antialias if official else None)
        used = "pyav"
    if not official:
        frames = _center_crop(frames, size)
        frames = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous()
    return VideoClip(frames, tuple(int(i) for i in indices), tuple(float(t) for t in times), info, used, resize)


def normalize_frames(frames: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(n, 3, h, w) frames in 0..255 (uint8, or float32 from `read_video(resize="official")`) -> float32
    (n, 3, h, w): x / 255, then CLIP mean/std normalisation. The input is never modified."""
    x = frames.float() / 255.0
    mean_t = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean_t) / std_t


def _decode_decord(info: VideoInfo, num_frames: int, size: int):
    """decord applies the display rotation itself, and its width/height are those of the rotated frame."""
    import decord

    w, h = frame_size_for(info.width, info.height, size)
    reader = decord.VideoReader(info.path, width=w, height=h, num_threads=1)
    total = len(reader)
    if total < 1:
        raise VideoDecodeError("decord found no frames")
    indices = sample_frame_indices(total, num_frames)
    frames = reader.get_batch(indices.tolist()).asnumpy()  # (n, h, w, 3) uint8
    times = [float(reader.get_frame_timestamp(int(i))[0]) for i in indices]
    return frames, indices, times


def _decode_decord_native(info: VideoInfo, num_frames: int, size: int, antialias: bool):
    """The sampled frames at native size, a chunk at a time, each chunk resized and cropped before the next."""
    import decord

    reader = decord.VideoReader(info.path, num_threads=1)
    total = len(reader)
    if total < 1:
        raise VideoDecodeError("decord found no frames")
    indices = sample_frame_indices(total, num_frames)
    chunk = _chunk_frames(info.width, info.height)
    out = []
    for start in range(0, num_frames, chunk):
        batch = reader.get_batch(indices[start:start + chunk].tolist()).asnumpy()   # (c, H, W, 3) uint8
        out.append(_to_model_frames(batch, size, antialias))
    times = [float(reader.get_frame_timestamp(int(i))[0]) for i in indices]
    return torch.cat(out), indices, times


def _chunk_frames(width: int, height: int) -> int:
    return int(min(16, max(1, _CHUNK_BYTES // (width * height * 3 * 4))))


def _to_model_frames(frames: np.ndarray, size: int, antialias: bool) -> torch.Tensor:
    """uint8 (c, H, W, 3) native frames -> float32 (c, 3, size, size) in 0..255 units: the official
    preprocessing (x / 255, resize, crop) computed in [0, 1] as it is, then scaled back by 255 for storage."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)
    return resize_frames(x, size, antialias).mul(255.0).contiguous()


def _decode_pyav(info: VideoInfo, num_frames: int, size: int, antialias: bool | None = None):
    """Sequential decode keeping only the sampled frames (PyAV has no cheap exact random access).

    PyAV hands out frames in their stored orientation. antialias None ("fast"): scale them in that orientation,
    then rotate; else ("official") convert at native size, rotate, and resize each frame in torch at once.
    """
    import av

    official = antialias is not None
    w, h = frame_size_for(info.width, info.height, size)
    if info.rotation in (90, 270):
        w, h = h, w
    indices = sample_frame_indices(info.total_frames, num_frames)
    wanted: dict[int, list[int]] = {}
    for slot, idx in enumerate(indices):
        wanted.setdefault(int(idx), []).append(slot)
    frames: list = [None] * num_frames
    times = [0.0] * num_frames
    last, last_time, count = None, 0.0, 0
    try:
        with av.open(info.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for count, frame in enumerate(container.decode(stream)):
                if count in wanted:
                    if official:   # (1, 3, size, size) float
                        image = _to_model_frames(_rotate(frame.to_ndarray(format="rgb24")[None], info.rotation),
                                                 size, antialias)
                    else:          # (h, w, 3) uint8
                        image = frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="BICUBIC")
                    t = float(frame.time) if frame.time is not None else count / info.fps
                    for slot in wanted[count]:
                        frames[slot], times[slot] = image, t
                    last, last_time = image, t
                if count >= indices[-1]:
                    break
    except av.error.FFmpegError as e:
        raise VideoDecodeError(f"PyAV cannot decode {Path(info.path).name}: {e}") from e
    if last is None:
        raise VideoDecodeError(f"no frame could be decoded from {Path(info.path).name}")
    missing = [i for i, f in enumerate(frames) if f is None]
    if missing:  # the container over-reported its frame count: repeat the last real frame
        logger.warning("%s: %d sampled frames lie past the last decodable frame %d; repeating it",
                       info.path, len(missing), count)
        for i in missing:
            frames[i], times[i] = last, last_time
    if official:
        return torch.cat(frames), indices, times
    return _rotate(np.stack(frames), info.rotation), indices, times


def _rotate(frames: np.ndarray, rotation: int) -> np.ndarray:
    """Apply the display rotation (counter-clockwise degrees) to (n, h, w, 3) frames."""
    k = (rotation // 90) % 4
    return np.rot90(frames, k=k, axes=(1, 2)) if k else frames


def _center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    h, w = frames.shape[1:3]
    if h < size or w < size:  # decoders may round a dimension down by one pixel
        pad_h, pad_w = max(0, size - h), max(0, size - w)
        frames = np.pad(frames, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)),
                        mode="edge")
        h, w = frames.shape[1:3]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return frames[:, top:top + size, left:left + size]


__all__ = ["VideoInfo", "VideoClip", "RESIZE_MODES", "VIDEO_SUFFIXES", "sample_frame_indices", "probe_video",
           "read_video", "resize_frames", "normalize_frames"]
