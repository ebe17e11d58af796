"""`python -m videoexpert` end to end: help, presets, create a model, predict on a real video and on a folder."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import event_frames, write_video
from videoexpert.cli import main


def test_help_explains_itself():
    out = subprocess.run([sys.executable, "-m", "videoexpert", "predict", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "--task" in out.stdout and "grounding" in out.stdout and "--query" in out.stdout


def test_presets(capsys):
    assert main(["presets"]) == 0
    listed = capsys.readouterr().out
    assert "paper" in listed and "tiny" in listed and "vicuna" in listed.lower()


def test_create_then_predict(tmp_path, event_video, capsys):
    assert main(["create", "--preset", "tiny", "--out", str(tmp_path / "m")]) == 0
    capsys.readouterr()
    code = main(["predict", str(event_video), "--task", "grounding", "--query", "the red square",
                 "--model", str(tmp_path / "m"), "--out", str(tmp_path / "pred.json")])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "pred.json").read_text())
    assert printed["task"] == "grounding" and printed["segments"] and printed["duration"] > 5.9


def test_unreadable_video_is_an_error_not_a_traceback(tmp_path, capsys):
    main(["create", "--out", str(tmp_path / "m")])
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    assert main(["predict", str(bad), "--query", "x", "--model", str(tmp_path / "m")]) == 2


def test_a_checkpoint_whose_tokenizer_splits_the_prompt_otherwise_is_one_line(tmp_path, event_video):
    """A model that expects Vicuna's 35-token prompt prefix but comes with another tokenizer is refused with one
    line through the CLI (a real subprocess: no traceback on stderr)."""
    assert main(["create", "--preset", "tiny", "--out", str(tmp_path / "m")]) == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["llm"]["prompt_prefix_tokens"] = 35
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    out = subprocess.run([sys.executable, "-m", "videoexpert", "predict", str(event_video), "--query", "x",
                          "--model", str(tmp_path / "m")], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "the weights expect 35" in errors[0] and "positions 35..134" in errors[0]


def test_the_same_query_four_times_gives_the_same_answer(tmp_path, event_video, capsys):
    """Issue #16: the CLI loaded models in training mode (LoRA dropout on). A model with dropout 0.05 and non-zero
    experts, asked four times, answers four times the same."""
    from tests.test_model import _dropout_model
    path = _dropout_model(tmp_path)
    answers = []
    for _ in range(4):
        assert main(["predict", str(event_video), "--query", "the red square", "--model", str(path)]) == 0
        printed = json.loads(capsys.readouterr().out)
        printed.pop("timings_s")
        answers.append(printed)
    assert all(a == answers[0] for a in answers)


# ---------------------------------------------------------------- batch mode: `predict DIR --out results.jsonl`
@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory, tiny_model):
    from videoexpert import save_model
    path = tmp_path_factory.mktemp("model") / "tiny"
    save_model(tiny_model, path)
    return path


@pytest.fixture(scope="module")
def clip_frames():
    """Three short clips, the red square at a different time in each."""
    return {name: event_frames(40, window) for name, window in
            [("a.mp4", (5, 15)), ("b.mkv", (15, 30)), ("c.mp4", (25, 38))]}


def _folder(root, clip_frames, broken=True):
    root.mkdir()
    for name, frames in clip_frames.items():
        write_video(root / name, frames)
    if broken:
        (root / "d_broken.mp4").write_bytes(b"not a video at all")
    (root / "notes.txt").write_text("not a video suffix: ignored")
    (root / "sub").mkdir()
    write_video(root / "sub" / "e.mp4", next(iter(clip_frames.values())))   # only with --recursive
    return root


def _batch(root, out, model, *extra, query="the red square"):
    return main(["predict", str(root), "--task", "grounding", "--query", query, "--model", str(model),
                 "--out", str(out), *extra])


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batch_records_failures_then_a_rerun_skips_the_done_and_retries_the_failed(tmp_path, saved_tiny,
                                                                                 clip_frames, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)                     # a relative folder, as typed on a command line
    root, out = _folder(Path("videos"), clip_frames), Path("results.jsonl")
    failures = Path("results.jsonl.failures.jsonl")
    assert _batch(root, out, saved_tiny) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("done 3, skipped 0, failed 1")
    rows = _rows(out)
    assert [r["video"] for r in rows] == ["a.mp4", "b.mkv", "c.mp4"]
    assert all(r["task"] == "grounding" and r["query"] == "the red square" and r["segments"] for r in rows)
    [failure] = _rows(failures)
    assert failure["video"] == "d_broken.mp4" and failure["task"] == "grounding"
    assert failure["error"].startswith("VideoDecodeError: cannot read d_broken.mp4 as a video")
    assert "\n" not in failure["error"] and str(tmp_path) not in failure["error"] and "videos/" not in failure["error"]

    assert _batch(root, out, saved_tiny) == 1      # the 3 are skipped, the broken one is tried again
    assert capsys.readouterr().out.splitlines()[-1].startswith("done 0, skipped 3, failed 1")
    assert _rows(out) == rows and [f["video"] for f in _rows(failures)] == ["d_broken.mp4"]

    write_video(root / "d_broken.mp4", clip_frames["a.mp4"])   # repaired: it succeeds and leaves the failures
    assert _batch(root, out, saved_tiny) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "done 1, skipped 3, failed 0"
    assert [r["video"] for r in _rows(out)] == ["a.mp4", "b.mkv", "c.mp4", "d_broken.mp4"]
    assert not failures.exists()

    assert _batch(root, out, saved_tiny, "--recursive") == 0   # subfolders on request, keyed by relative path
    assert _rows(out)[-1]["video"] == "sub/e.mp4"


def test_batch_rewrites_a_truncated_last_line_and_keys_on_the_query(tmp_path, saved_tiny, clip_frames, capsys):
    two = {name: clip_frames[name] for name in ("a.mp4", "b.mkv")}
    root, out = _folder(tmp_path / "videos", two, broken=False), tmp_path / "results.jsonl"
    assert _batch(root, out, saved_tiny) == 0
    text = out.read_text()
    last = text.rstrip("\n").rfind("\n") + 1
    out.write_text(text[:last + 40])                 # killed while writing b.mkv's line
    assert _batch(root, out, saved_tiny) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "done 1, skipped 1, failed 0"
    assert [r["video"] for r in _rows(out)] == ["a.mp4", "b.mkv"]
    assert out.read_text().startswith(text[:last])

    assert _batch(root, out, saved_tiny, query="a  grey   background") == 0   # another query: not skipped
    assert [(r["video"], r["query"]) for r in _rows(out)] == [
        ("a.mp4", "the red square"), ("b.mkv", "the red square"),
        ("a.mp4", "a grey background"), ("b.mkv", "a grey background")]
    assert _batch(root, out, saved_tiny, query="a grey background") == 0      # the same query, normalised
    assert capsys.readouterr().out.splitlines()[-1] == "done 0, skipped 2, failed 0"


def test_a_batch_line_equals_a_single_file_predict(tmp_path, saved_tiny, clip_frames, capsys):
    root = _folder(tmp_path / "videos", {"b.mkv": clip_frames["b.mkv"]}, broken=False)
    out = tmp_path / "results.jsonl"
    assert _batch(root, out, saved_tiny) == 0
    capsys.readouterr()
    [row] = _rows(out)
    assert main(["predict", str(root / "b.mkv"), "--task", "grounding", "--query", "the red square",
                 "--model", str(saved_tiny)]) == 0
    single = json.loads(capsys.readouterr().out)
    for result in (row, single):
        result.pop("timings_s")
    assert row.pop("video") == "b.mkv" and row == single


def test_batch_needs_out_a_video_and_a_query(tmp_path, saved_tiny, clip_frames, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty), "--query", "x", "--model", str(saved_tiny)]) == 2          # no --out
    assert _batch(empty, tmp_path / "r.jsonl", saved_tiny) == 2                                 # no videos
    root = _folder(tmp_path / "videos", {"a.mp4": clip_frames["a.mp4"]}, broken=False)
    assert _batch(root, tmp_path / "r.jsonl", saved_tiny, query="  ") == 2                      # empty query
    assert not (tmp_path / "r.jsonl").exists()
