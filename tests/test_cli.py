"""`python -m videoexpert` end to end: help, presets, create a model, predict on a real video."""

import json
import subprocess
import sys

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
