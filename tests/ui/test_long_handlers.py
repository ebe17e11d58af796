"""The app on a long video: the tiny model with 10-s windows over a generated 30-s video (4 windows: 0-10, 6.7-16.7,
13.3-23.3, 20-30 s). Handlers stream partial answers as windows finish, move the progress bar per window, cache the
windowed features at once, keep the limits and say "not found" plainly; the API still returns the final answer."""

from __future__ import annotations

import socket
import threading
import time

import gradio as gr
import pytest
import torch
from gradio_client import Client, handle_file

import app as app_module
from tests.media import event_frames, write_video
from ui.handlers import Limits, Run, Studio, stage_progress
from ui.views import ModelInfo
from videoexpert import Predictor, content_hash, create_model

WINDOWS = 4


@pytest.fixture(scope="module")
def windowed_model():
    torch.manual_seed(0)
    model = create_model("tiny", seed=0).eval()
    model.config.windows.seconds, model.config.windows.overlap = 10.0, 0.25
    model.config.windows.min_score, model.config.windows.refine = 0.0, 0
    return model


@pytest.fixture(scope="module")
def long_video(video_dir):
    """30 s at 10 fps, 32x32: a red square from 24 s to 27 s (inside the last window only)."""
    return write_video(video_dir / "long-30s.mp4", event_frames(300, (240, 270), size=32), fps=10)


def make_studio(model, video_dir, tmp_path_factory, **kwargs) -> Studio:
    info = ModelInfo(model.name, model.config.description, "cpu", "cpu", 100, "tiny", True)
    kwargs.setdefault("limits", Limits(max_duration_s=120, max_file_size=5 * 2**20))
    return Studio(Predictor(model), info, cache_dir=tmp_path_factory.mktemp("studio-long"),
                  extra_roots=[video_dir], **kwargs)


@pytest.fixture()
def studio(windowed_model, video_dir, tmp_path_factory):
    return make_studio(windowed_model, video_dir, tmp_path_factory)


def test_window_stages_move_the_progress_bar_one_step_per_window():
    steps = [stage_progress(f"window {k}/40") for k in range(1, 41)]
    fractions = [f for f, _ in steps]
    assert [d for _, d in steps][:3] == ["Window 1/40", "Window 2/40", "Window 3/40"]
    assert fractions == sorted(fractions) and len(set(fractions)) == 40
    assert stage_progress("hashing")[0] < fractions[0] and fractions[-1] < stage_progress("refining")[0] < 1.0
    assert stage_progress("something else") is None


def test_grounding_streams_an_answer_per_window_then_the_final_one(studio, long_video):
    progress = []
    outputs = list(studio.ground(str(long_video), "a red square",
                                 progress=lambda fraction, desc=None: progress.append((fraction, desc))))
    assert len(outputs) == WINDOWS                                   # 3 partial answers, then the final
    *partials, final = outputs
    for k, (result, answer, timeline, moments, files, status) in enumerate(partials, start=1):
        assert result["windows"] == WINDOWS and result["duration"] == pytest.approx(30.0, abs=0.1)
        assert f"Window {k}/{WINDOWS} done" in status and f"{k} of {WINDOWS} windows analysed" in answer
        assert files is None                                         # files come with the final answer
        layout = timeline["figure"]["layout"]
        assert layout["xaxis"]["range"] == [0, pytest.approx(30.0, abs=0.1)]   # the whole video from the start
        pending = layout["shapes"][1]                                # the part not analysed yet, greyed out
        assert pending["x0"] == pytest.approx((10.0, 50 / 3, 70 / 3)[k - 1], abs=0.05)   # window k's end
        assert pending["x1"] == pytest.approx(30.0, abs=0.1)
        assert max(result["saliency"]["times"]) <= pending["x0"] + 1e-3    # the times are rounded
    lengths = [len(p[0]["saliency"]["times"]) for p in partials]
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]

    result, answer, timeline, moments, files, status = final
    assert result["windows"] == WINDOWS and result["found"] is True and result["segments"]
    assert max(result["saliency"]["times"]) == pytest.approx(30.0, abs=0.2)
    assert all(0.0 <= s["start"] <= s["end"] <= 30.0 + 1e-3 for s in result["segments"])
    assert files[0].endswith("videoexpert-grounding.json") and "Partial" not in answer
    assert f"{WINDOWS} windows computed and cached" in status and {"decode", "encode"} <= set(result["timings_s"])
    layout = timeline["figure"]["layout"]
    assert len(layout["shapes"]) == 1 and layout["xaxis"]["rangeslider"]["visible"] is True
    assert layout["uirevision"] == str(long_video)             # the user's zoom survives the redraws

    descs = [d for _, d in progress]
    assert descs[0] == "Hashing the file"
    assert [d for d in descs if d.startswith("Window")] == [f"Window {k}/{WINDOWS}" for k in range(1, WINDOWS + 1)]
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions)


