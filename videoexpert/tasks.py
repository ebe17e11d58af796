"""The four tasks of DESIGN.md §1 as data: what the user gives, what the answer holds, what its [LOC]s ground.

The question and answer wording belongs to the model's template version (`videoexpert.prompts`); a task spec says
what is independent of wording. The predictor, batch inference, training data and the UI read it from here
instead of each keeping its own four-way ladder.

    task        user gives          answer                                  each [LOC] grounds
    grounding   a query             "From [LOC]."  (forced)                 the query: every span, ranked
    highlight   a query             "From [LOC]."  (forced)                 the query: every span, ranked
    captioning  nothing             "From [LOC], <sentence>. ..."          the sentence after it: its best span
    qa          a question, options "From [LOC]. Option B."  (evidence forced) the answer: its best span
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError
from .result import TASKS, Segment


@dataclass(frozen=True)
class LocSpans:
    """What the temporal head (or the text of the ablation) says about one [LOC]: spans in seconds, best first."""

    spans: tuple[tuple[float, float], ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class Task:
    name: str
    needs_query: bool          # grounding, highlight and QA need text from the user; captioning needs none
    takes_options: bool        # multiple-choice options (QA)
    generates: bool            # False: the whole answer is the forced template, no token is generated
    grounds: str               # what each [LOC] stands for: "query" (every span), "sentence" or "answer" (best span)

    def segments(self, query: str, locs: list[LocSpans], sentences: list[str] | None = None,
                 answer: str = "") -> list[Segment]:
        """The result's segments from the reply's [LOC]s: the query's ranked spans, one span per caption sentence
        in temporal order, or the answer's evidence."""
        if not locs:
            return []
        if self.grounds == "query":
            first = locs[0]
            return [Segment(s, e, score, query) for (s, e), score in zip(first.spans, first.scores)]
        if self.grounds == "sentence":
            sentences = sentences or []
            segments = (Segment(*loc.spans[0], loc.scores[0], sentences[i] if i < len(sentences) else "")
                        for i, loc in enumerate(locs))
            return sorted(segments, key=lambda s: (s.start, s.end))
        return [Segment(*locs[0].spans[0], locs[0].scores[0], answer)]


TASK_SPECS: dict[str, Task] = {
    "grounding": Task("grounding", needs_query=True, takes_options=False, generates=False, grounds="query"),
    "highlight": Task("highlight", needs_query=True, takes_options=False, generates=False, grounds="query"),
    "captioning": Task("captioning", needs_query=False, takes_options=False, generates=True, grounds="sentence"),
    "qa": Task("qa", needs_query=True, takes_options=True, generates=True, grounds="answer"),
}
assert tuple(TASK_SPECS) == TASKS, "the result schema and the task specs name the same tasks"


def get_task(name: str) -> Task:
    if name not in TASK_SPECS:
        raise InputError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return TASK_SPECS[name]


__all__ = ["Task", "LocSpans", "TASK_SPECS", "get_task"]
