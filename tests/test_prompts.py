"""Prompt templates, [LOC] rendering and answer parsing."""

import pytest

from videoexpert import InputError
from videoexpert.prompts import (caption_sentences, captioning_answer, chat_prompt, parse_choice, question_for,
                                 render_locs)


def test_vicuna_v1_template():
    p = chat_prompt("When?")
    assert p.startswith("A chat between a curious user and an artificial intelligence assistant.")
    assert p.endswith(" USER: <video>\nWhen? ASSISTANT:")


def test_questions():
    assert question_for("grounding", "the dog jumps") == "During which frames does the dog jumps happen?"
    assert "(A) red (B) blue" in question_for("qa", "colour?", ["red", "blue"])
    with pytest.raises(InputError):
        question_for("qa", "colour?", ["only one"])


def test_render_and_parse():
    answer = captioning_answer(["a red circle appears", "it moves left."])
    assert answer == "During [LOC], a red circle appears. During [LOC], it moves left."
    assert caption_sentences(answer) == ["a red circle appears", "it moves left"]
    assert render_locs(answer, [(1.0, 2.5), (3.0, 4.25)]) == \
        "During 1.0 s – 2.5 s, a red circle appears. During 3.0 s – 4.2 s, it moves left."
    assert render_locs("During [LOC].", []) == "During ?."
    assert parse_choice("(B) blue. During [LOC].", ["red", "blue"]) == 1
    assert parse_choice("it is dark blue", ["blue", "dark blue"]) == 1
    assert parse_choice("no idea", ["red", "blue"]) is None
    assert parse_choice("(A) it appears. During [LOC].", ["it moves left", "it appears"]) == 1   # words beat letter
    assert parse_choice("C) none of these", ["red", "blue", "green"]) == 2


def test_times_as_text_for_the_ablation():
    from videoexpert.prompts import parse_text_times, text_times_to_locs, times_as_text
    answer = times_as_text(captioning_answer(["a red circle appears", "it moves"]), [(0.05, 0.2), (0.5, 0.995)])
    assert answer == "During 05 to 20, a red circle appears. During 50 to 99, it moves."
    assert parse_text_times(answer) == [(0.05, pytest.approx(0.21)), (0.5, 1.0)]
    assert caption_sentences(text_times_to_locs(answer)) == ["a red circle appears", "it moves"]
    assert parse_text_times("During 40 to 12.") == [(0.12, pytest.approx(0.41))]   # reversed ends are ordered
    assert parse_text_times("no times here") == []
