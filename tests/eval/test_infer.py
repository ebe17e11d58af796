"""Batch inference with a deterministic fake `predict`: resume, per-item failures, crash repair, video
lookup, and the items each real benchmark file yields."""

from __future__ import annotations

import json

import pytest

from videoexpert.eval import load_annotations, read_predictions
from videoexpert.eval.infer import InferItem, VideoIndex, benchmark_items, completed_ids, run_inference
from videoexpert.result import Prediction, Segment


def fake_predict(item: InferItem) -> Prediction:
    if item.id.startswith("bad"):
        raise RuntimeError(f"cannot decode {item.video_id}")
    return Prediction(item.task, item.query, 10.0, 4, "", "", (Segment(1.0, 2.0),))


ITEMS = [InferItem(f"{prefix}{i}", f"vid{i}", "grounding", f"query {i}")
         for i, prefix in enumerate(["a", "bad", "b", "c"])]


def test_failures_are_recorded_and_the_run_goes_on(tmp_path):
    out = tmp_path / "preds.jsonl"
    summary = run_inference(ITEMS, fake_predict, out, progress=False)
    assert (summary.total, summary.skipped, summary.written) == (4, 0, 3)
    assert summary.failures == [("bad1", "RuntimeError: cannot decode vid1")]
    assert set(read_predictions(out).items) == {"a0", "b2", "c3"}
    errors = [json.loads(line) for line in (tmp_path / "preds.jsonl.errors.jsonl").read_text().splitlines()]
    assert errors == [{"id": "bad1", "error": "RuntimeError: cannot decode vid1"}]


def test_resume_skips_done_items_and_retries_failures(tmp_path):
    out = tmp_path / "preds.jsonl"
    run_inference(ITEMS, fake_predict, out, progress=False)
    calls = []

    def fixed(item: InferItem) -> Prediction:
        calls.append(item.id)
        return fake_predict(InferItem("ok", item.video_id, item.task, item.query))

    summary = run_inference(ITEMS, fixed, out, progress=False)
    assert calls == ["bad1"] and summary.skipped == 3 and summary.written == 1 and not summary.failures
    assert not (tmp_path / "preds.jsonl.errors.jsonl").exists()
    assert len(out.read_text().splitlines()) == 4 and read_predictions(out).duplicates == []


def test_partial_last_line_is_cut_before_resuming(tmp_path):
    out = tmp_path / "preds.jsonl"
    run_inference(ITEMS[:1], fake_predict, out, progress=False)
    with open(out, "a") as f:
        f.write('{"id": "b2", "task": "grou')                         # a crash mid-write
    assert completed_ids(out) == {"a0"}
    run_inference([ITEMS[0], ITEMS[2]], fake_predict, out, progress=False)
    parsed = read_predictions(out)
    assert set(parsed.items) == {"a0", "b2"} and parsed.malformed == []


def test_predict_must_return_a_prediction(tmp_path):
    summary = run_inference(ITEMS[:1], lambda item: {"start": 1}, tmp_path / "p.jsonl", progress=False)
    assert summary.failures == [("a0", "TypeError: predict returned dict, not Prediction")]


def test_video_index_finds_nested_and_prefixed_videos(tmp_path):
    (tmp_path / "0101").mkdir()
    (tmp_path / "0101" / "2909445186.mp4").write_bytes(b"")
    (tmp_path / "xHr8X2Wpmno.webm").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    index = VideoIndex(tmp_path)
    assert index.find(InferItem("x", "2909445186", "qa", "q", video_hint="0101/2909445186")).name == "2909445186.mp4"
    assert index.find(InferItem("x", "2909445186", "qa", "q")).parent.name == "0101"
    assert index.find(InferItem("x", "v_xHr8X2Wpmno", "captioning", "q")).suffix == ".webm"
    with pytest.raises(FileNotFoundError, match="notes"):
        index.find(InferItem("x", "notes", "grounding", "q"))


@pytest.mark.parametrize("benchmark,path,count,task", [
    ("charades", "charades_sta/charades_sta_test.txt", 3720, "grounding"),
    ("qvhighlights", "qvhighlights/highlight_val_release.jsonl", 1550, "highlight"),
    ("youcook2", "youcook2/yc2_val.json", 457, "captioning"),
    ("activitynet", "activitynet_captions/val_2.json", 4885, "captioning"),
    ("nextgqa", "nextgqa/gsub_val.json", 3358, "qa")])
def test_benchmark_items_from_real_files(bench, benchmark, path, count, task):
    items = benchmark_items(benchmark, load_annotations(benchmark, bench / path))
    assert len(items) == count == len({i.id for i in items})
    assert all(i.task == task and i.query for i in items)
    if benchmark == "nextgqa":
        assert all(len(i.options) == 5 and i.video_hint for i in items)
