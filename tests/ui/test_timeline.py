"""Figure builders and the HTML/Markdown views: pure functions of a Prediction."""

from __future__ import annotations

import json

from videoexpert import Prediction, Saliency, Segment
from ui.timeline import caption_lanes, format_time, timeline_figure, timeline_value
from ui.views import ModelInfo, answer_markdown, header_html, moments_html, partial_status_markdown, status_markdown

TIMES = tuple((i + 1) / 10 * 8.0 for i in range(10))


def prediction(task="grounding", segments=None, choice=None, query="the red square") -> Prediction:
    segments = segments if segments is not None else (
        Segment(3.0, 5.0, 0.91, query), Segment(0.5, 1.0, 0.40, query), Segment(6.0, 6.0, 0.2, query))
    return Prediction(task=task, query=query, duration=8.0, num_frames=10, answer="During [LOC].",
                      text="During 3.0 s – 5.0 s.", segments=tuple(segments),
                      saliency=Saliency(TIMES, tuple(i / 10 for i in range(10))), model="videoexpert-tiny",
                      timings_s={"decode": 0.3, "encode": 0.5, "generate": 0.1, "ground": 0.01}, choice=choice)


def traces(fig, name):
    return [t for t in fig.data if t.name == name]


def test_format_time():
    assert format_time(0) == "00:00.0"
    assert format_time(12.34) == "00:12.3"
    assert format_time(59.96) == "01:00.0"
    assert format_time(3725.0) == "1:02:05.0"


def test_grounding_figure_ranked_bars_curve_ticks_playhead():
    frames = [i * 0.8 for i in range(10)]
    fig = timeline_figure(prediction(), frames)
    bars = traces(fig, "moments")[0]
    assert list(bars.y) == ["#1", "#2", "#3"]
    assert list(bars.base) == [3.0, 0.5, 6.0]                   # bars start at the segment starts
    assert [cd[0] for cd in bars.customdata] == [3.0, 0.5, 6.0]  # ...and a click seeks there
    assert bars.x[2] > 0                                         # a zero-length moment is still clickable
    alphas = [float(c.rsplit(",", 1)[1].rstrip(")")) for c in bars.marker.color]
    assert alphas[0] > alphas[1] > alphas[2]                     # alternatives fainter by rank
    assert "score" in bars.hovertemplate
    curve = traces(fig, "saliency")[0]
    assert list(curve.x) == list(TIMES) and curve.yaxis == "y2"
    assert [cd[0] for cd in curve.customdata] == [round(t, 3) for t in TIMES]
    ticks = traces(fig, "frames seen")[0]
    assert list(ticks.x) == frames and ticks.yaxis == "y3"
    playhead = fig.layout.shapes[0]
    assert (playhead.x0, playhead.x1, playhead.yref) == (0, 0, "paper")
    assert tuple(fig.layout.xaxis.range) == (0, 8.0)


def test_highlight_top_k_limits_rows():
    fig = timeline_figure(prediction("highlight"), top_k=2)
    assert list(traces(fig, "moments")[0].y) == ["#1", "#2"]


def test_captions_are_labelled_lanes():
    caps = (Segment(0.0, 3.0, 0.9, "a red square appears"), Segment(2.0, 4.0, 0.8, "it moves"),
            Segment(4.0, 6.0, 0.7, "it leaves"))
    assert caption_lanes(caps) == [0, 1, 0]
    fig = timeline_figure(prediction("captioning", caps, query=""))
    bars = traces(fig, "captions")[0]
    assert list(bars.y) == ["captions 1", "captions 2", "captions 1"]
    assert list(bars.text) == ["a red square appears", "it moves", "it leaves"]


def test_qa_shows_the_evidence_window():
    pred = prediction("qa", (Segment(2.0, 4.0, 0.8, "a cup"),), query="what is picked up?")
    bars = traces(timeline_figure(pred), "evidence")[0]
    assert list(bars.y) == ["evidence"] and list(bars.base) == [2.0]


def test_timeline_value_is_plain_json():
    value = timeline_value(prediction(), [0.0, 0.8])
    assert value["duration"] == 8.0 and value["task"] == "grounding"
    text = json.dumps(value)                                    # what Gradio sends to the page
    assert '"bdata"' not in text                                # no typed arrays: customdata stays lists
    assert value["figure"]["layout"]["shapes"][0]["line"]["color"]
    assert timeline_value(None) is None


def test_moments_html_items_seek_and_escape():
    html = moments_html(prediction(segments=(Segment(12.3, 18.9, 0.91, "<b>cat</b> jumps"),)))
    assert 'data-start="12.300" data-end="18.900"' in html
    assert "00:12.3 – 00:18.9" in html and "0.91" in html and "▶" in html
    assert "&lt;b&gt;cat&lt;/b&gt; jumps" in html and "<b>cat</b>" not in html
    assert "no moment" in moments_html(prediction(segments=()))
    assert moments_html(prediction("highlight"), top_k=1).count("data-start") == 1


