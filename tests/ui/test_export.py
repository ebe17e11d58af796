"""Exporters: SRT/WebVTT timing format, the JSON schema, clip and highlight-reel durations."""

from __future__ import annotations

import json

import pytest
from moviepy import VideoFileClip

from videoexpert import InputError, Prediction, Saliency, Segment
from videoexpert.export import (cut_window, format_timestamp, merge_windows, to_srt, to_webvtt, write_clip,
                                write_highlight_reel, write_json, write_subtitles)

CAPTIONS = (Segment(0.0, 2.5, 0.9, "a red square appears"), Segment(2.5, 3661.25, 0.8, "it\nstays -->  long"))


def captions_prediction() -> Prediction:
    return Prediction(task="captioning", query="", duration=3700.0, num_frames=4, answer="[LOC] a. [LOC] b.",
                      text="0.0 s – 2.5 s a.", segments=CAPTIONS,
                      saliency=Saliency((925.0, 1850.0, 2775.0, 3700.0), (0.1, 0.2, 0.3, 0.4)),
                      model="videoexpert-tiny", timings_s={"generate": 0.5, "ground": 0.01})


@pytest.mark.parametrize("seconds, srt, vtt", [
    (0, "00:00:00,000", "00:00:00.000"),
    (2.5, "00:00:02,500", "00:00:02.500"),
    (59.9996, "00:01:00,000", "00:01:00.000"),
    (3661.25, "01:01:01,250", "01:01:01.250"),
    (-0.2, "00:00:00,000", "00:00:00.000"),
])
def test_timestamps(seconds, srt, vtt):
    assert format_timestamp(seconds) == srt
    assert format_timestamp(seconds, ".") == vtt


def test_srt_is_numbered_cues_in_time_order():
    text = to_srt(reversed(CAPTIONS))
    assert text == ("1\n00:00:00,000 --> 00:00:02,500\na red square appears\n\n"
                    "2\n00:00:02,500 --> 01:01:01,250\nit stays -> long\n")


def test_webvtt_has_header_and_dot_milliseconds():
    text = to_webvtt(CAPTIONS)
    assert text.startswith("WEBVTT\n\n")
    assert "00:00:00.000 --> 00:00:02.500\na red square appears\n" in text
    assert "00:00:02.500 --> 01:01:01.250\nit stays -> long\n" in text
    cue_lines = [line for line in text.splitlines() if "-->" in line and ":" in line.split("-->")[0]]
    assert len(cue_lines) == 2


def test_zero_length_cue_gets_a_positive_duration():
    text = to_webvtt([Segment(1.0, 1.0, 0.5, "")])
    assert "00:00:01.000 --> 00:00:01.001\n(no caption)" in text


def test_write_subtitles_by_suffix(tmp_path):
    pred = captions_prediction()
    assert write_subtitles(pred, tmp_path / "c.srt").read_text().startswith("1\n00:00:00,000 --> ")
    assert write_subtitles(pred, tmp_path / "c.vtt").read_text().startswith("WEBVTT")
    with pytest.raises(InputError, match="srt or .vtt"):
        write_subtitles(pred, tmp_path / "c.txt")


def test_json_export_is_the_result_schema(tmp_path):
    pred = captions_prediction()
    data = json.loads(write_json(pred, tmp_path / "r.json").read_text(encoding="utf-8"))
    assert set(data) == {"task", "query", "duration", "num_frames", "answer", "text", "segments", "saliency",
                         "model", "timings_s"}
    assert data["segments"][0] == {"start": 0.0, "end": 2.5, "score": 0.9, "label": "a red square appears"}
    assert data["saliency"]["times"] == [925.0, 1850.0, 2775.0, 3700.0]
    assert Prediction.from_dict(data).segments == pred.segments


def test_cut_window_clamps_and_widens():
    assert cut_window(2.0, 4.0, 6.0) == (2.0, 4.0)
    assert cut_window(-1.0, 9.0, 6.0) == (0.0, 6.0)
    assert cut_window(3.0, 3.0, 6.0) == (2.75, 3.25)        # zero length -> 0.5 s around it
    assert cut_window(5.9, 6.0, 6.0) == (5.5, 6.0)          # widened inside the video
    assert cut_window(0.0, 0.1, 0.3) == (0.0, 0.3)          # the whole (short) video
    with pytest.raises(InputError):
        cut_window(0.0, 1.0, 0.0)


def test_merge_windows():
    assert merge_windows([(4, 5), (0, 1), (0.5, 2), (2, 3)]) == [(0, 3), (4, 5)]


def test_clip_has_the_segment_duration(event_video, tmp_path):
    out = write_clip(event_video, Segment(2.0, 4.0, 0.9, "red"), tmp_path / "clip.mp4")
    with VideoFileClip(str(out)) as clip:
        assert clip.duration == pytest.approx(2.0, abs=0.15)
        assert clip.size == [64, 64]


def test_highlight_reel_concatenates_top_k_merged(event_video, tmp_path):
    segments = [Segment(0.0, 1.0, 0.9), Segment(0.5, 1.5, 0.8), Segment(4.0, 5.0, 0.7), Segment(2.0, 3.0, 0.1)]
    out = write_highlight_reel(event_video, segments, tmp_path / "reel.mp4", k=3)
    with VideoFileClip(str(out)) as reel:        # [0, 1.5] + [4, 5]; the low-scored [2, 3] is not in the top 3
        assert reel.duration == pytest.approx(2.5, abs=0.2)
    with pytest.raises(InputError):
        write_highlight_reel(event_video, [], tmp_path / "none.mp4")
