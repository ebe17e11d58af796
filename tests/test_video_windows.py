"""Windowed, streamed decoding (`iter_window_clips`), decoder threads, and damaged files written by ffmpeg: a tail cut
off, a corrupt middle, nothing decodable."""

import logging

import numpy as np
import pytest
import torch

from tests.media import damage_mdat, truncate_file, write_test_pattern, write_video
from videoexpert import VideoDecodeError, probe_video, read_video
from videoexpert import video as video_module
from videoexpert.video import iter_window_clips, sample_frame_indices, window_frame_indices

SPANS = [(0.0, 2.0), (1.5, 4.0), (3.0, 6.0)]   # overlapping, over the 6-s event video (10 fps, square 2.0-4.0 s)


@pytest.fixture(scope="module")
def pattern_video(video_dir):
    """10 s at 10 fps of ffmpeg's moving test pattern, index first (+faststart)."""
    return write_test_pattern(video_dir / "pattern.mp4", 10)


@pytest.fixture(scope="module")
def bframes_video(video_dir):
    """Noise with B-frames: frame threading reorders the most work here."""
    frames = np.random.default_rng(0).integers(0, 256, (48, 72, 128, 3), dtype=np.uint8)
    return write_video(video_dir / "bframes.mp4", frames, fps=12, extra=["-bf", "3"])


def test_window_indices_are_the_official_formula_inside_the_span():
    for total, n, duration in [(60, 8, 6.0), (100, 100, 10.0), (3, 5, 0.3), (2700, 100, 90.0), (1001, 7, 33.4)]:
        assert window_frame_indices((0, duration), n, total, duration).tolist() == \
            sample_frame_indices(total, n).tolist()
    # frames 20..39 start at or after 2.0 s and before 4.0 s
    assert window_frame_indices((2.0, 4.0), 4, 60, 6.0).tolist() == np.linspace(20, 39, 4).astype(int).tolist()
    assert window_frame_indices((2.05, 2.1), 3, 60, 6.0).tolist() == [21, 21, 21]    # shorter than a frame
    assert window_frame_indices((5.0, 60.0), 2, 60, 6.0).tolist() == [50, 59]        # clipped to the video


@pytest.mark.parametrize("resize", ["official", "fast"])
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_windows_sample_their_span_in_global_time(event_video, backend, resize):
    clips = list(iter_window_clips(event_video, SPANS, 6, 32, backend=backend, resize=resize))
    assert [c.backend for c in clips] == [backend] * 3 and all(c.resize == resize for c in clips)
    for clip, span in zip(clips, SPANS):
        assert clip.frames.shape == (6, 3, 32, 32) and clip.info.duration == pytest.approx(6.0, abs=0.05)
        assert list(clip.indices) == window_frame_indices(span, 6, 60, clip.info.duration).tolist()
        assert clip.times == pytest.approx([i / 10 for i in clip.indices], abs=1e-3)
        assert span[0] <= clip.times[0] and clip.times[-1] < span[1] and clip.filled == ()
        red = clip.frames[:, 0, 16, 16].float()     # the red square shows in frames 20..39
        assert all((r > 150) == (20 <= i < 40) for r, i in zip(red.tolist(), clip.indices))


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_one_pass_for_all_windows_equals_one_call_per_window(event_video, backend):
    together = list(iter_window_clips(event_video, SPANS, 5, 32, backend=backend))
    for clip, span in zip(together, SPANS):
        (alone,) = iter_window_clips(event_video, [span], 5, 32, backend=backend)
        assert torch.equal(clip.frames, alone.frames) and clip.indices == alone.indices and clip.times == alone.times


@pytest.mark.parametrize("backend", ["auto", "decord", "pyav"])
def test_read_video_is_the_window_over_the_whole_video(event_video, backend):
    clip = read_video(event_video, 7, 32, backend=backend)
    (window,) = iter_window_clips(event_video, [(0, clip.info.duration)], 7, 32, backend=backend)
    assert torch.equal(clip.frames, window.frames) and clip.indices == window.indices == \
        tuple(sample_frame_indices(60, 7).tolist())


def test_pyav_hands_a_window_out_once_its_last_frame_has_passed(event_video, monkeypatch):
    """Streamed: the first window (frames 0..19) comes out after 20 frames are decoded, not after all 60."""
    info = probe_video(event_video)    # before counting: the probe decodes a first frame too
    decoded = []
    tolerant = video_module._tolerant_decode

    def counting(container, stream, errors):
        for frame in tolerant(container, stream, errors):
            decoded.append(frame.time)
            yield frame

    monkeypatch.setattr(video_module, "_tolerant_decode", counting)
    clips = iter_window_clips(info, [(0.0, 2.0), (4.0, 6.0)], 4, 32, backend="pyav")
    first = next(clips)
    assert first.indices[-1] == 19 and len(decoded) == 20
    assert next(clips).indices[-1] == 59 and len(decoded) == 60