def test_windows_are_cached_at_once_and_reused_by_the_next_question(studio, long_video):
    key = content_hash(long_video)
    stream = studio.ground(str(long_video), "a red square")
    next(stream)                                                     # the first partial answer: window 1 done
    features = studio.cache.get(key)
    assert features is not None and len(features) == WINDOWS and not features.complete
    *_, final = stream
    assert features.complete and studio.cache.get(key) is features

    *_, (result, answer, timeline, moments, files, status) = studio.highlights(str(long_video), "a red square", 3)
    assert result["task"] == "highlight" and result["windows"] == WINDOWS
    assert f"all {WINDOWS} windows **from cache**" in status
    assert "decode" not in result["timings_s"] and "encode" not in result["timings_s"]
    assert studio.cache.get(key) is features and features.complete

    result, answer, *_ = studio.ask(str(long_video), "what colour is the square?", "red\nblue")
    assert result["task"] == "qa" and result["windows"] == WINDOWS and "**A.** red" in answer
    assert result["found"] in (True, False)
    history, box, result, *_ = studio.chat("what happens?", [], str(long_video))
    assert result["windows"] == WINDOWS and history[-1]["content"] == result["text"]


def test_a_half_encoded_video_is_finished_by_the_next_question(studio, long_video, monkeypatch):
    encode = studio.predictor.encode

    def slow_windows(*args, **kwargs):   # windows after the first take 0.3 s: the page leaves during window 2
        features = encode(*args, **kwargs)
        if not hasattr(features, "spans"):              # a window's own encoding
            return features
        window = features.window
        features.window = lambda k: (time.sleep(0.3) if k else None, window(k))[1]
        return features

    monkeypatch.setattr(studio.predictor, "encode", slow_windows)
    stream = studio.ground(str(long_video), "a red square")
    next(stream)
    stream.close()                                                   # the page went away after window 1
    features = studio.cache.get(content_hash(long_video))
    for _ in range(100):                                             # the worker stops before its next window
        if not any(t.name == "videoexpert-grounding" for t in threading.enumerate()):
            break
        time.sleep(0.05)
    encoded = len(features.windows)
    assert encoded == 2                                              # window 2 finished, window 3 never started
    *_, (result, *_, status) = studio.captions(str(long_video))
    assert result["windows"] == WINDOWS and features.complete
    assert f"{encoded} of {WINDOWS} windows **from cache**" in status


def test_nothing_found_is_said_plainly(windowed_model, studio, long_video):
    windowed_model.config.windows.min_score = 1.01                 # no probability reaches it
    try:
        *_, (result, answer, timeline, moments, files, status) = studio.ground(str(long_video), "a red square")
    finally:
        windowed_model.config.windows.min_score = 0.0
    assert result["found"] is False and result["segments"] == []
    assert result["text"].startswith("Not found")
    assert "**Not found** anywhere in the 00:30.0 of video (4 windows)" in answer and "Best moment" not in answer
    assert "Not found." in moments and "data-start" not in moments
    texts = [a["text"] for a in timeline["figure"]["layout"]["annotations"]]
    assert any("Not found" in t for t in texts)
    with pytest.raises(gr.Error, match="no moment to cut"):
        studio.export_clip(str(long_video), result)
    with pytest.raises(gr.Error, match="no moment to put in a reel"):
        studio.export_reel(str(long_video), result, 3)


def test_exports_cut_in_global_time(studio, long_video):
    *_, (result, *_) = studio.ground(str(long_video), "a red square")
    clip = studio.export_clip(str(long_video), result)
    top = result["segments"][0]
    from videoexpert import probe_video
    assert probe_video(clip).duration == pytest.approx(top["end"] - top["start"], abs=0.35)
    assert studio.export_reel(str(long_video), result, 2).endswith("highlight-reel.mp4")


