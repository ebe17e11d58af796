"""Video input: probe a file, sample frames uniformly (over the whole video or over windows of it), decode and
preprocess them for the vision tower.

Frame indices follow the official code: `linspace(0, N-1, n)` truncated to int. `iter_window_clips` applies the same
formula to each window's frame range (`window_frame_indices`); `read_video` is its one window over the whole video.
Decoding uses decord when it can (fast random access) and PyAV otherwise (decord fails on AV1, some containers and
damaged files). Both decode with `threads` threads (default: every core; pixels are identical at any count), and
neither holds the whole video: decord fetches a window's sampled frames at a time, PyAV makes one sequential pass for
all windows, keeping only the sampled frames of windows not yet handed out.

Damaged files are read as far as they go:

- a truncated file (its index promises more than its bytes hold): `probe_video` reads the last packets, finds where
  the data ends and reports the decodable duration and frame count, with the promised one in
  `VideoInfo.claimed_duration` (None for a whole file) and a logged warning; sampling then spans the frames that exist.
- a damaged stretch: PyAV skips the packets the decoder refuses and fills each sampled slot whose frame is lost from
  the nearest decoded frame in time (`VideoClip.filled`, with a logged warning); frames after the damage up to the
  next keyframe carry the decoder's error concealment, as ffmpeg's own output does.
- a file with no decodable frame at all is refused with one `VideoDecodeError`.

Frames are rotated by the container's display matrix. Two ways to bring them to `size` x `size` (`resize=`):

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
`round((side - size) / 2)`). Decode times per backend and thread count: `bench/bench_decode.py`.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

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
_TAIL_SECONDS = 2.0          # how far before the promised end `probe_video` starts reading to check the data is there


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration: float      # seconds that decode: from the container (falls back to frames / fps), or where the data
                         # ends in a truncated file
    fps: float
    total_frames: int    # frames in the video stream (counted or, for some containers, estimated)
    width: int           # as displayed, i.e. after rotation
    height: int
    rotation: int        # degrees counter-clockwise applied for display (0, 90, 180, 270)
    codec: str
    claimed_duration: float | None = None   # what the container promised where its data ends sooner (a truncated
                                             # file); None for a whole file

    @property
    def truncated(self) -> bool:
        return self.claimed_duration is not None


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
    filled: tuple[int, ...] = ()  # slots whose own frame did not decode, filled from the nearest decoded frame (their
                                  # index and time are that frame's)

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]


def sample_frame_indices(total_frames: int, num_frames: int) -> np.ndarray:
    """Uniform frame indices as in the official code: linspace(0, N-1, n) truncated to int."""
    if total_frames < 1:
        raise VideoDecodeError("the video has no frames")
    return np.linspace(0, total_frames - 1, num_frames).astype(np.int64)


def window_frame_indices(span: tuple[float, float], num_frames: int, total_frames: int, duration: float) -> np.ndarray:
    """The official sampling inside one window: linspace(i0, i1, n) truncated to int, where i0 is the first frame
    at or after `span[0]` and i1 the last one before `span[1]` (seconds).

    Frame k is taken to start at `k * duration / total_frames`, so that `(0, duration)` is frames 0..N-1 and gives
    exactly `sample_frame_indices(N, n)`. A window shorter than a frame gets the frame at its start; indices are
    clipped to the video.
    """
    if total_frames < 1:
        raise VideoDecodeError("the video has no frames")
    start, end = span
    per_second = total_frames / duration if duration > 0 else 0.0
    # less 1e-6 of a frame, so that float error (2.2 s * 25 fps = 55.00000000000001) cannot push a frame's own start
    # onto the next frame
    first = min(max(math.ceil(start * per_second - 1e-6), 0), total_frames - 1)
    last = min(math.ceil(end * per_second - 1e-6) - 1, total_frames - 1)
    return np.linspace(first, max(first, last), num_frames).astype(np.int64)


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
    """Read duration, fps, frame count, size and rotation; raise `VideoDecodeError` on anything unusable.

    The last seconds are read as well (packets only, not decoded): a file whose data ends well before its index
    says (a truncated upload) is reported at its decodable length, `claimed_duration` keeping the promised one.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(f"video file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise VideoDecodeError(f"video file is empty (0 bytes): {path}")
    if max_bytes is not None and size > max_bytes:
        raise VideoDecodeError(f"video file is {size / 2**20:.0f} MiB, over the limit of {max_bytes / 2**20:.0f} MiB: {path}")
    claimed = None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
                raise VideoDecodeError(f"no video stream in {path.name} (streams: {kinds})")
            stream = container.streams.video[0]
            first = next(_tolerant_decode(container, stream, []), None)
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
            start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            short = max(0.5, 2 / fps)   # data ending sooner than this before the promised end is a cut file
            if duration > 0:
                data_end = _data_end(container, stream, start + duration)
                if data_end is None or data_end < start + duration - short:
                    frames, frames_end = _whole_video_packets(path, fps)
                    if frames and frames_end < start + duration - short:
                        # B-frames are stored out of order, so the cut leaves holes just before the last whole
                        # packet's time: the frames that are there, at the stream's rate, end sooner
                        claimed, total, duration = duration, frames, min(frames_end - start, frames / fps)
    except VideoDecodeError:
        raise
    except (av.error.FFmpegError, OSError, StopIteration) as e:
        raise VideoDecodeError(f"cannot read {path.name} as a video: {e}") from e
    if claimed is not None:
        logger.warning("%s: the container says %.1f s but its data ends at %.1f s (a truncated file?); "
                       "reading the %d frames that are there", path, claimed, duration, total)
    if rotation in (90, 270):
        width, height = height, width
    if total < 1:
        raise VideoDecodeError(f"{path.name} has zero length")
    if duration <= 0:
        duration = total / fps
    return VideoInfo(str(path), duration, fps, total, width, height, rotation, codec, claimed)


def _data_end(container, stream, promised_end: float) -> float | None:
    """Where the file's packets (any stream) end, in seconds, read from the video keyframe before the last
    `_TAIL_SECONDS`; None where nothing can be read there (the index points past the end of the file).

    Every stream counts, so that a video track that is merely shorter than its audio is not taken for a cut file.
    """
    import av

    end = None
    try:
        container.seek(int(max(0.0, promised_end - _TAIL_SECONDS) / stream.time_base), stream=stream, backward=True)
        for packet in container.demux():
            if _whole(packet):
                t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = t if end is None else max(end, t)
    except av.error.FFmpegError:   # the demuxer cannot read on: the data ends here
        pass
    return end


def _whole_video_packets(path: Path, fps: float) -> tuple[int, float]:
    """(number of whole video packets, end in seconds of the last) in one demux pass (no decoding) over the file."""
    import av

    count, end = 0, 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                if _whole(packet):
                    count += 1
                    step = float(packet.duration * stream.time_base) if packet.duration else 1 / fps
                    end = max(end, float(packet.pts * stream.time_base) + step)
        except av.error.FFmpegError:
            pass
    return count, end


def _whole(packet) -> bool:
    """A packet with data and a time, not cut short (the demuxer flags the last, partial one of a truncated file)."""
    return packet.pts is not None and packet.size > 0 and not packet.is_corrupt


def _tolerant_decode(container, stream, errors: list) -> Iterator:
    """Decoded frames of `stream`, skipping the packets the decoder refuses (a damaged stretch) instead of stopping
    at the first; each refusal is appended to `errors`."""
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as e:   # the demuxer cannot read on: flush what the decoder still holds
            errors.append(e)
            packet = None
        try:
            frames = stream.codec_context.decode(packet) if packet is None else packet.decode()
        except av.error.FFmpegError as e:
            errors.append(e)
            frames = []
        yield from frames
        if packet is None:
            return


def read_video(path: str | Path, num_frames: int = 100, size: int = 224, *, backend: str = "auto",
               resize: str = "official", antialias: bool = True, threads: int | None = None,
               max_bytes: int | None = None, max_duration: float | None = None) -> VideoClip:
    """Sample `num_frames` frames uniformly and bring them to `size` x `size` (shorter side, centre crop).

    backend: "auto" (decord, then PyAV on failure), "decord" or "pyav".
    resize: "official" (the preprocessing the released weights were trained on; float32 frames) or "fast"
    (uint8 frames scaled by the decoder); see the module docstring. `antialias` applies to "official" only.
    threads: decoder threads, default every core (`os.cpu_count()`); the pixels do not depend on it.
    """
    _check_modes(backend, resize)
    info = probe_video(path, max_bytes=max_bytes)
    (clip,) = iter_window_clips(info, [(0.0, info.duration)], num_frames, size, backend=backend, resize=resize,
                                antialias=antialias, threads=threads, max_duration=max_duration)
    return clip


def iter_window_clips(path_or_info: str | Path | VideoInfo, spans: Sequence[tuple[float, float]], num_frames: int,
                      size: int, *, backend: str = "auto", resize: str = "official", antialias: bool = True,
                      threads: int | None = None, max_bytes: int | None = None,
                      max_duration: float | None = None) -> Iterator[VideoClip]:
    """One `VideoClip` per span (start, end) in seconds, in order, each of `num_frames` frames sampled uniformly
    inside its span (`window_frame_indices`); spans may overlap. Clip times are global; `clip.info` is the whole
    video's `VideoInfo`.

    The file is probed (and checked against the limits) when this is called; frames are decoded as the clips are
    taken, a window at a time: at most the sampled frames of the windows not yet handed out are held. With "auto",
    a window decord cannot decode and every later one come from PyAV instead. Options as `read_video`.
    """
    _check_modes(backend, resize)
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, not {num_frames}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    spans = [(float(s), float(e)) for s, e in spans]
    bad = [span for span in spans if not 0 <= span[0] < span[1]]
    if bad:
        raise ValueError(f"each span must be (start, end) seconds with 0 <= start < end: {bad[0]}")
    if isinstance(path_or_info, VideoInfo):
        info = path_or_info
        if max_bytes is not None and os.path.getsize(info.path) > max_bytes:
            size_mib = os.path.getsize(info.path) / 2**20
            raise VideoDecodeError(f"video file is {size_mib:.0f} MiB, over the limit of {max_bytes / 2**20:.0f} MiB: "
                                   f"{info.path}")
    else:
        info = probe_video(path_or_info, max_bytes=max_bytes)
    if max_duration is not None and info.duration > max_duration:
        raise VideoDecodeError(f"video is {info.duration:.0f} s long, over the limit of {max_duration:.0f} s")
    threads = threads or os.cpu_count() or 1
    return _iter_windows(info, spans, num_frames, size, backend, antialias if resize == "official" else None, threads)


def _check_modes(backend: str, resize: str) -> None:
    if resize not in RESIZE_MODES:
        raise VideoDecodeError(f"unknown resize mode {resize!r}; use {' or '.join(RESIZE_MODES)}")
    if backend not in ("auto", "decord", "pyav"):
        raise VideoDecodeError(f"unknown video backend {backend!r}; use auto, decord or pyav")


def _iter_windows(info: VideoInfo, spans: list[tuple[float, float]], num_frames: int, size: int, backend: str,
                  antialias: bool | None, threads: int) -> Iterator[VideoClip]:
    """decord for as many windows as it can decode ("auto", "decord"), PyAV for the rest."""
    done = 0
    if backend in ("auto", "decord"):
        try:
            for clip in _windows_decord(info, spans, num_frames, size, antialias, threads):
                yield clip
                done += 1
        except Exception as e:  # decord raises its own DECORDError and RuntimeError for unsupported or damaged streams
            if backend == "decord":
                raise VideoDecodeError(f"decord cannot decode {Path(info.path).name}: {e}") from e
            log = logger.warning if done else logger.info   # mid-way it is damage, at the start often just the codec
            log("decord failed on %s at window %d of %d (%s); PyAV decodes from there", info.path, done + 1,
                len(spans), e)
    if done < len(spans):
        yield from _windows_pyav(info, spans[done:], num_frames, size, antialias, threads)


def _windows_decord(info: VideoInfo, spans: list[tuple[float, float]], num_frames: int, size: int,
                    antialias: bool | None, threads: int) -> Iterator[VideoClip]:
    """Each window's sampled frames through `get_batch`, at native size in chunks ("official": each chunk resized
    and cropped before the next) or scaled by the decoder ("fast"). decord applies the display rotation itself, and
    its width/height are those of the rotated frame."""
    import decord

    official = antialias is not None
    if official:
        reader = decord.VideoReader(info.path, num_threads=threads)
        chunk = _chunk_frames(info.width, info.height)
    else:
        w, h = frame_size_for(info.width, info.height, size)
        reader = decord.VideoReader(info.path, width=w, height=h, num_threads=threads)
        chunk = num_frames   # small uint8 frames: the whole window at once
    total = len(reader)
    if info.truncated:   # decord counts the frames the index promises: sample only those that are there
        total = min(total, info.total_frames)
    if total < 1:
        raise VideoDecodeError("decord found no frames")
    for span in spans:
        indices = window_frame_indices(span, num_frames, total, info.duration)
        parts = []
        for start in range(0, num_frames, chunk):
            batch = reader.get_batch(indices[start:start + chunk].tolist()).asnumpy()   # (c, H, W, 3) uint8
            parts.append(_to_model_frames(batch, size, antialias) if official else batch)
        frames = torch.cat(parts) if official else _uint8_clip(np.concatenate(parts), size)
        times = tuple(float(reader.get_frame_timestamp(int(i))[0]) for i in indices)
        yield VideoClip(frames, tuple(int(i) for i in indices), times, info, "decord",
                        "official" if official else "fast")


def _chunk_frames(width: int, height: int) -> int:
    return int(min(16, max(1, _CHUNK_BYTES // (width * height * 3 * 4))))


def _to_model_frames(frames: np.ndarray, size: int, antialias: bool) -> torch.Tensor:
    """uint8 (c, H, W, 3) native frames -> float32 (c, 3, size, size) in 0..255 units: the official
    preprocessing (x / 255, resize, crop) computed in [0, 1] as it is, then scaled back by 255 for storage."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)
    return resize_frames(x, size, antialias).mul(255.0).contiguous()


def _uint8_clip(frames: np.ndarray, size: int) -> torch.Tensor:
    """Decoder-scaled uint8 (n, h, w, 3) frames -> (n, 3, size, size): the centre crop, channels first."""
    frames = _center_crop(frames, size)
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).contiguous()


@dataclass
class _Decoded:
    """A decoded frame, converted to the model's size only once some slot uses it."""

    index: int
    time: float
    frame: object                # av.VideoFrame
    image: object = None         # (1, 3, size, size) float ("official") or (h, w, 3) uint8 ("fast")


def _windows_pyav(info: VideoInfo, spans: list[tuple[float, float]], num_frames: int, size: int,
                  antialias: bool | None, threads: int) -> Iterator[VideoClip]:
    """One sequential pass over the stream for all windows (PyAV has no cheap exact random access), handing each
    window out as soon as its last sampled frame has passed and keeping only the sampled frames of the rest.

    Packets the decoder refuses are skipped; from the first one on, a frame's index comes from its timestamp (fps)
    rather than from counting. A slot whose frame never decodes takes the nearest decoded frame in time (the earlier
    on a tie; the last one for slots past the end of the data).

    PyAV hands out frames in their stored orientation. antialias None ("fast"): scale them in that orientation,
    then rotate; else ("official") convert at native size, rotate, and resize each frame in torch at once.
    """
    import av

    official = antialias is not None
    w, h = frame_size_for(info.width, info.height, size)
    if info.rotation in (90, 270):
        w, h = h, w

    def image_of(decoded: _Decoded):
        if decoded.image is None:
            frame = decoded.frame
            if official:   # (1, 3, size, size) float
                decoded.image = _to_model_frames(_rotate(frame.to_ndarray(format="rgb24")[None], info.rotation),
                                                 size, antialias)
            else:          # (h, w, 3) uint8
                decoded.image = frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="BICUBIC")
        return decoded.image

    plans = [window_frame_indices(span, num_frames, info.total_frames, info.duration) for span in spans]
    # every (frame index, window, slot) in frame order: the pass fills them with one pointer
    targets = sorted((int(index), k, slot) for k, plan in enumerate(plans) for slot, index in enumerate(plan))
    images: list[list | None] = [[None] * num_frames for _ in plans]
    indices = [[0] * num_frames for _ in plans]
    times = [[0.0] * num_frames for _ in plans]
    filled: list[list[int]] = [[] for _ in plans]
    left = [num_frames] * len(plans)    # slots still empty, per window

    def fill(target: int, k: int, slot: int, decoded: _Decoded) -> None:
        images[k][slot], indices[k][slot], times[k][slot] = image_of(decoded), decoded.index, decoded.time
        if decoded.index != target:
            filled[k].append(slot)
        left[k] -= 1

    def clip(k: int) -> VideoClip:
        if filled[k]:
            logger.warning("%s: %d of %d sampled frames of window %.1f-%.1f s did not decode (damaged, or past the "
                           "end of the data); each is filled from the nearest decoded frame", info.path,
                           len(filled[k]), num_frames, *spans[k])
        if official:
            frames = torch.cat(images[k])
        else:
            frames = _uint8_clip(_rotate(np.stack(images[k]), info.rotation), size)
        images[k] = None   # hand the frames over: the pass holds only unfinished windows
        return VideoClip(frames, tuple(indices[k]), tuple(times[k]), info, "pyav", "official" if official else "fast",
                         tuple(filled[k]))

    errors: list = []
    ready = pos = 0          # next window to hand out; next target to fill
    prev: _Decoded | None = None
    try:
        with av.open(info.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.thread_count = threads
            start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            anchor = (-1, start - 1 / info.fps)   # (index, time) of the last frame decoded before any refusal
            next_index = 0
            for frame in _tolerant_decode(container, stream, errors):
                t = float(frame.time) if frame.time is not None else None
                index = next_index
                if not errors:
                    anchor = (index, t if t is not None else index / info.fps)
                elif t is not None:   # frames were lost: counting no longer gives the index, the time does
                    index = anchor[0] + int(round((t - anchor[1]) * info.fps))
                    if index < next_index:   # out of order or repeated, as a decoder may emit around damage: a
                        continue             # one-way pass cannot place it
                next_index = index + 1
                current = _Decoded(index, t if t is not None else index / info.fps, frame)
                while pos < len(targets) and targets[pos][0] <= index:
                    target, k, slot = targets[pos]
                    near_prev = prev is not None and target - prev.index <= index - target
                    fill(target, k, slot, prev if target != index and near_prev else current)
                    pos += 1
                prev = current   # the only native-size frame held: a later lost slot may be nearest to it
                while ready < len(plans) and left[ready] == 0:
                    yield clip(ready)
                    ready += 1
                if pos == len(targets):
                    break
    except av.error.FFmpegError as e:
        raise VideoDecodeError(f"PyAV cannot decode {Path(info.path).name}: {e}") from e
    if ready < len(plans) and prev is None:
        raise VideoDecodeError(f"no frame could be decoded from {Path(info.path).name}")
    if pos < len(targets):   # slots past the last decodable frame (a count the container over-reported)
        for target, k, slot in targets[pos:]:
            fill(target, k, slot, prev)
    if errors:
        logger.warning("%s: the decoder refused %d packets (a damaged file?); read on past them", info.path,
                       len(errors))
    while ready < len(plans):
        yield clip(ready)
        ready += 1


def normalize_frames(frames: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(n, 3, h, w) frames in 0..255 (uint8, or float32 from `read_video(resize="official")`) -> float32
    (n, 3, h, w): x / 255, then CLIP mean/std normalisation. The input is never modified."""
    x = frames.float() / 255.0
    mean_t = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean_t) / std_t


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


__all__ = ["VideoInfo", "VideoClip", "RESIZE_MODES", "VIDEO_SUFFIXES", "sample_frame_indices", "window_frame_indices",
           "probe_video", "read_video", "iter_window_clips", "resize_frames", "normalize_frames"]
