"""Training samples from the real annotation files and from VTimeLLM/VideoExpert conversation JSON."""

import json
import os
from pathlib import Path

import pytest

from videoexpert.data.sources import read_conversations, read_samples

BENCH = Path(os.environ.get("VIDEOEXPERT_BENCHMARKS",
                            Path(__file__).resolve().parents[1].parent / "shared" / "data" / "benchmarks"))
needs_data = pytest.mark.skipif(not BENCH.is_dir(), reason=f"benchmark annotations not found at {BENCH}")


@needs_data
@pytest.mark.parametrize("kind,path,count,task", [
    ("charades", "charades_sta/charades_sta_test.txt", 3720, "grounding"),
    ("qvhighlights", "qvhighlights/highlight_val_release.jsonl", 1550, "highlight"),
    ("youcook2", "youcook2/yc2_val.json", 457, "captioning"),
    ("activitynet", "activitynet_captions/val_2.json", 4885, "captioning"),
])
def test_benchmark_files_become_samples(kind, path, count, task):
    samples = read_samples(kind, BENCH / path)
    assert len(samples) == count and {s.task for s in samples} == {task}
    for s in samples[:200]:
        assert s.answer.count("[LOC]") == len(s.windows) >= 1
        assert s.duration and s.duration > 0
        norm = s.normalised_windows(s.duration)
        assert all(0.0 <= a <= b <= 1.0 for loc in norm for a, b in loc)
    if task == "captioning":
        starts = [loc[0][0] for loc in samples[0].windows]
        assert starts == sorted(starts)


@needs_data
def test_charades_first_line():
    s = read_samples("charades", BENCH / "charades_sta/charades_sta_test.txt")[0]
    assert (s.video, s.windows, s.answer) == ("3MSZA", (((24.3, 30.4),),), "From [LOC].")
    assert s.question == "Based on the given video, answer the question: During which frames can we see person turn a light on?"


@needs_data
def test_nextgqa_questions_with_options_and_several_evidence_windows():
    samples = read_samples("nextgqa", BENCH / "nextgqa/gsub_val.json")
    assert 3000 < len(samples) <= 3358
    multi = [s for s in samples if len(s.windows[0]) > 1]
    assert multi, "NExT-GQA has questions with several evidence windows"
    s = samples[0]
    assert s.question.startswith("Question: ") and " Option A: " in s.question
    assert s.answer.startswith("From [LOC]. Option ") and s.answer.count("[LOC]") == 1


def test_conversation_json(tmp_path):
    records = [{"id": "vid1", "meta": {"duration": 50.0, "token": {"<s0>": 5, "<e0>": 10.5, "<s1>": 20, "<e1>": 30}},
                "conversations": [
                    {"from": "human", "value": "<video>\nWhat happens in the video? Give times."},
                    {"from": "gpt", "value": "<s0> to <e0>, a man cuts bread. Then between <s1> and <e1>, he eats."},
                    {"from": "human", "value": "What happens from <s0> to <e0>?"},
                    {"from": "gpt", "value": "He cuts bread."},
                    {"from": "human", "value": "Is it sunny?"},
                    {"from": "gpt", "value": "Yes."}]}]
    path = tmp_path / "stage2.json"
    path.write_text(json.dumps(records))
    samples = read_conversations(path)
    assert len(samples) == 2                                   # the turn with times in the question is skipped
    first, chat = samples
    assert first.answer == "From [LOC], a man cuts bread. Then [LOC], he eats."
    assert first.windows == (((5.0, 10.5),), ((20.0, 30.0),)) and first.task == "captioning"
    assert first.question == "What happens in the video? Give times."
    assert (chat.answer, chat.windows, chat.task) == ("Yes.", (), "chat")
    assert first.normalised_windows(50.0) == [[(0.1, 0.21)], [(0.4, 0.6)]]
