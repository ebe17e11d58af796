"""Exports of a `Prediction`: the result JSON (DESIGN.md §5), subtitles of dense captions, and video cuts.

    write_json(pred, path)                      the result schema, as the API returns it
    to_srt(segments) / to_webvtt(segments)      subtitles, one cue per labelled segment, in temporal order
    write_clip(video, segment, path)            the top moment as an mp4 (moviepy + ffmpeg)
    write_highlight_reel(video, segments, path) the top-k moments, merged where they overlap, in temporal order

Video cuts are re-encoded (H.264, yuv420p, faststart) so that browsers play them. The package never imports
gradio; the app turns these files into downloads.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Iterable, Sequence

from .errors import InputError, VideoDecodeError
from .result import Prediction, Segment

logger = logging.getLogger(__name__)

MIN_CUT_S = 0.5  # a cut shorter than this is widened around its centre (a zero-length span is still a moment)


# ----------------------------------------------------------------------------------------------- JSON
def write_json(pred: Prediction, path: str | Path) -> Path:
    """Write `pred.to_dict()` as indented UTF-8 JSON."""
    path = Path(path)
    path.write_text(json.dumps(pred.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------- subtitles
def format_timestamp(seconds: float, sep: str = ",") -> str:
    """HH:MM:SS,mmm (SRT) or, with sep=".", HH:MM:SS.mmm (WebVTT). Negative times clamp to zero."""
    millis = max(0, int(round(seconds * 1000)))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def _cues(segments: Iterable[Segment]) -> list[Segment]:
    """Segments in temporal order; a cue needs a positive duration, so an empty span gets 1 ms."""
    out = []
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        end = seg.end if seg.end > seg.start else seg.start + 0.001
        out.append(Segment(max(0.0, seg.start), end, seg.score, seg.label))
    return out


def _cue_text(seg: Segment) -> str:
    # a blank line would end the cue early; "-->" would be read as a timing line in WebVTT
    text = " ".join(seg.label.split()) or "(no caption)"
    return text.replace("-->", "->")


def to_srt(segments: Iterable[Segment]) -> str:
    """SubRip: numbered cues `HH:MM:SS,mmm --> HH:MM:SS,mmm` followed by the segment's label."""
    blocks = [f"{i}\n{format_timestamp(s.start)} --> {format_timestamp(s.end)}\n{_cue_text(s)}\n"
              for i, s in enumerate(_cues(segments), start=1)]
    return "\n".join(blocks)


def to_webvtt(segments: Iterable[Segment]) -> str:
    """WebVTT: the `WEBVTT` header, then cues `HH:MM:SS.mmm --> HH:MM:SS.mmm` with the segment's label."""
    blocks = [f"{format_timestamp(s.start, '.')} --> {format_timestamp(s.end, '.')}\n{_cue_text(s)}\n"
              for s in _cues(segments)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_subtitles(pred: Prediction, path: str | Path) -> Path:
    """Write the prediction's segments as .srt or .vtt, chosen by the file suffix."""
    path = Path(path)
    if path.suffix.lower() == ".srt":
        text = to_srt(pred.segments)
    elif path.suffix.lower() == ".vtt":
        text = to_webvtt(pred.segments)
    else:
        raise InputError(f"unknown subtitle format {path.suffix!r}: use .srt or .vtt")
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------- video cuts
def cut_window(start: float, end: float, duration: float, min_length: float = MIN_CUT_S) -> tuple[float, float]:
    """Clamp [start, end] to the video and widen it to at least `min_length` seconds (or the whole video)."""
    if not all(math.isfinite(x) for x in (start, end, duration)) or duration <= 0:
        raise InputError(f"cannot cut [{start}, {end}] from a video of duration {duration}")
    start, end = max(0.0, min(start, duration)), max(0.0, min(end, duration))
    if end < start:
        start, end = end, start
    if end - start < min_length:
        centre = (start + end) / 2
        start = max(0.0, centre - min_length / 2)
        end = min(duration, start + min_length)
        start = max(0.0, end - min_length)
    return start, end


def merge_windows(windows: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of overlapping or touching windows, in temporal order."""
    merged: list[list[float]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _open_clip(video: str | Path):
    from moviepy import VideoFileClip
    try:
        return VideoFileClip(str(video))
    except (OSError, IOError, KeyError, ValueError) as e:
        raise VideoDecodeError(f"cannot open {Path(video).name} for cutting: {e}") from e


def _write(clip, path: Path) -> Path:
    """Encode a moviepy clip as browser-playable H.264 mp4 (even frame size, audio kept when present)."""
    width, height = clip.size
    if width % 2 or height % 2:  # yuv420p needs even dimensions
        clip = clip.cropped(x2=width - width % 2, y2=height - height % 2)
    clip.write_videofile(str(path), codec="libx264", audio=clip.audio is not None, audio_codec="aac",
                         preset="veryfast", ffmpeg_params=["-movflags", "+faststart"],
                         temp_audiofile_path=str(path.parent), logger=None)
    return path


def write_clip(video: str | Path, segment: Segment, path: str | Path, min_length: float = MIN_CUT_S) -> Path:
    """Cut `segment` (seconds, clamped to the video and widened to `min_length`) out of `video` into an mp4."""
    path = Path(path)
    source = _open_clip(video)
    try:
        start, end = cut_window(segment.start, segment.end, source.duration, min_length)
        return _write(source.subclipped(start, end), path)
    finally:
        source.close()


def write_highlight_reel(video: str | Path, segments: Sequence[Segment], path: str | Path, k: int = 5,
                         min_length: float = MIN_CUT_S) -> Path:
    """The `k` best-scored segments, merged where they overlap, played in temporal order as one mp4."""
    from moviepy import concatenate_videoclips

    if k < 1:
        raise InputError(f"a highlight reel needs at least one moment, got k={k}")
    if not segments:
        raise InputError("the result has no segments to put in a highlight reel")
    path = Path(path)
    best = sorted(segments, key=lambda s: s.score, reverse=True)[:k]
    source = _open_clip(video)
    try:
        windows = merge_windows([cut_window(s.start, s.end, source.duration, min_length) for s in best])
        reel = concatenate_videoclips([source.subclipped(s, e) for s, e in windows])
        logger.info("highlight reel of %d window(s), %.2f s", len(windows), reel.duration)
        return _write(reel, path)
    finally:
        source.close()


__all__ = ["write_json", "format_timestamp", "to_srt", "to_webvtt", "write_subtitles", "cut_window",
           "merge_windows", "write_clip", "write_highlight_reel", "MIN_CUT_S"]
