"""Training samples from the formats people have: VTimeLLM/VideoExpert conversation JSON, Charades-STA,
QVHighlights, YouCook2 / ActivityNet Captions and NExT-QA / NExT-GQA.

Every reader yields `Sample`s: a question, an answer in which every time is a `[LOC]`, and for each `[LOC]` its
ground-truth window(s) in seconds. The benchmark annotation files are parsed by `data.annotations` (one parser
per format for training and evaluation alike); this module turns them into conversations with the templates of
`videoexpert.prompts`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from .. import prompts
from ..errors import InputError
from ..spans import Span
from . import annotations

logger = logging.getLogger(__name__)

KINDS = ("videoexpert", "charades", "qvhighlights", "youcook2", "activitynet", "nextgqa")


@dataclass(frozen=True)
class Sample:
    video: str                                # video id: features file stem or video path relative to its folder
    task: str                                 # grounding, highlight, captioning, qa (or "chat" for free JSON turns)
    question: str
    answer: str                               # the assistant's reply, every time replaced by [LOC]
    windows: tuple[tuple[Span, ...], ...]     # seconds: one or more ground-truth windows per [LOC], in order
    duration: float | None = None             # seconds, when the annotation gives it

    def __post_init__(self) -> None:
        if self.answer.count("[LOC]") != len(self.windows):
            raise InputError(f"sample {self.video}: {self.answer.count('[LOC]')} [LOC] but {len(self.windows)} windows")

    def normalised_windows(self, duration: float) -> list[list[Span]]:
        """Windows as fractions of the video, clamped to [0, 1] (annotations sometimes run past the end)."""
        if duration <= 0:
            raise InputError(f"sample {self.video}: duration must be positive, got {duration}")
        return [[(min(max(s / duration, 0.0), 1.0), min(max(e / duration, 0.0), 1.0)) for s, e in loc]
                for loc in self.windows]


def read_samples(kind: str, path: str | Path, templates: prompts.Templates | None = None) -> list[Sample]:
    """All training samples of one annotation file of the given kind (see `KINDS`), worded with `templates` (the
    official ones by default). Like the official training, the samples cycle through each task's prompt list."""
    t = templates or prompts.get_templates("official")
    path = Path(path)
    if kind == "videoexpert":
        return read_conversations(path, t)
    if kind == "charades":
        return [Sample(q.video_id, "grounding", t.question("grounding", q.query, variant=i), t.grounding_answer(),
                       (((q.start, q.end),),), q.duration) for i, q in enumerate(annotations.read_charades(path))]
    if kind == "qvhighlights":
        return [Sample(q.video_id, "highlight", t.question("highlight", q.query, variant=i), t.grounding_answer(),
                       (tuple(q.windows),), q.duration)
                for i, q in enumerate(annotations.read_qvhighlights(path)) if q.windows]
    if kind in ("youcook2", "activitynet"):
        samples = []
        for i, v in enumerate(annotations.read_dense_captions(path)):
            events = sorted(zip(v.events, v.sentences), key=lambda ev: (ev[0][0], ev[0][1]))
            samples.append(Sample(v.id, "captioning", t.question("captioning", variant=i),
                                  t.captioning_answer([s for _, s in events]),
                                  tuple((w,) for w, _ in events), v.duration))
        return samples
    if kind == "nextgqa":
        samples = []
        for i, q in enumerate(annotations.read_nextgqa(path)):
            if not q.question or q.answer not in q.options:
                continue
            choice = q.options.index(q.answer)
            samples.append(Sample(q.video_path or q.video_id, "qa",
                                  t.question("qa", q.question, list(q.options), variant=i),
                                  t.qa_answer(q.answer, choice), (tuple(q.spans),), q.duration))
        return samples
    raise InputError(f"unknown data kind {kind!r}; expected one of {', '.join(KINDS)}")


# "<s0> to <e0>", "<s1> and <e1>", "between <s2> and <e2>" in VTimeLLM / VideoExpert conversations
_SPAN = re.compile(r"(?:between\s+)?<s(\d+)>\s+(?:to|and|-)\s+<e\1>")
_TIME_TOKEN = re.compile(r"<[se]\d+>")


def read_conversations(path: str | Path, templates: prompts.Templates | None = None) -> list[Sample]:
    """VTimeLLM/VideoExpert JSON: `[{id, conversations: [{from, value}, ...], meta: {duration, token}}]`.

    `meta.token` maps `<sK>`/`<eK>` to seconds. Each (human, gpt) turn becomes a sample; a span `<sK> to <eK>` in
    the answer becomes `[LOC]` with that window (a reply that starts with it reads "From [LOC]", the templates'
    word). Turns whose
    question mentions times, or whose answer keeps an unpaired time token, are skipped (official practice).
    """
    with open(path, encoding="utf-8") as f:
        records = json.load(f)
    samples, skipped = [], 0
    for record in records:
        meta = record.get("meta") or {}
        tokens = {k: float(v) for k, v in (meta.get("token") or {}).items()}
        duration = float(meta["duration"]) if "duration" in meta else None
        turns = record.get("conversations", [])
        for human, gpt in zip(turns[0::2], turns[1::2]):
            if human.get("from") != "human" or gpt.get("from") != "gpt":
                skipped += 1
                continue
            question = human["value"].replace(prompts.VIDEO_PLACEHOLDER, "").strip()
            if _TIME_TOKEN.search(question):
                skipped += 1
                continue
            windows: list[tuple[Span, ...]] = []

            def to_loc(match: re.Match) -> str:
                k = match.group(1)
                windows.append(((tokens[f"<s{k}>"], tokens[f"<e{k}>"]),))
                return "[LOC]"

            try:
                answer = _SPAN.sub(to_loc, gpt["value"].strip())
            except KeyError:
                skipped += 1
                continue
            if _TIME_TOKEN.search(answer):
                skipped += 1
                continue
            if answer.startswith("[LOC]"):
                answer = f"{(templates or prompts.get_templates('official')).loc_word} {answer}"
            task = "captioning" if len(windows) > 1 else "grounding" if windows else "chat"
            samples.append(Sample(str(record["id"]), task, question, answer, tuple(windows), duration))
    if skipped:
        logger.info("%s: skipped %d turns with times in the question or unpaired time tokens", path, skipped)
    return samples