@pytest.mark.parametrize("resize", ["official", "fast"])
@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_pixels_do_not_depend_on_the_thread_count(bframes_video, backend, resize):
    one = read_video(bframes_video, 16, 32, backend=backend, resize=resize, threads=1)
    for threads in (2, 4, None):    # None: every core
        other = read_video(bframes_video, 16, 32, backend=backend, resize=resize, threads=threads)
        assert torch.equal(one.frames, other.frames) and one.indices == other.indices and one.times == other.times


def test_bad_spans_and_options_are_refused(event_video):
    for spans in ([(2.0, 1.0)], [(-1.0, 1.0)], [(1.0, 1.0)]):
        with pytest.raises(ValueError, match="span"):
            iter_window_clips(event_video, spans, 4, 32)
    with pytest.raises(ValueError, match="threads"):
        iter_window_clips(event_video, [(0, 1)], 4, 32, threads=0)
    with pytest.raises(VideoDecodeError, match="over the limit"):   # limits are checked when called, given an info too
        iter_window_clips(probe_video(event_video), [(0, 1)], 4, 32, max_duration=1.0)
    with pytest.raises(VideoDecodeError, match="unknown video backend"):
        iter_window_clips(event_video, [(0, 1)], 4, 32, backend="opencv")


def test_truncated_file_is_read_to_where_its_frames_end(pattern_video, tmp_path, caplog):
    """The index says 10 s; the bytes hold ~7 s. The decodable length is reported and sampled, not 10 s with the last
    frame repeated over the missing 3 s."""
    cut = truncate_file(pattern_video, tmp_path / "cut.mp4", keep=0.7)
    with caplog.at_level(logging.WARNING, logger="videoexpert.video"):
        info = probe_video(cut)
    assert "truncated" in caplog.text
    assert info.truncated and info.claimed_duration == pytest.approx(10.0)
    assert 5.0 < info.duration < 8.0 and info.total_frames == pytest.approx(info.duration * 10, abs=1)
    assert not probe_video(pattern_video).truncated

    clip = read_video(cut, 20, 32)
    assert clip.info == info and clip.times[-1] <= info.duration and max(clip.indices) < info.total_frames
    assert len(clip.filled) <= 2    # the decoder may drop a frame or two before the cut
    # the frames that are there are the whole file's own, sampled over the decodable length
    (whole,) = iter_window_clips(pattern_video, [(0, info.duration)], 20, 32, backend=clip.backend)
    assert clip.indices[:-2] == whole.indices[:-2]
    kept = [i for i in range(20) if i not in clip.filled]
    assert torch.equal(clip.frames[kept], whole.frames[kept])
    windows = list(iter_window_clips(cut, [(0, 4), (3, info.duration)], 5, 32))
    assert windows[1].times[-1] <= info.duration


def test_corrupt_middle_is_answered_from_the_frames_that_decode(pattern_video, tmp_path, caplog):
    """10 % of the frame data overwritten mid-file: today's reader refused the whole file; now the slots whose frames
    are lost take the nearest decoded frame, with a warning."""
    damaged = damage_mdat(pattern_video, tmp_path / "damaged.mp4", fraction=0.1)
    good = read_video(pattern_video, 50, 32, backend="pyav")
    with caplog.at_level(logging.WARNING, logger="videoexpert.video"):
        clip = read_video(damaged, 50, 32)                      # decord fails on it: PyAV's tolerant pass takes over
    assert clip.backend == "pyav" and "did not decode" in caplog.text
    assert 0 < len(clip.filled) < 25 and clip.info.duration == pytest.approx(10.0)
    before = [i for i, t in enumerate(good.times) if t < 3.0]   # the damage lies in the middle of the data
    assert torch.equal(clip.frames[before], good.frames[before])
    for slot in clip.filled:   # a filled slot shows a frame that did decode, the nearest in time
        assert clip.indices[slot] != good.indices[slot]
    assert clip.times[-1] == pytest.approx(good.times[-1])      # the frames after the damage keep their true times

    # windowed: decord serves the windows before the damage and PyAV takes over from the one it cannot decode
    windows = list(iter_window_clips(damaged, [(0, 3), (3, 7), (7, 10)], 6, 32))
    assert windows[0].backend == "decord" and windows[-1].backend == "pyav"
    (alone,) = iter_window_clips(pattern_video, [(0, 3)], 6, 32, backend="decord")
    assert torch.equal(windows[0].frames, alone.frames)


def test_file_with_no_decodable_frame_is_refused_in_one_line(pattern_video, tmp_path):
    junk = damage_mdat(pattern_video, tmp_path / "junk.mp4", fraction=1.0)   # a valid index over random data
    with pytest.raises(VideoDecodeError, match="no decodable video frame") as e:
        read_video(junk, 8, 32)
    assert "\n" not in str(e.value)
