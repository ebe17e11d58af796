"""Studio's handlers called directly (no server): caching, limits, path checks and user-facing errors."""

from __future__ import annotations

import gradio as gr
import pytest

from tests.media import event_frames, write_video
from ui.handlers import Limits, Studio, parse_options, user_errors
from ui.views import ModelInfo
from videoexpert import InputError, Predictor, VideoDecodeError


def last(outputs):
    """The final outputs of a model handler (a generator: partial answers first, for a long video)."""
    *_, final = outputs
    return final


@pytest.fixture(scope="module")
def studio(tiny_model, video_dir, tmp_path_factory):
    info = ModelInfo(tiny_model.name, tiny_model.config.description, "cpu", "cpu", 100, "tiny", True)
    return Studio(Predictor(tiny_model), info, limits=Limits(max_duration_s=30, max_file_size=5 * 2**20),
                  cache_dir=tmp_path_factory.mktemp("studio-cache"), extra_roots=[video_dir])


def test_second_query_on_same_bytes_skips_decoding(studio, event_video, video_dir):
    stages = []
    progress = lambda fraction, desc=None: stages.append(desc)  # noqa: E731 (gr.Progress's call shape)
    run = studio.analyse(event_video, "grounding", "a red square", progress=progress)
    first, features, hit = run.pred, run.features, run.hit
    assert not hit and {"decode", "encode", "generate", "ground"} <= set(first.timings_s)
    assert stages[:3] == ["Hashing the file", "Decoding frames", "Encoding frames (vision tower)"]
    assert "Grounding ([LOC] head)" in stages
    assert features.num_frames == 100 and len(features.times) == 100
    copy = video_dir / "same-bytes-other-name.mp4"
    copy.write_bytes(event_video.read_bytes())
    stages.clear()
    again = studio.analyse(copy, "highlight", "a red square", progress=progress)
    second, hit = again.pred, again.hit
    assert hit and "decode" not in second.timings_s and "encode" not in second.timings_s
    assert "Decoding frames" not in stages
    assert second.duration == first.duration


def test_run_outputs_follow_the_schema(studio, event_video):
    result, answer, timeline, moments, files, status = last(studio.ground(str(event_video), "a red square"))
    assert result["task"] == "grounding" and result["segments"]
    assert set(result["segments"][0]) == {"start", "end", "score", "label"}
    assert timeline["figure"]["data"] and "data-start" in moments
    assert files[0].endswith("videoexpert-grounding.json") and "Timings" in status


def test_captions_write_subtitles_when_timed(studio, event_video):
    result, *_, files, _ = last(studio.captions(str(event_video)))
    assert result["task"] == "captioning"
    suffixes = sorted(f.rsplit(".", 1)[1] for f in files)
    assert suffixes == (["json", "srt", "vtt"] if result["segments"] else ["json"])


def test_empty_query_is_a_ui_error(studio, event_video):
    with pytest.raises(gr.Error, match="query is empty"):
        last(studio.ground(str(event_video), "   "))


def test_no_video_is_a_ui_error(studio):
    with pytest.raises(gr.Error, match="Upload a video"):
        last(studio.ground(None, "x"))


def test_file_outside_upload_dirs_is_refused(studio, tmp_path_factory):
    stranger = write_video(tmp_path_factory.mktemp("elsewhere") / "v.mp4", event_frames(10, (2, 4)))
    with pytest.raises(gr.Error, match="not an upload"):
        last(studio.ground(str(stranger), "x"))


def test_unreadable_too_long_and_too_large_videos(studio, video_dir):
    garbage = video_dir / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 100)
    with pytest.raises(gr.Error, match="garbage.mp4"):
        last(studio.ground(str(garbage), "x"))
    long_video = write_video(video_dir / "long.mp4", event_frames(320, (2, 4), size=16), fps=10)  # 32 s > 30 s
    with pytest.raises(gr.Error, match="over the limit of 30 s"):
        last(studio.ground(str(long_video), "x"))
    big = video_dir / "big.mp4"
    big.write_bytes(b"\0" * (5 * 2**20 + 1))
    with pytest.raises(gr.Error, match="over this app's limit"):
        last(studio.ground(str(big), "x"))


def test_multiple_choice_needs_two_options(studio, event_video):
    with pytest.raises(gr.Error, match="at least two options"):
        studio.ask(str(event_video), "what colour?", "red")
    result, answer, *_ = studio.ask(str(event_video), "what colour?", "red\n\nblue\n")
    assert result["task"] == "qa" and "**A.** red" in answer and "**B.** blue" in answer


def test_chat_appends_a_turn(studio, event_video):
    history, box, result, *_ = studio.chat("what happens?", [], str(event_video))
    assert box == "" and [m["role"] for m in history] == ["user", "assistant"]
    assert history[1]["content"] == result["text"]


def test_exports_need_a_result_and_cut_the_top_moment(studio, event_video):
    with pytest.raises(gr.Error, match="Run a task first"):
        studio.export_clip(str(event_video), None)
    result, *_ = last(studio.ground(str(event_video), "a red square"))
    assert studio.export_clip(str(event_video), result).endswith("top-moment.mp4")
    assert studio.export_reel(str(event_video), result, 2).endswith("highlight-reel.mp4")


def test_user_errors_maps_package_errors_and_hides_tracebacks():
    @user_errors
    def bad_input():
        raise InputError("the query is 900 tokens, over 256")

    @user_errors
    def bad_video():
        raise VideoDecodeError("no video stream in song.mp3 (streams: audio)")

    @user_errors
    def bug():
        raise KeyError("oops")

    with pytest.raises(gr.Error, match="over 256"):
        bad_input()
    with pytest.raises(gr.Error, match="song.mp3") as info:
        bad_video()
    assert info.value.title == "Cannot use this video"
    with pytest.raises(gr.Error, match="Unexpected KeyError") as info:
        bug()
    assert info.value.title == "Internal error"


def test_parse_options():
    assert parse_options("") is None and parse_options(" \n ") is None
    assert parse_options("a cup\n\n b book \n") == ["a cup", "b book"]


def test_audio_only_file_is_a_clear_error(studio, video_dir):
    import subprocess

    from tests.media import ffmpeg_exe
    audio = video_dir / "song.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-c:a", "aac", str(audio)], check=True)
    with pytest.raises(gr.Error, match="no video stream in song.mp4"):
        last(studio.ground(str(audio), "x"))


def test_gpu_decorator_is_a_no_op_without_spaces():
    import importlib.util

    from ui.handlers import gpu

    def f():
        return 1
    if importlib.util.find_spec("spaces") is None:
        assert gpu(f) is f
    else:                                     # outside ZeroGPU, spaces.GPU returns a callable that just runs f
        assert gpu(f)() == 1


def test_example_videos_lists_only_videos(tmp_path):
    from ui.layout import example_videos
    (tmp_path / "b.webm").write_bytes(b"x")
    (tmp_path / "a.MP4").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.rsplit("/", 1)[1] for p in example_videos(tmp_path)] == ["a.MP4", "b.webm"]
    assert example_videos(tmp_path / "missing") == [] and example_videos(None) == []