def test_every_event_keeps_the_limits(windowed_model, video_dir, tmp_path_factory, long_video, studio):
    *_, (result, *_) = studio.ground(str(long_video), "a red square")
    short = make_studio(windowed_model, video_dir, tmp_path_factory,
                        limits=Limits(max_duration_s=20, max_file_size=5 * 2**20))
    for event in (lambda: list(short.ground(str(long_video), "x")),
                  lambda: list(short.highlights(str(long_video), "x", 3)),
                  lambda: list(short.captions(str(long_video))),
                  lambda: short.ask(str(long_video), "what?", ""),
                  lambda: short.chat("what?", [], str(long_video)),
                  lambda: short.export_clip(str(long_video), result),
                  lambda: short.export_reel(str(long_video), result, 2)):
        with pytest.raises(gr.Error, match="30 s long, over the limit of 20 s"):
            event()
    small = make_studio(windowed_model, video_dir, tmp_path_factory,
                        limits=Limits(max_duration_s=None, max_file_size=1024))
    for event in (lambda: list(small.ground(str(long_video), "x")),
                  lambda: small.export_clip(str(long_video), result)):
        with pytest.raises(gr.Error, match="over this app's limit"):
            event()
    assert len(short.cache) == 0 and len(small.cache) == 0


def test_single_pass_answers_a_long_video_once(windowed_model, video_dir, tmp_path_factory, long_video):
    single = make_studio(windowed_model, video_dir, tmp_path_factory, windowed=False)
    outputs = list(single.ground(str(long_video), "a red square"))
    assert len(outputs) == 1
    result = outputs[0][0]
    assert "windows" not in result and "found" not in result and result["num_frames"] == 100


def test_closing_the_stream_stops_the_worker(studio, monkeypatch):
    """Deterministic: a fake analysis that reports progress until it is told to stop."""
    stopped = threading.Event()

    def analyse(video, task, query, options, progress=None, on_partial=None):
        on_partial(Run(pred=None, features=None, hit=False, windows_done=1))
        try:
            while True:
                progress(0.5, desc="Window 2/4")
                time.sleep(0.01)
        except BaseException:
            stopped.set()
            raise

    monkeypatch.setattr(studio, "analyse", analyse)
    stream = studio._stream("v.mp4", "grounding", "x", progress=lambda *a, **k: None)
    assert next(stream).windows_done == 1
    stream.close()
    assert stopped.wait(5)


def test_cli_defaults_long_mode_and_three_hours(monkeypatch):
    args = app_module.build_parser().parse_args([])
    assert args.max_duration == 3 * 3600 and args.single_pass is False
    assert app_module.build_parser().parse_args(["--single-pass"]).single_pass is True
    monkeypatch.setenv("VIDEOEXPERT_SINGLE_PASS", "1")
    monkeypatch.setenv("VIDEOEXPERT_MAX_DURATION", "900")
    args = app_module.build_parser().parse_args([])
    assert args.single_pass is True and args.max_duration == 900


@pytest.fixture(scope="module")
def served(windowed_model, tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["--model", "tiny", "--host", "127.0.0.1", "--port", str(port),
            "--examples", str(tmp_path_factory.mktemp("no-examples"))]
    demo, launch = app_module.create_app(argv, predictor=Predictor(windowed_model))
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **launch)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


def test_the_api_returns_the_final_answer(served, long_video):
    video = handle_file(str(long_video))
    result, answer, timeline, moments, files, status = served.predict(video, "a red square", api_name="/ground")
    assert result["windows"] == WINDOWS and result["found"] is True and "Partial" not in answer
    assert max(result["saliency"]["times"]) == pytest.approx(30.0, abs=0.2) and files
    result, *_ = served.predict(video, "a red square", 2, api_name="/highlights")
    assert result["task"] == "highlight" and result["windows"] == WINDOWS
    job = served.submit(video, api_name="/captions")
    job.result()
    assert len(job.outputs()) == WINDOWS                            # every yield reached the client, in order
    assert [o[0]["windows"] for o in job.outputs()] == [WINDOWS] * WINDOWS
