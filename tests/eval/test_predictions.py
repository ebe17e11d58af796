"""Prediction files: our JSONL schema, the QVHighlights submission and densevid formats, and the item
report (missing, duplicate, unknown, malformed, empty, out-of-range) with its printed policies."""

from __future__ import annotations

import json

import pytest

from videoexpert.eval import evaluate, read_charades, read_predictions
from videoexpert.eval.benchmarks import clip_saliency
from videoexpert.eval.predictions import Submission, write_prediction
from videoexpert.result import Prediction, Saliency, Segment


def grounding(start: float, end: float, duration: float = 30.0) -> Prediction:
    return Prediction("grounding", "q", duration, 8, "", "", (Segment(start, end),))


def write_lines(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_reader_classifies_every_line(tmp_path):
    good = {"id": "a#0", **grounding(1, 2).to_dict()}
    path = write_lines(tmp_path / "p.jsonl", [
        good,
        {"id": "a#1", **grounding(1, 2).to_dict()},
        {"id": "a#1", **grounding(3, 4).to_dict()},                      # duplicate: last wins
        "{not json",
        {"task": "grounding", "duration": 1, "segments": []},           # no id
        {"id": "a#2", "task": "grounding", "duration": 1, "segments": [{"start": 5, "end": 1}]},
        {"id": "a#3", "task": "dance", "duration": 1, "segments": []},  # schema error
        {"qid": 7, "pred_relevant_windows": [[0, 5, 0.9], [6, 2, 0.1]], "pred_saliency_scores": [1, 2]},
    ])
    parsed = read_predictions(path)
    assert set(parsed.items) == {"a#0", "a#1", "7"}
    assert parsed.duplicates == ["a#1"]
    assert parsed.items["a#1"].segments[0].start == 3
    assert [m.split(":")[0] for m in parsed.malformed] == ["line 4", "line 5", "line 6", "line 7"]
    assert parsed.items["7"] == Submission(((0.0, 5.0, 0.9), (6.0, 2.0, 0.1)), (1.0, 2.0))


def test_densevid_results_json(tmp_path):
    path = tmp_path / "sub.json"
    path.write_text(json.dumps({"version": "1", "results": {
        "v_a": [{"timestamp": [0, 5], "sentence": "one"}, {"timestamp": [5, 9], "sentence": "two"}],
        "v_b": [{"timestamp": [0], "sentence": "bad"}]}}))
    parsed = read_predictions(path)
    assert parsed.items["v_a"] == Submission(((0.0, 5.0, 1.0), (5.0, 9.0, 1.0)), sentences=("one", "two"))
    assert len(parsed.malformed) == 1 and "v_b" in parsed.malformed[0]


def test_report_on_real_charades(tmp_path, bench):
    queries = read_charades(bench / "charades_sta" / "charades_sta_test.txt")
    first, second, third = queries[:3]
    with open(tmp_path / "p.jsonl", "w") as f:
        write_prediction(f, first.id, grounding(first.start, first.end))
        write_prediction(f, second.id, grounding(-1.0, 40.0))                       # outside the 30.96 s video
        write_prediction(f, third.id, Prediction("grounding", "q", 30, 8, "", ""))  # no segment
        write_prediction(f, "nope#9", grounding(0, 1))
        f.write("garbage\n")
    result = evaluate("charades", queries, tmp_path / "p.jsonl")
    report = result.report
    assert report.num_expected == 3720 and report.num_scored == 2
    assert len(report.missing) == 3717 and report.unknown == ["nope#9"]
    assert report.empty == [third.id] and report.out_of_range == [second.id]
    assert report.malformed == ["line 5: JSONDecodeError: Expecting value: line 1 column 1 (char 0)"]
    assert result.metrics["R1@0.7"] == pytest.approx(100 / 3720)    # one perfect query out of 3720
    text = report.format()
    assert "missing: 3717" in text and "policy [missing]: IoU 0" in text and "(+3707)" in text
    assert report.to_dict()["counts"]["missing"] == 3717


def test_clip_saliency_means_and_nearest_frame():
    saliency = Saliency(times=(0.5, 1.5, 2.5, 7.0), scores=(0.2, 0.4, 0.9, 0.1))
    # clip 2 (4-6 s) has no frame: the nearest to its centre 5 s is the one at 7 s
    assert clip_saliency(saliency, 9.0) == pytest.approx((0.3, 0.9, 0.1, 0.1))
    assert clip_saliency(Saliency(), 9.0) is None
