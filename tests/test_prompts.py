"""Prompt templates (the official set and the demo model's older one), [LOC] rendering and answer parsing."""

import pytest

from videoexpert import ConfigError, InputError
from videoexpert.prompts import TEMPLATES, chat_prompt, get_templates, render_locs

OFFICIAL, DEMO_V1 = TEMPLATES["official"], TEMPLATES["demo-v1"]


def test_vicuna_v1_template():
    p = chat_prompt("When?")
    assert p.startswith("A chat between a curious user and an artificial intelligence assistant.")
    assert p.endswith(" USER: <video>\nWhen? ASSISTANT:")


def test_official_questions_are_the_authors_strings():
    """vtimellm/datasets/{temploc,dvc,vidqa}_dataset.py at coffeecolamind/VideoExpert b579dd5 (first prompt of each
    list at inference; the query loses its final period and its first capital, as there)."""
    based = "Based on the given video, answer the question: "
    assert OFFICIAL.question("grounding", "The dog jumps.") == based + "During which frames can we see the dog jumps?"
    assert OFFICIAL.question("highlight", "a dog") == based + "During which frames can we see a dog?"
    assert OFFICIAL.question("grounding", "a dog", variant=1) == based + "When does a dog happen in the video?"
    assert OFFICIAL.question("captioning") == (based + "Provide a detailed description of the given video. "
                                                       "Each sentence should begin with the timestamps.")
    assert OFFICIAL.question("captioning", variant=1 + 5 * 2) == (based + "Describe the provided video in detail. "
                                                                      "Prepend each sentence with its timestamps.")
    assert OFFICIAL.question("qa", "why did the boy cry", ["fell", "hungry", "tired", "lost", "cold"]) == (
        "Question: why did the boy cry? Option A: fell Option B: hungry Option C: tired Option D: lost Option E: cold "
        "During which frames can we see the Question happen? Then, considering the information presented in the "
        "video, select the correct answer from the options (A, B, C, D, E).")
    assert OFFICIAL.question("qa", "what colour?", ["red", "blue"]).endswith("from the options (A, B).")
    assert OFFICIAL.question("qa", "what happens").endswith(
        "Then, answer the question using a single word or phrase.")
    with pytest.raises(InputError):
        OFFICIAL.question("qa", "colour?", ["only one"])
    with pytest.raises(InputError):
        OFFICIAL.question("grounding", "  ")


def test_official_answers_and_their_parsers():
    assert OFFICIAL.grounding_answer() == "From [LOC]."
    answer = OFFICIAL.captioning_answer(["A red circle appears", "it moves left."])
    assert answer == "From [LOC], A red circle appears. From [LOC], it moves left."
    assert OFFICIAL.caption_sentences(answer) == ["A red circle appears", "it moves left"]
    assert OFFICIAL.caption_sentences("From[LOC], a.From [LOC] , b") == ["a", "b"]   # decoded without spaces
    assert OFFICIAL.qa_answer("blue", 1) == "From [LOC]. Option B."
    assert OFFICIAL.qa_answer("a dog") == "From [LOC]. a dog."
    assert OFFICIAL.qa_reply("From [LOC]. Option B.", ["red", "blue"]) == ("blue", 1)
    assert OFFICIAL.qa_reply("From [LOC]. Option E.", ["red", "blue"]) == ("Option E", None)  # no such option
    assert OFFICIAL.qa_reply("From [LOC]. it is dark blue", ["blue", "dark blue"]) == ("dark blue", 1)
    assert OFFICIAL.qa_reply("From [LOC]. a dog.", None) == ("a dog", None)
    assert OFFICIAL.forced_prefix("qa") == OFFICIAL.forced_prefix("grounding") == "From [LOC]."
    assert OFFICIAL.forced_prefix("captioning") == ""


def test_demo_v1_templates_are_what_the_shipped_model_learned():
    assert DEMO_V1.question("grounding", "the dog jumps") == "During which frames does the dog jumps happen?"
    assert DEMO_V1.question("qa", "colour?", ["red", "blue"]) == \
        "colour? Options: (A) red (B) blue Answer, then give the time of the evidence."
    answer = DEMO_V1.captioning_answer(["a red circle appears", "it moves left."])
    assert answer == "During [LOC], a red circle appears. During [LOC], it moves left."
    assert DEMO_V1.caption_sentences(answer) == ["a red circle appears", "it moves left"]
    assert DEMO_V1.qa_answer("blue", 1) == "(B) blue. During [LOC]."
    assert DEMO_V1.qa_reply("(B) blue. During [LOC].", ["red", "blue"]) == ("(B) blue", 1)
    assert DEMO_V1.qa_reply("it is dark blue", ["blue", "dark blue"])[1] == 1
    assert DEMO_V1.qa_reply("no idea", ["red", "blue"])[1] is None
    assert DEMO_V1.qa_reply("(A) it appears. During [LOC].", ["it moves left", "it appears"])[1] == 1  # words win
    assert DEMO_V1.qa_reply("C) none of these", ["red", "blue", "green"])[1] == 2
    assert DEMO_V1.with_evidence("(A) red.") == "(A) red. During [LOC]."
    assert DEMO_V1.forced_prefix("qa") == ""
    with pytest.raises(ConfigError):
        get_templates("v0")


def test_render_locs():
    answer = OFFICIAL.captioning_answer(["a red circle appears", "it moves left."])
    assert render_locs(answer, [(1.0, 2.5), (3.0, 4.25)]) == \
        "From 1.0 s – 2.5 s, a red circle appears. From 3.0 s – 4.2 s, it moves left."
    assert render_locs("From [LOC].", []) == "From ?."


def test_times_as_text_for_the_ablation():
    from videoexpert.prompts import parse_text_times, text_times_to_locs, times_as_text
    answer = times_as_text(OFFICIAL.captioning_answer(["a red circle appears", "it moves"]), [(0.05, 0.2), (0.5, 0.995)])
    assert answer == "From 05 to 20, a red circle appears. From 50 to 99, it moves."
    assert parse_text_times(answer) == [(0.05, pytest.approx(0.21)), (0.5, 1.0)]
    assert OFFICIAL.caption_sentences(text_times_to_locs(answer)) == ["a red circle appears", "it moves"]
    assert parse_text_times("From 40 to 12.") == [(0.12, pytest.approx(0.41))]   # reversed ends are ordered
    assert parse_text_times("no times here") == []
