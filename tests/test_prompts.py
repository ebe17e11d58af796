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