def test_answer_markdown_multiple_choice():
    text = answer_markdown(prediction("qa", choice=1, query="what colour?"), ["blue", "red"])
    assert "✅ **B.** red" in text and "▫️ **A.** blue" in text
    assert "none of the options" in answer_markdown(prediction("qa", query="q"), ["x", "y"])
    assert "00:03.0 – 00:05.0" in answer_markdown(prediction())


def test_status_reports_cache():
    assert "from cache" in status_markdown(prediction(), True, 1, 8)
    text = status_markdown(prediction(), False, 1, 8)
    assert "computed" in text and "decode 0.30 s" in text and "1/8" in text


def long_prediction(segments=(Segment(3550.0, 3562.5, 0.83, "the red square"),), found=True) -> Prediction:
    """An hour-long video answered over 79 windows: frames and curve in global time."""
    times = tuple(i * 4.5 for i in range(1, 801))
    return Prediction(task="grounding", query="the red square", duration=3600.0, num_frames=7900, answer="",
                      text="From 59:10.0 to 59:22.5." if found else "Not found: no moment scores 0.50 or more.",
                      segments=tuple(segments), saliency=Saliency(times, tuple(0.1 for _ in times)),
                      model="videoexpert-demo", timings_s={"generate": 1.0}, found=found, windows=79)


def test_a_long_video_spans_the_whole_video_and_zooms():
    fig = timeline_figure(long_prediction(), [i * 4.5 for i in range(1, 801)], revision="/tmp/v.mp4")
    assert tuple(fig.layout.xaxis.range) == (0, 3600.0)
    slider = fig.layout.xaxis.rangeslider
    assert slider.visible and tuple(slider.range) == (0, 3600.0)          # the overview to zoom from
    assert fig.layout.uirevision == "/tmp/v.mp4"                         # zoom kept across redraws of this video
    bars = traces(fig, "moments")[0]
    assert list(bars.base) == [3550.0] and bars.customdata[0][0] == 3550.0   # clicks seek in global time
    curve = traces(fig, "saliency")[0]
    assert curve.line.shape == "linear" and curve.mode == "lines"        # 800 points: no spline, no markers
    assert len(fig.layout.shapes) == 1 and not fig.layout.annotations


def test_a_partial_answer_greys_out_the_rest_of_the_video():
    fig = timeline_figure(long_prediction(), pending_from=900.0)
    pending = fig.layout.shapes[1]
    assert (pending.x0, pending.x1, pending.type) == (900.0, 3600.0, "rect")
    assert fig.layout.shapes[0].type == "line"                           # the playhead stays shapes[0]
    assert "analysing" in fig.layout.annotations[0].text
    assert len(timeline_figure(long_prediction(), pending_from=3600.0).layout.shapes) == 1


def test_not_found_is_said_plainly():
    pred = long_prediction(segments=(), found=False)
    fig = timeline_figure(pred)
    assert not traces(fig, "moments") and "Not found" in fig.layout.annotations[0].text
    answer = answer_markdown(pred)
    assert "❌ **Not found** anywhere in the 1:00:00.0 of video (79 windows)." in answer
    assert "> Not found: no moment scores 0.50" in answer and "Best moment" not in answer
    assert "Not found." in moments_html(pred) and "data-start" not in moments_html(pred)
    assert "Not found" not in answer_markdown(long_prediction())
    partial = answer_markdown(pred, windows_done=20, analysed_until=915.0)
    assert "Partial answer: 20 of 79 windows analysed (up to 15:15.0)" in partial and "anywhere" not in partial


def test_status_of_a_long_video():
    pred = long_prediction()
    assert "79 windows computed and cached" in status_markdown(pred, False, 1, 8, reused=0)
    assert "all 79 windows **from cache**" in status_markdown(pred, True, 1, 8, reused=79)
    assert "30 of 79 windows **from cache**" in status_markdown(pred, True, 1, 8, reused=30)
    assert "Window 20/79 done" in partial_status_markdown(pred, 20, 915.0)
    assert "15:15.0 of 1:00:00.0" in partial_status_markdown(pred, 20, 915.0)


def test_header_names_model_device_and_warns_when_untrained():
    info = ModelInfo("videoexpert-tiny", "A tiny <random> model.", "cpu", "cpu", 100, "tiny", untrained=True)
    html = header_html(info)
    assert "videoexpert-tiny" in html and "cpu" in html and "100 frames" in html
    assert "A tiny &lt;random&gt; model." in html
    assert "Untrained model" in html and "mean nothing" in html
    assert "Untrained" not in header_html(ModelInfo("demo", "d", "cuda:0", "cuda", 100, "ckpt"))
