"""The app launched in-process (as app.py builds it) and driven through its API with gradio_client."""

from __future__ import annotations

import socket

import pytest
from gradio_client import Client, handle_file

import app as app_module
from videoexpert import Predictor

SCHEMA = {"task", "query", "duration", "num_frames", "answer", "text", "segments", "saliency", "model", "timings_s"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tiny_model, tmp_path_factory):
    argv = ["--model", "tiny", "--host", "127.0.0.1", "--port", str(free_port()), "--max-duration", "60",
            "--max-file-size", "20mb", "--cache-size", "4", "--queue-size", "8",
            "--examples", str(tmp_path_factory.mktemp("no-examples"))]
    demo, launch = app_module.create_app(argv, predictor=Predictor(tiny_model))
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **launch)
    try:
        yield demo, Client(url, verbose=False), launch
    finally:
        demo.close()


def check_result(result: dict, task: str) -> None:
    assert SCHEMA <= set(result) and result["task"] == task
    assert result["num_frames"] == 100 and result["duration"] == pytest.approx(6.0, abs=0.1)
    assert len(result["saliency"]["times"]) == len(result["saliency"]["scores"])
    for seg in result["segments"]:
        assert set(seg) == {"start", "end", "score", "label"}
        assert 0.0 <= seg["start"] <= seg["end"] <= result["duration"] + 1e-3


def test_every_event_has_an_explicit_api_name_and_shares_the_gpu_queue(served):
    demo, client, launch = served
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/ground", "/highlights", "/captions", "/ask", "/chat", "/export_clip", "/export_reel"} <= set(api)
    fns = demo.fns.values()
    assert all(fn.api_name for fn in fns)
    model_events = [fn for fn in fns if fn.name in ("ground", "highlights", "captions", "ask", "chat")]
    assert len(model_events) == 8                               # buttons + Enter in three text boxes
    assert all(fn.concurrency_id == "gpu" and fn.concurrency_limit == 1 for fn in model_events)
    assert demo._queue.max_size == 8
    assert launch["max_file_size"] == 20 * 2**20 and launch["server_name"] == "127.0.0.1"


def test_tasks_return_the_result_schema_and_reuse_cached_features(served, event_video):
    demo, client, _ = served
    video = handle_file(str(event_video))
    result, answer, timeline, moments, files, status = client.predict(video, "a red square", api_name="/ground")
    check_result(result, "grounding")
    assert result["segments"] and "data-start" in moments and timeline["figure"]["data"]
    assert {"decode", "encode"} <= set(result["timings_s"]) and "computed" in status
    assert [f["path"] if isinstance(f, dict) else f for f in files][0].endswith(".json")

    # the same video again, another task: features come from the cache
    result, *_, status = client.predict(video, "a red square", 3, api_name="/highlights")
    check_result(result, "highlight")
    assert "decode" not in result["timings_s"] and "encode" not in result["timings_s"]
    assert "from cache" in status

    result, *_ = client.predict(video, api_name="/captions")
    check_result(result, "captioning")
    result, answer, *_ = client.predict(video, "what colour is the square?", "red\nblue", api_name="/ask")
    check_result(result, "qa")
    assert "**A.** red" in answer
    history, box, result, *_ = client.predict("what happens?", [], video, api_name="/chat")
    check_result(result, "qa")
    assert history[-1]["role"] == "assistant" and box == ""


def test_exports_through_the_api(served, event_video):
    _, client, _ = served
    video = handle_file(str(event_video))
    result, *_ = client.predict(video, "a red square", api_name="/ground")
    clip = client.predict(video, result, api_name="/export_clip")
    assert str(clip).endswith("top-moment.mp4")
    reel = client.predict(video, result, 2, api_name="/export_reel")
    assert str(reel).endswith("highlight-reel.mp4")


def test_errors_reach_the_client_as_messages(served, event_video, video_dir):
    _, client, _ = served
    with pytest.raises(Exception, match="query is empty"):
        client.predict(handle_file(str(event_video)), "  ", api_name="/ground")
    garbage = video_dir / "not-a-video.mp4"
    garbage.write_bytes(b"\x00\x01 definitely not a video" * 50)
    with pytest.raises(Exception, match="not-a-video|cannot read|no decodable"):
        client.predict(handle_file(str(garbage)), "x", api_name="/ground")


def test_cli_parsing():
    assert app_module.parse_size("500mb") == 500 * 2**20
    assert app_module.parse_size("2 GB") == 2 * 2**30
    assert app_module.parse_size("1048576") == 2**20
    assert app_module.parse_size("0") is None
    assert app_module.parse_duration("none") is None and app_module.parse_duration("90") == 90.0
    args = app_module.build_parser().parse_args(["--max-file-size", "1kb", "--max-duration", "0", "--profile", "cpu"])
    assert args.max_file_size == 1024 and args.max_duration is None and args.profile == "cpu"
    with pytest.raises(SystemExit):
        app_module.build_parser().parse_args(["--max-file-size", "lots"])
