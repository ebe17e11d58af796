"""Video decoding on real files written by ffmpeg: sampling, times, rotation, fallbacks and clear errors."""

import subprocess

import numpy as np
import pytest
import torch

from tests.media import event_frames, ffmpeg_exe, write_video
from videoexpert import VideoDecodeError, probe_video, read_video
from videoexpert.video import sample_frame_indices


def halves(num_frames=20, h=48, w=64):
    """Left half red, right half blue: an orientation marker."""
    frames = np.zeros((num_frames, h, w, 3), dtype=np.uint8)
    frames[:, :, : w // 2] = (255, 0, 0)
    frames[:, :, w // 2:] = (0, 0, 255)
    return frames


def test_sample_indices_are_the_official_ones():
    assert sample_frame_indices(60, 8).tolist() == [0, 8, 16, 25, 33, 42, 50, 59]
    assert sample_frame_indices(3, 5).tolist() == [0, 0, 1, 1, 2]  # short videos repeat frames
    with pytest.raises(VideoDecodeError):
        sample_frame_indices(0, 4)


@pytest.mark.parametrize("resize", ["official", "fast"])
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_indices_times_and_content(event_video, backend, resize):
    clip = read_video(event_video, 8, 32, backend=backend, resize=resize)
    assert clip.backend == backend and clip.resize == resize
    assert clip.frames.shape == (8, 3, 32, 32)
    assert clip.frames.dtype == (torch.float32 if resize == "official" else torch.uint8)  # 0..255 either way
    assert list(clip.indices) == [0, 8, 16, 25, 33, 42, 50, 59]
    assert clip.times == pytest.approx([i / 10 for i in clip.indices], abs=1e-3)
    assert clip.info.duration == pytest.approx(6.0, abs=0.05) and clip.info.fps == pytest.approx(10.0)
    red = clip.frames[:, 0, 16, 16].float()                  # centre pixel: the red square shows in frames 20..39
    visible = [20 <= i < 40 for i in clip.indices]
    assert all((r > 150) == v for r, v in zip(red.tolist(), visible))


@pytest.mark.parametrize("resize", ["official", "fast"])
def test_backends_agree(event_video, resize):
    a = read_video(event_video, 10, 40, backend="decord", resize=resize).frames.float()   # decord fails at width 48
    b = read_video(event_video, 10, 40, backend="pyav", resize=resize).frames.float()
    assert (a - b).abs().mean() < 4.0


@pytest.mark.parametrize("resize", ["official", "fast"])
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_display_rotation_is_applied(video_dir, backend, resize):
    plain, rotated = video_dir / "halves.mp4", video_dir / "halves_rot90.mp4"
    if not rotated.exists():
        write_video(plain, halves(h=96, w=128))   # decord fails on some tiny widths (48 among them)
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-display_rotation", "90", "-i", str(plain), "-c",
                        "copy", str(rotated)], check=True)
    info = probe_video(rotated)
    assert info.rotation == 90 and (info.width, info.height) == (96, 128)
    frame = read_video(rotated, 2, 32, backend=backend, resize=resize).frames[0].float()   # (3, 32, 32)
    # rotated 90 degrees counter-clockwise: the right (blue) half is now on top, the red half at the bottom
    assert frame[2, :8].mean() > 150 and frame[0, :8].mean() < 100
    assert frame[0, -8:].mean() > 150 and frame[2, -8:].mean() < 100


def test_av1_falls_back_to_pyav(video_dir):
    path = write_video(video_dir / "clip.mkv", event_frames(20, (5, 10), size=64), codec="libaom-av1",
                       extra=["-cpu-used", "8"])
    clip = read_video(path, 6, 32)
    assert clip.backend == "pyav" and clip.frames.shape == (6, 3, 32, 32)


def test_odd_frame_rate(video_dir):
    path = write_video(video_dir / "ntsc.mp4", event_frames(30, (0, 5)), fps=29.97)
    info = probe_video(path)
    assert info.fps == pytest.approx(29.97, abs=0.01) and info.total_frames == 30


def test_clear_errors(video_dir, tmp_path, event_video):
    with pytest.raises(VideoDecodeError, match="not found"):
        read_video(tmp_path / "missing.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="empty"):
        read_video(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 10)
    with pytest.raises(VideoDecodeError, match="cannot read"):
        read_video(text)
    audio = tmp_path / "tone.m4a"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-c:a", "aac", str(audio)], check=True)
    with pytest.raises(VideoDecodeError, match="no video stream"):
        read_video(audio)
    with pytest.raises(VideoDecodeError, match="over the limit"):
        read_video(event_video, max_bytes=100)
    with pytest.raises(VideoDecodeError, match="over the limit"):
        read_video(event_video, max_duration=1.0)
    with pytest.raises(VideoDecodeError, match="unknown resize mode"):
        read_video(event_video, resize="bilinear")


def test_every_video_search_takes_the_same_suffixes(tmp_path):
    from videoexpert.data.features import find_videos
    from videoexpert.eval.infer import InferItem, VideoIndex
    from videoexpert.video import VIDEO_SUFFIXES

    assert {".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg"} <= set(VIDEO_SUFFIXES)
    for k, suffix in enumerate(VIDEO_SUFFIXES):
        (tmp_path / f"v{k}{suffix.upper()}").write_bytes(b"")     # suffixes match whatever their case
    (tmp_path / "notes.txt").write_text("")
    names = {f"v{k}" for k in range(len(VIDEO_SUFFIXES))}
    assert set(find_videos(tmp_path)) == names
    index = VideoIndex(tmp_path)
    assert {index.find(InferItem("x", name, "grounding", "q")).stem for name in names} == names
