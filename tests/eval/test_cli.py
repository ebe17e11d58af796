"""The `eval` and `infer` subcommands through a tiny argparse harness, on real annotation files."""

from __future__ import annotations

import argparse
import json

import pytest

from videoexpert.eval import read_qvhighlights
from videoexpert.eval.cli import add_subcommands
from videoexpert.eval.predictions import write_prediction
from videoexpert.eval.qvhighlights import clip_labels
from videoexpert.result import Prediction, Saliency, Segment


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="videoexpert")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_eval_prints_a_table_and_writes_json(tmp_path, bench, capsys):
    annotations = bench / "qvhighlights" / "highlight_val_release.jsonl"
    with open(tmp_path / "preds.jsonl", "w") as f:
        for q in read_qvhighlights(annotations)[:100]:       # the other 1450 queries are missing
            labels = clip_labels(q).max(1)
            saliency = Saliency(tuple(2.0 * i + 1 for i in range(len(labels))), tuple(labels / 4))
            segments = tuple(Segment(s, e, 0.9) for s, e in q.windows)
            write_prediction(f, q.id, Prediction("highlight", q.query, q.duration, len(labels), "", "",
                                                 segments, saliency))
    out = tmp_path / "metrics.json"
    assert run(["eval", "--benchmark", "qvhighlights", "--annotations", str(annotations),
                "--predictions", str(tmp_path / "preds.jsonl"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "MR-full-R1@0.5" in printed and "missing: 1450" in printed and "policy [missing]" in printed
    data = json.loads(out.read_text())
    assert data["metrics"]["MR-full-R1@0.5"] == pytest.approx(100 * 100 / 1550, abs=0.006)
    assert data["report"]["counts"]["missing"] == 1450


def test_eval_bad_input_returns_an_error_code(tmp_path, bench):
    assert run(["eval", "--benchmark", "charades", "--annotations",
                str(bench / "charades_sta" / "charades_sta_test.txt"),
                "--predictions", str(tmp_path / "absent.jsonl")]) == 2
    with pytest.raises(SystemExit):
        run(["eval", "--benchmark", "kinetics", "--annotations", "a", "--predictions", "b"])


class FakeModel:
    """Stands in for VideoExpert: answers with the middle third of the video; `broken` videos raise."""

    loaded: list[str] = []
    broken: set[str] = set()

    @classmethod
    def from_pretrained(cls, path, device=None):
        cls.loaded.append(str(path))
        return cls()

    def predict(self, video_path, task, query, options=None):
        if any(name in video_path for name in self.broken):
            raise ValueError("corrupt stream")
        return Prediction(task, query, 30.0, 8, "", "", (Segment(10.0, 20.0),))


def test_infer_resumes_and_reports_failures(tmp_path, monkeypatch):
    import videoexpert

    monkeypatch.setattr(videoexpert, "Predictor", FakeModel, raising=False)
    monkeypatch.setattr(FakeModel, "loaded", [])
    annotations = tmp_path / "charades_sta_test.txt"
    annotations.write_text("AAA 0.0 10.0##person opens a door.\nBBB 5.0 15.0##person sits.\n"
                           "CCC 10.0 20.0##person eats.\n")
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "AAA.mp4").write_bytes(b"")
    (videos / "sub").mkdir()
    (videos / "sub" / "CCC.mkv").write_bytes(b"")
    monkeypatch.setattr(FakeModel, "broken", {"CCC"})
    out = tmp_path / "preds.jsonl"
    argv = ["infer", "--benchmark", "charades", "--annotations", str(annotations), "--videos", str(videos),
            "--model", "ckpt", "--out", str(out), "--no-progress"]
    assert run(argv) == 1                                  # BBB has no video, CCC's decode fails
    errors = [json.loads(x) for x in (tmp_path / "preds.jsonl.errors.jsonl").read_text().splitlines()]
    assert [e["id"] for e in errors] == ["BBB#1", "CCC#2"]
    assert errors[0]["error"].startswith("FileNotFoundError") and errors[1]["error"] == "ValueError: corrupt stream"
    (videos / "BBB.mp4").write_bytes(b"")
    monkeypatch.setattr(FakeModel, "broken", set())
    assert run(argv) == 0
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["AAA#0", "BBB#1", "CCC#2"]
    assert run(argv) == 0 and FakeModel.loaded == ["ckpt", "ckpt"]   # nothing left: no third model load
    assert run(["eval", "--benchmark", "charades", "--annotations", str(annotations),
                "--predictions", str(out)]) == 0


def test_eval_rejects_annotations_of_another_benchmark(bench, tmp_path):
    (tmp_path / "p.jsonl").write_text("")
    assert run(["eval", "--benchmark", "nextgqa", "--annotations",
                str(bench / "youcook2" / "yc2_val.json"), "--predictions", str(tmp_path / "p.jsonl")]) == 2
