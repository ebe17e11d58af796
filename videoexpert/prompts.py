"""Prompts: the Vicuna v1 template, one question and one answer template per task, and rendering of [LOC].

The visual tokens replace the `<video>` placeholder at the start of the user turn (official code). Grounding
and highlight answers follow a fixed template ("During [LOC]."), so inference can teacher-force it and read the
[LOC] state in one pass; captions and QA answers are generated and may contain any number of [LOC].
"""

from __future__ import annotations

import re

from .errors import InputError

SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")
VIDEO_PLACEHOLDER = "<video>"
MAX_QUERY_CHARS = 1000
OPTION_LETTERS = "ABCDEFGHIJ"


def chat_prompt(question: str) -> str:
    """The Vicuna v1 prompt up to and including 'ASSISTANT:'; the answer follows after a space."""
    return f"{SYSTEM} USER: {VIDEO_PLACEHOLDER}\n{question} ASSISTANT:"


def check_query(query: str, required: bool = True) -> str:
    query = " ".join((query or "").split())
    if required and not query:
        raise InputError("the query is empty: say what to look for, e.g. 'the red circle moves left'")
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    return query


def format_options(options: list[str]) -> str:
    if not 2 <= len(options) <= len(OPTION_LETTERS):
        raise InputError(f"multiple choice needs 2 to {len(OPTION_LETTERS)} options, got {len(options)}")
    return " ".join(f"({OPTION_LETTERS[i]}) {check_query(o)}" for i, o in enumerate(options))


def question_for(task: str, query: str = "", options: list[str] | None = None) -> str:
    """The user's question for a task (DESIGN.md §1)."""
    if task in ("grounding", "highlight"):
        return f"During which frames does {check_query(query).rstrip('?.')} happen?"
    if task == "captioning":
        return "Describe the video in detail, each sentence with its time."
    if task == "qa":
        question = check_query(query)
        if options:
            question = f"{question} Options: {format_options(options)}"
        return f"{question} Answer, then give the time of the evidence."
    raise InputError(f"unknown task {task!r}; expected grounding, highlight, captioning or qa")


def grounding_answer() -> str:
    return "During [LOC]."


def captioning_answer(sentences: list[str]) -> str:
    return " ".join(f"During [LOC], {s.strip().rstrip('.')}." for s in sentences)


def qa_answer(answer: str, choice: int | None = None) -> str:
    head = f"({OPTION_LETTERS[choice]}) {answer}" if choice is not None else answer
    return f"{head.strip().rstrip('.')}. During [LOC]."


def format_seconds(seconds: float) -> str:
    return f"{seconds:.1f} s"


def render_locs(answer: str, spans_s: list[tuple[float, float]], loc_token: str = "[LOC]") -> str:
    """Replace each [LOC] in order with its time range; a [LOC] without a span becomes '?'."""
    parts = answer.split(loc_token)
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        out.append(f"{format_seconds(spans_s[i][0])} – {format_seconds(spans_s[i][1])}" if i < len(spans_s) else "?")
        out.append(part)
    return "".join(out)


def caption_sentences(answer: str, loc_token: str = "[LOC]") -> list[str]:
    """The sentence attached to each [LOC] in a dense caption ('During [LOC], a red circle appears.')."""
    parts = answer.split(loc_token)[1:]
    sentences = []
    for part in parts:
        text = re.split(r"\bDuring\s*$", part.strip())[0].strip(" ,.")
        sentences.append(text)
    return sentences


def parse_choice(answer: str, options: list[str]) -> int | None:
    """Index of the option the answer picks. The option's own words win over a letter ('(A) it appears' picks the
    option 'it appears' wherever it is listed): small models copy the words more reliably than the index behind
    the letter. Without any option's words, a letter '(B)' or 'B)' decides."""
    text = re.sub(r"^\s*\(?[A-J]\)\s*", "", answer).lower()
    hits = [i for i, o in enumerate(options) if o.strip() and o.strip().lower() in text]
    if hits:
        return max(hits, key=lambda i: len(options[i]))
    match = re.search(r"\(?\b([A-J])\)", answer)
    if match and OPTION_LETTERS.index(match.group(1)) < len(options):
        return OPTION_LETTERS.index(match.group(1))
    return None


def answer_without_locs(answer: str) -> str:
    """The QA answer text before its evidence sentence."""
    return re.split(r"\s*During\s*\[LOC\]", answer)[0].strip(" .")


# ---- the "w/o temporal head" ablation: times written as text, as two-digit percentages of the video (VTimeLLM)
_TEXT_SPAN = re.compile(r"\b(\d{1,2}) to (\d{1,2})\b")


def times_as_text(answer: str, windows: list[tuple[float, float]], loc_token: str = "[LOC]") -> str:
    """Replace each [LOC] with 'SS to EE', its normalised window in percent (0-99)."""
    for start, end in windows:
        pct = [min(int(round(x * 100)), 99) for x in (start, end)]
        answer = answer.replace(loc_token, f"{pct[0]:02d} to {pct[1]:02d}", 1)
    return answer


def parse_text_times(text: str) -> list[tuple[float, float]]:
    """Normalised windows written as 'SS to EE' (end = (EE + 1) / 100, as VTimeLLM reads its own output)."""
    spans = []
    for match in _TEXT_SPAN.finditer(text):
        low, high = sorted((int(match.group(1)), int(match.group(2))))
        spans.append((low / 100, min((high + 1) / 100, 1.0)))
    return spans


def text_times_to_locs(text: str, loc_token: str = "[LOC]") -> str:
    """The same answer with every 'SS to EE' replaced by [LOC] (so the [LOC] helpers apply)."""
    return _TEXT_SPAN.sub(loc_token, text)
