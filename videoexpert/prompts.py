"""Prompts: the Vicuna v1 template, the task templates a model was trained with, and reading its answers.

A `Templates` object is one version of the four tasks' questions and answers. `official` is the set the authors'
weights learned (coffeecolamind/VideoExpert, `vtimellm/datasets/{temploc,dvc,vidqa}_dataset.py`):

    grounding / highlight  <video>\\nBased on the given video, answer the question: During which frames can we see {q}?
                           -> "From [LOC]."
    dense captioning       <video>\\nBased on the given video, answer the question: Provide a detailed description of
                           the given video. Each sentence should begin with the timestamps.
                           -> "From [LOC], {sentence}. From [LOC], {sentence}."
    grounded QA            <video>\\nQuestion: {q}? Option A: {a} Option B: {b} During which frames can we see the
                           Question happen? Then, considering the information presented in the video, select the
                           correct answer from the options (A, B).
                           -> "From [LOC]. Option B."

Training samples a prompt from each task's list (`variant`); inference asks the first one. A model records the
version it was trained with in `ModelConfig.templates`; `demo-v1` is the set the shipped demo model was trained on
before the official one was adopted, kept only until that model is rebuilt.

The visual tokens replace `<video>` at the start of the user turn. Grounding and highlight answers are fixed, so
inference teacher-forces them and reads the [LOC] state in one pass; a grounded QA answer starts with its evidence
("From [LOC].") and is forced that far; captions are generated and may hold any number of [LOC].
"""

from __future__ import annotations

import re

from .errors import ConfigError, InputError

SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")
VIDEO_PLACEHOLDER = "<video>"
LOC = "[LOC]"
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


def check_options(options: list[str] | None) -> list[str] | None:
    if not options:
        return None
    if not 2 <= len(options) <= len(OPTION_LETTERS):
        raise InputError(f"multiple choice needs 2 to {len(OPTION_LETTERS)} options, got {len(options)}")
    return [check_query(o) for o in options]


