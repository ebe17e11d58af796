"""Long videos end to end on a tiny model and real files: windows answer in global time and merge into one answer.

The reference for a window is the same span cut out of the video as a clip of its own (lossless, frame-exact): the
window's answer must be that clip's answer, shifted by the window's start.
"""

import subprocess

import numpy as np
import pytest
import torch

from tests.media import ffmpeg_exe, write_video
from videoexpert import Predictor, create_model
from videoexpert.predictor import WindowedFeatures
from videoexpert.result import Prediction

FPS = 10
LOSSLESS = ["-qp", "0", "-preset", "ultrafast"]


def moving_square(num_frames: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """A square that wanders and changes colour, over noise: every frame differs from the others."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 60, (num_frames, size, size, 3), dtype=np.uint8)
    for i in range(num_frames):
        x, y = (7 * i) % (size - 16), (3 * i) % (size - 16)
        frames[i, y:y + 16, x:x + 16] = ((37 * i) % 256, 200, (255 - 11 * i) % 256)
    return frames


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """30 s at 10 fps, lossless, so that a cut of it decodes to exactly the same pixels."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    return write_video(path, moving_square(30 * FPS), fps=FPS, extra=LOSSLESS)


def cut(video, first: int, last: int, out):
    """Frames first..last (inclusive) of `video` as a clip of their own, losslessly."""
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(video), "-vf",
                    f"trim=start_frame={first}:end_frame={last + 1},setpts=PTS-STARTPTS", "-c:v", "libx264",
                    *LOSSLESS, "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def windowed_predictor():
    """The tiny model with 10-s windows: a 30-s video is 4 of them (0-10, 6.7-16.7, 13.3-23.3, 20-30)."""
    torch.manual_seed(0)
    model = create_model("tiny", seed=0).eval()
    model.config.windows.seconds, model.config.windows.overlap = 10.0, 0.25
    model.config.windows.min_score, model.config.windows.refine = 0.0, 0
    return Predictor(model)


def test_a_short_video_keeps_the_single_pass(tiny_predictor, event_video):
    auto = tiny_predictor.predict(event_video, "grounding", "the red square appears")
    single = tiny_predictor.predict(event_video, "grounding", "the red square appears", windowed=False)
    assert auto.to_dict() | {"timings_s": {}} == single.to_dict() | {"timings_s": {}}
    assert "found" not in auto.to_dict() and "windows" not in auto.to_dict()
    forced = tiny_predictor.encode(event_video, windowed=True)
    assert isinstance(forced, WindowedFeatures) and forced.spans == [(0.0, pytest.approx(6.0, abs=0.05))]
    one = tiny_predictor.encode(event_video)
    assert torch.equal(forced.window(0).cls_tokens, one.cls_tokens)       # one window is the whole video


def test_each_window_answers_as_the_same_span_cut_out_would(windowed_predictor, long_video, tmp_path):
    features = windowed_predictor.encode(long_video)
    assert isinstance(features, WindowedFeatures) and features.complete
    assert features.spans == [(0.0, 10.0), (pytest.approx(20 / 3), pytest.approx(50 / 3)),
                              (pytest.approx(40 / 3), pytest.approx(70 / 3)), (20.0, 30.0)]
    window = features.window(1)                                 # 6.67-16.67 s: frames 67..166
    assert window.times[0] == pytest.approx(6.7) and window.times[-1] == pytest.approx(16.6)
    clip = cut(long_video, 67, 166, tmp_path / "cut.mp4")
    reference = windowed_predictor.predict(clip, "grounding", "the square", windowed=False)
    ours = windowed_predictor._predict_features(window, "grounding", "the square", None,
                                               dict(max_new_tokens=0, temperature=0.0, top_p=1.0, seed=None), {},
                                               lambda stage: None)
    offset = window.start
    assert offset == pytest.approx(20 / 3)
    assert len(ours.segments) == len(reference.segments) > 0
    for a, b in zip(ours.segments, reference.segments):   # same frames, same answer, in the video's time
        assert a.start == pytest.approx(b.start + offset, abs=0.02) and a.end == pytest.approx(b.end + offset, abs=0.02)
        assert a.score == pytest.approx(b.score, abs=1e-4)


@pytest.mark.parametrize("task", ["grounding", "highlight"])
def test_windows_merge_into_one_answer_over_the_whole_video(windowed_predictor, long_video, task):
    partial: list[Prediction] = []
    pred = windowed_predictor.predict(long_video, task, "the square", on_partial=partial.append)
    assert pred.windows == 4 and pred.found is True and pred.duration == pytest.approx(30.0, abs=0.05)
    assert pred.num_frames == 400
    assert [len(p.saliency.times) for p in partial] == sorted(len(p.saliency.times) for p in partial)
    assert len(partial) == 3                                      # after windows 1, 2, 3; the 4th is the answer
    times = pred.saliency.times
    assert list(times) == sorted(times) and times[0] < 1.0 and times[-1] == pytest.approx(30.0, abs=0.2)
    assert all(0.0 <= s.start <= s.end <= pred.duration + 1e-6 for s in pred.segments)
    assert [s.score for s in pred.segments] == sorted((s.score for s in pred.segments), reverse=True)
    assert {round(s.start // 10) for s in pred.segments} != {0}   # found across the video, not only in window 1
    again = Prediction.from_dict(pred.to_dict())
    assert again.found is True and again.windows == 4


def test_nothing_above_the_threshold_is_said_plainly(windowed_predictor, long_video):
    features = windowed_predictor.encode(long_video)
    windowed_predictor.model.config.windows.min_score = 1.01      # no probability reaches it
    try:
        pred = windowed_predictor.predict(features, "grounding", "the square")
    finally:
        windowed_predictor.model.config.windows.min_score = 0.0
    assert pred.found is False and pred.segments == ()
    assert pred.text.startswith("Not found: no moment scores 1.01 or more (the closest")
    assert pred.to_dict()["found"] is False


def test_questions_and_captions_on_a_long_video(windowed_predictor, long_video):
    features = windowed_predictor.encode(long_video)
    qa = windowed_predictor.predict(features, "qa", "what colour is the square?", options=["red", "green"],
                                    max_new_tokens=8)
    assert qa.windows == 4 and qa.found is not None and len(qa.saliency.times) > 300
    assert all(0.0 <= s.start <= s.end <= qa.duration + 1e-6 for s in qa.segments)
    captions = windowed_predictor.predict(features, "captioning", max_new_tokens=12)
    starts = [s.start for s in captions.segments]
    assert starts == sorted(starts) and captions.windows == 4


def test_windows_are_encoded_once_and_lazily(windowed_predictor, long_video):
    calls = []
    encode = windowed_predictor.encode

    def counting_encode(video, **kwargs):
        if not isinstance(video, (str, bytes)) and not hasattr(video, "suffix"):
            calls.append(1)
        return encode(video, **kwargs)

    windowed_predictor.encode = counting_encode
    try:
        features = windowed_predictor.encode(long_video, lazy=True)
        assert calls == [] and not features.complete                  # nothing decoded yet
        windowed_predictor.predict(features, "grounding", "the square")
        windowed_predictor.predict(features, "highlight", "the square")
    finally:
        del windowed_predictor.encode
    assert len(calls) == 4 and features.complete                       # 4 windows, each encoded once
    assert features.timings_s["encode"] > 0


def test_coarse_to_fine_regrounds_the_best_candidates_at_twice_the_frame_rate(windowed_predictor, long_video):
    features = windowed_predictor.encode(long_video)
    coarse = windowed_predictor.predict(features, "grounding", "the square")
    windowed_predictor.model.config.windows.refine = 2
    try:
        fine = windowed_predictor.predict(features, "grounding", "the square")
    finally:
        windowed_predictor.model.config.windows.refine = 0
    assert len(features.extra) == 2                               # two 5-s windows centred on the two best moments
    for (start, end), window in features.extra.items():
        assert end - start == pytest.approx(5.0, abs=1e-3) and 0 <= start and end <= 30.0 + 1e-3
        assert window.times[0] >= start - 1e-6 and window.times[-1] < end
        assert len(set(window.times)) == 50    # every frame of the 5 s (a 10-fps file: 100 samples repeat its 50)
    assert fine.segments and all(0.0 <= s.start <= s.end <= 30.0 + 1e-6 for s in fine.segments)
    assert fine.segments != coarse.segments
