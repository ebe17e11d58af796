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