class Templates:
    """The official task templates (module docstring). Subclasses are older versions that saved models still use."""

    name = "official"
    loc_word = "From"                 # the word before each [LOC] in an answer
    instruction = "Based on the given video, answer the question: "
    grounding_prompts = ("During which frames can we see {}?", "When does {} happen in the video?",
                         "At what point in the video does {} happen?", "When is {} depicted in the video?",
                         "At what time in the video does {} take place?")
    description_prompts = ("Provide a detailed description of the given video.",
                           "Describe the provided video in detail.", "Summarize the visual content of the video.",
                           "Write a informative summary of the video.",
                           "Provide a detailed description of the events shown in the video.")
    timestamp_prompts = ("Each sentence should begin with the timestamps.",
                         "At the beginning of each sentence, include the timestamps.",
                         "Prepend each sentence with its timestamps.", "Please specify the exact time of each sentence.")
    evidence_prompts = ("During which frames can we see the Question happen?",
                        "When does the Question happen in the video?",
                        "At what time in the video does the Question take place?")
    # NExT-QA's instruction (official: "Then, c" + its first letter dropped, i.e. lower-cased); free-form questions
    # (no options) get the one the official code gives open-ended QA sets, "Answer the question using a single word
    # or phrase.", in the same form.
    choice_instruction = "considering the information presented in the video, select the correct answer from the options ({})."
    open_instruction = "answer the question using a single word or phrase."

    # ---------------------------------------------------------------- questions
    def question(self, task: str, query: str = "", options: list[str] | None = None, variant: int = 0) -> str:
        """The user's question for a task (after `<video>\\n`). `variant` picks a prompt from the task's list, as the
        official training does at random; inference uses variant 0."""
        if task in ("grounding", "highlight"):
            return self.instruction + _pick(self.grounding_prompts, variant).format(_as_clause(check_query(query)))
        if task == "captioning":
            n = len(self.description_prompts)
            return (self.instruction + _pick(self.description_prompts, variant) + " "
                    + _pick(self.timestamp_prompts, variant // n))
        if task == "qa":
            question = check_query(query)
            options = check_options(options)
            text = "Question: " + (question if question.endswith("?") else question + "?")
            for letter, option in zip(OPTION_LETTERS, options or []):
                text += f" Option {letter}: {option}"
            then = (self.choice_instruction.format(", ".join(OPTION_LETTERS[:len(options)])) if options
                    else self.open_instruction)
            return f"{text} {_pick(self.evidence_prompts, variant)} Then, {then}"
        raise InputError(f"unknown task {task!r}; expected grounding, highlight, captioning or qa")

    # ---------------------------------------------------------------- answers (training targets)
    def grounding_answer(self) -> str:
        return f"{self.loc_word} {LOC}."

    def captioning_answer(self, sentences: list[str]) -> str:
        return " ".join(f"{self.loc_word} {LOC}, {_sentence(s)}" for s in sentences)

    def qa_answer(self, answer: str, choice: int | None = None) -> str:
        """A grounded answer: evidence first, then the option's letter (or the free-form answer)."""
        said = f"Option {OPTION_LETTERS[choice]}." if choice is not None else _sentence(answer)
        return f"{self.grounding_answer()} {said}"

    def forced_prefix(self, task: str) -> str:
        """The start of the answer that inference teacher-forces: all of a grounding answer, the evidence of a QA
        answer (so it is always grounded), nothing of a caption."""
        if task in ("grounding", "highlight", "qa"):
            return self.grounding_answer()
        return ""

    def with_evidence(self, reply: str) -> str:
        """A QA reply that came without [LOC], with its evidence asked for (only older templates need it)."""
        return f"{self.grounding_answer()} {reply}"

    # ---------------------------------------------------------------- reading generated answers
    def caption_sentences(self, reply: str) -> list[str]:
        """The sentence after each [LOC] in a dense caption ('From [LOC], a red circle appears.')."""
        tail = re.compile(rf"\b{self.loc_word}\s*$")
        return [tail.split(part.strip())[0].strip(" ,.") for part in reply.split(LOC)[1:]]

    def qa_reply(self, reply: str, options: list[str] | None) -> tuple[str, int | None]:
        """(the answer in words, the chosen option's index or None) of a QA reply."""
        text = re.sub(rf"^\s*{self.loc_word}\s*{re.escape(LOC)}\s*\.?\s*", "", reply).strip()
        if not options:
            return text.strip(" ."), None
        match = re.search(r"\bOption\s+([A-J])\b", text)
        choice = OPTION_LETTERS.index(match.group(1)) if match else _choice_by_words(text, options)
        if choice is not None and choice >= len(options):
            choice = None
        return (options[choice] if choice is not None else text.strip(" .")), choice


class DemoV1Templates(Templates):
    """The templates the first shipped demo model was trained with (before the official set was adopted). Kept so
    that model keeps answering until it is rebuilt on the official templates; nothing new is trained on them."""

    name = "demo-v1"
    loc_word = "During"

    def question(self, task: str, query: str = "", options: list[str] | None = None, variant: int = 0) -> str:
        if task in ("grounding", "highlight"):
            return f"During which frames does {check_query(query).rstrip('?.')} happen?"
        if task == "captioning":
            return "Describe the video in detail, each sentence with its time."
        if task == "qa":
            question = check_query(query)
            options = check_options(options)
            if options:
                question += " Options: " + " ".join(f"({OPTION_LETTERS[i]}) {o}" for i, o in enumerate(options))
            return f"{question} Answer, then give the time of the evidence."
        raise InputError(f"unknown task {task!r}; expected grounding, highlight, captioning or qa")

    def qa_answer(self, answer: str, choice: int | None = None) -> str:
        head = f"({OPTION_LETTERS[choice]}) {answer}" if choice is not None else answer
        return f"{head.strip().rstrip('.')}. {self.grounding_answer()}"

    def forced_prefix(self, task: str) -> str:
        return self.grounding_answer() if task in ("grounding", "highlight") else ""

    def with_evidence(self, reply: str) -> str:
        answer = self._answer_text(reply) or reply
        return f"{answer.rstrip('.')}. {self.grounding_answer()}"

    def qa_reply(self, reply: str, options: list[str] | None) -> tuple[str, int | None]:
        """The answer before 'During [LOC]'; an option's own words win over a letter ('(A) it appears' picks the
        option 'it appears' wherever it is listed): small models copy words more reliably than the index."""
        answer = self._answer_text(reply)
        if not options:
            return answer, None
        choice = _choice_by_words(re.sub(r"^\s*\(?[A-J]\)\s*", "", answer), options)
        if choice is None:
            match = re.search(r"\(?\b([A-J])\)", answer)
            if match and OPTION_LETTERS.index(match.group(1)) < len(options):
                choice = OPTION_LETTERS.index(match.group(1))
        return answer, choice

    def _answer_text(self, reply: str) -> str:
        return re.split(rf"\s*{self.loc_word}\s*{re.escape(LOC)}", reply)[0].strip(" .")


TEMPLATES: dict[str, Templates] = {t.name: t for t in (Templates(), DemoV1Templates())}


def get_templates(name: str) -> Templates:
    if name not in TEMPLATES:
        raise ConfigError(f"unknown template version {name!r}; known: {', '.join(TEMPLATES)}")
    return TEMPLATES[name]


def _pick(choices: tuple[str, ...], variant: int) -> str:
    return choices[variant % len(choices)]


def _as_clause(query: str) -> str:
    """A query as the official code puts it into a question: no final period, first letter lower-cased."""
    query = query.strip().rstrip(".")
    return query[0].lower() + query[1:] if len(query) > 1 else query


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."


def _choice_by_words(text: str, options: list[str]) -> int | None:
    """The longest option whose words appear in the text."""
    text = text.lower()
    hits = [i for i, o in enumerate(options) if o.strip() and o.strip().lower() in text]
    return max(hits, key=lambda i: len(options[i])) if hits else None


# ---- rendering
def format_seconds(seconds: float) -> str:
    return f"{seconds:.1f} s"


def render_locs(answer: str, spans_s: list[tuple[float, float]], loc_token: str = LOC) -> str:
    """Replace each [LOC] in order with its time range; a [LOC] without a span becomes '?'."""
    parts = answer.split(loc_token)
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        out.append(f"{format_seconds(spans_s[i][0])} – {format_seconds(spans_s[i][1])}" if i < len(spans_s) else "?")
        out.append(part)
    return "".join(out)


# ---- the "w/o temporal head" ablation: times written as text, as two-digit percentages of the video (VTimeLLM)
_TEXT_SPAN = re.compile(r"\b(\d{1,2}) to (\d{1,2})\b")


def times_as_text(answer: str, windows: list[tuple[float, float]], loc_token: str = LOC) -> str:
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


def text_times_to_locs(text: str, loc_token: str = LOC) -> str:
    """The same answer with every 'SS to EE' replaced by [LOC] (so the [LOC] helpers apply)."""
    return _TEXT_SPAN.sub(loc_token, text)
